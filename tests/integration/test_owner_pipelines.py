"""sql and notify runs go down pipelined connections logged in as their owners
(src/store/owner_pipelines.h, docs/handlers.md): a burst at one instant runs on a few sessions, each
run still as its owner and in its own transaction; a slow statement holds up no other job due with it;
one owner's burst does not starve another owner's job due at the same instant. What is asserted is
what a user can SELECT: job_run rows and the rows the statements wrote (stamped where the work
happened, with clock_timestamp())."""

import datetime
import json
from contextlib import closing
import pathlib
import re
import subprocess
import sys

import pytest

from conftest import Listener, connect, dsn_with, quote_ident, sql, sql_value
from daemon import insert_job, runs, start_daemon, wait_until  # noqa: F401 (fixture)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
from benchlib import cpu_seconds  # noqa: E402 (the bench's reading of /proc/PID/stat)

# The statement of the jobs below: who ran it, in which session, and when the work happened.
STAMP = ("INSERT INTO public.stamp SELECT $1, clock_timestamp(), current_user, session_user, pg_backend_pid(), "
         "txid_current()")


@pytest.fixture
def owners(migrated_db, make_role):
    """alice and bob, who may write job_info, and the table `stamp` every run writes to."""
    alice, bob = make_role("alice"), make_role("bob")
    sql(migrated_db, "CREATE TABLE stamp (label text, at timestamptz, cu name, su name, pid int, tx bigint, note text); "
                     "GRANT SELECT, INSERT ON stamp TO PUBLIC")
    for role in (alice, bob):
        sql(migrated_db, f"GRANT SELECT, INSERT, UPDATE, DELETE ON job_info TO {quote_ident(role)}")
    return alice, bob


def instant(seconds_ahead):
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=seconds_ahead)


def insert_burst(dsn, prefix, count, at, statement=STAMP):
    """`count` sql jobs `prefix`-1.. due at `at`, each stamping its own job_id, written as dsn's user."""
    sql(dsn, "INSERT INTO job_info (job_id, func, func_args, trigger_kwargs) "
             "SELECT %s || '-' || i, 'sql', jsonb_build_array(%s::text, %s || '-' || i), "
             "jsonb_build_object('trigger', 'date', 'run_date', %s::text) FROM generate_series(1, %s) i",
        (prefix, statement, prefix, at.isoformat(), count))


def wait_rows(read, count, what, timeout=30):
    """Polls `read()` until it returns exactly `count` rows, which are returned."""
    return wait_until(lambda: (lambda r: r if len(r) == count else None)(read()), timeout=timeout, what=what)


def stamps(dsn, prefix):
    """(label, seconds after the instant is computed by the caller, cu, su, pid, tx) of `prefix`'s jobs."""
    return sql(dsn, "SELECT label, at, cu, su, pid, tx FROM stamp WHERE label LIKE %s ORDER BY at", (prefix + "-%",))


def test_a_burst_due_at_one_instant_runs_every_job_as_its_owner_each_in_its_own_transaction_on_a_few_sessions(
        migrated_db, start_daemon, owners):
    alice, _ = owners
    start_daemon(migrated_db)
    at = instant(3)
    insert_burst(dsn_with(migrated_db, user=alice), "burst", 300, at)
    done = wait_rows(lambda: stamps(migrated_db, "burst"), 300, "300 stamps")
    assert {(cu, su) for _, _, cu, su, _, _ in done} == {(alice, alice)}
    assert len({tx for *_, tx in done}) == 300, "each run is its own transaction"
    sessions = len({pid for *_, pid, _ in done})
    assert 1 <= sessions <= 32, f"{sessions} sessions for 300 runs"
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id LIKE 'burst-%' "
                                              "AND status = 'succeeded'") == 300, what="300 succeeded runs in job_run")
    assert min(a for _, a, *_ in done) >= at, "no run before its instant"


