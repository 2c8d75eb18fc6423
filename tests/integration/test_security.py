"""A job runs as its owner and nothing more (docs/security.md). The daemon is logged in as the
cluster's superuser, as most installs do; every hostile row is written by an unprivileged role, and
each test asserts what that role is afterwards (attributes, memberships) and who the statement ran as
(current_user and session_user)."""

import datetime
import subprocess
from contextlib import closing

import psycopg2
import psycopg2.errorcodes
import pytest

from conftest import dsn_with, migration_files, psql, quote_ident, sql, sql_value
from daemon import insert_job, runs, start_daemon, wait_until  # noqa: F401 (fixture)


def role_snapshot(dsn, role):
    """What a role can do: its attributes and the roles it is a member of."""
    return sql(dsn, "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, "
                    "rolinherit, ARRAY(SELECT roleid::regrole::text FROM pg_auth_members WHERE member = r.oid ORDER BY 1) "
                    "FROM pg_roles r WHERE rolname = %s", (role,))


@pytest.fixture
def owners(migrated_db, make_role):
    """Two unprivileged roles, alice and bob, that may write job_info, and a table `seen` any run may
    write to: (label, current_user, session_user, backend pid, note)."""
    alice, bob = make_role("alice"), make_role("bob")
    sql(migrated_db, "CREATE TABLE seen (label text, cu name, su name, pid int, note text); "
                     "GRANT SELECT, INSERT ON seen TO PUBLIC")
    for role in (alice, bob):
        sql(migrated_db, f"GRANT SELECT, INSERT, UPDATE, DELETE ON job_info TO {quote_ident(role)}")
    return alice, bob


