"""`rowsched run` end to end: jobs are managed only by writing rows of job_info with SQL, as a user
would, and everything asserted is what a user can SELECT (job_info's state columns, job_run)."""

import datetime
import json
import signal

import pytest

from conftest import connect, dsn_with, quote_ident, sql, sql_value
from daemon import (insert_job, job, row_held, runs, start_daemon, state_is,  # noqa: F401 (fixture)
                    wait_for_a_counted_run_of_every_job, wait_until)


def test_an_inserted_job_gets_its_next_run_time_and_state_scheduled(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "nightly", kwargs={"trigger": "cron", "hour": 3, "minute": 30, "timezone": "Europe/Berlin"})
    j = wait_until(lambda: state_is(migrated_db, "nightly", "scheduled"), what="nightly scheduled")
    assert j["is_running"] is True
    expected = sql_value(migrated_db, "SELECT (date_trunc('day', now() AT TIME ZONE 'Europe/Berlin') + "
                         "CASE WHEN (now() AT TIME ZONE 'Europe/Berlin')::time < '03:30' THEN interval '3 hours 30 minutes' "
                         "ELSE interval '1 day 3 hours 30 minutes' END) AT TIME ZONE 'Europe/Berlin'")
    assert j["next_run_time"] == expected


def test_jobs_present_before_start_are_loaded_and_scheduled(migrated_db, start_daemon):
    insert_job(migrated_db, "early", kwargs={"trigger": "interval", "minutes": 5})
    start_daemon(migrated_db)
    assert wait_until(lambda: state_is(migrated_db, "early", "scheduled"))


def test_rows_with_the_same_trigger_kwargs_loaded_at_start_each_keep_their_own_anchor(migrated_db, start_daemon):
    # The start-up load shares one parse between rows with the same trigger_kwargs, except where the
    # schedule depends on when the row was written: an interval without start_date starts then.
    kwargs = {"trigger": "interval", "hours": 1}
    for i in range(3):
        insert_job(migrated_db, "anchored-%d" % i, kwargs=kwargs)
    insert_job(migrated_db, "cron-a", kwargs={"trigger": "cron", "minute": "*/5"})
    insert_job(migrated_db, "cron-b", kwargs={"trigger": "cron", "minute": "*/5"})
    start_daemon(migrated_db)
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_info WHERE next_run_time IS NULL") == 0)
    rows = sql(migrated_db, "SELECT job_id, next_run_time, active_time FROM job_info WHERE job_id LIKE 'anchored-%' ORDER BY job_id")
    assert len({r[2] for r in rows}) == 3  # three different instants, so three different schedules
    for job_id, next_run_time, active_time in rows:
        assert next_run_time == active_time + datetime.timedelta(hours=1), job_id
    a, b = (job(migrated_db, j)["next_run_time"] for j in ("cron-a", "cron-b"))
    assert a == b and a.minute % 5 == 0 and a.second == 0


def test_an_interval_job_fires_every_second_and_each_fire_is_in_job_run(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "tick", args=["tick"], kwargs={"trigger": "interval", "seconds": 1})
    wait_until(lambda: len(runs(migrated_db, "tick", "succeeded")) >= 3, timeout=15, what="3 runs")
    fired = runs(migrated_db, "tick", "succeeded")
    gaps = [(b[0] - a[0]).total_seconds() for a, b in zip(fired, fired[1:])]
    assert all(g == 1.0 for g in gaps), gaps
    assert fired[0][2] == "tick"  # the log handler's output
    j = wait_until(lambda: (lambda j: j if j["run_count"] >= 3 else None)(job(migrated_db, "tick")))
    assert j["last_status"] == "succeeded" and j["failure_count"] == 0