def data_segments_sent(dsn, role):
    """TCP segments carrying data that `role`'s sessions' clients (the daemon) have sent the server, as
    `ss -ti` counts them (data_segs_out), summed over the sessions open now."""
    ports = [r[0] for r in sql(dsn, "SELECT client_port FROM pg_stat_activity WHERE usename = %s", (role,))]
    assert ports and all(p for p in ports), "the sessions are TCP connections (the test cluster's DSN is 127.0.0.1)"
    total = 0
    for port in ports:
        out = subprocess.run(["ss", "-tinH", "state", "established", "sport", "=", f":{port}"],
                             capture_output=True, text=True, check=True).stdout
        assert out.strip(), f"ss lists the session from port {port}"
        found = re.search(r"\bdata_segs_out:(\d+)", out)
        total += int(found.group(1)) if found else 0
    return total


def test_the_runs_one_dispatch_sends_down_a_session_leave_in_one_tcp_segment_not_one_each(
        migrated_db, start_daemon, owners):
    # libpq 15 flushes at each run's Sync; over TCP the daemon corks the socket while it queues a
    # dispatch's runs, so a burst costs the kernel (and the backend's wake-ups) far fewer segments.
    alice, _ = owners
    start_daemon(migrated_db)
    insert_burst(dsn_with(migrated_db, user=alice), "corked", 300, instant(3))
    wait_rows(lambda: stamps(migrated_db, "corked"), 300, "300 stamps")
    segments = data_segments_sent(migrated_db, alice)
    assert segments < 200, f"{segments} data segments for 300 runs (and each session's login and warm-up)"


def test_a_burst_whose_owner_cannot_log_in_more_sessions_runs_on_the_sessions_it_has(migrated_db, start_daemon, owners):
    # The role may hold 2 sessions (as a PostgreSQL near max_connections allows a few): the burst's
    # third login is refused ("too many connections for role"). Its runs wait for the 2 sessions; none
    # fails. Before, the refused login was remembered for 5 s and every run of the role due meanwhile
    # failed with it, beside two working sessions.
    alice, _ = owners
    sql(migrated_db, f"ALTER ROLE {quote_ident(alice)} CONNECTION LIMIT 2")
    start_daemon(migrated_db)
    at = instant(3)
    insert_burst(dsn_with(migrated_db, user=alice), "capped", 300, at)
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id LIKE 'capped-%' "
                                              "AND status <> 'running'") == 300, timeout=30, what="300 run outcomes")
    outcomes = sql(migrated_db, "SELECT status, error FROM job_run WHERE job_id LIKE 'capped-%' AND status <> 'succeeded'")
    assert outcomes == [], outcomes[:3]
    done = stamps(migrated_db, "capped")
    assert len(done) == 300 and len({pid for *_, pid, _ in done}) <= 2


def test_an_owner_with_no_room_for_a_session_has_its_runs_fail_saying_which_limit_to_raise(
        migrated_db, start_daemon, owners):
    alice, _ = owners
    start_daemon(migrated_db)
    insert_burst(dsn_with(migrated_db, user=alice), "roomless", 3, instant(3))
    sql(migrated_db, f"ALTER ROLE {quote_ident(alice)} CONNECTION LIMIT 0")  # before the instant
    failed = wait_until(lambda: (lambda r: r if len(r) == 3 else None)(
        sql(migrated_db, "SELECT error FROM job_run WHERE job_id LIKE 'roomless-%' AND status = 'failed'")),
        timeout=20, what="3 failed runs")
    for (error,) in failed:
        assert f'cannot open another session as the job\'s owner role "{alice}"' in error, error
        assert "too many connections for role" in error and "CONNECTION LIMIT" in error, error
        assert "--max-owner-connections" in error, error
    assert stamps(migrated_db, "roomless") == []


def test_sessions_the_server_ends_while_idle_are_replaced_and_no_run_fails(migrated_db, start_daemon, owners):
    # The role's idle_session_timeout (or a pooler, or a restart) ends its idle sessions between fires.
    alice, _ = owners
    sql(migrated_db, f"ALTER ROLE {quote_ident(alice)} SET idle_session_timeout = '300ms'")
    start_daemon(migrated_db)
    as_alice = dsn_with(migrated_db, user=alice)
    insert_job(as_alice, "idle-ended", func="sql", args=[STAMP, "idle-ended-1"],
               kwargs={"trigger": "interval", "seconds": 1, "start_date": instant(2).isoformat()})
    wait_until(lambda: len(stamps(migrated_db, "idle-ended")) >= 4, timeout=20, what="4 runs")
    assert runs(migrated_db, "idle-ended", "failed") == []
    assert len({pid for *_, pid, _ in stamps(migrated_db, "idle-ended")}) >= 3, "sessions ended between fires"