@pytest.fixture
def owners_in(make_role):
    """owners_in(dsn, schema): alice and bob, who may write the job_info of `schema` in `dsn`, and a
    table public.seen any run may write to."""

    def make(dsn, schema):
        alice, bob = make_role("alice"), make_role("bob")
        sql(dsn, "CREATE TABLE public.seen (label text, cu name, su name, pid int, note text); "
                 "GRANT SELECT, INSERT ON public.seen TO PUBLIC")
        for role in (alice, bob):
            sql(dsn, f"GRANT USAGE ON SCHEMA {schema} TO {quote_ident(role)}; "
                     f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.job_info TO {quote_ident(role)}")
        return alice, bob

    return make


def record(label, note="NULL"):
    """SQL that writes who runs it into `seen`."""
    return f"INSERT INTO public.seen SELECT '{label}', current_user, session_user, pg_backend_pid(), {note}"


def seen(dsn, label):
    rows = sql(dsn, "SELECT cu, su, pid, note FROM seen WHERE label = %s", (label,))
    return rows[0] if rows else None


# Ways a statement could try to become the daemon's login role again, and what each must end in:
# "ran" (it ran, still as the owner) or the start of the error the run fails with.
ESCAPES = {
    "set_config in a DO block": ("DO $$ BEGIN PERFORM set_config('role', 'none', true); END $$", "ran"),
    "set_config for the session": ("SELECT set_config('role', 'none', false)", "ran"),
    "a function calling set_config": (
        "CREATE FUNCTION pg_temp.escape() RETURNS text LANGUAGE sql AS $f$ SELECT set_config('role', 'none', false) $f$; "
        "SELECT pg_temp.escape()", "ran"),
    "RESET ROLE": ("RESET ROLE", "ran"),
    "SET ROLE NONE": ("SET ROLE NONE", "ran"),
    "RESET SESSION AUTHORIZATION": ("RESET SESSION AUTHORIZATION", "ran"),
    "SET SESSION AUTHORIZATION DEFAULT": ("SET SESSION AUTHORIZATION DEFAULT", "ran"),
    "SET SESSION AUTHORIZATION to the daemon": ("SET SESSION AUTHORIZATION {daemon}", "permission denied"),
    "SET ROLE to the daemon": ("SET ROLE {daemon}", "permission denied"),
    "set_config of session_authorization": ("SELECT set_config('session_authorization', '{daemon_name}', false)",
                                            "permission denied"),
}


def test_no_statement_of_an_unprivileged_owner_gets_back_to_the_daemons_role(migrated_db, start_daemon, owners):
    alice, _ = owners
    daemon_role = sql_value(migrated_db, "SELECT session_user")
    before = role_snapshot(migrated_db, alice)
    start_daemon(migrated_db)
    as_alice = dsn_with(migrated_db, user=alice)
    for i, (name, (escape, _)) in enumerate(ESCAPES.items()):
        # After the escape: record who we are, then try what only the daemon's role could do.
        statement = (escape.format(daemon=quote_ident(daemon_role), daemon_name=daemon_role) + "; " + record(name) + "; "
                     f"DO $$ BEGIN ALTER ROLE {quote_ident(alice)} SUPERUSER; "
                     "EXCEPTION WHEN insufficient_privilege THEN NULL; END $$")
        insert_job(as_alice, f"escape-{i}", func="sql", args=[statement], kwargs={"trigger": "date"})
    for i, (name, (_, expected)) in enumerate(ESCAPES.items()):
        run = wait_until(lambda: sql(migrated_db, "SELECT status, error FROM job_run WHERE job_id = %s "
                                                  "AND status <> 'running'", (f"escape-{i}",)), what=name)[0]
        if expected == "ran":
            assert run[0] == "succeeded", (name, run)
            assert seen(migrated_db, name)[:2] == (alice, alice), name
        else:
            assert run[0] == "failed" and run[1].startswith(expected) and "(SQLSTATE " in run[1], (name, run)
            assert seen(migrated_db, name) is None, name
    assert role_snapshot(migrated_db, alice) == before


def test_the_rows_example_of_the_issue_does_not_make_its_writer_a_superuser(migrated_db, start_daemon, owners):
    alice, _ = owners
    start_daemon(migrated_db)
    insert_job(dsn_with(migrated_db, user=alice), "x", func="sql", kwargs={"trigger": "date"},
               args=["DO $$ BEGIN PERFORM set_config('role','none',true); "
                     f"EXECUTE 'ALTER ROLE {quote_ident(alice)} SUPERUSER'; END $$"])
    run = wait_until(lambda: runs(migrated_db, "x", "failed"))[0]
    assert "must be superuser" in run[3] or "permission denied" in run[3], run
    assert sql_value(migrated_db, "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (alice,)) is False


# The tail that sends a job's statement down each kind of owner session: several statements run over
# the simple protocol on a pipelined session; the word COPY anywhere sends them to a blocking one.
SESSION_KINDS = {"pipelined, simple protocol": "; SELECT 1", "blocking": "; SELECT 'copy'"}


@pytest.mark.parametrize("session", sorted(SESSION_KINDS))
def test_nothing_a_run_sets_on_its_session_is_seen_by_the_next_run_of_the_same_or_another_owner(
        migrated_db, start_daemon, owners, session):
    alice, bob = owners
    tail = SESSION_KINDS[session]
    start_daemon(migrated_db, "--workers", "1")
    as_alice, as_bob = dsn_with(migrated_db, user=alice), dsn_with(migrated_db, user=bob)
    insert_job(as_alice, "leaver", func="sql", kwargs={"trigger": "date"}, args=[
        "SELECT set_config('search_path', 'nowhere', false), set_config('rowsched.left', 'behind', false); "
        "SET statement_timeout = 123456; SET ROLE NONE; CREATE TEMP TABLE left_behind (x int); PREPARE left_plan AS SELECT 1; "
        "LISTEN left_channel; DECLARE left_cursor CURSOR WITH HOLD FOR SELECT 1; " + record("leaver") + tail])
    wait_until(lambda: runs(migrated_db, "leaver", "succeeded"), what="the leaving run")
    state = ("concat_ws(',', current_setting('search_path'), coalesce(current_setting('rowsched.left', true), ''), "
             "current_setting('statement_timeout'), to_regclass('pg_temp.left_behind') IS NULL, "
             "(SELECT count(*) FROM pg_prepared_statements), (SELECT count(*) FROM pg_listening_channels()), "
             "(SELECT count(*) FROM pg_cursors))")
    # Statements of the leaver's kind: they run on the same kind of owner session. Single statements
    # are pipelined, whose reset test_owner_pipelines.py checks the same way.
    insert_job(as_alice, "next-alice", func="sql", args=[record("next-alice", state) + tail], kwargs={"trigger": "date"})
    insert_job(as_bob, "next-bob", func="sql", args=[record("next-bob", state) + tail], kwargs={"trigger": "date"})
    wait_until(lambda: seen(migrated_db, "next-alice") and seen(migrated_db, "next-bob"), what="the next runs")
    clean = '"$user", public,,0,t,0,0,0'
    leaver, next_alice, next_bob = (seen(migrated_db, label) for label in ("leaver", "next-alice", "next-bob"))
    assert next_alice[2] == leaver[2], "the same session was reused, so this test means something"
    assert next_alice[3] == clean and next_alice[:2] == (alice, alice)
    assert next_bob[3] == clean and next_bob[:2] == (bob, bob)


@pytest.mark.parametrize("session", sorted(SESSION_KINDS))
def test_a_transaction_left_open_is_rolled_back_and_the_run_fails_saying_so(migrated_db, start_daemon, owners, session):
    alice, _ = owners
    start_daemon(migrated_db, "--workers", "1")
    as_alice = dsn_with(migrated_db, user=alice)
    insert_job(as_alice, "open", func="sql", args=["BEGIN; " + record("open") + SESSION_KINDS[session]],
               kwargs={"trigger": "date"})
    run = wait_until(lambda: runs(migrated_db, "open", "failed"), what="the failed run")[0]
    assert "left a transaction open" in run[3] and "rolled it back" in run[3]
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM pg_stat_activity WHERE usename = %s "
                                              "AND state LIKE 'idle in transaction%%'", (alice,)) == 0,
               what="no session of the owner idle in a transaction")
    assert seen(migrated_db, "open") is None
    insert_job(as_alice, "after", func="sql", args=[record("after")], kwargs={"trigger": "date"})
    wait_until(lambda: runs(migrated_db, "after", "succeeded"), what="the next run")