def test_an_update_reschedules_the_job(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "moving", kwargs={"trigger": "date", "run_date": "2999-01-01 00:00:00Z"})
    wait_until(lambda: state_is(migrated_db, "moving", "scheduled"))
    sql(migrated_db, "UPDATE job_info SET trigger_kwargs = %s WHERE job_id = 'moving'",
        (json.dumps({"trigger": "date", "run_date": "2998-06-01T12:00:00+02:00"}),))
    wait_until(lambda: str(job(migrated_db, "moving")["next_run_time"].astimezone().isoformat()).startswith("2998")
               and job(migrated_db, "moving")["next_run_time"].month == 6, what="the new run_date")
    assert sql_value(migrated_db, "SELECT next_run_time = '2998-06-01 10:00:00Z' FROM job_info WHERE job_id = 'moving'")


def test_a_paused_job_does_not_fire_and_resumes_when_unpaused(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "p", kwargs={"trigger": "interval", "seconds": 1})
    wait_until(lambda: runs(migrated_db, "p", "succeeded"), what="a first run")
    sql(migrated_db, "UPDATE job_info SET is_paused = true WHERE job_id = 'p'")
    j = wait_until(lambda: state_is(migrated_db, "p", "paused"))
    assert j["next_run_time"] is None and j["is_running"] is False
    paused_at = sql_value(migrated_db, "SELECT now()")
    # Two more seconds of the schedule pass: nothing may be claimed for them.
    marker = sql_value(migrated_db, "SELECT now() + interval '2.2 seconds'")
    wait_until(lambda: sql_value(migrated_db, "SELECT now() > %s", (marker,)), timeout=5)
    assert sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'p' AND started_at > %s + interval '50 ms'",
                     (paused_at,)) == 0
    sql(migrated_db, "UPDATE job_info SET is_paused = false WHERE job_id = 'p'")
    wait_until(lambda: state_is(migrated_db, "p", "scheduled"))
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'p' AND started_at > %s",
                                 (marker,)) >= 1, what="a run after resuming")


def test_run_right_now_runs_once_and_clears_the_flag(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "later", kwargs={"trigger": "date", "run_date": "2999-01-01"})
    before = wait_until(lambda: state_is(migrated_db, "later", "scheduled"))
    sql(migrated_db, "UPDATE job_info SET run_right_now = true WHERE job_id = 'later'")
    wait_until(lambda: runs(migrated_db, "later", "succeeded"), what="the immediate run")
    j = wait_until(lambda: (lambda j: j if not j["run_right_now"] else None)(job(migrated_db, "later")), what="flag cleared")
    assert len(runs(migrated_db, "later")) == 1
    assert j["next_run_time"] == before["next_run_time"]  # the schedule itself is unchanged


def test_run_right_now_on_a_paused_job_runs_it_once(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "manual", kwargs={"trigger": "cron", "hour": 4}, is_paused=True, run_right_now=True)
    wait_until(lambda: runs(migrated_db, "manual", "succeeded"))
    assert wait_until(lambda: state_is(migrated_db, "manual", "paused"))["next_run_time"] is None
    assert len(runs(migrated_db, "manual")) == 1


def test_run_right_now_of_a_date_job_leaves_its_own_fire_scheduled_across_a_restart(migrated_db, start_daemon):
    d = start_daemon(migrated_db)
    insert_job(migrated_db, "future", kwargs={"trigger": "date", "run_date": "2999-01-01Z"}, run_right_now=True)
    wait_until(lambda: runs(migrated_db, "future", "succeeded"))
    assert d.stop() == 0
    start_daemon(migrated_db)
    j = wait_until(lambda: state_is(migrated_db, "future", "scheduled"))
    assert sql_value(migrated_db, "SELECT next_run_time = '2999-01-01Z' FROM job_info WHERE job_id = 'future'")
    assert len(runs(migrated_db, "future")) == 1 and j["run_right_now"] is False