BIG = "SELECT g AS n, repeat('x', 200) AS pad FROM generate_series(1, 1000000) g"


@pytest.mark.parametrize("statement", [BIG, "SELECT 1; " + BIG, "SELECT 'COPY'; " + BIG],
                         ids=["pipelined", "several statements, simple protocol", "a blocking session"])
def test_a_job_returning_a_million_rows_has_them_counted_without_the_daemon_holding_them(
        migrated_db, start_daemon, owners, statement):
    # 1,000,000 rows of about 210 bytes: 210 MB read from the server. The daemon keeps a count and the
    # first 10 (job_run.output), not the result: its peak resident memory stays far below it, as a
    # job's SELECT must not be able to take the daemon (and every other job's schedule) down.
    alice, _ = owners
    d = start_daemon(migrated_db)
    insert_job(dsn_with(migrated_db, user=alice), "big", func="sql", args=[statement], run_right_now=True)
    run = wait_until(lambda: runs(migrated_db, "big", "succeeded") or runs(migrated_db, "big", "failed"),
                     timeout=60, what="the big run")[0]
    assert run[1] == "succeeded", run
    output = json.loads(run[2])
    assert output["rows"] == 1000000
    assert [r["n"] for r in output["first_rows"]] == [str(i) for i in range(1, 11)]
    assert output["first_rows"][0]["pad"] == "x" * 200
    status = pathlib.Path(f"/proc/{d.proc.pid}/status").read_text()
    peak_kib = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    assert peak_kib < 100 * 1024, f"the daemon peaked at {peak_kib // 1024} MiB resident"


def test_a_burst_claimed_ahead_has_its_rows_written_back_before_its_instant_not_beside_its_runs(
        migrated_db, start_daemon, owners):
    """The claim's write-backs (next_run_time of the date jobs, now none) are written ~50 ms after the
    claim, 300 ms or more before the instant, while the CPUs are free; held like the runs' outcomes,
    they were written at about the instant, on the CPUs the burst's first runs needed."""
    alice, _ = owners
    start_daemon(migrated_db)
    at = instant(4)
    insert_burst(dsn_with(migrated_db, user=alice), "ahead", 300, at)
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_info WHERE job_id LIKE 'ahead-%' "
                                              "AND next_run_time IS NOT NULL") == 300, what="300 scheduled rows")
    with closing(connect(migrated_db)) as conn:
        conn.autocommit = True

        def written_back():
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) = 300, clock_timestamp() FROM job_info "
                            "WHERE job_id LIKE 'ahead-%' AND next_run_time IS NULL")
                done, now = cur.fetchone()
                return now if done else None
        seen = wait_until(written_back, timeout=15, interval=0.01, what="300 date jobs written back after their claim")
    assert seen < at - datetime.timedelta(milliseconds=100), \
        f"written back {(seen - at).total_seconds():.3f} s from the instant"
    done = wait_rows(lambda: stamps(migrated_db, "ahead"), 300, "300 stamps")
    assert min(a for _, a, *_ in done) >= at, "no run before its instant"


def test_a_failing_run_in_a_burst_fails_alone_and_the_runs_after_it_succeed(migrated_db, start_daemon, owners):
    alice, _ = owners
    start_daemon(migrated_db)
    as_alice = dsn_with(migrated_db, user=alice)
    at = instant(3)
    insert_burst(as_alice, "ok", 50, at)
    insert_job(as_alice, "bad", func="sql", args=["SELECT 1/0"], kwargs={"trigger": "date", "run_date": at.isoformat()})
    insert_job(as_alice, "leaver", func="sql", args=["SELECT set_config('search_path', 'nowhere', false)"],
               kwargs={"trigger": "date", "run_date": at.isoformat()})
    wait_until(lambda: len(stamps(migrated_db, "ok")) == 50, timeout=30, what="50 stamps")
    bad = wait_until(lambda: runs(migrated_db, "bad", "failed"), what="the failed run")[0]
    assert "division by zero (SQLSTATE 22012)" in bad[3]
    wait_until(lambda: runs(migrated_db, "leaver", "succeeded"), what="the leaving run")
    insert_job(as_alice, "after", func="sql", args=["SELECT current_setting('search_path') AS search_path"],
               kwargs={"trigger": "date"})
    after = wait_until(lambda: runs(migrated_db, "after", "succeeded"), what="the next run")[0]
    assert json.loads(after[2])["first_rows"] == [{"search_path": '"$user", public'}]