def test_a_session_advisory_lock_left_held_is_released_when_the_run_ends(migrated_db, start_daemon, owners):
    alice, _ = owners
    start_daemon(migrated_db)
    insert_job(dsn_with(migrated_db, user=alice), "locker", func="sql", args=["SELECT pg_advisory_lock(4242)"],
               kwargs={"trigger": "date"})
    wait_until(lambda: runs(migrated_db, "locker", "succeeded"), what="the locking run")
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                              "AND objid = 4242") == 0, what="the advisory lock released")


def test_a_job_of_an_owner_that_cannot_log_in_fails_naming_the_role_and_runs_as_nobody_else(
        migrated_db, start_daemon, owners):
    alice, _ = owners
    sql(migrated_db, f"ALTER ROLE {quote_ident(alice)} NOLOGIN")
    start_daemon(migrated_db)
    insert_job(migrated_db, "nologin", func="sql", args=[record("nologin")], kwargs={"trigger": "interval", "seconds": 1},
               owner=alice)
    failed = wait_until(lambda: (lambda r: r if len(r) >= 2 else None)(runs(migrated_db, "nologin", "failed")),
                        what="two failed runs")
    for run in failed:
        assert f'cannot log in as the job\'s owner role "{alice}"' in run[3], run
        assert "not permitted to log in" in run[3] and "ALTER ROLE" in run[3] and "docs/security.md" in run[3]
    assert seen(migrated_db, "nologin") is None
    # A failed login is remembered for a few seconds: the fire a second later does not try again.
    assert "remembered from a login attempt" in failed[1][3]


