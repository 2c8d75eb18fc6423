"""The seed's `scheduler_jobs/tasks.py`, as the demo's worker job calls it (func
'scheduler_jobs.tasks:test' in examples/jobs.sql; `python3 -m rowsched worker --path examples/worker`)."""

import logging
import os

log = logging.getLogger(__name__)


def test(*args):
    log.info("scheduler_jobs.tasks.test%r called in worker process %d", args, os.getpid())
    return {"called_with": list(args)}


def send_emails(to, subject, body, attachments=()):
    """The seed's other task, without the mail server: says what it would send."""
    log.info("would send %r to %s with %d attachments", subject, ", ".join(to), len(attachments))
    return {"to": to, "subject": subject}