def test_a_slow_statement_does_not_hold_up_the_jobs_due_at_the_same_instant(migrated_db, start_daemon, owners):
    alice, _ = owners
    start_daemon(migrated_db)
    as_alice = dsn_with(migrated_db, user=alice)
    at = instant(3)
    insert_job(as_alice, "slow", func="sql", args=["SELECT pg_sleep(4)"], kwargs={"trigger": "date", "run_date": at.isoformat()})
    insert_burst(as_alice, "quick", 40, at)
    done = wait_rows(lambda: stamps(migrated_db, "quick"), 40, "40 stamps")
    latest = max(a for _, a, *_ in done) - at
    assert latest < datetime.timedelta(seconds=2), f"the last quick job did its work {latest} after its instant"
    assert runs(migrated_db, "slow", "succeeded") == [], "the slow statement was still running meanwhile"


def test_one_owners_burst_does_not_starve_another_owners_job_due_at_the_same_instant(
        migrated_db, start_daemon, owners):
    alice, bob = owners
    start_daemon(migrated_db)
    at = instant(3)
    insert_burst(dsn_with(migrated_db, user=alice), "alice", 600, at)
    insert_burst(dsn_with(migrated_db, user=bob), "bob", 1, at)
    done = wait_rows(lambda: stamps(migrated_db, "alice"), 600, "alice's 600 stamps", timeout=60)
    bob_at = stamps(migrated_db, "bob")[0][1]
    before_bob = sum(1 for _, a, *_ in done if a < bob_at)
    assert before_bob < 300, f"{before_bob} of alice's 600 runs did their work before bob's one"


# What each single statement leaves on its session, and how the next run reads the same thing back.
LEFT_BEHIND = [
    "SELECT set_config('search_path', 'nowhere', false)",
    "SELECT set_config('rowsched.left', 'behind', false)",
    "SET statement_timeout = 123456",
    "SET ROLE NONE",
    "CREATE TEMP TABLE left_behind (x int)",
    "LISTEN left_channel",
    "SELECT pg_advisory_lock(4242)",
]
STATE = ("concat_ws(',', current_setting('search_path'), coalesce(current_setting('rowsched.left', true), ''), "
         "current_setting('statement_timeout'), to_regclass('pg_temp.left_behind') IS NULL, "
         "(SELECT count(*) FROM pg_listening_channels()), "
         "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()))")


def test_nothing_a_pipelined_run_sets_on_its_session_is_seen_by_the_next_run_on_that_session(
        migrated_db, start_daemon, owners):
    alice, bob = owners
    start_daemon(migrated_db, "--max-owner-connections", "1")
    as_alice, as_bob = dsn_with(migrated_db, user=alice), dsn_with(migrated_db, user=bob)
    for i, statement in enumerate(LEFT_BEHIND):
        insert_job(as_alice, f"leaver-{i}", func="sql", args=[statement], kwargs={"trigger": "date"})
        wait_until(lambda: runs(migrated_db, f"leaver-{i}", "succeeded"), what=f"the run of {statement}")
        insert_job(as_alice, f"reader-{i}", func="sql", kwargs={"trigger": "date"},
                   args=["INSERT INTO public.stamp SELECT $1, clock_timestamp(), current_user, session_user, "
                         "pg_backend_pid(), NULL, " + STATE, f"reader-{i}"])
    insert_job(as_bob, "reader-bob", func="sql", kwargs={"trigger": "date"},
               args=["INSERT INTO public.stamp SELECT $1, clock_timestamp(), current_user, session_user, "
                     "pg_backend_pid(), NULL, " + STATE, "reader-bob"])
    read = wait_rows(lambda: sql(migrated_db, "SELECT label, cu, su, pid, note FROM stamp ORDER BY label"),
                     len(LEFT_BEHIND) + 1, "every reader's stamp", timeout=10)
    clean = '"$user", public,,0,t,0,0'
    for label, cu, su, _, note in read:
        assert (note, cu) == (clean, su), label
    alice_sessions = {pid for label, cu, _, pid, _ in read if cu == alice}
    assert len(alice_sessions) == 1, "one session (--max-owner-connections 1), so the test means something"