def test_a_job_owned_by_a_dropped_role_fails_naming_the_role(migrated_db, start_daemon, make_role):
    gone = make_role("gone")
    start_daemon(migrated_db)
    soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)).isoformat()
    insert_job(migrated_db, "orphan", func="sql", args=["SELECT 1"], owner=gone, kwargs={"trigger": "date", "run_date": soon})
    sql(migrated_db, f"DROP ROLE {quote_ident(gone)}")
    run = wait_until(lambda: runs(migrated_db, "orphan", "failed"), what="the failed run")[0]
    assert f'role "{gone}"' in run[3] and "does not exist" in run[3]


def test_a_superuser_owned_job_written_by_a_superuser_runs_as_that_superuser(migrated_db, start_daemon):
    su = sql_value(migrated_db, "SELECT session_user")
    sql(migrated_db, "CREATE TABLE seen (label text, cu name, su name, pid int, note text)")
    start_daemon(migrated_db)
    insert_job(migrated_db, "admin", func="sql", args=[record("admin")], kwargs={"trigger": "date"})
    wait_until(lambda: runs(migrated_db, "admin", "succeeded"), what="the run")
    assert seen(migrated_db, "admin")[:2] == (su, su)


def test_a_statement_that_cannot_run_in_a_transaction_block_runs(migrated_db, start_daemon, owners):
    alice, _ = owners
    sql(migrated_db, f"CREATE TABLE items (x int); ALTER TABLE items OWNER TO {quote_ident(alice)}; "
                     f"GRANT CREATE ON SCHEMA public TO {quote_ident(alice)}")
    start_daemon(migrated_db)
    as_alice = dsn_with(migrated_db, user=alice)
    sql(as_alice, "CREATE PROCEDURE fill() LANGUAGE plpgsql AS $$ BEGIN INSERT INTO items VALUES (1); COMMIT; "
                  "INSERT INTO items VALUES (2); COMMIT; END $$")
    insert_job(as_alice, "vacuum", func="sql", args=["VACUUM items"], kwargs={"trigger": "date"})
    insert_job(as_alice, "index", func="sql", args=["CREATE INDEX CONCURRENTLY items_x ON items (x)"],
               kwargs={"trigger": "date"})
    insert_job(as_alice, "call", func="sql", args=["CALL fill()"], kwargs={"trigger": "date"})
    for job_id in ("vacuum", "index", "call"):
        assert wait_until(lambda: runs(migrated_db, job_id, "succeeded"), what=job_id)
    assert sql_value(migrated_db, "SELECT count(*) FROM items") == 2
    assert sql_value(migrated_db, "SELECT to_regclass('items_x') IS NOT NULL")


def test_the_jobs_timeout_still_bounds_a_statement_outside_a_transaction(migrated_db, start_daemon, owners):
    alice, _ = owners
    start_daemon(migrated_db)
    insert_job(dsn_with(migrated_db, user=alice), "slow", func="sql", args=["SELECT pg_sleep(30)"],
               kwargs={"trigger": "date", "timeout": 0.2})
    run = wait_until(lambda: runs(migrated_db, "slow", "timeout"), what="the timed-out run")[0]
    assert "canceling statement due to statement timeout" in run[3]


# --- Row-level security ----------------------------------------------------------------------------


@pytest.fixture
def two_teams(migrated_db, owners):
    """alice's job and run, bob's job and run, written as each of them (runs by the superuser, as the
    daemon would), and both allowed to read job_run and job_status."""
    alice, bob = owners
    for role in owners:
        sql(migrated_db, f"GRANT SELECT ON job_run, job_status TO {quote_ident(role)}")
        insert_job(dsn_with(migrated_db, user=role), f"{role}-job", func="sql", args=["SELECT 1"],
                   kwargs={"trigger": "date", "run_date": "2999-01-01"})
        sql(migrated_db, "INSERT INTO job_run (job_id, scheduled_for, instance, status, output) "
                         "VALUES (%s, now(), 'test', 'succeeded', 'secret of ' || %s)", (f"{role}-job", role))
    return alice, bob


