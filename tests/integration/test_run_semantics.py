"""What a run does, as users see it in job_run: misfires, coalescing, max_instances, timeouts,
retries and history retention (issue 5's run semantics), on a real PostgreSQL with a real daemon."""

import time

import pytest

from conftest import connect, sql, sql_value
from daemon import insert_job, job, runs, start_daemon, state_is, wait_until  # noqa: F401 (fixture)


def test_a_fire_later_than_misfire_grace_time_is_recorded_missed_not_run(migrated_db, start_daemon):
    start_daemon(migrated_db)
    run_date = sql_value(migrated_db, "SELECT to_char((now() - interval '1 minute') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
    insert_job(migrated_db, "late", kwargs={"trigger": "date", "run_date": run_date})
    fired = wait_until(lambda: runs(migrated_db, "late"))
    assert [r[1] for r in fired] == ["missed"]
    assert "misfire_grace_time" in fired[0][3]
    assert wait_until(lambda: state_is(migrated_db, "late", "finished"))
    assert job(migrated_db, "late")["run_count"] == 0


def test_misfire_grace_time_null_runs_a_late_fire(migrated_db, start_daemon):
    start_daemon(migrated_db)
    run_date = sql_value(migrated_db, "SELECT to_char((now() - interval '1 hour') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
    insert_job(migrated_db, "late", kwargs={"trigger": "date", "run_date": run_date, "misfire_grace_time": None})
    assert [r[1] for r in wait_until(lambda: runs(migrated_db, "late", "succeeded"))] == ["succeeded"]


@pytest.mark.parametrize("coalesce", [True, False])
def test_after_downtime_a_backlog_runs_once_with_coalesce_or_each_fire_without(migrated_db, start_daemon, coalesce):
    d = start_daemon(migrated_db)
    insert_job(migrated_db, "backlog", kwargs={"trigger": "interval", "seconds": 1, "start_date": "2020-01-01T00:00:00Z",
                                                "misfire_grace_time": 60, "coalesce": coalesce, "max_instances": 10})
    wait_until(lambda: runs(migrated_db, "backlog", "succeeded"))
    assert d.stop() == 0
    stopped_at = sql_value(migrated_db, "SELECT now()")
    wait_until(lambda: sql_value(migrated_db, "SELECT now() > %s + interval '3.5 seconds'", (stopped_at,)), timeout=10)
    start_daemon(migrated_db)
    # Every whole second of the downtime has exactly one job_run row: run, or folded by coalesce.
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'backlog' AND "
                                              "scheduled_for > %s + interval '4 seconds'", (stopped_at,)) >= 1, timeout=10)
    rows = sql(migrated_db, "SELECT status, error FROM job_run WHERE job_id = 'backlog' AND scheduled_for > %s "
                            "AND scheduled_for <= %s + interval '3 seconds' ORDER BY scheduled_for", (stopped_at, stopped_at))
    assert len(rows) == 3
    if coalesce:
        assert [r[0] for r in rows[:-1]] == ["skipped", "skipped"]
        assert all("coalesced" in r[1] for r in rows[:-1])
    else:
        assert {r[0] for r in rows} <= {"succeeded", "running"}


def test_a_fire_while_max_instances_runs_are_running_is_skipped(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "slow", func="sql", args=["SELECT pg_sleep(2.5)"],
               kwargs={"trigger": "interval", "seconds": 1, "max_instances": 1})
    skipped = wait_until(lambda: runs(migrated_db, "slow", "skipped"), timeout=10)
    assert "max_instances (1)" in skipped[0][3]
    wait_until(lambda: runs(migrated_db, "slow", "succeeded"), timeout=10)
    # Never two runs at once: the succeeded runs' [started, finished] intervals do not overlap.
    spans = sql(migrated_db, "SELECT started_at, finished_at FROM job_run WHERE job_id = 'slow' AND status = 'succeeded' "
                             "ORDER BY started_at")
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_fires_are_claimed_ahead_but_never_start_before_their_instant(migrated_db, start_daemon):
    # rowsched claims a fire a few milliseconds before it is due (docs/decisions.md) so that the
    # claim's round trip is not lateness; the run itself must still not start early.
    start_daemon(migrated_db)
    insert_job(migrated_db, "punctual", kwargs={"trigger": "interval", "seconds": 1, "start_date": "2020-01-01Z"})
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'punctual' AND status = 'succeeded'") >= 4,
               timeout=10)
    early = sql(migrated_db, "SELECT scheduled_for, started_at FROM job_run WHERE job_id = 'punctual' AND status = 'succeeded' "
                             "AND started_at < scheduled_for")
    assert early == []