def test_runs_pipelined_back_to_back_on_one_session_each_start_clean_though_each_leaves_state_behind(
        migrated_db, start_daemon, owners):
    # Every run reads the session's state into `stamp`, then (RETURNING runs after the row is
    # written) leaves GUCs, a statement_timeout and a session advisory lock behind. On one session,
    # pipelined, the next run is sent before this one ends: only a reset sent ahead of it, in its
    # own Sync, keeps it clean.
    alice, _ = owners
    start_daemon(migrated_db, "--max-owner-connections", "1")
    leaves = ("INSERT INTO public.stamp SELECT $1, clock_timestamp(), current_user, session_user, pg_backend_pid(), "
              "txid_current(), " + STATE + " RETURNING set_config('search_path', 'nowhere', false), "
              "set_config('rowsched.left', 'behind', false), set_config('statement_timeout', '123456', false), "
              "pg_advisory_lock(4242)")
    insert_burst(dsn_with(migrated_db, user=alice), "leaver", 60, instant(3), statement=leaves)
    read = wait_rows(lambda: sql(migrated_db, "SELECT label, pid, note FROM stamp WHERE label LIKE 'leaver-%' "
                                              "ORDER BY at"), 60, "60 stamps")
    assert {note for _, _, note in read} == {'"$user", public,,0,t,0,0'}
    assert len({pid for _, pid, _ in read}) == 1, "one session (--max-owner-connections 1), so the test means something"
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id LIKE 'leaver-%' "
                                              "AND status = 'succeeded'") == 60, what="60 succeeded runs")


def test_a_session_with_nothing_more_to_run_is_reset_while_it_waits(migrated_db, start_daemon, owners):
    # A run that takes a session advisory lock and keeps it: the lock is gone once the run ended,
    # though no other run came to that session.
    alice, _ = owners
    start_daemon(migrated_db, "--max-owner-connections", "1")
    insert_job(dsn_with(migrated_db, user=alice), "locker", func="sql", args=["SELECT pg_advisory_lock(4343)"],
               kwargs={"trigger": "date"})
    wait_until(lambda: runs(migrated_db, "locker", "succeeded"), what="the locking run")
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                              "AND objid = 4343") == 0, timeout=5,
               what="the session's advisory lock released while it waits")
    assert sql_value(migrated_db, "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (alice,)) == 1, \
        "the session stays open: its lock went with a reset, not with the session"


def test_a_session_opened_ahead_of_a_burst_parses_its_first_statement_before_the_instant_and_runs_nothing(
        migrated_db, start_daemon, owners):
    # A burst (64 runs or more) is claimed at least 300 ms ahead; its sessions log in then, and each
    # parses the first run's statement to warm its caches. Parsing opens the table: with the table
    # locked by the test, that open waits, and pg_locks.waitstart says when it began. Nothing runs
    # early: once the lock goes, each job has written exactly its one row.
    alice, _ = owners
    sql(migrated_db, "CREATE TABLE warm_target (label text); GRANT INSERT ON warm_target TO PUBLIC")
    start_daemon(migrated_db, "--max-owner-connections", "2")
    at = instant(4)
    insert_burst(dsn_with(migrated_db, user=alice), "warm", 80, at, statement="INSERT INTO public.warm_target VALUES ($1)")
    with closing(connect(migrated_db, autocommit=False)) as locker:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE warm_target IN ACCESS EXCLUSIVE MODE")
        first_wait = wait_until(lambda: sql_value(
            migrated_db, "SELECT min(l.waitstart) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                         "WHERE l.relation = 'warm_target'::regclass AND NOT l.granted AND a.usename = %s", (alice,)),
            timeout=15, what="a session of alice's waiting to open warm_target")
        with locker.cursor() as cur:
            cur.execute("SELECT count(*) FROM warm_target")
            assert cur.fetchone()[0] == 0
        locker.commit()
    assert first_wait < at, f"the first open of the table waited from {first_wait}, not before the instant {at}"
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id LIKE 'warm-%' "
                                              "AND status = 'succeeded'") == 80, timeout=30, what="80 succeeded runs")
    assert sql(migrated_db, "SELECT label, count(*) FROM warm_target GROUP BY label HAVING count(*) <> 1") == []
    assert sql_value(migrated_db, "SELECT count(*) FROM warm_target") == 80