def seen_by(dsn, role):
    as_role = dsn_with(dsn, user=role)
    return {"jobs": [r[0] for r in sql(as_role, "SELECT job_id FROM job_info ORDER BY 1")],
            "runs": [r[0] for r in sql(as_role, "SELECT job_id FROM job_run ORDER BY 1")],
            "status": [r[0] for r in sql(as_role, "SELECT job_id FROM job_status ORDER BY 1")]}


def test_a_role_sees_only_the_jobs_and_runs_of_owners_it_is_a_member_of(migrated_db, two_teams):
    alice, bob = two_teams
    assert seen_by(migrated_db, alice) == {"jobs": [f"{alice}-job"], "runs": [f"{alice}-job"], "status": [f"{alice}-job"]}
    assert seen_by(migrated_db, bob) == {"jobs": [f"{bob}-job"], "runs": [f"{bob}-job"], "status": [f"{bob}-job"]}
    sql(migrated_db, f"GRANT {quote_ident(bob)} TO {quote_ident(alice)}")  # alice joins bob's team
    assert seen_by(migrated_db, alice)["jobs"] == sorted([f"{alice}-job", f"{bob}-job"])


def test_members_of_rowsched_admin_and_roles_with_bypassrls_see_every_job(migrated_db, two_teams, make_role):
    admin, auditor = make_role("admin"), make_role("auditor")
    sql(migrated_db, f"GRANT rowsched_admin TO {quote_ident(admin)}; ALTER ROLE {quote_ident(auditor)} BYPASSRLS")
    everything = sorted(f"{role}-job" for role in two_teams)
    for role in (admin, auditor):
        sql(migrated_db, f"GRANT SELECT ON job_info, job_run, job_status TO {quote_ident(role)}")
        assert seen_by(migrated_db, role) == {"jobs": everything, "runs": everything, "status": everything}
    assert sql_value(migrated_db, "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'rowsched_admin'") is False


def test_the_job_of_a_dropped_role_is_seen_only_by_the_roles_that_see_every_job(migrated_db, two_teams, make_role):
    alice, _ = two_teams
    carol, admin = make_role("carol"), make_role("admin")
    sql(migrated_db, f"GRANT SELECT, INSERT ON job_info TO {quote_ident(carol)}; GRANT rowsched_admin TO {quote_ident(admin)}; "
                     f"GRANT SELECT ON job_info, job_run, job_status TO {quote_ident(admin)}")
    insert_job(dsn_with(migrated_db, user=carol), "carols-job", func="sql", args=["SELECT 1"],
               kwargs={"trigger": "date", "run_date": "2999-01-01"})
    sql(migrated_db, f"REVOKE ALL ON job_info FROM {quote_ident(carol)}; DROP ROLE {quote_ident(carol)}")
    assert "carols-job" not in seen_by(migrated_db, alice)["jobs"]
    assert "carols-job" in seen_by(migrated_db, admin)["jobs"]
    assert "carols-job" in seen_by(migrated_db, admin)["status"]


def test_a_function_of_the_readers_own_in_a_where_clause_is_never_shown_another_roles_rows_of_the_views(
        migrated_db, two_teams):
    # A view runs with its owner's rights; without security_barrier the planner would call a cheap
    # function of the reader's before the view's own filter, on every row of every role.
    alice, bob = two_teams
    sql(migrated_db, f"GRANT SELECT ON job_run_details TO {quote_ident(alice)}")
    with closing(psycopg2.connect(dsn_with(migrated_db, user=alice))) as conn, conn.cursor() as cur:
        conn.autocommit = True
        cur.execute("CREATE FUNCTION pg_temp.peek(t text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 "
                    "AS $$ BEGIN RAISE NOTICE 'peek %', t; RETURN true; END $$")
        cur.execute("SELECT job_id FROM job_status WHERE pg_temp.peek(job_id)")
        assert cur.fetchall() == [(f"{alice}-job",)]
        cur.execute("SELECT jobid FROM job_run_details WHERE pg_temp.peek(jobid || ' ' || return_message)")
        assert cur.fetchall() == [(f"{alice}-job",)]
        peeked = " ".join(conn.notices)
    assert f"{alice}-job" in peeked and f"secret of {alice}" in peeked
    assert bob not in peeked