def test_a_run_right_now_request_followed_at_once_by_another_edit_runs_once(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "edited", kwargs={"trigger": "date", "run_date": "2999-01-01Z"})
    wait_until(lambda: state_is(migrated_db, "edited", "scheduled"))
    sql(migrated_db, "UPDATE job_info SET run_right_now = true WHERE job_id = 'edited'")
    sql(migrated_db, "UPDATE job_info SET description = 'edited right after' WHERE job_id = 'edited'")
    wait_until(lambda: not job(migrated_db, "edited")["run_right_now"], what="the request served")
    sql(migrated_db, "UPDATE job_info SET description = 'and again' WHERE job_id = 'edited'")
    wait_until(lambda: state_is(migrated_db, "edited", "scheduled") and sql_value(
        migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'edited' AND status <> 'running'") >= 1)
    assert len(runs(migrated_db, "edited")) == 1


def test_next_run_time_now_fires_immediately_then_follows_the_trigger(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "asap", kwargs={"trigger": "cron", "hour": 4, "minute": 0, "next_run_time": "now"})
    wait_until(lambda: runs(migrated_db, "asap", "succeeded"))
    j = wait_until(lambda: state_is(migrated_db, "asap", "scheduled"))
    assert j["next_run_time"].astimezone().hour is not None
    assert sql_value(migrated_db, "SELECT extract(hour from next_run_time AT TIME ZONE 'UTC') = 4 FROM job_info "
                                  "WHERE job_id = 'asap'")


def test_a_deleted_job_stops_firing(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "gone", kwargs={"trigger": "interval", "seconds": 1})
    wait_until(lambda: runs(migrated_db, "gone", "succeeded"))
    deleted_at = sql_value(migrated_db, "DELETE FROM job_info WHERE job_id = 'gone' RETURNING now()")
    marker = sql_value(migrated_db, "SELECT now() + interval '2.2 seconds'")
    wait_until(lambda: sql_value(migrated_db, "SELECT now() > %s", (marker,)), timeout=5)
    assert sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'gone' AND started_at > %s + interval '50 ms'",
                     (deleted_at,)) == 0


def test_a_renamed_job_fires_under_its_new_name_only(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "old-name", kwargs={"trigger": "interval", "seconds": 1})
    wait_until(lambda: runs(migrated_db, "old-name", "succeeded"))
    renamed_at = sql_value(migrated_db, "UPDATE job_info SET job_id = 'new-name' WHERE job_id = 'old-name' RETURNING now()")
    wait_until(lambda: runs(migrated_db, "new-name", "succeeded"), what="a run under the new name")
    assert wait_until(lambda: state_is(migrated_db, "new-name", "scheduled"))
    assert sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'old-name' AND started_at > %s + interval '50 ms'",
                     (renamed_at,)) == 0


@pytest.mark.parametrize("kwargs, func, args, message", [
    ({"trigger": "cron", "hour": "25"}, "log", [], 'trigger_kwargs.hour: "25" is out of range 0-23'),
    ({"trigger": "cron", "timezone": "Mars/Olympus"}, "log", [], 'trigger_kwargs.timezone: "Mars/Olympus" is not a known IANA time zone'),
    ({"trigger": "interval", "seconds": 5}, "scheduler_jobs.tasks.test", [], 'func: "scheduler_jobs.tasks.test" is not a handler; available: '),
    ({"trigger": "interval", "seconds": 5}, "sql", [], 'func_args for "sql": func_args[0] must be the SQL statement'),
])
def test_a_row_rowsched_cannot_schedule_is_marked_invalid_with_the_reason(migrated_db, start_daemon, kwargs, func, args, message):
    start_daemon(migrated_db)
    insert_job(migrated_db, "bad", func=func, args=args, kwargs=kwargs)
    j = wait_until(lambda: state_is(migrated_db, "bad", "invalid"))
    assert message in j["last_error"]
    assert j["next_run_time"] is None and j["is_running"] is False
    # Fixing the row makes it schedulable again, and the error goes away.
    sql(migrated_db, "UPDATE job_info SET func = 'log', func_args = '[]', trigger_kwargs = %s WHERE job_id = 'bad'",
        (json.dumps({"trigger": "interval", "seconds": 60}),))
    j = wait_until(lambda: state_is(migrated_db, "bad", "scheduled"))
    assert j["last_error"] is None


