"""rowsched's worker as a Django project needs it: each call of a project function runs on a thread
of its own, and Django opens a database connection per thread that nothing would close (Django closes
connections at the end of a web request, and a worker has none). Without this, every run that touches
the ORM leaves one idle PostgreSQL session behind until the garbage collector happens by, and a busy
worker exhausts max_connections.

rowsched.worker is imported when the class is asked for, not when this module is, so the app's models
and admin load without the worker's driver.
"""

from django.db import connections


def django_worker_class():
    """rowsched.worker.Worker, with the calling thread's Django connections closed after every call.
    Raises ImportError when rowsched.worker is not importable."""
    from rowsched.worker import Worker

    class DjangoWorker(Worker):
        def call_finished(self):
            connections.close_all()

    return DjangoWorker