def test_quick_runs_of_a_max_instances_1_job_are_never_skipped_while_their_outcome_is_being_written(migrated_db, start_daemon):
    # Each run ends long before the next fire, so max_instances never stops one, however far the
    # writer of run outcomes is behind the claims (the instance counts its own runs in memory).
    start_daemon(migrated_db)
    sql(migrated_db, "INSERT INTO job_info (job_id, func, func_args, trigger_kwargs) "
                     "SELECT 'quick-' || i, 'log', '[\"q\"]', jsonb_build_object('trigger', 'interval', 'seconds', 1, "
                     "  'max_instances', 1, 'start_date', format('2020-01-01T00:00:00.%s0Z', lpad((i * 5)::text, 3, '0'))) "
                     "FROM generate_series(0, 99) i")
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE status = 'succeeded'") >= 500, timeout=20)
    assert sql(migrated_db, "SELECT job_id, error FROM job_run WHERE status = 'skipped' LIMIT 3") == []


def test_a_sql_run_past_its_timeout_is_cancelled_and_recorded_as_timeout(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "hang", func="sql", args=["SELECT pg_sleep(30)"], kwargs={"trigger": "date", "timeout": 1})
    run = wait_until(lambda: runs(migrated_db, "hang", "timeout"), timeout=10)[0]
    assert "timeout" in run[3]
    took = sql_value(migrated_db, "SELECT extract(epoch from finished_at - started_at) FROM job_run WHERE job_id = 'hang'")
    assert 0.9 <= float(took) < 5
    assert sql_value(migrated_db, "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'") == 0


def test_a_failed_run_is_retried_as_new_attempts_of_the_same_fire(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "flaky", func="sql", args=["SELECT 1/0"],
               kwargs={"trigger": "date", "retries": 2, "retry_delay": 0.2})
    attempts = wait_until(lambda: (lambda r: r if len(r) == 3 and r[2][1] != "running" else None)(
        sql(migrated_db, "SELECT attempt, status, scheduled_for FROM job_run WHERE job_id = 'flaky' ORDER BY attempt")),
        timeout=10, what="three attempts")
    assert [(a, s) for a, s, _ in attempts] == [(1, "failed"), (2, "failed"), (3, "failed")]
    assert len({t for _, _, t in attempts}) == 1
    j = wait_until(lambda: (lambda j: j if j["failure_count"] == 3 else None)(job(migrated_db, "flaky")))
    assert "division by zero" in j["last_error"]


def test_history_is_pruned_per_job_while_run_count_stays_exact(migrated_db, start_daemon):
    start_daemon(migrated_db, "--history-per-job", "2", "--prune-interval", "0.2")
    insert_job(migrated_db, "chatty", kwargs={"trigger": "interval", "seconds": 1, "start_date": "2020-01-01Z"})
    wait_until(lambda: (job(migrated_db, "chatty") or {}).get("run_count", 0) >= 5, timeout=15)
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'chatty' AND status <> 'running'") <= 2,
               timeout=15, what="pruning")
    assert job(migrated_db, "chatty")["run_count"] >= 5


def _insert_old_run(dsn):
    """A finished run of job 'old', 40 days old (past the default --history-max-age of 30), of no schedule."""
    sql(dsn, "INSERT INTO job_run (job_id, scheduled_for, instance, status, started_at, finished_at, kind) "
             "VALUES ('old', now() - interval '40 days', 'earlier', 'succeeded', now() - interval '40 days', "
             "now() - interval '40 days', 'run_now')")


def _old_run_locked(dsn):
    """An old run (_insert_old_run) and a session that holds its row locked, as a long export or a
    migration would: a pruning pass waits for that session."""
    _insert_old_run(dsn)
    holder = connect(dsn, autocommit=False)
    holder.cursor().execute("SELECT run_id FROM job_run WHERE job_id = 'old' FOR UPDATE")
    return holder


def _pruner_waits_for_lock(dsn):
    # Only pruning deletes the old row: a rowsched session waiting for a lock is the pass.
    return sql_value(dsn, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'rowsched %' "
                          "AND wait_event_type = 'Lock'") == 1


def test_a_pruning_pass_that_waits_holds_up_no_fire_and_finishes_after(migrated_db, start_daemon):
    holder = _old_run_locked(migrated_db)
    try:
        start_daemon(migrated_db, "--prune-interval", "0.2")
        wait_until(lambda: _pruner_waits_for_lock(migrated_db), timeout=10, what="the pruning pass waiting for the lock")
        insert_job(migrated_db, "ticker", kwargs={"trigger": "interval", "seconds": 0.2})
        # Before, the pass ran on the scheduler loop's connection: nothing fired while it waited.
        wait_until(lambda: (job(migrated_db, "ticker") or {}).get("run_count", 0) >= 5, timeout=10,
                   what="fires while the pruning pass waits")
        assert _pruner_waits_for_lock(migrated_db)
    finally:
        holder.rollback()
        holder.close()
    wait_until(lambda: not runs(migrated_db, "old"), timeout=10, what="the old run pruned once the lock is released")