def test_a_date_job_that_has_fired_is_finished(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "once", kwargs={"trigger": "date"})  # no run_date: now, as in APScheduler
    wait_until(lambda: runs(migrated_db, "once", "succeeded"))
    j = wait_until(lambda: state_is(migrated_db, "once", "finished"))
    assert j["next_run_time"] is None


def test_a_bulk_insert_of_10000_rows_in_one_transaction_is_all_scheduled(migrated_db, start_daemon):
    start_daemon(migrated_db)
    sql(migrated_db, "INSERT INTO job_info (job_id, func, func_args, trigger_kwargs) "
                     "SELECT 'bulk-' || i, 'log', '[]', jsonb_build_object('trigger', 'cron', 'minute', i % 60, 'hour', 3) "
                     "FROM generate_series(1, 10000) i")
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_info WHERE state = 'scheduled' "
                                              "AND next_run_time IS NOT NULL") == 10000, timeout=60, what="10000 scheduled")
    assert sql_value(migrated_db, "SELECT count(*) FROM job_info WHERE extract(minute from next_run_time) <> "
                                  "(substring(job_id from 6)::int % 60)") == 0


def test_a_bulk_update_stops_the_jobs_it_pauses_and_loses_no_fire_of_the_jobs_it_only_edits(migrated_db, start_daemon):
    """One UPDATE of 200 rows is announced by its count, and the daemon claims the fires due while it
    compares the table: the claim refuses a fire asked under a job's old version, and the daemon decides
    it again under the new one (docs/decisions.md). Once the UPDATE has committed, a job it paused
    starts no fire beyond the claim lead (1.025 s at most), and a job whose description it changed
    goes on firing every second: none lost, none twice."""
    # 400 jobs at 1 Hz spread over the second (a claim every 25 ms), beside 20,000 idle ones, so that
    # claims are due while the daemon compares the table.
    sql(migrated_db, "INSERT INTO job_info (job_id, func, func_args, trigger_kwargs) "
                     "SELECT 'idle' || i, 'log', '[]', '{\"trigger\": \"cron\", \"hour\": 3, \"minute\": 0}' "
                     "FROM generate_series(1, 20000) i")
    sql(migrated_db, "INSERT INTO job_info (job_id, func, func_args, trigger_kwargs) "
                     "SELECT 'j' || i, 'log', '[]', jsonb_build_object('trigger', 'interval', 'seconds', 1, 'start_date', "
                     "to_char((date_trunc('second', now()) + interval '2 s' + i * interval '2.5 ms') AT TIME ZONE 'UTC', "
                     "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) FROM generate_series(1, 400) i")
    daemon = start_daemon(migrated_db)
    wait_until(lambda: sql_value(migrated_db, "SELECT count(DISTINCT job_id) FROM job_run WHERE status = 'succeeded'") == 400,
               timeout=15, what="every job's first run")
    # One statement: a new description for every idle job and half the others, a quarter of those paused.
    sql(migrated_db, """UPDATE job_info SET description = 'edited',
                               is_paused = CASE WHEN job_id LIKE 'j%' THEN substring(job_id from 2)::int % 4 = 0 ELSE false END
                         WHERE CASE WHEN job_id LIKE 'j%' THEN substring(job_id from 2)::int % 2 = 0 ELSE true END""")
    committed = sql_value(migrated_db, "SELECT clock_timestamp()")
    edited = [f"j{i}" for i in range(2, 401, 4)]
    paused = [f"j{i}" for i in range(4, 401, 4)]
    wait_until(lambda: (sql_value(migrated_db, "SELECT min(n) FROM (SELECT count(*) AS n FROM job_run WHERE job_id = ANY (%s) "
                                              "AND status = 'succeeded' AND scheduled_for > %s GROUP BY job_id) c "
                                              "HAVING count(*) = %s", (edited, committed, len(edited))) or 0) >= 3,
               timeout=20, what="three runs of every edited job after the UPDATE")
    late_paused = sql(migrated_db, "SELECT job_id, scheduled_for FROM job_run WHERE job_id = ANY (%s) AND scheduled_for > %s",
                      (paused, committed + datetime.timedelta(seconds=1.1)))
    assert late_paused == []
    assert sql_value(migrated_db, "SELECT count(*) FROM job_info WHERE job_id = ANY (%s) AND state = 'paused'", (paused,)) == 100
    for job_id in edited:
        fired = [r[0] for r in runs(migrated_db, job_id)]
        gaps = {(b - a).total_seconds() for a, b in zip(fired, fired[1:])}
        assert gaps == {1.0}, (job_id, fired)
        assert {r[1] for r in runs(migrated_db, job_id)} <= {"succeeded", "running"}, job_id
    # The writer found rows held by the UPDATE and wrote the rest of its batches: nothing it wrote was
    # refused, nothing dropped.
    assert "write-backs failed" not in daemon.log() and "dropping" not in daemon.log()


