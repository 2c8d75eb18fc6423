"""The pg_cron user's way in (docs/pg-cron.md): pg_cron's SQL functions, its schedule syntax, the
job_run_details view and `rowsched import-pg-cron`, against a real pg_cron 1.4 (Debian's
postgresql-15-cron) in a cluster of this module's own, started with shared_preload_libraries = 'pg_cron'
(the session's shared cluster is left as it is)."""

import atexit
import datetime as dt
import json
import os
import subprocess
import tempfile

import psycopg2
import pytest

from conftest import IS_ROOT, PgCluster, dsn_with, quote_ident, sql, sql_value
from daemon import start_daemon, wait_until  # noqa: F401

UTC = dt.timezone.utc


# --- pg_cron's own schedule semantics (entry.c and ShouldRunTask in pg_cron.c), as the reference ---

PG_CRON_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                  "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DOW_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def _values(field, low, high, names=None):
    """Vixie cron's get_list: the set of values of one field."""
    out = set()
    for item in field.lower().split(","):
        rng, _, step = item.partition("/")
        if rng == "*":
            a, b = low, high
        else:
            def num(s):
                return names.index(s) + low if names and s in names else int(s)
            a, _, b = rng.partition("-")
            a = num(a)
            b = num(b) if b else (high if step else a)
        out.update(range(a, b + 1, int(step) if step else 1))
    return out


def pg_cron_fires(schedule, start, count):
    """The next `count` minutes at or after `start` (UTC, pg_cron's default cron.timezone GMT) at which
    pg_cron's ShouldRunTask says the job runs: minute, hour and month must match; the day rule is AND
    when either day field starts with `*`, else OR; `$` matches the day whose tomorrow is the 1st."""
    line = PG_CRON_MACROS.get(schedule.strip().lower(), schedule)
    minute, hour, dom, month, dow = line.split()
    minutes, hours = _values(minute, 0, 59), _values(hour, 0, 23)
    months = _values(month, 1, 12, MONTH_NAMES)
    dows = _values(dow, 0, 7, DOW_NAMES)
    if 7 in dows:
        dows.add(0)
    dom_last = dom == "$"
    doms = set() if dom_last else _values(dom, 1, 31)
    star = dom.startswith("*") or dow.startswith("*")
    out = []
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while len(out) < count:
        this_dom = day.day in doms or (dom_last and (day + dt.timedelta(days=1)).day == 1)
        this_dow = (day.isoweekday() % 7) in dows
        if day.month in months and ((this_dom and this_dow) if star else (this_dom or this_dow)):
            for h in sorted(hours):
                for m in sorted(minutes):
                    t = day.replace(hour=h, minute=m)
                    if t >= start and len(out) < count:
                        out.append(t)
        day += dt.timedelta(days=1)
    return out


