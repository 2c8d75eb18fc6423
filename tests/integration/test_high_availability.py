"""Several rowsched instances on one database, under faults: every scheduled instant gets exactly one
job_run row (its claim), whatever is killed or restarted (issue 4)."""

import signal
import time

from conftest import connect, sql, sql_value
from daemon import insert_job, start_daemon, wait_until  # noqa: F401 (fixture)

JOBS = 200


def add_every_second_jobs(dsn, count=JOBS):
    sql(dsn, "INSERT INTO job_info (job_id, func, func_args, trigger_kwargs) "
             "SELECT 'every-second-' || i, 'log', '[]', "
             "'{\"trigger\": \"interval\", \"seconds\": 1, \"start_date\": \"2020-01-01T00:00:00Z\"}' "
             "FROM generate_series(1, %s) i", (count,))


def seconds_between(dsn, start, end):
    return sql_value(dsn, "SELECT count(*) FROM generate_series(date_trunc('second', %s::timestamptz) + interval '1 second', "
                          "date_trunc('second', %s::timestamptz), interval '1 second')", (start, end))


def assert_every_instant_claimed_once(dsn, start, end):
    """Each job has exactly one attempt-1 row for each whole second in (start, end]."""
    expected = seconds_between(dsn, start, end)
    rows = sql(dsn, "SELECT job_id, count(*), count(DISTINCT scheduled_for) FROM job_run "
                    "WHERE attempt = 1 AND scheduled_for > %s AND scheduled_for <= %s GROUP BY job_id", (start, end))
    assert len(rows) == JOBS
    gaps = {job_id: expected - n for job_id, n, distinct in rows if n != expected}
    assert not gaps, f"instants without a claim (job: how many) of {expected}: {dict(list(gaps.items())[:10])}"
    assert all(n == distinct for _, n, distinct in rows)


def wait_seconds(dsn, seconds):
    """Lets `seconds` of database time pass (the schedule runs meanwhile)."""
    until = sql_value(dsn, "SELECT now() + %s * interval '1 second'", (seconds,))
    wait_until(lambda: sql_value(dsn, "SELECT now() >= %s", (until,)), timeout=seconds + 10, interval=0.1)


def test_three_instances_fire_each_instant_once_through_a_sigkill_and_a_killed_connection(migrated_db, start_daemon):
    a = start_daemon(migrated_db, instance="ha-a")
    b = start_daemon(migrated_db, instance="ha-b")
    start_daemon(migrated_db, instance="ha-c")
    add_every_second_jobs(migrated_db)
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_info WHERE state = 'scheduled'") == JOBS)
    start = sql_value(migrated_db, "SELECT now() + interval '1 second'")
    wait_seconds(migrated_db, 6)
    a.kill()                                          # SIGKILL mid-way ...
    killed_at = sql_value(migrated_db, "SELECT now() + interval '1 second'")
    wait_seconds(migrated_db, 3)
    start_daemon(migrated_db, instance="ha-a2")       # ... and a replacement started
    with connect(migrated_db) as conn, conn.cursor() as cur:  # another instance loses its connection
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'rowsched ha-b%'")
    wait_seconds(migrated_db, 8)
    end = sql_value(migrated_db, "SELECT now() - interval '2 seconds'")
    assert_every_instant_claimed_once(migrated_db, start, end)
    # After the kill only live instances claimed (whichever is quickest wins a tick, so which ones is
    # not fixed), and the killed one's running runs (if any) became lost.
    after = {r[0] for r in sql(migrated_db, "SELECT DISTINCT instance FROM job_run WHERE scheduled_for > %s", (killed_at,))}
    assert after and after <= {"ha-b", "ha-c", "ha-a2"}
    assert b.proc.poll() is None
    # The runs ha-a left running end as lost once its heartbeat is --lost-after (10 s) old and a live
    # instance's next heartbeat sees it: a bounded wait, since a loaded machine delays both.
    # The same statement removes ha-a's scheduler_instance row, so that is what is waited for.
    wait_until(lambda: not sql(migrated_db, "SELECT 1 FROM scheduler_instance WHERE instance = 'ha-a'"),
               timeout=20, what="ha-a to be found dead")
    assert sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE status = 'running' AND instance = 'ha-a'") == 0