# A job's statement that stamps when its work happened, in which session, and when that session logged in.
SESSION_STAMP = ("INSERT INTO public.stamp (label, at, pid, note) SELECT $1, clock_timestamp(), pg_backend_pid(), "
                 "backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()")


def session_stamps(dsn, label):
    """(scheduled_for, at, pid, backend_start) of `label`'s runs, each stamp with the fire it ran for."""
    return sql(dsn, "SELECT r.scheduled_for, s.at, s.pid, s.note::timestamptz FROM stamp s CROSS JOIN LATERAL "
                    "(SELECT max(scheduled_for) AS scheduled_for FROM job_run WHERE job_id = s.label "
                    "AND scheduled_for <= s.at) r WHERE s.label = %s ORDER BY s.at", (label,))


def test_an_idle_owner_session_closes_after_the_idle_timeout_and_the_next_fire_finds_one_logged_in_ahead(
        migrated_db, start_daemon, owners):
    """An hourly job's session is closed long before its next fire (--owner-idle-timeout, 60 s by
    default). The daemon knows that fire and logs a session in OwnerPipelines::kLoginLead (150 ms)
    before it; before, the login began when the fire was claimed, 5-8 ms ahead, and the work waited
    for it (p50 1.66 against 0.31 ms on an open session, `bench/run sparse`). Scaled down: a job
    every 2 s, sessions closed after 0.5 s idle."""
    alice, _ = owners
    start_daemon(migrated_db, "--owner-idle-timeout", "0.5")
    insert_job(dsn_with(migrated_db, user=alice), "sparse", func="sql", args=[SESSION_STAMP, "sparse"],
               kwargs={"trigger": "cron", "second": "*/2"})
    read = wait_rows(lambda: session_stamps(migrated_db, "sparse")[:4], 4, "4 fires of the job", timeout=20)
    assert len({pid for _, _, pid, _ in read}) == 4, "each fire on a new session: the idle one was closed"
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM pg_stat_activity WHERE usename = %s "
                                              "AND state = 'idle'", (alice,)) == 0 or None,
               timeout=5, what="alice's idle session closed between fires")
    # The first fire may come before the daemon has looked ahead; the next ones may not.
    for scheduled_for, at, _, logged_in in read[1:]:
        ahead = (scheduled_for - logged_in).total_seconds()
        assert ahead >= 0.075, f"the session of the fire at {scheduled_for} logged in {ahead * 1000:.1f} ms before it"
        assert at >= scheduled_for


def test_an_owner_session_whose_next_run_is_imminent_outlives_its_idle_timeout(migrated_db, start_daemon, owners):
    """Idle for 1.9 s with a fire every 2 s: the session's idle timeout runs out about 100 ms before
    each fire, when that fire is expected (or claimed). Closing it then would only log a new one in;
    it is kept, and every fire runs on it."""
    alice, _ = owners
    start_daemon(migrated_db, "--owner-idle-timeout", "1.9")
    insert_job(dsn_with(migrated_db, user=alice), "steady", func="sql", args=[SESSION_STAMP, "steady"],
               kwargs={"trigger": "cron", "second": "*/2"})
    read = wait_rows(lambda: session_stamps(migrated_db, "steady")[:4], 4, "4 fires of the job", timeout=20)
    assert len({pid for _, _, pid, _ in read}) == 1, [(str(s), pid) for s, _, pid, _ in read]