def rowsched_next(rowsched_bin, kwargs, start, count):
    proc = subprocess.run([rowsched_bin, "next", "--from", start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "--count", str(count), json.dumps(kwargs)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [dt.datetime.strptime(line, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) for line in proc.stdout.split()]


# pg_cron's README: its cron syntax examples and the schedules of its cron.schedule examples.
README_SCHEDULES = ["* * * * *", "*/5 * * * *", "0 * * * *", "0 0 * * *", "0 0 * * 1-5", "0 1 * * 0",
                    "0 13 2 6 *", "30 3 * * 6", "0 10 * * *", "0 12 $ * *", "@hourly", "@daily", "@weekly",
                    "@monthly", "@yearly", "@annually", "@midnight", "0 0 $ * 1", "15 4 1,15 * sun"]
# pg_cron 1.4 (what Debian ships for PostgreSQL 15) predates `$` (1.6) and `N seconds` (1.5).
PG_CRON_14_REJECTS = {"0 12 $ * *", "0 0 $ * 1"}


# --- a cluster with pg_cron preloaded ---------------------------------------------------------------


@pytest.fixture(scope="module")
def cron_pg():
    parent = os.environ.get("ROWSCHED_PG_TMPDIR") or ("/tmp" if IS_ROOT else None)
    cluster = PgCluster(tempfile.mkdtemp(prefix="rowsched-pgcron-", dir=parent))
    atexit.register(cluster.destroy)
    cluster.init()
    with open(cluster.datadir / "postgresql.conf", "a") as conf:
        conf.write("shared_preload_libraries = 'pg_cron'\ncron.database_name = 'postgres'\n")
    cluster.start()
    sql(cluster.dsn(), "CREATE EXTENSION pg_cron")
    yield cluster
    cluster.destroy()


@pytest.fixture
def cron_db(cron_pg, rowsched_bin):
    """The pg_cron database (postgres) with rowsched migrated into a fresh schema and no pg_cron jobs."""
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    dsn = cron_pg.dsn()
    sql(dsn, "DELETE FROM cron.job")
    schema = "rs_" + os.urandom(4).hex()
    proc = subprocess.run([rowsched_bin, "migrate", "--dsn", dsn, "--schema", schema],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return dsn, schema


def import_pg_cron(rowsched_bin, dsn, schema, *args):
    proc = subprocess.run([rowsched_bin, "import-pg-cron", "--dsn", dsn, "--schema", schema, *args],
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def with_schema(dsn, schema):
    return dsn_with(dsn, options=f"-csearch_path={schema}")


# --- schedule syntax ----------------------------------------------------------------------------------


def test_pg_cron_documented_schedules_fire_when_pg_cron_would(cron_pg, rowsched_bin):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    start = dt.datetime(2024, 2, 27, 22, 58, 0, tzinfo=UTC)
    for schedule in README_SCHEDULES:
        expected = pg_cron_fires(schedule, start, 6)
        assert rowsched_next(rowsched_bin, {"crontab": schedule}, start, 6) == expected, schedule
        # The same string is one pg_cron 1.4 accepts (cron.schedule parses it), except its later additions.
        accepted = True
        try:
            sql(cron_pg.dsn(), "SELECT cron.unschedule(cron.schedule(%s, 'SELECT 1'))", (schedule,))
        except psycopg2.Error:
            accepted = False
        assert accepted == (schedule not in PG_CRON_14_REJECTS), schedule


def test_n_seconds_fires_every_n_seconds(rowsched_bin):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    start = dt.datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC)
    for n in (5, 10, 30, 7, 59):
        fires = rowsched_next(rowsched_bin, {"crontab": f"{n} seconds"}, start, 5)
        assert all((b - a).total_seconds() == n for a, b in zip(fires, fires[1:])), (n, fires)
        assert fires[0] >= start and (fires[0] - start).total_seconds() < n


# --- the SQL functions ----------------------------------------------------------------------------------


def test_schedule_creates_an_ordinary_sql_job_owned_by_the_caller_and_upserts_by_name(migrated_db):
    assert sql_value(migrated_db, "SELECT schedule('nightly-vacuum', '0 10 * * *', 'VACUUM')") == "nightly-vacuum"
    row = sql(migrated_db, "SELECT func, func_args, trigger_kwargs, owner::text = current_user, is_paused "
                           "FROM job_info WHERE job_id = 'nightly-vacuum'")[0]
    assert row == ("sql", ["VACUUM"], {"crontab": "0 10 * * *"}, True, False)
    # A job option the user added to the row survives a second schedule() of the same name.
    sql(migrated_db, """UPDATE job_info SET trigger_kwargs = trigger_kwargs || '{"timezone": "Europe/Berlin"}'
                        WHERE job_id = 'nightly-vacuum'""")
    sql(migrated_db, "SELECT schedule('nightly-vacuum', '0 11 * * *', 'VACUUM ANALYZE')")
    assert sql(migrated_db, "SELECT func_args, trigger_kwargs FROM job_info") == [
        (["VACUUM ANALYZE"], {"crontab": "0 11 * * *", "timezone": "Europe/Berlin"})]


def test_schedule_with_a_null_argument_says_so(migrated_db):
    for call, name in [("SELECT schedule('j', NULL, 'SELECT 1')", "schedule(job_name, schedule, command)"),
                       ("SELECT schedule(NULL::text, 'SELECT 1')", "schedule(schedule, command)")]:
        with pytest.raises(psycopg2.Error) as e:
            sql(migrated_db, call)
        assert e.value.pgerror.splitlines()[0] == f"ERROR:  {name}: none of the arguments may be null"


def test_schedule_without_a_name_returns_a_new_job_id_each_time(migrated_db):
    first = sql_value(migrated_db, "SELECT schedule('30 3 * * 6', $$DELETE FROM events$$)")
    second = sql_value(migrated_db, "SELECT schedule('30 3 * * 6', $$DELETE FROM events$$)")
    assert first != second
    assert sql_value(migrated_db, "SELECT count(*) FROM job_info WHERE func_args = '[\"DELETE FROM events\"]'") == 2


def test_unschedule_removes_the_job_and_says_when_there_is_none(migrated_db):
    sql(migrated_db, "SELECT schedule('a', '* * * * *', 'SELECT 1')")
    assert sql_value(migrated_db, "SELECT unschedule('a')") is True
    assert sql_value(migrated_db, "SELECT count(*) FROM job_info") == 0
    with pytest.raises(psycopg2.Error) as e:
        sql(migrated_db, "SELECT unschedule('a')")
    assert e.value.pgerror.splitlines()[0] == 'ERROR:  unschedule: there is no job with job_id "a"'


def test_unschedule_of_another_roles_job_is_refused(migrated_db, make_role):
    alice, bob = make_role("alice"), make_role("bob")
    sql(migrated_db, f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {alice}, {bob}")
    sql(dsn_with(migrated_db, user=alice), "SELECT schedule('hers', '* * * * *', 'SELECT 1')")
    # Under row-level security (sql/008_row_security.sql) bob does not see alice's job at all.
    with pytest.raises(psycopg2.Error) as e:
        sql(dsn_with(migrated_db, user=bob), "SELECT unschedule('hers')")
    assert e.value.pgerror.splitlines()[0] == 'ERROR:  unschedule: there is no job with job_id "hers"'
    # A member of rowsched_admin sees every job, and still may not remove one of another role.
    sql(migrated_db, f"GRANT rowsched_admin TO {bob}")
    with pytest.raises(psycopg2.Error) as e:
        sql(dsn_with(migrated_db, user=bob), "SELECT unschedule('hers')")
    assert e.value.pgerror.splitlines()[0] == (
        f'ERROR:  unschedule: job "hers" belongs to role "{alice}"; only a member of that role may unschedule it')
    assert sql_value(migrated_db, "SELECT owner::text FROM job_info WHERE job_id = 'hers'") == alice


def test_alter_job_changes_only_what_is_given_and_active_pauses(migrated_db):
    sql(migrated_db, "SELECT schedule('j', '0 10 * * *', 'SELECT 1')")
    sql(migrated_db, "SELECT alter_job('j', active := false)")
    assert sql(migrated_db, "SELECT func_args, trigger_kwargs, is_paused FROM job_info") == [
        (["SELECT 1"], {"crontab": "0 10 * * *"}, True)]
    sql(migrated_db, "SELECT alter_job('j', '5 seconds', 'SELECT 2', current_database(), NULL, true)")
    assert sql(migrated_db, "SELECT func_args, trigger_kwargs, is_paused FROM job_info") == [
        (["SELECT 2"], {"crontab": "5 seconds"}, False)]
    with pytest.raises(psycopg2.Error) as e:
        sql(migrated_db, "SELECT alter_job('nope', '* * * * *')")
    assert e.value.pgerror.splitlines()[0] == 'ERROR:  alter_job: there is no job with job_id "nope"'


def test_another_database_is_refused_with_what_to_do(migrated_db):
    here = sql_value(migrated_db, "SELECT current_database()")
    for call in ["SELECT schedule_in_database('x', '* * * * *', 'SELECT 1', 'some_other_database')",
                 "SELECT alter_job('x', database := 'some_other_database')"]:
        with pytest.raises(psycopg2.Error) as e:
            sql(migrated_db, call)
        name = call.split("(")[0].split()[-1]
        assert e.value.pgerror.splitlines()[0] == (
            f'ERROR:  {name}: database "some_other_database" is not this database ("{here}"); rowsched runs a job '
            f'in the database of its job_info table, so install rowsched in "some_other_database" (rowsched '
            f'migrate) and schedule the job there')
    assert sql_value(migrated_db, "SELECT schedule_in_database('x', '* * * * *', 'SELECT 1', current_database(), "
                                  "NULL, false)") == "x"
    assert sql(migrated_db, "SELECT is_paused FROM job_info WHERE job_id = 'x'") == [(True,)]


def test_rowsched_refuses_the_cron_schema_where_pg_cron_is_installed(cron_pg, rowsched_bin):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    proc = subprocess.run([rowsched_bin, "migrate", "--dsn", cron_pg.dsn(), "--schema", "cron"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert 'rowsched cannot be installed into schema "cron": it belongs to pg_cron' in proc.stderr + proc.stdout
    assert sql_value(cron_pg.dsn(), "SELECT to_regprocedure('cron.schedule(text,text,text)')::text") == \
        "cron.schedule(text,text,text)"  # still pg_cron's
    assert sql_value(cron_pg.dsn(), "SELECT count(*) FROM cron.rowsched_migration "
                                    "WHERE name = '011_pg_cron_compat.sql'") == 0


def test_a_run_records_its_command_and_shows_in_job_run_details(migrated_db, start_daemon):
    sql(migrated_db, "SELECT schedule('every-second', '1 seconds', $$SELECT 'tick'$$)")
    sql(migrated_db, "SELECT schedule('failing', '1 seconds', 'SELECT 1/0')")
    sql(migrated_db, "SELECT schedule('bad', '0 0 $ *', 'SELECT 1')")  # accepted here, refused by the daemon
    start_daemon(migrated_db)
    assert wait_until(lambda: sql(migrated_db, "SELECT last_error FROM job_info WHERE job_id = 'bad' "
                                               "AND state = 'invalid'"), what="bad to be invalid")[0][0] == (
        'trigger_kwargs.crontab: "0 0 $ *" has 4 fields; expected 5 (minute hour day-of-month month day-of-week), '
        '6 (second first), a macro (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly) or '
        '"N seconds" (1-59)')
    wait_until(lambda: sql(migrated_db, "SELECT 1 FROM job_run_details WHERE jobid = 'every-second' AND "
                                        "status = 'succeeded'") and
               sql(migrated_db, "SELECT 1 FROM job_run_details WHERE jobid = 'failing' AND status = 'failed'"),
               what="a succeeded and a failed run")
    me = sql_value(migrated_db, "SELECT current_user")
    db = sql_value(migrated_db, "SELECT current_database()")
    ok = sql(migrated_db, "SELECT database, username, command, start_time <= end_time, job_pid, runid > 0 "
                          "FROM job_run_details WHERE jobid = 'every-second' AND status = 'succeeded' LIMIT 1")[0]
    assert ok == (db, me, "SELECT 'tick'", True, None, True)
    failed = sql(migrated_db, "SELECT command, return_message FROM job_run_details "
                              "WHERE jobid = 'failing' AND status = 'failed' LIMIT 1")[0]
    assert failed[0] == "SELECT 1/0" and "division by zero" in failed[1]
    assert sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE command IS NULL") == 0


def test_job_run_details_speaks_pg_cron_statuses_and_keeps_rowsched_s(migrated_db):
    sql(migrated_db, "SELECT schedule('j', '* * * * *', 'SELECT 1')")
    sql(migrated_db, """INSERT INTO job_run (job_id, scheduled_for, instance, status, started_at, finished_at, output,
                                             error, command)
                        VALUES ('j', '2030-01-01T00:00:00Z', 'i', 'succeeded', now(), now(), 'SELECT 1', NULL, 'SELECT 1'),
                               ('j', '2030-01-01T00:01:00Z', 'i', 'timeout', now(), now(), NULL, 'ran 5 s', 'SELECT 1'),
                               ('j', '2030-01-01T00:02:00Z', 'i', 'skipped', now(), now(), NULL, NULL, 'SELECT 1'),
                               ('j', '2030-01-01T00:03:00Z', 'i', 'failed', now(), now(), NULL, 'boom', 'SELECT 1')""")
    assert sql(migrated_db, "SELECT status, return_message, rowsched_status FROM job_run_details ORDER BY runid") == [
        ("succeeded", "SELECT 1", "succeeded"), ("failed", "timeout: ran 5 s", "timeout"),
        ("failed", "skipped", "skipped"), ("failed", "boom", "failed")]
    sql(migrated_db, "SELECT unschedule('j')")
    # The history outlives the job; who owned it is then unknown.
    assert sql(migrated_db, "SELECT DISTINCT jobid, username FROM job_run_details") == [("j", None)]


# --- import-pg-cron ------------------------------------------------------------------------------------------


def _roles(cron_pg):
    names = []
    for prefix in ("alice", "bob"):
        name = f"{prefix}_{os.urandom(4).hex()}"
        sql(cron_pg.dsn(), f"CREATE ROLE {quote_ident(name)} LOGIN")
        names.append(name)
    return names


def test_import_copies_the_jobs_of_several_users_and_reports_what_it_could_not(cron_db, cron_pg, rowsched_bin):
    dsn, schema = cron_db
    alice, bob = _roles(cron_pg)
    other_db = "other_" + os.urandom(4).hex()
    sql(dsn, f"CREATE DATABASE {other_db}")
    ids = {}
    ids["vacuum"] = sql_value(dsn, "SELECT cron.schedule('nightly-vacuum', '0 10 * * *', 'VACUUM')")
    ids["unnamed"] = sql_value(dsn, "SELECT cron.schedule('30 3 * * 6', $$DELETE FROM events$$)")
    ids["alice"] = sql_value(dsn, "SELECT cron.schedule_in_database('alice-report', '@daily', 'SELECT 1', "
                                  "'postgres', %s)", (alice,))
    ids["bob"] = sql_value(dsn, "SELECT cron.schedule_in_database('bob-paused', '*/5 * * * *', 'SELECT 2', "
                                "'postgres', %s, false)", (bob,))
    ids["other"] = sql_value(dsn, "SELECT cron.schedule_in_database('elsewhere', '0 1 * * 0', 'SELECT 3', %s)",
                             (other_db,))

    code, out, err = import_pg_cron(rowsched_bin, dsn, schema)
    assert code == 3, out + err
    lines = out.splitlines()
    assert lines[-1] == "4 copied, 0 already copied, 1 not copied"
    assert f'copied:         pg_cron job {ids["vacuum"]} "nightly-vacuum" of user "postgres" (0 10 * * *) -> ' \
           f'job_id "nightly-vacuum"' in lines
    assert f'copied:         pg_cron job {ids["unnamed"]} of user "postgres" (30 3 * * 6) -> ' \
           f'job_id "pg_cron-{ids["unnamed"]}"' in lines
    assert (f'not copied:     pg_cron job {ids["other"]} "elsewhere" of user "postgres" (0 1 * * 0): it runs in '
            f'database "{other_db}", not "postgres"; rowsched runs a job in the database of its job_info table: '
            f'install rowsched there and copy the job with cron.schedule\'s arguments') in lines
    rows = sql(dsn, f"SELECT job_id, func, func_args, trigger_kwargs, owner::text, is_paused "
                    f"FROM {schema}.job_info ORDER BY job_id")
    assert rows == [
        ("alice-report", "sql", ["SELECT 1"], {"crontab": "@daily", "timezone": "GMT"}, alice, False),
        ("bob-paused", "sql", ["SELECT 2"], {"crontab": "*/5 * * * *", "timezone": "GMT"}, bob, True),
        ("nightly-vacuum", "sql", ["VACUUM"], {"crontab": "0 10 * * *", "timezone": "GMT"}, "postgres", False),
        (f"pg_cron-{ids['unnamed']}", "sql", ["DELETE FROM events"], {"crontab": "30 3 * * 6", "timezone": "GMT"},
         "postgres", False),
    ]
    # pg_cron's jobs are untouched without --unschedule.
    assert sql_value(dsn, "SELECT count(*) FROM cron.job") == 5

    # Running it again copies nothing twice.
    code, out, _ = import_pg_cron(rowsched_bin, dsn, schema)
    assert code == 3 and out.splitlines()[-1] == "0 copied, 4 already copied, 1 not copied"
    assert sql_value(dsn, f"SELECT count(*) FROM {schema}.job_info") == 4

    # --unschedule removes from pg_cron what rowsched now has, and leaves the rest.
    code, out, _ = import_pg_cron(rowsched_bin, dsn, schema, "--unschedule")
    assert code == 3
    assert out.splitlines()[-1] == "0 copied, 4 already copied, 1 not copied, 4 unscheduled in pg_cron"
    assert sql(dsn, "SELECT jobname FROM cron.job") == [("elsewhere",)]
    assert sql_value(dsn, f"SELECT count(*) FROM {schema}.job_info") == 4
    sql(dsn, f"DROP DATABASE {other_db}")


def test_import_reports_a_taken_job_id_and_a_missing_role_and_copies_the_rest(cron_db, cron_pg, rowsched_bin):
    dsn, schema = cron_db
    (carol, _) = _roles(cron_pg)
    sql(with_schema(dsn, schema), "SELECT schedule('taken', '* * * * *', 'SELECT 0')")
    taken = sql_value(dsn, "SELECT cron.schedule('taken', '0 0 * * *', 'SELECT 1')")
    gone = sql_value(dsn, "SELECT cron.schedule_in_database('gone', '0 0 * * *', 'SELECT 1', 'postgres', %s)", (carol,))
    sql(dsn, f"DROP ROLE {carol}")
    fine = sql_value(dsn, "SELECT cron.schedule('fine', '0 0 * * *', 'SELECT 1')")
    reboot = sql_value(dsn, "SELECT cron.schedule('at-start', '@reboot', 'SELECT 1')")
    remote = sql_value(dsn, "SELECT cron.schedule('remote', '0 0 * * *', 'SELECT 1')")
    sql(dsn, "UPDATE cron.job SET nodename = 'db2.example.com', nodeport = 5433 WHERE jobid = %s", (remote,))
    code, out, _ = import_pg_cron(rowsched_bin, dsn, schema, "--unschedule")
    assert code == 3, out
    lines = out.splitlines()
    assert lines[-1] == "1 copied, 0 already copied, 4 not copied, 1 unscheduled in pg_cron", out
    assert (f'not copied:     pg_cron job {reboot} "at-start" of user "postgres" (@reboot): its schedule cannot be '
            f'read by rowsched: trigger_kwargs.crontab: "@reboot" is not supported: rowsched does not run jobs when a '
            f'server starts; allowed macros: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly') in lines
    assert (f'not copied:     pg_cron job {remote} "remote" of user "postgres" (0 0 * * *): it runs on another server '
            f'(db2.example.com:5433); rowsched runs jobs on the server of its job_info table') in lines
    assert (f'not copied:     pg_cron job {taken} "taken" of user "postgres" (0 0 * * *): job_id "taken" is already '
            f'taken by another job_info row; rename one of the two and import again') in lines
    assert (f'not copied:     pg_cron job {gone} "gone" of user "{carol}" (0 0 * * *): job_info.owner: role '
            f'"{carol}" does not exist') in lines
    assert sql(dsn, "SELECT jobid FROM cron.job ORDER BY jobid") == [(taken,), (gone,), (reboot,), (remote,)]
    assert sql_value(dsn, f"SELECT func_args FROM {schema}.job_info WHERE job_id = 'taken'") == ["SELECT 0"]
    assert fine


def test_import_does_not_take_another_roles_row_with_the_import_marker_for_the_copy_of_a_pg_cron_job(
        cron_db, cron_pg, rowsched_bin):
    dsn, schema = cron_db
    alice, bob = _roles(cron_pg)
    bobs = sql_value(dsn, "SELECT cron.schedule_in_database('nightly', '0 0 * * *', 'SELECT 2', 'postgres', %s)", (bob,))
    sql(dsn, f"GRANT USAGE ON SCHEMA {schema} TO {quote_ident(alice)}; "
             f"GRANT SELECT, INSERT ON {schema}.job_info TO {quote_ident(alice)}")
    sql(with_schema(dsn_with(dsn, user=alice), schema),
        "INSERT INTO job_info (job_id, func, func_args, trigger_kwargs, description) "
        "VALUES ('nightly', 'sql', '[\"SELECT 1\"]', '{\"crontab\": \"0 0 * * *\"}', %s)",
        (f"imported from pg_cron job {bobs} (forged)",))
    code, out, _ = import_pg_cron(rowsched_bin, dsn, schema, "--unschedule")
    assert code == 3, out
    assert out.splitlines()[-1] == "0 copied, 0 already copied, 1 not copied, 0 unscheduled in pg_cron", out
    assert 'job_id "nightly" is already taken by another job_info row' in out
    assert sql(dsn, "SELECT jobid, username FROM cron.job") == [(bobs, bob)]


def test_import_without_pg_cron_or_without_rowsched_says_what_to_do(cron_pg, migrated_db, rowsched_bin):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    here = sql_value(migrated_db, "SELECT current_database()")
    code, out, err = import_pg_cron(rowsched_bin, migrated_db, "public")
    assert code == 1 and out == ""
    assert (f'database \\"{here}\\" has no table cron.job; connect (--dsn) to the database named by pg_cron\'s '
            f'cron.database_name setting' in err) or (f'database "{here}" has no table cron.job' in err), err
    code, out, err = import_pg_cron(rowsched_bin, cron_pg.dsn(), "no_rowsched_here")
    assert code == 1
    assert 'has no table "no_rowsched_here"."job_info"; run `rowsched migrate` with the same --dsn and --schema' in err


def test_job_run_details_shows_a_role_only_the_runs_of_jobs_it_may_see(migrated_db, make_role):
    alice, bob = make_role("alice"), make_role("bob")
    sql(migrated_db, f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {alice}, {bob}")
    sql(dsn_with(migrated_db, user=alice), "SELECT schedule('hers', '* * * * *', 'SELECT 1')")
    sql(dsn_with(migrated_db, user=bob), "SELECT schedule('his', '* * * * *', 'SELECT 2')")
    sql(migrated_db, """INSERT INTO job_run (job_id, scheduled_for, instance, status, command)
                        VALUES ('hers', '2030-01-01T00:00:00Z', 'i', 'succeeded', 'SELECT 1'),
                               ('his', '2030-01-01T00:00:00Z', 'i', 'succeeded', 'SELECT 2')""")
    assert sql(dsn_with(migrated_db, user=alice), "SELECT jobid, username, command FROM job_run_details") == [
        ("hers", alice, "SELECT 1")]
    assert sql(dsn_with(migrated_db, user=bob), "SELECT jobid, username, command FROM job_run_details") == [
        ("his", bob, "SELECT 2")]
    assert sql_value(migrated_db, "SELECT count(*) FROM job_run_details") == 2
