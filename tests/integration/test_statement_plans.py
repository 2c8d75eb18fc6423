"""What writing run outcomes and claiming fires cost PostgreSQL grows with the outcomes and the fires,
not with job_run's history. The writer's statement and the claim run several times a second on the
user's database and job_run keeps every run, so a plan that reads a whole index of job_run, or job_run
itself, per call costs more every day. Its work is read from
PostgreSQL's own counters (pg_stat_user_indexes: index entries read on job_run) against the outcomes
written over the same time."""

import time

import psycopg2

from conftest import sql, sql_value
from daemon import insert_job, start_daemon, wait_until  # noqa: F401 (fixture)

JOBS = 50
CLEARED = 20_000  # finished runs before the history was cleared
HISTORY = 50_000  # finished runs a little later


def add_history(dsn, first, last):
    """Finished runs number first+1..last, one a second from 2026-01-01."""
    sql(dsn, """INSERT INTO job_run (job_id, scheduled_for, attempt, kind, instance, status, started_at, finished_at)
                SELECT 'job' || (i %% %s), timestamptz '2026-01-01' + i * interval '1 second', 1, 'schedule', 'old',
                       'succeeded', timestamptz '2026-01-01' + i * interval '1 second',
                       timestamptz '2026-01-01' + i * interval '1 second'
                  FROM generate_series(%s, %s) i""", (JOBS, first + 1, last))


def reads_and_outcomes(dsn):
    """(index entries read on job_run so far, outcomes written so far by the daemon)."""
    return tuple(sql(dsn, """SELECT (SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes
                                      WHERE relname = 'job_run'),
                                    (SELECT count(*) FROM job_run WHERE status <> 'running' AND instance <> 'old')""")[0])


def test_a_history_that_grows_under_a_running_daemon_does_not_make_each_outcome_read_it(migrated_db, start_daemon):
    dsn = migrated_db
    # Autovacuum's ANALYZE would make PostgreSQL plan the statement again: it comes round a minute or
    # more after the history grew, or never when it is turned off.
    sql(dsn, "ALTER TABLE job_run SET (autovacuum_enabled = false)")
    for i in range(JOBS):
        insert_job(dsn, f"job{i}", args=["tick"], kwargs={"trigger": "interval", "seconds": 1})
    # A history cleared by its user (TRUNCATE), with the statistics of what it held. The daemon's
    # writer plans the statement at its start, for the empty table.
    add_history(dsn, 0, CLEARED)
    sql(dsn, "ANALYZE job_run")
    sql(dsn, "TRUNCATE job_run")
    start_daemon(dsn)
    wait_until(lambda: reads_and_outcomes(dsn)[1] >= JOBS, 10, "the first outcomes")
    add_history(dsn, 0, HISTORY)  # then the history grows again (here at once)
    samples = [reads_and_outcomes(dsn)]

    def cheap_again():
        # Backends report their counters about once a second: compare samples 1.5 s apart.
        time.sleep(1.5)
        samples.append(reads_and_outcomes(dsn))
        (r0, o0), (r1, o1) = samples[-2], samples[-1]
        return o1 - o0 >= JOBS // 2 and (r1 - r0) / (o1 - o0) < 50

    # Within seconds of the history's growth (the writer plans again every 5 s), each outcome costs a
    # few index probes again. A plan kept from the empty table read an index of job_run whole per call:
    # about 50,000 entries per call, several calls a second.
    wait_until(cheap_again, 20, "outcomes written without reading job_run's history", interval=0)
    per_outcome = [(b[0] - a[0]) / max(1, b[1] - a[1]) for a, b in zip(samples, samples[1:])]
    print("index entries read per outcome, 1.5 s apart:", [round(x, 1) for x in per_outcome])
    assert per_outcome[-1] < 50, per_outcome


def _job_run_rows(dsn, counter):
    """job_run's `counter` in pg_stat_user_tables (n_tup_ins: runs claimed; n_tup_upd: outcomes
    written), read from the statistics: a count(*) would read job_run whole itself."""
    return sql_value(dsn, f"SELECT {counter} FROM pg_stat_user_tables WHERE relname = 'job_run'")


def _job_run_seq_scans(dsn):
    sql(dsn, "SELECT pg_stat_clear_snapshot()")
    return sql_value(dsn, "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'job_run'")