def test_a_role_can_neither_change_nor_delete_another_roles_job(migrated_db, two_teams):
    alice, bob = two_teams
    as_alice = dsn_with(migrated_db, user=alice)
    assert sql(as_alice, "UPDATE job_info SET is_paused = true WHERE job_id = %s RETURNING 1", (f"{bob}-job",)) == []
    assert sql(as_alice, "DELETE FROM job_info WHERE job_id = %s RETURNING 1", (f"{bob}-job",)) == []
    assert sql(as_alice, "DELETE FROM job_info RETURNING job_id") == [(f"{alice}-job",)]
    assert sql_value(migrated_db, "SELECT is_paused FROM job_info WHERE job_id = %s", (f"{bob}-job",)) is False


def test_a_role_that_sees_another_roles_job_may_not_delete_it_and_is_told_why(migrated_db, two_teams):
    alice, bob = two_teams
    sql(migrated_db, f"GRANT rowsched_admin TO {quote_ident(alice)}")
    with pytest.raises(psycopg2.Error) as refused:
        sql(dsn_with(migrated_db, user=alice), "DELETE FROM job_info WHERE job_id = %s", (f"{bob}-job",))
    assert refused.value.pgcode == psycopg2.errorcodes.INSUFFICIENT_PRIVILEGE
    assert refused.value.diag.message_primary == (
        f'job_info: role "{alice}" is not a member of role "{bob}", the owner of job "{bob}-job"; '
        "only a member of the owner role may delete a job")


# --- The daemon without superuser ------------------------------------------------------------------


def test_the_daemon_runs_as_a_plain_login_role_owning_the_schema(db, rowsched_bin, start_daemon, make_role, owners_in):
    daemon_role = make_role("rowsched")
    dbname = sql_value(db, "SELECT current_database()")
    sql(db, f"GRANT CREATE ON DATABASE {quote_ident(dbname)} TO {quote_ident(daemon_role)}")  # for its schema
    as_daemon = dsn_with(db, user=daemon_role)
    subprocess.run([rowsched_bin, "migrate", "--dsn", as_daemon, "--schema", "jobs"], check=True, capture_output=True)
    alice, bob = owners_in(db, "jobs")
    start_daemon(dsn_with(as_daemon, options="-csearch_path=jobs"), "--schema", "jobs")
    jobs_of = {}
    for role in (alice, bob):
        insert_job(dsn_with(db, user=role, options="-csearch_path=jobs"), f"{role}-job", func="sql",
                   args=[record(role)], kwargs={"trigger": "date"})
    for role in (alice, bob):
        jobs_of[role] = wait_until(lambda: seen(db, role), what=f"the run of {role}'s job")
        assert jobs_of[role][:2] == (role, role)
    assert sql_value(db, "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = %s", (daemon_role,)) is False


def test_a_superuser_jobs_set_session_authorization_does_not_reach_the_next_run(migrated_db, start_daemon, owners):
    alice, _ = owners
    su = sql_value(migrated_db, "SELECT session_user")
    start_daemon(migrated_db, "--workers", "1")
    insert_job(migrated_db, "become-alice", func="sql", kwargs={"trigger": "date"},
               args=[f"SET SESSION AUTHORIZATION {quote_ident(alice)}; " + record("become-alice")])
    wait_until(lambda: runs(migrated_db, "become-alice", "succeeded"), what="the first run")
    insert_job(migrated_db, "next-admin", func="sql", args=[record("next-admin") + "; SELECT 1"], kwargs={"trigger": "date"})
    wait_until(lambda: seen(migrated_db, "next-admin"), what="the next run")
    assert seen(migrated_db, "become-alice")[:2] == (alice, alice)
    assert seen(migrated_db, "next-admin")[2] == seen(migrated_db, "become-alice")[2]  # the same session
    assert seen(migrated_db, "next-admin")[:2] == (su, su)