def test_a_transaction_holding_job_rows_for_seconds_delays_their_write_backs_and_loses_none(migrated_db, start_daemon):
    """The writer waits at most 50 ms for a job_info row another transaction holds (else a user's bulk
    UPDATE could fail with "deadlock detected" against it). It writes the other jobs' outcomes at once
    and keeps the held job's, writing them again however long the row stays held: nothing is dropped,
    and once the transaction ends every run is counted."""
    for i in range(3):
        insert_job(migrated_db, f"held{i}", kwargs={"trigger": "interval", "seconds": 1})
    daemon = start_daemon(migrated_db)
    wait_for_a_counted_run_of_every_job(migrated_db)
    with row_held(migrated_db, "SELECT job_id FROM job_info WHERE job_id = 'held0' FOR UPDATE"):
        wait_until(lambda: "held by another transaction" in daemon.log(), what="the writer finding the row held")
        before = sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'held1' AND status = 'succeeded'")
        # Runs go on meanwhile (claims only read job_info), and the other jobs' outcomes are written.
        wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'held1' AND status = 'succeeded'")
                   >= before + 3, what="three more outcomes of another job")
        # The held job's outcomes wait in the writer: its runs still read `running`.
        assert sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'held0' AND status = 'running'") >= 2
    counted = """SELECT bool_and(j.run_count = r.n) AND min(r.n) >= 4 FROM job_info j
                   JOIN (SELECT job_id, count(*) FILTER (WHERE status NOT IN ('running', 'queued')) AS n
                           FROM job_run GROUP BY job_id) r USING (job_id)"""
    wait_until(lambda: sql_value(migrated_db, counted), what="every run counted in job_info")
    assert "the held job_info rows were released" in daemon.log()
    assert "dropping" not in daemon.log()


def test_a_sql_job_runs_as_the_role_that_owns_the_row(migrated_db, start_daemon, make_role):
    alice = make_role("alice")
    sql(migrated_db, "CREATE TABLE audit (who text, at timestamptz default now())")
    sql(migrated_db, f"GRANT INSERT ON audit TO {quote_ident(alice)}; GRANT INSERT, SELECT, UPDATE, DELETE ON job_info TO {quote_ident(alice)}")
    start_daemon(migrated_db)
    as_alice = dsn_with(migrated_db, user=alice)
    insert_job(as_alice, "audit", func="sql", args=["INSERT INTO audit (who) VALUES (current_user || $1)", "!"],
               kwargs={"trigger": "date"})
    wait_until(lambda: runs(migrated_db, "audit", "succeeded"), what="the sql run")
    assert sql_value(migrated_db, "SELECT who FROM audit") == alice + "!"


