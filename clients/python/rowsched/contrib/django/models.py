"""Django models over rowsched's tables ``job_info`` and ``job_run`` (sql/ of rowsched).

Both are ``managed = False``: ``rowsched migrate`` owns the tables, their triggers and their columns, so
``manage.py migrate`` never creates or alters them. Field names are the seed's (``job_id``, ``func``,
``func_args``, ``trigger_kwargs``, ...) plus the columns rowsched writes back.

Writing contract: a user writes the definition columns (``USER_FIELDS``); rowsched writes the rest.
``JobInfo.save()`` of an existing row therefore updates only the definition columns, so a stale
instance never writes an old ``state`` or ``run_count`` over the one rowsched wrote since it was read.
An insert lets the table's trigger stamp ``owner`` (when empty), the times, ``state`` and ``version``,
and then reads those back into the instance. ``clean()`` (run by the admin's forms) asks the table's own
check, ``job_info_trigger_kwargs_problem``, so a form shows rowsched's message on the field instead of
failing on save.
"""

import json
import uuid

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections, models, router, transaction

# The columns a user writes; every other column of job_info is rowsched's (sql/001_schema.sql).
USER_FIELDS = ("func", "func_args", "trigger_kwargs", "is_paused", "run_right_now", "description", "owner")

# The columns rowsched (or the table's trigger) writes.
ROWSCHED_FIELDS = (
    "owner", "next_run_time", "is_running", "state", "last_error", "last_run_time", "last_status",
    "run_count", "failure_count", "version", "create_time", "update_time", "run_right_now_at",
    "trigger_time", "active_time",
)


def new_job_id():
    """The default job_id, as the seed's get_uuid_str and the table's own default: a UUID string."""
    return str(uuid.uuid4())


class JobInfo(models.Model):
    """One scheduled job: a row of rowsched's ``job_info``."""

    STATES = [(s, s) for s in ("pending", "scheduled", "paused", "finished", "invalid")]

    job_id = models.CharField("job id", max_length=200, primary_key=True, default=new_job_id)
    func = models.TextField(
        "function",
        help_text="What to run: module:callable of this project (e.g. scheduler_jobs.tasks:send_emails), "
        "run by manage.py rowsched_worker; or a rowsched handler (sql, log, notify, exec, http).")
    func_args = models.JSONField("function arguments", default=list, blank=True,
                                 help_text="A JSON array of positional arguments.")
    trigger_kwargs = models.JSONField(
        "trigger and job options", default=dict, blank=True,
        help_text='APScheduler\'s add_job keywords, e.g. {"trigger": "cron", "minute": "*/5"}; '
        'add "queue" to choose the workers.')
    is_paused = models.BooleanField("paused", default=False)
    run_right_now = models.BooleanField("run right now", default=False,
                                        help_text="Set to request one run now; rowsched clears it.")
    description = models.TextField(blank=True, null=True)
    owner = models.CharField(max_length=63, blank=True, default="",
                             help_text="The database role the job belongs to; empty means the role Django "
                             "connects as.")

    # Written by rowsched.
    next_run_time = models.DateTimeField("next run time", null=True, editable=False)
    is_running = models.BooleanField("scheduled by a live rowsched", default=False, editable=False)
    state = models.TextField(choices=STATES, default="pending", editable=False)
    last_error = models.TextField("last error", null=True, editable=False)
    last_run_time = models.DateTimeField("last run time", null=True, editable=False)
    last_status = models.TextField("last status", null=True, editable=False)
    run_count = models.BigIntegerField("runs", default=0, editable=False)
    failure_count = models.BigIntegerField("failures", default=0, editable=False)
    version = models.BigIntegerField(default=1, editable=False)
    create_time = models.DateTimeField("created", null=True, editable=False)
    update_time = models.DateTimeField("definition changed", null=True, editable=False)
    run_right_now_at = models.DateTimeField(null=True, editable=False)
    trigger_time = models.DateTimeField(null=True, editable=False)
    active_time = models.DateTimeField(null=True, editable=False)

    class Meta:
        managed = False
        db_table = "job_info"
        ordering = ("-next_run_time",)  # the seed's
        verbose_name = "scheduled job"
        verbose_name_plural = "scheduled jobs"

    def __str__(self):
        return self.job_id

    def clean_fields(self, exclude=None):
        self._empty_json_as_default()
        super().clean_fields(exclude)

    def clean(self):
        if not isinstance(self.func_args, list):
            raise ValidationError({"func_args": "must be a JSON array of positional arguments, e.g. "
                                                '["a@example.com", 3]'})
        if not isinstance(self.trigger_kwargs, dict):
            raise ValidationError({"trigger_kwargs": 'must be a JSON object, e.g. {"trigger": "cron", "hour": 9}'})
        problem = self._trigger_kwargs_problem()
        if problem:
            raise ValidationError({"trigger_kwargs": problem})

    def _trigger_kwargs_problem(self):
        """rowsched's own message for trigger_kwargs, or None. None too when the database cannot say
        (an older schema): the insert's trigger then still refuses a bad row."""
        connection = connections[router.db_for_write(type(self))]
        try:
            with transaction.atomic(using=connection.alias), connection.cursor() as cur:
                cur.execute("SELECT job_info_trigger_kwargs_problem(%s::jsonb)", [json.dumps(self.trigger_kwargs)])
                return cur.fetchone()[0]
        except DatabaseError:
            return None

    def _empty_json_as_default(self):
        # An emptied form field arrives as None; the columns are NOT NULL with these defaults.
        if self.func_args is None:
            self.func_args = []
        if self.trigger_kwargs is None:
            self.trigger_kwargs = {}

    def save(self, *args, **kwargs):
        self._empty_json_as_default()
        inserting = self._state.adding
        if not inserting and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = USER_FIELDS
        super().save(*args, **kwargs)
        if inserting:
            self.refresh_from_db(fields=ROWSCHED_FIELDS)


class JobRun(models.Model):
    """One fire of a job: a row of rowsched's ``job_run`` (read-only history)."""

    STATUSES = [(s, s) for s in ("queued", "running", "succeeded", "failed", "timeout", "lost", "missed",
                                 "skipped")]

    run_id = models.BigAutoField(primary_key=True)
    # No foreign key, as in the table: the history outlives the job.
    job_id = models.TextField("job id")
    scheduled_for = models.DateTimeField("scheduled for")
    instance = models.TextField("rowsched instance")
    attempt = models.IntegerField(default=1)
    status = models.TextField(choices=STATUSES)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    output = models.TextField(null=True)
    error = models.TextField(null=True)
    kind = models.TextField(default="schedule")
    queue = models.TextField(null=True, help_text="The worker queue; empty for runs rowsched ran itself.")
    worker = models.TextField(null=True, help_text="The worker that took the run.")
    heartbeat_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = "job_run"
        ordering = ("-run_id",)
        verbose_name = "job run"
        verbose_name_plural = "job runs"

    def __str__(self):
        return f"{self.job_id} @ {self.scheduled_for:%Y-%m-%d %H:%M:%S%z} ({self.status})"

    def job(self):
        """The job this run belongs to, or None when it was deleted since."""
        return JobInfo.objects.filter(job_id=self.job_id).first()