def test_plans_made_while_job_run_was_empty_still_find_runs_by_index_as_it_grows(migrated_db, start_daemon):
    """The scheduler's session makes each statement's plan once. A plan made while job_run was empty
    (a new install, a history cleared with TRUNCATE) read job_run whole in every claim and every
    heartbeat's worker sweep, at a cost that grew with the history, until autovacuum's next ANALYZE of
    job_run. Here ANALYZE saw job_run empty and autovacuum is off for it, so nothing plans again: the
    claims and sweeps of a growing job_run must not read it whole."""
    sql(migrated_db, "ANALYZE job_run")
    sql(migrated_db, "ALTER TABLE job_run SET (autovacuum_enabled = off)")
    start_daemon(migrated_db, "--prune-interval", "3600")
    sql(migrated_db, "INSERT INTO job_info (job_id, func, trigger_kwargs) SELECT 'often-' || i, 'log', "
                     "'{\"trigger\": \"interval\", \"seconds\": 1}' FROM generate_series(1, 200) i")
    inserted = lambda: _job_run_rows(migrated_db, "n_tup_ins")  # noqa: E731
    wait_until(lambda: inserted() >= 600, timeout=15)
    before, fires = _job_run_seq_scans(migrated_db), inserted()
    wait_until(lambda: inserted() >= fires + 800, timeout=15)
    # (Backends report their statistics up to a second late: the window spans four seconds of claims.)
    after = _job_run_seq_scans(migrated_db)
    assert after - before <= 2, f"{after - before} reads of job_run whole while it grew by 800 runs"


def _in_flight_entries_read(dsn):
    """Index entries read so far from job_run's partial indexes: each holds runs in flight of one kind
    (the daemon's running, worker runs queued or running, ...)."""
    return sql_value(dsn, """SELECT coalesce(sum(s.idx_tup_read), 0) FROM pg_stat_user_indexes s
                              JOIN pg_index i ON i.indexrelid = s.indexrelid
                             WHERE s.relname = 'job_run' AND i.indpred IS NOT NULL""")


def test_a_long_transaction_elsewhere_does_not_make_heartbeats_and_claims_walk_finished_runs(migrated_db, start_daemon):
    """While a transaction holds an old snapshot (pg_dump, a session idle in transaction), the index
    entry of every run finished since stays in the index of runs in flight. Each heartbeat read them
    all, twice (lost runs, worker queues), and each claim its jobs' ones; at 2,000 fires/s the
    heartbeat took 70 ms after 3 minutes, on the connection the fires wait for. A single instance
    without worker runs now reads none of them.

    An ANALYZE of job_run while it held little but runs in flight (here at once; autovacuum's comes
    when it comes) made PostgreSQL plan the claim's "is a worker run queued" and the worker sweep
    again, on an index that held the daemon's runs too: they walked it whole, 25,000 entries in 4 s."""
    dsn = migrated_db
    sql(dsn, "ALTER TABLE job_run SET (autovacuum_enabled = off)")  # the ANALYZE below is the last
    start_daemon(dsn, "--prune-interval", "3600")
    sql(dsn, "INSERT INTO job_info (job_id, func, trigger_kwargs) SELECT 'often-' || i, 'log', "
             "'{\"trigger\": \"interval\", \"seconds\": 1}' FROM generate_series(1, 200) i")
    wait_until(lambda: _job_run_rows(dsn, "n_tup_ins") >= 200, timeout=15)  # the first fires
    sql(dsn, "ANALYZE job_run")
    holder = psycopg2.connect(dsn)
    try:
        holder.set_session(isolation_level="REPEATABLE READ")
        holder.cursor().execute("SELECT count(*) FROM pg_class")  # the snapshot, held until the end
        finished = lambda: _job_run_rows(dsn, "n_tup_upd")  # noqa: E731
        wait_until(lambda: finished() >= 600, timeout=15)  # 600 finished runs' entries stay
        before, runs_before = _in_flight_entries_read(dsn), finished()
        wait_until(lambda: finished() >= runs_before + 800, timeout=15)  # 4 s: 4 heartbeats, 4+ claims
        read = _in_flight_entries_read(dsn) - before
    finally:
        holder.close()
    assert read <= 50, f"{read} entries of job_run's indexes of runs in flight read by 4 heartbeats and their claims"
