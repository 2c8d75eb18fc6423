"""The resync's fingerprint (src/store/statements/version_fingerprint.sql) against the per-row hashes the
daemon loads (load_all_jobs.sql's version_hash, summed as a wrapping uint64 in JobTable): were they to
differ, every resync would read every (job_id, version) pair again, silently."""

import re

import psycopg2

from conftest import REPO, sql
from daemon import start_daemon, wait_until  # noqa: F401 (fixture)

FINGERPRINT = (REPO / "src/store/statements/version_fingerprint.sql").read_text().replace("@schema@", '"public"')
LOAD = (REPO / "src/store/statements/load_all_jobs.sql").read_text()


def test_the_fingerprint_is_the_wrapping_sum_of_the_hashes_the_daemon_loads(shared_migrated_db):
    dsn = shared_migrated_db
    sql(dsn, """INSERT INTO job_info (job_id, func, trigger_kwargs)
                SELECT 'fp-' || i, 'log', '{"trigger": "interval", "hours": 1}' FROM generate_series(1, 3000) i""")
    sql(dsn, "UPDATE job_info SET description = 'edited' WHERE job_id LIKE 'fp-1%'")  # versions other than 1
    per_row = re.search(r"(hashtextextended\(.*?\)) AS version_hash", LOAD).group(1)
    hashes = [r[0] for r in sql(dsn, "SELECT %s FROM job_info j" % per_row)]
    assert len(hashes) >= 3000
    assert any(h < 0 for h in hashes) and any(h > 0 for h in hashes)
    assert sum(hashes) % 2**64 != sum(hashes)  # the sum wraps, as the daemon's does
    (count, hash_sum), = sql(dsn, FINGERPRINT)
    assert count == len(hashes)
    assert int(hash_sum) == sum(hashes) % 2**64


def test_a_row_written_without_its_triggers_is_found_by_the_resync_and_only_it(migrated_db, start_daemon):
    # 500 jobs the daemon knows; then one written with the triggers bypassed (no NOTIFY, as a logical
    # replication apply worker writes): the 2 s resync's fingerprint differs, it reads the versions, and
    # schedules that row alone. While nothing changed, the fingerprints agree and nothing is re-read.
    sql(migrated_db, """INSERT INTO job_info (job_id, func, trigger_kwargs)
                        SELECT 'known-' || i, 'log', '{"trigger": "interval", "hours": 1}' FROM generate_series(1, 500) i""")
    d = start_daemon(migrated_db)
    wait_until(lambda: sql(migrated_db, "SELECT count(*) FROM job_info WHERE next_run_time IS NOT NULL")[0][0] == 500,
               what="the 500 jobs to be scheduled")
    with psycopg2.connect(migrated_db) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        cur.execute("""INSERT INTO job_info (job_id, func, trigger_kwargs)
                       VALUES ('unannounced', 'log', '{"trigger": "interval", "hours": 1}')""")
    conn.close()
    wait_until(lambda: sql(migrated_db, "SELECT next_run_time FROM job_info WHERE job_id = 'unannounced'")[0][0],
               timeout=10, what="the resync to schedule the row written without a notification")
    resyncs = [line for line in d.log().splitlines() if "resync:" in line]
    assert len(resyncs) == 1 and "resync: 1 jobs changed without a notification" in resyncs[0], d.log()
