"""The Django application of rowsched; its label ``rowsched`` names the admin URLs
(/admin/rowsched/jobinfo/) and the migration history."""

from django.apps import AppConfig


class RowschedConfig(AppConfig):
    name = "rowsched.contrib.django"
    label = "rowsched"
    verbose_name = "Scheduled jobs (rowsched)"
    default_auto_field = "django.db.models.AutoField"