def test_a_postgresql_restart_loses_no_instant_and_duplicates_none(pg, migrated_db, start_daemon):
    daemons = [start_daemon(migrated_db, instance=f"pr-{i}") for i in range(3)]
    add_every_second_jobs(migrated_db)
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_info WHERE state = 'scheduled'") == JOBS)
    start = sql_value(migrated_db, "SELECT now() + interval '1 second'")
    wait_seconds(migrated_db, 4)
    pg.restart("fast")
    wait_seconds(migrated_db, 6)
    end = sql_value(migrated_db, "SELECT now() - interval '2 seconds'")
    assert_every_instant_claimed_once(migrated_db, start, end)
    assert all(d.proc.poll() is None for d in daemons)
    assert all("reconnected" in d.log() for d in daemons)


def test_a_clean_shutdown_lets_running_jobs_finish_and_loses_nothing(migrated_db, start_daemon):
    leaving = start_daemon(migrated_db, instance="leaving")
    insert_job(migrated_db, "long", func="sql", args=["SELECT pg_sleep(1.5)"], kwargs={"trigger": "date"})
    wait_until(lambda: sql(migrated_db, "SELECT 1 FROM job_run WHERE job_id = 'long' AND status = 'running'"))
    start_daemon(migrated_db, instance="staying")
    assert leaving.stop(signal.SIGTERM) == 0
    assert sql(migrated_db, "SELECT status, instance FROM job_run WHERE job_id = 'long'") == [("succeeded", "leaving")]
    time.sleep(0)  # nothing to wait for: the survivor must not mark anything lost later either
    assert sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE status = 'lost'") == 0


def test_a_multi_host_dsn_finds_the_writable_server(pg, migrated_db, start_daemon):
    from conftest import free_port
    dead = free_port()
    dbname = migrated_db.split("dbname=")[1]
    multi = f"host=127.0.0.1,127.0.0.1 port={dead},{pg.port} user=postgres dbname={dbname} target_session_attrs=read-write"
    start_daemon(multi)
    insert_job(migrated_db, "found", kwargs={"trigger": "date"})
    wait_until(lambda: sql(migrated_db, "SELECT 1 FROM job_run WHERE job_id = 'found' AND status = 'succeeded'"))


def test_the_writer_connection_lost_mid_run_keeps_every_outcome_and_counts_each_once(migrated_db, start_daemon):
    """Run outcomes and write-backs travel on a connection of their own (application_name
    'rowsched INSTANCE writer'). Terminating it loses nothing: the writer reconnects and writes what
    it held, and a batch written again is not counted twice."""
    d = start_daemon(migrated_db, instance="wr")
    add_every_second_jobs(migrated_db, count=20)
    wait_until(lambda: sql_value(migrated_db, "SELECT min(run_count) FROM job_info") >= 2, timeout=15)
    sessions = sql(migrated_db, "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'rowsched wr%' "
                                "ORDER BY 1")
    assert {"rowsched wr", "rowsched wr writer"} <= {r[0] for r in sessions}, sessions
    for _ in range(3):
        sql(migrated_db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rowsched wr writer'")
        wait_seconds(migrated_db, 1.5)
    wait_seconds(migrated_db, 2)
    d.stop()
    # Every claimed run got its outcome (none left 'running' by a live, cleanly stopped instance) ...
    assert sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE status = 'running'") == 0
    # ... and each outcome is counted exactly once in its job's counters.
    rows = sql(migrated_db, "SELECT j.job_id, j.run_count, (SELECT count(*) FROM job_run r WHERE r.job_id = j.job_id "
                            "AND r.status IN ('succeeded', 'failed', 'timeout', 'lost')) FROM job_info j")
    assert len(rows) == 20
    assert all(count == finished and count >= 5 for _, count, finished in rows), rows[:5]
    assert "writer: database connection lost" in d.log()
