"""The seed's `emails` app: scheduler_jobs.tasks.send_emails records each e-mail here."""
from django.db import models


class Email(models.Model):
    receivers = models.JSONField(default=list)
    subject = models.CharField(max_length=200)
    content = models.TextField()
    attachments_path_list = models.JSONField(default=list)
    created = models.DateTimeField(auto_now_add=True)
