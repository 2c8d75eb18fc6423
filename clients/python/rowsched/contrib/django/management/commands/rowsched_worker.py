"""``manage.py rowsched_worker``: runs rowsched's worker inside this Django project, so the functions
named by job_info.func (``module:callable``) import with the project's settings and use its ORM.

The worker connects to ``DATABASES['default']`` (``--database`` picks another entry, ``--dsn`` any
libpq DSN or URL) and blocks until SIGTERM/SIGINT, finishing the runs in progress first. Each call's
Django connections are closed when it returns (rowsched.contrib.django.worker).
"""

import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from rowsched.contrib.django.dsn import dsn_from_database, redacted
from rowsched.contrib.django.worker import django_worker_class

logger = logging.getLogger("rowsched.worker")


class Command(BaseCommand):
    help = ("Run rowsched's worker: take queued runs of worker jobs (func = module:callable) and call "
            "this project's functions.")

    def add_arguments(self, parser):
        parser.add_argument("--queue", action="append", dest="queues", metavar="NAME",
                            help="a queue to take runs from (repeatable; default: default)")
        parser.add_argument("--concurrency", type=int, default=1, metavar="N",
                            help="runs at once, each in its own thread (default 1)")
        parser.add_argument("--dsn", help="libpq DSN or URL of rowsched's database "
                            "(default: built from DATABASES[--database])")
        parser.add_argument("--database", default="default", metavar="ALIAS",
                            help="the DATABASES entry to connect to (default: default)")
        parser.add_argument("--schema", metavar="S",
                            help="rowsched's schema, when `rowsched migrate --schema S` put it elsewhere than public")
        parser.add_argument("--shutdown-timeout", type=float, default=30.0, metavar="SECONDS",
                            help="on SIGTERM, how long the runs in progress may take to finish (default 30)")

    def handle(self, *args, queues, concurrency, dsn, database, schema, shutdown_timeout, **options):
        if concurrency < 1:
            raise CommandError(f"--concurrency {concurrency}: must be an integer >= 1")
        queues = queues or ["default"]
        if not dsn:
            if database not in settings.DATABASES:
                raise CommandError(f"--database {database!r} is not in DATABASES; allowed: "
                                   + ", ".join(sorted(settings.DATABASES)))
            try:
                dsn = dsn_from_database(settings.DATABASES[database])
            except ValueError as e:
                raise CommandError(str(e)) from None
        try:
            Worker = django_worker_class()
        except ImportError as e:
            raise CommandError(f"cannot import rowsched.worker ({e}); install rowsched's Python client "
                               "(pip install ./clients/python) and python3-psycopg2") from None
        logger.info("rowsched_worker on %s, queues %s, concurrency %d", redacted(dsn), ", ".join(queues),
                    concurrency)
        extra = {"schema": schema} if schema else {}
        Worker(dsn, queues=queues, concurrency=concurrency, shutdown_timeout=shutdown_timeout, **extra).run()
