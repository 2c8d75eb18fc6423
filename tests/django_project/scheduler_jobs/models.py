"""The seed's scheduler_jobs app after the move to rowsched: its JobInfo model (and the wsgi.py
scheduler, and the save/delete overrides) are gone; jobs are rowsched.contrib.django's JobInfo rows.
TaskCall records what the test tasks were called with."""
from django.db import models

from rowsched.contrib.django.models import JobInfo, JobRun  # noqa: F401  (the seed imported JobInfo from here)


class TaskCall(models.Model):
    task = models.CharField(max_length=100)
    args = models.JSONField(default=list)
    called_at = models.DateTimeField(auto_now_add=True)