def test_a_copy_to_the_client_fails_saying_why_and_the_next_run_works(migrated_db, start_daemon, owners):
    alice, _ = owners
    start_daemon(migrated_db, "--workers", "1")
    as_alice = dsn_with(migrated_db, user=alice)
    insert_job(as_alice, "copy", func="sql", args=["COPY (SELECT 1) TO STDOUT"], kwargs={"trigger": "date"})
    run = wait_until(lambda: runs(migrated_db, "copy", "failed"), what="the failed run")[0]
    assert "a job has none" in run[3]
    insert_job(as_alice, "after-copy", func="sql", args=[record("after-copy")], kwargs={"trigger": "date"})
    wait_until(lambda: seen(migrated_db, "after-copy"), what="the next run")


def test_a_blocking_run_refused_a_session_for_lack_of_room_waits_for_its_owners_busy_one(
        migrated_db, start_daemon, owners):
    # Several statements with the word COPY run on the blocking sessions (one per executor thread). The
    # role may hold one session: x2's login, while x1 holds it, is refused for lack of room; x2 waits
    # for x1's session and runs on it. y, due once x1 has ended, takes the idle session. Before, x2
    # failed with the refusal, and so did y for the 5 s the refusal was remembered, beside an idle
    # session of its owner.
    alice, _ = owners
    start_daemon(migrated_db, "--workers", "2")
    as_alice = dsn_with(migrated_db, user=alice)
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
    for job, statement, at in (("x1", "SELECT pg_sleep(1); SELECT 'COPY'", t),
                               ("x2", "SELECT 1; SELECT 'COPY'", t + datetime.timedelta(seconds=0.3)),
                               ("y", "SELECT 2; SELECT 'COPY'", t + datetime.timedelta(seconds=1.8))):
        insert_job(as_alice, job, func="sql", args=[statement], kwargs={"trigger": "date", "run_date": at.isoformat()})
    sql(migrated_db, f"ALTER ROLE {quote_ident(alice)} CONNECTION LIMIT 1")
    done = wait_until(lambda: (lambda r: r if len(r) == 3 else None)(
        sql(migrated_db, "SELECT job_id, status, error, started_at, finished_at FROM job_run "
                         "WHERE job_id IN ('x1', 'x2', 'y') AND status <> 'running' ORDER BY job_id")),
        timeout=20, what="the three runs' outcomes")
    assert [(job, status) for job, status, *_ in done] == [("x1", "succeeded"), ("x2", "succeeded"),
                                                          ("y", "succeeded")], done
    x1, x2 = done[0], done[1]
    assert x2[4] >= x1[4], "x2 ran on x1's session, once x1 had given it back"


def test_a_migrating_role_that_cannot_create_roles_gets_a_warning_and_row_security_all_the_same(
        db, pg, make_role):
    migrator, alice = make_role("migrator"), make_role("alice")
    dbname = sql_value(db, "SELECT current_database()")
    sql(db, f"GRANT CREATE ON DATABASE {quote_ident(dbname)} TO {quote_ident(migrator)}")
    # rowsched_admin is cluster-wide and made by earlier migrations: hide it for the time of the test.
    sql(pg.dsn(), "ALTER ROLE rowsched_admin RENAME TO rowsched_admin_hidden")
    try:
        done = psql(dsn_with(db, user=migrator), "-c", "CREATE SCHEMA jobs", "-c", "SET search_path = jobs, pg_catalog",
                    *[a for f in migration_files() for a in ("-f", str(f))])
        assert 'may not create roles, so role rowsched_admin was not created' in done.stderr
        assert sql_value(db, "SELECT count(*) FROM pg_roles WHERE rolname = 'rowsched_admin'") == 0
    finally:
        sql(pg.dsn(), "ALTER ROLE rowsched_admin_hidden RENAME TO rowsched_admin")
    sql(db, f"INSERT INTO jobs.job_info (job_id, func, trigger_kwargs, owner) VALUES "
            f"('theirs', 'log', '{{\"trigger\": \"date\"}}', '" + migrator + "')")
    sql(db, f"GRANT USAGE ON SCHEMA jobs TO {quote_ident(alice)}; GRANT SELECT ON jobs.job_info TO {quote_ident(alice)}")
    assert sql(dsn_with(db, user=alice), "SELECT job_id FROM jobs.job_info") == []


