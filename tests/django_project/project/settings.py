"""Settings of the Django test project of tests/integration/test_django.py. The database comes from
environment variables the tests set: ROWSCHED_DJANGO_DB_NAME, _HOST, _PORT, _USER (and _PASSWORD)."""
import os

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET_KEY = "rowsched-test-project-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rowsched.contrib.django",
    "emails",
    "scheduler_jobs",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "project.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("ROWSCHED_DJANGO_DB_NAME", "postgres"),
        "HOST": os.environ.get("ROWSCHED_DJANGO_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("ROWSCHED_DJANGO_DB_PORT", "5432"),
        "USER": os.environ.get("ROWSCHED_DJANGO_DB_USER", "postgres"),
        "PASSWORD": os.environ.get("ROWSCHED_DJANGO_DB_PASSWORD", ""),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}