def test_a_failing_sql_job_records_the_error_and_counts_the_failure(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "broken", func="sql", args=["SELECT * FROM no_such_table"], kwargs={"trigger": "date"})
    run = wait_until(lambda: runs(migrated_db, "broken", "failed"))[0]
    assert 'relation "no_such_table" does not exist' in run[3]
    j = wait_until(lambda: (lambda j: j if j["failure_count"] == 1 else None)(job(migrated_db, "broken")))
    assert j["last_status"] == "failed" and "no_such_table" in j["last_error"]


def test_a_notify_job_wakes_a_listener(migrated_db, start_daemon, listen):
    listener = listen(migrated_db, "work_queue")
    start_daemon(migrated_db)
    insert_job(migrated_db, "wake", func="notify", args=["work_queue", {"task": "send_emails"}], kwargs={"trigger": "date"})
    assert json.loads(listener.get(timeout=10)) == {"task": "send_emails"}


def test_after_a_restart_jobs_resume_and_no_instant_fires_twice(migrated_db, start_daemon):
    d = start_daemon(migrated_db)
    insert_job(migrated_db, "steady", kwargs={"trigger": "interval", "seconds": 1})
    wait_until(lambda: len(runs(migrated_db, "steady")) >= 2)
    assert d.stop() == 0
    start_daemon(migrated_db)
    before = len(runs(migrated_db, "steady"))
    wait_until(lambda: len(runs(migrated_db, "steady", "succeeded")) >= before + 2, timeout=10)
    fired = [r[0] for r in runs(migrated_db, "steady")]
    assert len(fired) == len(set(fired))
    # Every fire is on the job's one-second grid (the schedule did not restart from a new origin).
    assert len({(f - fired[0]).total_seconds() % 1 for f in fired}) == 1


def test_sigterm_stops_cleanly_clearing_is_running_and_the_instance_row(migrated_db, start_daemon):
    d = start_daemon(migrated_db)
    insert_job(migrated_db, "j", kwargs={"trigger": "interval", "minutes": 1})
    wait_until(lambda: state_is(migrated_db, "j", "scheduled"))
    assert d.stop(signal.SIGTERM) == 0
    assert job(migrated_db, "j")["is_running"] is False
    assert sql_value(migrated_db, "SELECT count(*) FROM scheduler_instance") == 0


def test_after_its_connection_is_killed_rowsched_reconnects_and_applies_changes_made_meanwhile(migrated_db, start_daemon):
    d = start_daemon(migrated_db)
    insert_job(migrated_db, "a", kwargs={"trigger": "interval", "minutes": 1})
    wait_until(lambda: state_is(migrated_db, "a", "scheduled"))
    # Terminate every session of the daemon and, in the same breath, change the job.
    with connect(migrated_db, autocommit=False) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'rowsched%' "
                    "AND datname = current_database() AND pid <> pg_backend_pid()")
        cur.execute("UPDATE job_info SET trigger_kwargs = '{\"trigger\": \"date\", \"run_date\": \"2990-01-01Z\"}' WHERE job_id = 'a'")
        conn.commit()
    wait_until(lambda: sql_value(migrated_db, "SELECT next_run_time = '2990-01-01Z' FROM job_info WHERE job_id = 'a'"),
               what="the change made while disconnected")
    assert d.proc.poll() is None
    assert "reconnect" in d.log()


def test_editing_a_run_once_job_after_it_ran_does_not_run_it_again(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "once-now", kwargs={})
    wait_until(lambda: state_is(migrated_db, "once-now", "finished"))
    sql(migrated_db, "UPDATE job_info SET description = 'renamed in the admin', func_args = '[\"edited\"]' "
                     "WHERE job_id = 'once-now'")
    j = wait_until(lambda: (lambda j: j if j["version"] >= 2 and j["state"] == "finished" else None)(job(migrated_db, "once-now")))
    assert j["next_run_time"] is None
    assert len(runs(migrated_db, "once-now")) == 1