def test_a_burst_of_multi_statement_jobs_runs_on_the_pipelined_sessions_not_one_thread_each(
        migrated_db, start_daemon, owners):
    """Several statements in one job run over the simple query protocol, one run at a time per
    pipelined session, out of pipeline mode for the run: no executor thread waits on them. With one
    executor thread the blocking sessions would run them one after another on one session; here
    they spread over several, each run still one transaction of its own, as its owner."""
    alice, _ = owners
    start_daemon(migrated_db, "--workers", "1")
    at = instant(3)
    sql(dsn_with(migrated_db, user=alice),
        "INSERT INTO job_info (job_id, func, func_args, trigger_kwargs) "
        "SELECT 'multi-' || i, 'sql', jsonb_build_array(format('INSERT INTO public.stamp SELECT %%L, clock_timestamp(), "
        "current_user, session_user, pg_backend_pid(), txid_current(); SELECT 1', 'multi-' || i)), "
        "jsonb_build_object('trigger', 'date', 'run_date', %s::text) FROM generate_series(1, 120) i", (at.isoformat(),))
    done = wait_rows(lambda: stamps(migrated_db, "multi"), 120, "120 stamps")
    assert {(cu, su) for _, _, cu, su, _, _ in done} == {(alice, alice)}
    assert len({tx for *_, tx in done}) == 120, "each run is its own transaction"
    assert len({pid for *_, pid, _ in done}) > 1, "the runs spread over several sessions"
    assert min(a for _, a, *_ in done) >= at, "no run before its instant"
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id LIKE 'multi-%' "
                                              "AND status = 'succeeded'") == 120, what="120 succeeded runs")


def test_a_multi_statement_job_over_its_timeout_is_cancelled_and_the_next_run_on_its_session_has_none(
        migrated_db, start_daemon, owners):
    alice, _ = owners
    start_daemon(migrated_db, "--max-owner-connections", "1")
    as_alice = dsn_with(migrated_db, user=alice)
    insert_job(as_alice, "sleepy", func="sql", args=["SELECT pg_sleep(5); SELECT 1"],
               kwargs={"trigger": "date", "timeout": 0.3})
    run = wait_until(lambda: runs(migrated_db, "sleepy", "timeout"), what="the run cancelled by its timeout")[0]
    assert "cancelled by the job's timeout" in run[3] and "statement timeout" in run[3], run
    insert_job(as_alice, "after", func="sql",
               args=["INSERT INTO public.stamp (label, note) VALUES ('after', current_setting('statement_timeout')); "
                     "SELECT 1"], kwargs={"trigger": "date"})
    wait_until(lambda: runs(migrated_db, "after", "succeeded"), what="the next run")
    assert sql_value(migrated_db, "SELECT note FROM stamp WHERE label = 'after'") == "0"


def test_a_superusers_pipelined_set_session_authorization_does_not_reach_the_next_run(migrated_db, start_daemon, owners):
    alice, _ = owners
    su = sql_value(migrated_db, "SELECT session_user")
    start_daemon(migrated_db, "--max-owner-connections", "1")
    insert_job(migrated_db, "become-alice", func="sql", kwargs={"trigger": "date"},
               args=[f"SET SESSION AUTHORIZATION {quote_ident(alice)}"])
    wait_until(lambda: runs(migrated_db, "become-alice", "succeeded"), what="the first run")
    insert_job(migrated_db, "next-admin", func="sql", args=[STAMP, "next-admin"], kwargs={"trigger": "date"})
    stamp = wait_until(lambda: stamps(migrated_db, "next"), what="the next run")[0]
    assert stamp[2:4] == (su, su)


def test_a_job_timeout_cancels_a_pipelined_statement_and_the_next_run_on_its_session_has_none(
        migrated_db, start_daemon, owners):
    alice, _ = owners
    start_daemon(migrated_db, "--max-owner-connections", "1")
    as_alice = dsn_with(migrated_db, user=alice)
    insert_job(as_alice, "slow", func="sql", args=["SELECT pg_sleep(30)"], kwargs={"trigger": "date", "timeout": 0.2})
    run = wait_until(lambda: runs(migrated_db, "slow", "timeout"), what="the timed-out run")[0]
    assert "canceling statement due to statement timeout" in run[3]
    insert_job(as_alice, "after", func="sql", args=["SELECT current_setting('statement_timeout') AS t"],
               kwargs={"trigger": "date"})
    after = wait_until(lambda: runs(migrated_db, "after", "succeeded"), what="the next run")[0]
    assert json.loads(after[2])["first_rows"] == [{"t": "0"}]


