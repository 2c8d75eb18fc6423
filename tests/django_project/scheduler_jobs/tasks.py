"""The seed's tasks (scheduler_jobs.tasks), run by `manage.py rowsched_worker` from rows such as
func = 'scheduler_jobs.tasks:send_emails'. Each writes through Django's ORM, so a test sees the call."""
import logging
import time

from django.db import connection

from emails.models import Email
from scheduler_jobs.models import TaskCall

logger = logging.getLogger("scheduler_jobs")


def test(*args):
    logger.info(args)
    TaskCall.objects.create(task="test", args=list(args))


def send_emails(receivers, subject, content, attachments_path_list):
    """Arguments as in the seed: [["a@example.com"], "subject", "<h1>body</h1>", ["/path/attachment"]]."""
    logger.info("sending e-mail")
    e = Email(receivers=receivers, subject=subject, content=content, attachments_path_list=attachments_path_list)
    e.save()
    logger.info("sent")
    return {"email_id": e.pk}


def count_emails():
    """Writes through Django's raw connection, and returns what it saw."""
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM emails_email")
        (count,) = cur.fetchone()
    TaskCall.objects.create(task="count_emails", args=[count])
    return count


def fail(message):
    raise RuntimeError(message)


def sleep(seconds):
    TaskCall.objects.create(task="sleep", args=[seconds])
    time.sleep(seconds)
    TaskCall.objects.create(task="slept", args=[seconds])