def test_sigterm_stops_the_daemon_while_a_pruning_pass_waits(migrated_db, start_daemon):
    holder = _old_run_locked(migrated_db)
    try:
        d = start_daemon(migrated_db, "--prune-interval", "0.2")
        wait_until(lambda: _pruner_waits_for_lock(migrated_db), timeout=10, what="the pruning pass waiting for the lock")
        started = time.monotonic()
        assert d.stop(timeout=10) == 0
        assert time.monotonic() - started < 3
        assert "history pruning" not in d.log()  # the cancelled pass is not a fault
    finally:
        holder.rollback()
        holder.close()
    assert len(runs(migrated_db, "old")) == 1  # the cancelled pass deleted nothing


def test_a_failing_pruning_pass_is_retried_with_a_clear_line_while_fires_go_on(migrated_db, start_daemon):
    _insert_old_run(migrated_db)
    sql(migrated_db, """CREATE FUNCTION keep_history() RETURNS trigger LANGUAGE plpgsql AS
                        $$BEGIN RAISE EXCEPTION 'history is kept by the auditors'; END$$""")
    sql(migrated_db, "CREATE TRIGGER keep_history BEFORE DELETE ON job_run FOR EACH ROW EXECUTE FUNCTION keep_history()")
    d = start_daemon(migrated_db, "--prune-interval", "0.2")
    insert_job(migrated_db, "ticker", kwargs={"trigger": "interval", "seconds": 0.2})
    wait_until(lambda: "history is kept by the auditors" in d.log() and "still failing" in d.log(), timeout=15,
               what="the pruning failure, retried, in the log")
    line = next(l for l in d.log().splitlines() if "history pruning failed" in l)
    assert "retrying in" in line, line
    wait_until(lambda: (job(migrated_db, "ticker") or {}).get("run_count", 0) >= 5, timeout=10)
    assert len(runs(migrated_db, "old")) == 1
    sql(migrated_db, "DROP TRIGGER keep_history ON job_run")
    wait_until(lambda: not runs(migrated_db, "old"), timeout=30, what="the old run pruned once deleting works")
    wait_until(lambda: "history pruning works again" in d.log(), timeout=5)


def test_old_one_off_jobs_last_fires_do_not_keep_older_history_from_being_pruned(migrated_db, start_daemon):
    # 1,500 one-off jobs that fired 40 days ago: each run is its job's newest fire of its schedule, which
    # pruning keeps. A pass that picked its batch (1,000 rows) before leaving those out found nothing else.
    sql(migrated_db, "INSERT INTO job_run (job_id, scheduled_for, instance, status, started_at, finished_at, kind) "
                     "SELECT 'once-' || i, now() - interval '40 days', 'earlier', 'succeeded', now() - interval '40 days', "
                     "now() - interval '40 days', 'schedule' FROM generate_series(1, 1500) i")
    _insert_old_run(migrated_db)  # one more old run, of no schedule: to be pruned
    start_daemon(migrated_db, "--prune-interval", "0.2")
    wait_until(lambda: not runs(migrated_db, "old"), timeout=15, what="the old run pruned")
    assert sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id LIKE 'once-%'") == 1500


def test_pruning_keeps_the_newest_fire_of_each_schedule_so_a_restart_does_not_rerun_it(migrated_db, start_daemon):
    d = start_daemon(migrated_db, "--history-max-age", "0", "--prune-interval", "0.2")
    insert_job(migrated_db, "yearly", kwargs={"trigger": "date", "misfire_grace_time": None})
    wait_until(lambda: state_is(migrated_db, "yearly", "finished"))
    insert_job(migrated_db, "other", kwargs={"trigger": "interval", "seconds": 1})
    wait_until(lambda: (job(migrated_db, "other") or {}).get("run_count", 0) >= 3)
    wait_until(lambda: len(runs(migrated_db, "other")) <= 2, what="pruning of the other job")
    assert len(runs(migrated_db, "yearly")) == 1  # everything else of age 0 is pruned, not this one
    assert d.stop() == 0
    start_daemon(migrated_db)
    assert wait_until(lambda: state_is(migrated_db, "yearly", "finished"))
    assert len(runs(migrated_db, "yearly")) == 1