def test_a_notify_job_goes_down_the_owners_session_with_its_default_payload(migrated_db, start_daemon, owners):
    alice, _ = owners
    listener = Listener(migrated_db, "wake_alice")
    start_daemon(migrated_db)
    insert_job(dsn_with(migrated_db, user=alice), "notifier", func="notify", args=["wake_alice"],
               kwargs={"trigger": "date"})
    run = wait_until(lambda: runs(migrated_db, "notifier", "succeeded"), what="the notify run")[0]
    assert json.loads(run[2])["job_id"] == "notifier"
    assert json.loads(listener.collect(1, timeout=10)[0]) == json.loads(run[2])


# A pipelined statement, and several statements (the simple protocol on a pipelined session).
@pytest.mark.parametrize("statement", ["SELECT pg_sleep(20)", "SELECT pg_sleep(20); SELECT 1"])
def test_a_session_lost_mid_run_fails_that_run_and_the_next_run_gets_a_new_session(
        migrated_db, start_daemon, owners, statement):
    alice, _ = owners
    start_daemon(migrated_db)
    as_alice = dsn_with(migrated_db, user=alice)
    insert_job(as_alice, "doomed", func="sql", args=[statement], kwargs={"trigger": "date"})
    pid = wait_until(lambda: sql_value(migrated_db, "SELECT pid FROM pg_stat_activity WHERE usename = %s "
                                                    "AND query = %s AND state = 'active'", (alice, statement)),
                     what="the run's session")
    sql(migrated_db, "SELECT pg_terminate_backend(%s)", (pid,))
    run = wait_until(lambda: runs(migrated_db, "doomed", "failed"), what="the failed run")[0]
    assert "connection lost" in run[3] or "terminating connection" in run[3], run[3]
    insert_job(as_alice, "after", func="sql", args=[STAMP, "after-1"], kwargs={"trigger": "date"})
    stamp = wait_until(lambda: stamps(migrated_db, "after"), what="the next run")[0]
    assert stamp[2:5] != (alice, alice, pid) and stamp[2] == alice



def test_runs_waiting_for_a_busy_connection_do_not_keep_the_daemon_busy(migrated_db, start_daemon, owners):
    # One connection, held by a slow statement: the 40 runs due behind it wait for it. They used to be
    # looked at again and again without a pause (the poll timed out at once), a CPU kept busy for nothing.
    alice, _ = owners
    d = start_daemon(migrated_db, "--max-owner-connections", "1")
    as_alice = dsn_with(migrated_db, user=alice)
    at = instant(2)
    insert_job(as_alice, "holder", func="sql", args=["SELECT pg_sleep(3)"], kwargs={"trigger": "date", "run_date": at.isoformat()})
    wait_until(lambda: runs(migrated_db, "holder", "running"), timeout=10, what="the slow run to start")
    # Due now, to the microsecond: instant(0) (this second, truncated) could be a second and more in
    # the past by the time the row is in, and past misfire_grace_time (1 s) the fires are missed.
    insert_burst(as_alice, "behind", 40, datetime.datetime.now(datetime.timezone.utc))
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id LIKE 'behind-%'") == 40,
               timeout=10, what="40 claimed runs waiting behind the slow one")
    before = cpu_seconds(d.proc.pid)
    wait_until(lambda: runs(migrated_db, "holder", "succeeded"), timeout=10, what="the slow run to end")
    used = cpu_seconds(d.proc.pid) - before
    # Spinning, the daemon took a whole CPU for the second or more the runs waited; a poll that waits
    # for the connection takes a few milliseconds.
    assert used < 0.3, f"the daemon used {used:.2f} s of CPU while its runs waited for a connection"
    wait_until(lambda: len(stamps(migrated_db, "behind")) == 40, timeout=20, what="the 40 runs after it")
