"""Faults, injected into a real PostgreSQL: a database never migrated, a privilege revoked, the server
stopped, a row that throws while it is applied, a run-once job missed while no daemon ran. What is
checked is what an operator sees: how many connections and log lines a persistent fault costs, what
the log, /readyz and /healthz say, that SIGTERM and SIGINT stop the daemon within 2 s in every state,
and that the daemon recovers by itself once the fault is gone."""

import re
import signal
import subprocess
import time

import pytest

from conftest import dsn_with, free_port, quote_ident, sql, sql_value
from daemon import (Daemon, insert_job, job, row_held, runs, start_daemon, state_is,  # noqa: F401 (fixture)
                    wait_for_a_counted_run_of_every_job, wait_until)
from test_operations import binary, http_get, run_cli  # noqa: F401 (fixture)


@pytest.fixture
def daemons(rowsched_bin, tmp_path):
    """Starts `rowsched run` processes that are not waited for (the database may not be usable)."""
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    started = []

    def start(dsn, *args, instance=None):
        d = Daemon(rowsched_bin, dsn, tmp_path, *args, instance=instance).start()
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()


def stop_within(d, sig, seconds=2.0):
    """Sends `sig`; asserts the process exits 0 within `seconds`; returns how long it took."""
    started = time.monotonic()
    d.proc.send_signal(sig)
    try:
        code = d.proc.wait(seconds + 3)
    finally:
        took = time.monotonic() - started
    assert took < seconds, f"exit took {took:.2f} s after {sig.name}:\n{d.log()}"
    assert code == 0, d.log()
    return took


def sessions(pg, dbname):
    """Sessions ever opened to `dbname` (pg_stat_database, counted at each session's end)."""
    return sql_value(pg.dsn(), "SELECT sessions FROM pg_stat_database WHERE datname = %s", (dbname,)) or 0


def dbname_of(dsn):
    return re.search(r"dbname=(\S+)", dsn).group(1)


def test_an_unmigrated_database_costs_one_connection_per_backoff_step_and_says_to_run_migrate(pg, db, daemons, binary):
    port = free_port()
    d = daemons(db, "--metrics-addr", f"127.0.0.1:{port}", "--unhealthy-after", "1")
    # /readyz says why and what to do; /healthz turns unhealthy once that has lasted over 1 s.
    status, body, _ = wait_until(lambda: (lambda r: r if r[0] == 503 and "rowsched migrate" in r[1] else None)(
        http_get(port, "/readyz")), what="/readyz naming `rowsched migrate`")
    assert f"run `rowsched migrate --dsn '{db}'`" in body
    status, body, _ = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(http_get(port, "/healthz")),
                                 what="/healthz 503 after --unhealthy-after")
    assert body.startswith("unhealthy: not ready for") and "rowsched migrate" in body
    wait_until(lambda: "still failing (4 times)" in d.log(), timeout=15, what="the fourth failure")
    # Backoff from 100 ms doubling: four failures take at least 50+100+200 ms; the bug took 2,800
    # connections in 6 s. Each failure is one connection and one log line.
    attempts = len(re.findall(r"rowsched migrate", d.log()))
    assert 4 <= attempts <= 8, d.log()
    assert len(d.log().splitlines()) < 30, d.log()
    assert "ERROR:  " not in d.log()
    stop_within(d, signal.SIGTERM)
    wait_until(lambda: sessions(pg, dbname_of(db)) >= attempts, what="the sessions counted")
    assert sessions(pg, dbname_of(db)) <= attempts + 3  # + the shutdown's attempt to clear is_running


def test_a_daemon_waiting_for_migrate_recovers_by_itself_once_it_has_run(db, daemons, binary):
    d = daemons(db)
    wait_until(lambda: "still failing (2 times)" in d.log(), what="the daemon backing off")
    assert run_cli(binary, "migrate", "--dsn", db).returncode == 0
    insert_job(db, "after-migrate", kwargs={"trigger": "interval", "seconds": 1})
    wait_until(lambda: runs(db, "after-migrate", "succeeded"), timeout=20, what="a run once migrated")
    assert d.proc.poll() is None


