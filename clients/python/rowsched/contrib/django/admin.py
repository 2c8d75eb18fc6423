"""The Django admin of rowsched's jobs and runs.

Jobs: the seed's list columns plus rowsched's state and last error, filters, the job's recent runs on
its page (and a link to all of them), and the actions pause, resume and run now. Every column rowsched
writes is read-only; the actions change only ``is_paused`` or ``run_right_now``, so they never race
with rowsched's write-backs. Runs are history: viewable, never added or edited here.
"""

import json
from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from .models import ROWSCHED_FIELDS, JobInfo, JobRun

RECENT_RUNS = 10


def _json(value):
    return format_html("<pre>{}</pre>", json.dumps(value, ensure_ascii=False))


def _runs_url(job_id):
    return reverse("admin:rowsched_jobrun_changelist") + "?" + urlencode({"job_id": job_id})


@admin.register(JobInfo)
class JobInfoAdmin(admin.ModelAdmin):
    list_display = ("job_id", "func", "trigger", "next_run_time", "is_paused", "create_time", "update_time",
                    "state", "error", "runs")
    list_filter = ("state", "is_paused", "last_status")
    search_fields = ("job_id", "func", "description")
    actions = ("pause", "resume", "run_now")
    fields = ("job_id", "func", "func_args", "trigger_kwargs", "is_paused", "run_right_now", "description",
              "owner", *(f for f in ROWSCHED_FIELDS if f != "owner"), "recent_runs")
    readonly_fields = tuple(f for f in ROWSCHED_FIELDS if f != "owner") + ("recent_runs",)

    def get_readonly_fields(self, request, obj=None):
        # job_id is the primary key: a changed value would be saved as a new job, not a rename.
        return self.readonly_fields + (("job_id", "owner") if obj is not None else ())

    @admin.display(description="trigger and job options")
    def trigger(self, job):
        return _json(job.trigger_kwargs)

    @admin.display(description="last error", ordering="last_error")
    def error(self, job):
        return Truncator(job.last_error or "").chars(200)

    @admin.display(description="runs")
    def runs(self, job):
        return format_html('<a href="{}">{} runs, {} failed</a>', _runs_url(job.job_id), job.run_count,
                           job.failure_count)

    @admin.display(description="recent runs")
    def recent_runs(self, job):
        if job is None or job.pk is None:
            return "-"
        # Newest first along job_run_claim (job_id, scheduled_for, attempt): an index range, not a sort.
        rows = JobRun.objects.filter(job_id=job.job_id).order_by("-scheduled_for", "-attempt").only(
            "run_id", "scheduled_for", "status", "attempt", "worker", "instance", "finished_at", "error")[:RECENT_RUNS]
        if not rows:
            return "no runs yet"
        body = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((r.scheduled_for, r.status, r.attempt, r.worker or r.instance, r.finished_at or "",
              Truncator(r.error or "").chars(120)) for r in rows))
        return format_html(
            "<table><tr><th>scheduled for</th><th>status</th><th>attempt</th><th>run by</th>"
            "<th>finished</th><th>error</th></tr>{}</table><a href=\"{}\">all runs</a>",
            body, _runs_url(job.job_id))

    @admin.action(description="Pause the selected jobs")
    def pause(self, request, queryset):
        changed = queryset.update(is_paused=True)
        self.message_user(request, f"Paused {changed} job(s).")

    @admin.action(description="Resume the selected jobs")
    def resume(self, request, queryset):
        changed = queryset.update(is_paused=False)
        self.message_user(request, f"Resumed {changed} job(s).")

    @admin.action(description="Run the selected jobs now")
    def run_now(self, request, queryset):
        changed = queryset.update(run_right_now=True)
        self.message_user(request, f"Requested a run now of {changed} job(s).")


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ("run_id", "job_id", "scheduled_for", "status", "attempt", "queue", "worker", "instance",
                    "started_at", "finished_at", "short_error")
    list_filter = ("status", "queue", "kind")
    search_fields = ("job_id",)

    @admin.display(description="error")
    def short_error(self, run):
        return Truncator(run.error or "").chars(120)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
