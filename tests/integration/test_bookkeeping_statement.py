"""The daemon's bookkeeping statement (src/store/statements/bookkeeping.sql), run directly against a
migrated database: what one batch of run outcomes does to job_run and to its jobs' counters. The
daemon tests see it only through runs that finish one at a time; here one batch holds several runs of
one job, out of order, as a loaded writer sends them."""

import re
from datetime import datetime, timedelta, timezone

from conftest import REPO, sql

STATEMENT = (REPO / "src/store/statements/bookkeeping.sql").read_text()
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


def _bookkeeping(dsn, outcomes):
    """Runs the statement with `outcomes` [(run_id, job_id, status, started_at, error)] and no
    write-backs, as the daemon binds it (one array per column)."""
    text = re.sub(r"\$(\d+)", lambda m: "%%(p%s)s" % m.group(1), STATEMENT.replace("@schema@", '"public"'))
    params = {"p1": [o[0] for o in outcomes], "p2": [o[1] for o in outcomes], "p3": [o[2] for o in outcomes],
              "p4": [o[3] for o in outcomes], "p5": [o[3] + timedelta(milliseconds=5) for o in outcomes],
              "p6": [None] * len(outcomes), "p7": [o[4] for o in outcomes]}
    params.update({f"p{i}": [] for i in range(8, 14)})
    sql(dsn, text, params)


def _claimed(dsn, job_id, seconds):
    """job_run rows `running` for job_id at T0 + each of `seconds`, as a claim leaves them; their ids."""
    return [sql(dsn, "INSERT INTO job_run (job_id, scheduled_for, instance, status, started_at) "
                     "VALUES (%s, %s, 'here', 'running', %s) RETURNING run_id",
                (job_id, T0 + timedelta(seconds=s), T0 + timedelta(seconds=s)))[0][0] for s in seconds]


def _counters(dsn, job_id):
    return sql(dsn, "SELECT run_count, failure_count, last_status, last_run_time, last_error FROM job_info "
                    "WHERE job_id = %s", (job_id,))[0]


def _jobs(dsn, *ids):
    for job_id in ids:
        sql(dsn, "INSERT INTO job_info (job_id, func, trigger_kwargs) VALUES (%s, 'log', "
                 "'{\"trigger\": \"interval\", \"hours\": 1}')", (job_id,))


def test_the_newest_run_of_a_batch_gives_last_status_time_and_error_whatever_its_place(shared_migrated_db):
    dsn = shared_migrated_db
    _jobs(dsn, "a", "b")
    a1, a2, a3 = _claimed(dsn, "a", [1, 2, 3])
    b1, b2 = _claimed(dsn, "b", [1, 2])
    at = lambda s: T0 + timedelta(seconds=s)  # noqa: E731
    # Job a: its newest run (3) failed and sits between the others; job b: its newest succeeded after
    # an older one failed.
    _bookkeeping(dsn, [(a1, "a", "succeeded", at(1), None), (b2, "b", "succeeded", at(2), None),
                       (a3, "a", "failed", at(3), "boom at 3"), (b1, "b", "failed", at(1), "boom at 1"),
                       (a2, "a", "failed", at(2), "boom at 2")])
    assert _counters(dsn, "a") == (3, 2, "failed", at(3), "boom at 3")
    assert _counters(dsn, "b") == (2, 1, "succeeded", at(2), None)
    assert sql(dsn, "SELECT run_id, status, error FROM job_run ORDER BY run_id") == [
        (a1, "succeeded", None), (a2, "failed", "boom at 2"), (a3, "failed", "boom at 3"),
        (b1, "failed", "boom at 1"), (b2, "succeeded", None)]


def test_a_batch_written_again_counts_nothing_twice(shared_migrated_db):
    dsn = shared_migrated_db
    _jobs(dsn, "a")
    a1, a2 = _claimed(dsn, "a", [1, 2])
    batch = [(a2, "a", "succeeded", T0 + timedelta(seconds=2), None), (a1, "a", "failed", T0 + timedelta(seconds=1), "x")]
    _bookkeeping(dsn, batch)
    _bookkeeping(dsn, batch)
    assert _counters(dsn, "a") == (2, 1, "succeeded", T0 + timedelta(seconds=2), None)