def test_a_schema_missing_a_migration_names_it(migrated_db, daemons):
    last = sql_value(migrated_db, "SELECT max(name) FROM rowsched_migration")
    sql(migrated_db, "DELETE FROM rowsched_migration WHERE name = %s", (last,))
    d = daemons(migrated_db)
    wait_until(lambda: f"migration {last} is not applied" in d.log(), what="the missing migration named")
    assert "rowsched migrate --dsn" in d.log()
    stop_within(d, signal.SIGTERM)


def test_a_revoked_privilege_names_the_grant_and_the_daemon_recovers_once_granted(pg, migrated_db, make_role, daemons):
    role = make_role("daemon")
    q = quote_ident(role)
    sql(migrated_db, f"GRANT USAGE ON SCHEMA public TO {q}; GRANT SELECT, UPDATE ON job_info TO {q}; "
                     f"GRANT SELECT, INSERT, UPDATE, DELETE ON job_run, scheduler_instance TO {q}; "
                     f"GRANT USAGE ON SEQUENCE job_run_run_id_seq TO {q}; GRANT SELECT ON rowsched_migration TO {q}; "
                     f"GRANT SELECT, DELETE ON rowsched_worker TO {q}; GRANT SELECT ON worker_queue_status TO {q}; "
                     f"GRANT rowsched_admin TO {q}")  # past row-level security (008_row_security.sql)
    insert_job(migrated_db, "tick", kwargs={"trigger": "interval", "seconds": 1})
    dsn = dsn_with(migrated_db, user=role)
    d = daemons(dsn, "--heartbeat-interval", "0.2")
    wait_until(lambda: runs(migrated_db, "tick", "succeeded"), timeout=15, what="a first run")
    sql(migrated_db, f"REVOKE ALL ON scheduler_instance FROM {q}")
    grant = f'GRANT SELECT, INSERT, UPDATE, DELETE ON "public"."scheduler_instance" TO "{role}"'
    wait_until(lambda: grant in d.log(), what="the missing GRANT in the log")
    wait_until(lambda: "still failing (3 times)" in d.log(), what="backing off")
    sql(migrated_db, f"GRANT SELECT, INSERT, UPDATE, DELETE ON scheduler_instance TO {q}")
    wait_until(lambda: sql(migrated_db, "SELECT 1 FROM scheduler_instance WHERE instance = %s", (d.instance,)),
               timeout=20, what="the daemon registered again")
    assert d.proc.poll() is None
    stop_within(d, signal.SIGTERM)


def test_postgresql_stopped_for_seconds_then_sigint_during_an_outage_stops_the_daemon_within_2_s(pg, migrated_db, daemons):
    insert_job(migrated_db, "tick", kwargs={"trigger": "interval", "seconds": 1})
    d = daemons(migrated_db)
    wait_until(lambda: runs(migrated_db, "tick", "succeeded"), timeout=15, what="a first run")
    try:
        pg.stop("fast")
        wait_until(lambda: "still failing (3 times)" in d.log(), timeout=15, what="the daemon backing off")
        pg.start()
        before = len(runs(migrated_db, "tick", "succeeded"))
        wait_until(lambda: len(runs(migrated_db, "tick", "succeeded")) > before + 1, timeout=20,
                   what="runs again after the outage")
        pg.stop("fast")
        wait_until(lambda: d.log().count("cannot connect") >= 2, timeout=15, what="failing to reconnect")
        stop_within(d, signal.SIGINT)
    finally:
        if not pg.is_running():
            pg.start()
    # One line per failure, not per attempt of some inner loop: a few seconds of outage, a few lines.
    assert d.log().count("cannot connect") < 20, d.log()