def owner_sessions(dsn):
    return sql_value(dsn, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rowsched job' "
                          "AND datname = current_database()")


def test_at_most_owner_connections_sessions_stay_open_idle(migrated_db, start_daemon, owners):
    alice, bob = owners
    start_daemon(migrated_db, "--workers", "1", "--owner-connections", "1")
    for role in (alice, bob):
        insert_job(dsn_with(migrated_db, user=role), f"{role}-run", func="sql", args=[record(role)],
                   kwargs={"trigger": "date"})
    wait_until(lambda: seen(migrated_db, alice) and seen(migrated_db, bob), what="both runs")
    wait_until(lambda: owner_sessions(migrated_db) == 1, what="one idle owner session")


@pytest.mark.parametrize("ended_by", ["pg_terminate_backend", "idle_session_timeout"])
def test_a_pooled_session_the_server_ended_while_idle_is_dropped_and_the_next_run_logs_in_anew(
        migrated_db, start_daemon, owners, ended_by):
    """A session the server closed while it waited in the pool (a DBA's pg_terminate_backend, the
    role's idle_session_timeout, a server restart) is dropped when the next run takes it: that run
    logs in anew and succeeds. It used to run on the dead session and fail with "connection lost".
    The jobs' statements go to the blocking sessions (SESSION_KINDS); the pipelined ones are watched
    while idle and never had this fault."""
    alice, _ = owners
    if ended_by == "idle_session_timeout":
        sql(migrated_db, f"ALTER ROLE {quote_ident(alice)} SET idle_session_timeout = '200ms'")
    start_daemon(migrated_db, "--workers", "1")
    as_alice = dsn_with(migrated_db, user=alice)
    insert_job(as_alice, "first", func="sql", args=[record("first") + SESSION_KINDS["blocking"]], kwargs={"trigger": "date"})
    first_pid = wait_until(lambda: seen(migrated_db, "first"), what="the first run")[2]
    if ended_by == "pg_terminate_backend":
        assert sql_value(migrated_db, "SELECT pg_terminate_backend(%s)", (first_pid,))
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                                 (first_pid,)) == 0 or None, what="the first run's session gone")
    insert_job(as_alice, "second", func="sql", args=[record("second") + SESSION_KINDS["blocking"]], kwargs={"trigger": "date"})
    done = wait_until(lambda: [r for r in runs(migrated_db, "second") if r[1] != "running"] or None,
                      what="the second run's outcome")
    assert [(status, error) for _, status, _, error, _ in done] == [("succeeded", None)]
    assert seen(migrated_db, "second")[2] != first_pid


def test_with_owner_connections_0_every_run_has_a_new_session(migrated_db, start_daemon, owners):
    alice, _ = owners
    start_daemon(migrated_db, "--workers", "1", "--owner-connections", "0")
    as_alice = dsn_with(migrated_db, user=alice)
    for label in ("first", "second"):
        insert_job(as_alice, label, func="sql", args=[record(label)], kwargs={"trigger": "date"})
        wait_until(lambda: seen(migrated_db, label), what=label)
    assert seen(migrated_db, "first")[2] != seen(migrated_db, "second")[2]
    wait_until(lambda: owner_sessions(migrated_db) == 0, what="no idle owner session")
