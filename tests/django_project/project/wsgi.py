"""WSGI entry point. Unlike the seed's, it starts no scheduler: rowsched runs the schedule and
`manage.py rowsched_worker` runs the functions (docs/django.md, step 1)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
application = get_wsgi_application()