def test_a_row_that_throws_while_applied_is_invalid_with_the_reason_and_healthy_rows_keep_firing(
        migrated_db, start_daemon, monkeypatch):
    monkeypatch.setenv("ROWSCHED_TEST_THROW_ON_APPLY", "bad")
    insert_job(migrated_db, "healthy-1", kwargs={"trigger": "interval", "seconds": 1})
    insert_job(migrated_db, "bad", kwargs={"trigger": "interval", "seconds": 1})
    d = start_daemon(migrated_db)
    insert_job(migrated_db, "healthy-2", kwargs={"trigger": "interval", "seconds": 1})
    j = wait_until(lambda: state_is(migrated_db, "bad", "invalid"), what="the bad row marked invalid")
    assert j["last_error"] == "rowsched could not apply this row: test hook ROWSCHED_TEST_THROW_ON_APPLY names this job"
    # Changed (re-applied through a notification, not a full load): the same again, and no reconnect.
    sql(migrated_db, "UPDATE job_info SET description = 'x', trigger_kwargs = '{\"trigger\": \"interval\", \"seconds\": 2}' "
                     "WHERE job_id = 'bad'")
    wait_until(lambda: len(runs(migrated_db, "healthy-2", "succeeded")) >= 2, timeout=15, what="healthy rows firing")
    assert len(runs(migrated_db, "healthy-1", "succeeded")) >= 2
    assert state_is(migrated_db, "bad", "invalid") and runs(migrated_db, "bad") == []
    assert "reconnecting" not in d.log() and "scheduler loop error" not in d.log()


def test_a_failed_sql_run_stores_the_message_with_its_sqlstate_on_one_line(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "div", func="sql", args=["SELECT 1/0"], kwargs={})
    wait_until(lambda: runs(migrated_db, "div", "failed"), what="the failed run")
    assert runs(migrated_db, "div", "failed")[0][3] == "division by zero (SQLSTATE 22012)"
    wait_until(lambda: (job(migrated_db, "div") or {}).get("last_error"), what="last_error")
    assert job(migrated_db, "div")["last_error"] == "division by zero (SQLSTATE 22012)"


def test_status_says_how_many_instances_are_live_and_that_nothing_fires_without_one(migrated_db, start_daemon, binary):
    insert_job(migrated_db, "tick", kwargs={"trigger": "interval", "hours": 1})
    a = start_daemon(migrated_db, instance="inst-a")
    b = start_daemon(migrated_db, instance="inst-b")
    wait_until(lambda: state_is(migrated_db, "tick", "scheduled"))
    out = run_cli(binary, "status", "--dsn", migrated_db).stdout
    assert re.match(r"2 rowsched instances live: inst-a \(heartbeat \d+\.\d s ago\), inst-b \(heartbeat \d+\.\d s ago\)\n",
                    out), out
    assert re.search(r"^tick\s+scheduled\s", out, re.M), out
    summary = sql_value(migrated_db, "SELECT summary FROM scheduler_liveness")
    assert summary.startswith("2 rowsched instances live: inst-a (heartbeat ")
    a.stop()
    b.stop()
    out = run_cli(binary, "status", "--dsn", migrated_db).stdout
    assert out.startswith("0 rowsched instances live: nothing is firing\n"), out
    assert re.search(r"^tick\s+not firing\s", out, re.M), out
    assert sql(migrated_db, "SELECT live_instances, summary FROM scheduler_liveness") == \
        [(0, "0 rowsched instances live: nothing is firing")]


def test_version_prints_the_version(binary):
    proc = run_cli(binary, "--version")
    assert proc.returncode == 0
    assert re.fullmatch(r"rowsched \d+\.\d+\.\d+\n", proc.stdout), proc.stdout


def test_the_text_log_names_the_warn_level_as_the_option_does(db, daemons):
    d = daemons(db, "--log-level", "warn")
    wait_until(lambda: "rowsched migrate" in d.log(), what="a warning")
    assert re.search(r"^\S+ warn  ", d.log(), re.M), d.log()
    assert "warning" not in d.log()