def test_a_resumed_job_starts_afresh_without_a_backlog_for_the_paused_time(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "napper", kwargs={"trigger": "interval", "seconds": 1, "misfire_grace_time": 60})
    wait_until(lambda: runs(migrated_db, "napper", "succeeded"))
    sql(migrated_db, "UPDATE job_info SET is_paused = true WHERE job_id = 'napper'")
    wait_until(lambda: state_is(migrated_db, "napper", "paused"))
    until = sql_value(migrated_db, "SELECT now() + interval '2.5 seconds'")
    wait_until(lambda: sql_value(migrated_db, "SELECT now() > %s", (until,)), timeout=5)
    sql(migrated_db, "UPDATE job_info SET is_paused = false WHERE job_id = 'napper'")
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'napper' AND started_at > %s", (until,)) >= 2)
    assert runs(migrated_db, "napper", "skipped") == [] and runs(migrated_db, "napper", "missed") == []


def test_a_restart_under_the_same_instance_name_marks_the_runs_it_left_lost(migrated_db, start_daemon):
    d = start_daemon(migrated_db, instance="fixed-name")
    insert_job(migrated_db, "stuck", func="sql", args=["SELECT pg_sleep(60)"], kwargs={"trigger": "date"})
    wait_until(lambda: runs(migrated_db, "stuck", "running"))
    d.kill()
    sql(migrated_db, "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'")
    start_daemon(migrated_db, instance="fixed-name")
    run = wait_until(lambda: runs(migrated_db, "stuck", "lost"))[0]
    assert "restarted under the same name" in run[3]


def loop_thread_switches(pid):
    """Voluntary context switches of the daemon's main thread (the scheduler loop): how often it slept and woke."""
    with open(f"/proc/{pid}/task/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches"))


def test_the_scheduler_loop_is_not_woken_once_per_run_at_500_fires_per_second(migrated_db, start_daemon):
    # A run's end has the loop woken 10 ms later at most, once for every outcome of those 10 ms; it
    # used to wake the loop at once, about once per run (0.5 times per fire at 2,000 fires/s).
    jobs = 500
    t0 = sql_value(migrated_db, "SELECT extract(epoch FROM now())::float8 + 2")
    sql(migrated_db, """INSERT INTO job_info (job_id, func, func_args, trigger_kwargs)
                        SELECT 'often-' || i, 'log', '["tick"]'::jsonb,
                               jsonb_build_object('trigger', 'interval', 'seconds', 1,
                                                  'start_date', to_char(to_timestamp(%s + i * 0.002) AT TIME ZONE 'UTC',
                                                                        'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
                          FROM generate_series(0, %s - 1) AS i""", (t0, jobs))
    d = start_daemon(migrated_db, "--log-level", "warn")
    count = "SELECT count(*) FROM job_run WHERE job_id LIKE 'often-%%' AND status = 'succeeded'"
    wait_until(lambda: sql_value(migrated_db, count) >= jobs, timeout=30, what="the first second of fires")
    runs0, switches0 = sql_value(migrated_db, count), loop_thread_switches(d.proc.pid)
    wait_until(lambda: sql_value(migrated_db, count) >= runs0 + 4 * jobs, timeout=30, what="4 more seconds of fires")
    runs1, switches1 = sql_value(migrated_db, count), loop_thread_switches(d.proc.pid)
    per_run = (switches1 - switches0) / (runs1 - runs0)
    # Its claims (every 25 ms, each also waiting for its result) and its wake-ups for outcomes (every
    # 10 ms at most): 0.30 per fire at 500 fires/s; 1.08 before.
    assert per_run < 0.6, f"the loop woke {switches1 - switches0} times for {runs1 - runs0} runs"
