"""rowsched for Django: ``INSTALLED_APPS += ["rowsched.contrib.django"]``.

Gives the models ``JobInfo`` and ``JobRun`` over rowsched's own tables (``managed = False``: rowsched
creates and migrates them with ``rowsched migrate``, Django never does), their admin pages, and the
command ``manage.py rowsched_worker`` that runs the project's functions named by ``job_info.func``.
See docs/django.md.
"""