def test_a_run_once_job_missed_while_no_daemon_ran_says_so_in_its_row(migrated_db, start_daemon):
    insert_job(migrated_db, "once", kwargs={"misfire_grace_time": 1})
    inserted = sql_value(migrated_db, "SELECT now()")
    wait_until(lambda: sql_value(migrated_db, "SELECT now() > %s + interval '2.5 seconds'", (inserted,)), timeout=10)
    start_daemon(migrated_db)
    j = wait_until(lambda: (lambda r: r if r and r["last_status"] == "missed" and r["state"] == "finished" else None)(
        job(migrated_db, "once")), what="the missed fire in the row")
    assert re.fullmatch(r"missed: \d+\.\d s late at start-up, misfire_grace_time is 1 s", j["last_error"]), j
    assert j["run_count"] == 0
    assert sql_value(migrated_db, "SELECT last_run_time FROM job_info WHERE job_id = 'once'") is None
    assert [r[1] for r in runs(migrated_db, "once")] == ["missed"]


def test_history_stays_within_its_bounds_at_2000_fires_per_second_and_a_backlog_is_caught_up(migrated_db, start_daemon):
    jobs, per_job, prune_interval = 2000, 5, 2
    sql(migrated_db, "INSERT INTO job_info (job_id, func, func_args, trigger_kwargs) SELECT 'load-' || i, 'log', "
                     "'[\"x\"]', '{\"trigger\": \"interval\", \"seconds\": 1}' FROM generate_series(1, %s) i", (jobs,))
    # The backlog an earlier daemon that could not keep up left behind (requested runs: no schedule resumes from them).
    sql(migrated_db, "INSERT INTO job_run (job_id, scheduled_for, instance, status, started_at, finished_at, kind) "
                     "SELECT 'load-' || (i %% %s + 1), now() - i * interval '1 second', 'earlier', 'succeeded', "
                     "now() - i * interval '1 second', now() - i * interval '1 second', 'run_now' "
                     "FROM generate_series(1, 60000) i", (jobs,))
    start_daemon(migrated_db, "--history-per-job", str(per_job), "--prune-interval", str(prune_interval),
                 "--log-level", "warn")
    started = sql_value(migrated_db, "SELECT now()")
    # The bound, plus what one prune interval and the second after it insert (the next pass begins
    # prune_interval after the last one ended, and counts what the writer has written by then), plus
    # the fires of the current second still running. The jobs fire together, 2,000 rows a second.
    bound = jobs * per_job + jobs * (prune_interval + 1) + jobs
    counts = []
    for second in range(10, 17, 2):
        wait_until(lambda: sql_value(migrated_db, "SELECT now() > %s + %s * interval '1 second'", (started, second)), timeout=30)
        counts.append(sql(migrated_db, "SELECT count(*) FILTER (WHERE status <> 'running'), count(*) FROM job_run")[0])
    print("job_run (finished, all) rows at 10, 12, 14, 16 s:", counts, "bound", bound)
    # Finished rows are the history the bounds are about; runs whose outcome the writer has not yet
    # written (a second or two behind on a loaded machine) are not history yet.
    assert max(c[0] for c in counts) <= bound, counts
    assert max(c[1] for c in counts) <= bound + 2 * jobs, counts
    fired = sql_value(migrated_db, "SELECT sum(run_count) FROM job_info")
    assert fired >= jobs * 10, fired  # the fires went on meanwhile (about 16 each)


def test_sigterm_while_a_large_table_loads_stops_the_daemon_within_2_s(migrated_db, daemons):
    sql(migrated_db, "INSERT INTO job_info (job_id, func, func_args, trigger_kwargs) SELECT 'big-' || i, 'log', "
                     "'[\"x\"]', jsonb_build_object('trigger', 'interval', 'seconds', 3600 + i % 1000) "
                     "FROM generate_series(1, 100000) i")
    d = daemons(migrated_db)
    wait_until(lambda: "starting: instance" in d.log(), what="the daemon starting to load")
    stop_within(d, signal.SIGTERM)


def test_sigterm_with_runs_in_flight_stops_the_daemon_within_2_s_once_they_end(migrated_db, start_daemon):
    insert_job(migrated_db, "nap", func="sql", args=["SELECT pg_sleep(0.5)"], kwargs={"trigger": "interval", "seconds": 1})
    d = start_daemon(migrated_db, "--shutdown-timeout", "1.5")
    wait_until(lambda: runs(migrated_db, "nap", "running"), timeout=15, what="a run in flight")
    stop_within(d, signal.SIGTERM)
    assert runs(migrated_db, "nap", "running") == []  # it ended and was recorded before the exit


def test_sigterm_while_a_session_holds_a_jobs_row_stops_the_daemon_within_2_s(migrated_db, start_daemon):
    """A session left in a transaction that changed a job_info row (psql, an admin page) holds that row.
    The daemon's last writes (the outcomes, is_running cleared) do not wait for it: SIGTERM still stops
    it within 2 s, and the rows nobody holds are cleared."""
    insert_job(migrated_db, "held", kwargs={"trigger": "interval", "seconds": 1})
    insert_job(migrated_db, "free", kwargs={"trigger": "interval", "seconds": 1})
    d = start_daemon(migrated_db)
    wait_for_a_counted_run_of_every_job(migrated_db)
    with row_held(migrated_db, "UPDATE job_info SET description = 'being edited' WHERE job_id = 'held'"):
        wait_until(lambda: "held by another transaction" in d.log(), what="the writer finding the row held")
        stop_within(d, signal.SIGTERM)
        assert sql(migrated_db, "SELECT job_id, is_running FROM job_info ORDER BY job_id") == [
            ("free", False), ("held", True)]


def test_a_held_job_row_does_not_stop_the_claims_while_a_stopped_instances_run_waits_to_be_marked_lost(migrated_db, start_daemon):
    """The heartbeat marks the runs of a stopped instance lost and counts them into their jobs' rows. A
    row another session holds (a transaction that changed it and is still open) is not waited for: the
    other jobs keep firing, and the run is marked lost and counted once the row is free."""
    insert_job(migrated_db, "orphan", kwargs={"trigger": "interval", "hours": 1})
    insert_job(migrated_db, "tick", kwargs={"trigger": "interval", "seconds": 1})
    sql(migrated_db, "INSERT INTO scheduler_instance (instance, pid, host, started_at, heartbeat_at) "
                     "VALUES ('stopped', 1, 'elsewhere', now() - interval '1 hour', now() - interval '1 hour')")
    sql(migrated_db, "INSERT INTO job_run (job_id, scheduled_for, instance, status, started_at) "
                     "VALUES ('orphan', now() - interval '10 minutes', 'stopped', 'running', now() - interval '10 minutes')")
    with row_held(migrated_db, "UPDATE job_info SET description = 'being edited' WHERE job_id = 'orphan'"):
        d = start_daemon(migrated_db, "--heartbeat-interval", "1")
        wait_until(lambda: len(runs(migrated_db, "tick", "succeeded")) >= 3, timeout=15, what="three runs of tick while the row is held")
        assert "heartbeat: a job_info row is held by another transaction" in d.log()
        assert [r[1] for r in runs(migrated_db, "orphan")] == ["running"]
    wait_until(lambda: [r[1] for r in runs(migrated_db, "orphan")] == ["lost"], what="the stopped instance's run marked lost")
    wait_until(lambda: job(migrated_db, "orphan")["run_count"] == 1, what="the lost run counted")
    assert sql(migrated_db, "SELECT count(*) FROM scheduler_instance WHERE instance = 'stopped'") == [(0,)]
