"""The layout of sql/ (sql/definitions/README.md, docs/sql-contract.md "Migrations"): numbered
migrations applied once, the current definitions of every function, trigger, view and policy
re-applied by every migrate. Migrating twice (with rowsched or with the documented psql commands)
leaves exactly one of each trigger; an upgrade from a database migrated by 115911a (its sql/ frozen
in tests/fixtures/sql-115911a) keeps the rows and ends with the catalog of a fresh migrate; the
allowed trigger_kwargs keys of the daemon (C++) and of the table trigger (SQL) cannot drift; the
daemon refuses definitions older than its own, and `migrate` refuses a schema a newer rowsched made."""

import json
import re
from pathlib import Path

import pytest

from conftest import (create_database, definition_files, definitions_record_name, drop_database, migrate_with_rowsched,
                      migration_files, numbered_migration_files, psql, sql, sql_value)
from daemon import Daemon, wait_until
from test_operations import binary, run_cli  # noqa: F401 (fixture)

FIXTURE_115911A = Path(__file__).resolve().parents[1] / "fixtures" / "sql-115911a"

# job_info's and job_run's triggers and the function each executes, as sql/definitions/20_... lists them.
TRIGGERS = [
    ("job_info", "job_info_before_delete", "job_info_before_delete"),
    ("job_info", "job_info_stamp_update", "rowsched_stamp_run_right_now"),
    ("job_info", "rowsched_before_insert", "job_info_before_insert"),
    ("job_info", "rowsched_before_update", "job_info_before_update"),
    ("job_info", "rowsched_notify_delete", "job_info_notify_rows"),
    ("job_info", "rowsched_notify_insert", "job_info_notify_rows"),
    ("job_info", "rowsched_notify_truncate", "job_info_notify_truncate"),
    ("job_info", "rowsched_notify_update", "job_info_notify"),
    ("job_run", "rowsched_notify_queued", "rowsched_notify_queued"),
]


def triggers(dsn, schema="public"):
    return sql(dsn, "SELECT c.relname, t.tgname, p.proname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal AND c.relnamespace = %s::regnamespace "
                    "ORDER BY 1, 2", (schema,))


def trigger_counts_by_function(dsn):
    return dict(sql(dsn, "SELECT p.proname, count(*) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
                         "WHERE t.tgrelid = 'job_info'::regclass AND NOT t.tgisinternal GROUP BY 1"))


def migrate_with_documented_psql(dsn):
    """docs/sql-contract.md: every numbered file, then every definitions file, each with psql -1 -f."""
    for path in migration_files():
        psql(dsn, "-1", "-f", str(path))


def migrate_like_115911a(dsn):
    """What `rowsched migrate` of 115911a did: each file in its own transaction, recorded by name."""
    for path in sorted(FIXTURE_115911A.glob("*.sql")):
        psql(dsn, "--single-transaction", "-c", "SET LOCAL search_path = public, pg_catalog", "-f", str(path),
             "-c", f"INSERT INTO rowsched_migration (name) VALUES ('{path.name}') ON CONFLICT DO NOTHING")


CATALOG = {
    "functions": "SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', pg_get_functiondef(p.oid) "
                 "FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace",
    "triggers": "SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace",
    "views": "SELECT c.relname, pg_get_viewdef(c.oid), c.reloptions::text FROM pg_class c "
             "WHERE c.relkind = 'v' AND c.relnamespace = 'public'::regnamespace",
    "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "policies": "SELECT tablename, policyname, cmd, roles::text, qual, with_check FROM pg_policies WHERE schemaname = 'public'",
    "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                   "WHERE connamespace = 'public'::regnamespace",
    "columns": "SELECT table_name, ordinal_position, column_name, data_type, column_default, is_nullable "
               "FROM information_schema.columns WHERE table_schema = 'public'",
    "tables": "SELECT relname, relkind, reloptions::text, relrowsecurity FROM pg_class "
              "WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')",
}


def catalog(dsn):
    return {what: sorted(tuple(str(v) for v in row) for row in sql(dsn, query)) for what, query in CATALOG.items()}


def assert_same_catalog(upgraded, fresh):
    a, b = catalog(upgraded), catalog(fresh)
    for what in CATALOG:
        assert a[what] == b[what], f"{what} differ: only upgraded {sorted(set(a[what]) - set(b[what]))}, " \
                                   f"only fresh {sorted(set(b[what]) - set(a[what]))}"


def plant_rows(dsn):
    sql(dsn, "INSERT INTO job_info (job_id, func, trigger_kwargs, description) VALUES "
             "('kept', 'log', '{\"trigger\": \"interval\", \"seconds\": 60}', 'from 115911a'), "
             "('worker', 'app.tasks:report', '{\"trigger\": \"cron\", \"minute\": 5, \"queue\": \"reports\"}', NULL)")
    sql(dsn, "INSERT INTO job_run (job_id, scheduled_for, instance, status, finished_at) "
             "VALUES ('kept', '2026-01-01T00:00:00Z', 'old', 'succeeded', '2026-01-01T00:00:01Z')")
    return rows(dsn)


def rows(dsn):
    return (sql(dsn, "SELECT job_id, func, trigger_kwargs, description, version, create_time FROM job_info ORDER BY 1"),
            sql(dsn, "SELECT run_id, job_id, scheduled_for, status FROM job_run ORDER BY 1"))


# --- One of each trigger ------------------------------------------------------------------------------


def test_rowsched_migrate_twice_leaves_exactly_one_of_each_trigger(db, binary):
    for _ in range(2):
        migrate_with_rowsched(binary, db)
    assert triggers(db) == TRIGGERS
    assert trigger_counts_by_function(db) == {"job_info_before_delete": 1, "rowsched_stamp_run_right_now": 1,
                                              "job_info_before_insert": 1, "job_info_before_update": 1,
                                              "job_info_notify_rows": 2, "job_info_notify_truncate": 1,
                                              "job_info_notify": 1}


def test_the_documented_psql_commands_twice_leave_exactly_one_of_each_trigger(db):
    for _ in range(2):
        migrate_with_documented_psql(db)
    assert triggers(db) == TRIGGERS
    assert sql_value(db, "SELECT count(*) FROM rowsched_migration") == 0  # psql records nothing


def test_an_old_trigger_file_run_by_hand_is_undone_by_the_next_migrate(db, binary):
    migrate_with_rowsched(binary, db)
    # What docs/sql-contract.md used to invite: re-running 002 (and 004) by hand installed a second
    # validating and a second notifying trigger beside the current ones.
    psql(db, "-f", str(FIXTURE_115911A / "002_job_info_triggers.sql"), "-f", str(FIXTURE_115911A / "004_run_now_identity.sql"))
    assert len(triggers(db)) > len(TRIGGERS)
    migrate_with_rowsched(binary, db)
    assert triggers(db) == TRIGGERS
    assert sql_value(db, "SELECT to_regprocedure('job_info_before_write()')") is None


# --- Upgrade from 115911a -----------------------------------------------------------------------------


def test_an_upgrade_by_rowsched_from_115911a_keeps_the_rows_and_ends_with_the_catalog_of_a_fresh_migrate(pg, db, binary):
    migrate_like_115911a(db)
    before = plant_rows(db)
    migrate_with_rowsched(binary, db)
    assert rows(db) == before
    fresh = create_database(pg)
    try:
        migrate_with_rowsched(binary, pg.dsn(fresh))
        assert_same_catalog(db, pg.dsn(fresh))
    finally:
        drop_database(pg, fresh)
    assert [r[0] for r in sql(db, "SELECT name FROM rowsched_migration ORDER BY name")] == \
        [p.name for p in numbered_migration_files()] + [definitions_record_name()]


def test_an_upgrade_by_psql_from_115911a_keeps_the_rows_and_ends_with_the_catalog_of_a_fresh_migrate(pg, db):
    for path in sorted(FIXTURE_115911A.glob("*.sql")):
        psql(db, "-1", "-f", str(path))
    before = plant_rows(db)
    migrate_with_documented_psql(db)
    assert rows(db) == before
    fresh = create_database(pg)
    try:
        migrate_with_documented_psql(pg.dsn(fresh))
        assert_same_catalog(db, pg.dsn(fresh))
    finally:
        drop_database(pg, fresh)


# --- The allowed trigger_kwargs keys: one list ---------------------------------------------------------

KINDS = ("cron", "crontab", "interval", "date", "calendarinterval")


def cpp_problem(binary, kwargs):
    """What the daemon's parser (C++) says of a trigger_kwargs, through `rowsched next`."""
    done = run_cli(binary, "next", "--count", "1", "--from", "2026-01-01T00:00:00Z", json.dumps(kwargs))
    return done.stderr + done.stdout if done.returncode != 0 else None


def key_list_drift(dsn, binary):
    """Where the daemon's keys and the installed SQL's differ, as readable lines (empty: none)."""
    def sql_keys(kind):
        return sql_value(dsn, "SELECT rowsched_trigger_kwargs_keys(%s)", (kind,))

    drift = []
    options = sql_keys("job_options")
    for kind in KINDS:
        kwargs = {"crontab": "* * * * *"} if kind == "crontab" else {"trigger": kind}
        kwargs["zz_not_a_key"] = 1
        named = "cron" if kind == "crontab" else kind
        expected = ", ".join(sql_keys(kind) + options)
        sql_says = sql_value(dsn, "SELECT job_info_trigger_kwargs_problem(%s)", (json.dumps(kwargs),))
        cpp_says = cpp_problem(binary, kwargs) or ""
        for side, said in (("SQL", sql_says), ("C++", cpp_says)):
            allowed = re.search(rf'unknown key "zz_not_a_key" for trigger "{named}"; allowed: ([a-z_, ]+)', said)
            if not allowed or allowed.group(1) != expected:
                says = allowed.group(1) if allowed else repr(said)
                drift.append(f"{kind}: {side} allows {says}; rowsched_trigger_kwargs_keys: {expected}")
    for field in sql_keys("cron_fields"):
        said = cpp_problem(binary, {"crontab": "* * * * *", field: "1"}) or ""
        if f'"crontab" cannot be combined with cron field "{field}"' not in said:
            drift.append(f"cron_fields: C++ combines crontab with {field}: {said!r}")
    return drift


def test_the_daemon_and_the_table_trigger_allow_the_same_trigger_kwargs_keys(migrated_db, binary):
    assert key_list_drift(migrated_db, binary) == []


def test_the_key_comparison_fails_when_the_sql_list_is_changed_alone(migrated_db, binary):
    # The SQL side mutated (as an edit of sql/definitions without a rebuild would): the comparison says so.
    definition = sql_value(migrated_db, "SELECT pg_get_functiondef('rowsched_trigger_kwargs_keys(text)'::regprocedure)")
    sql(migrated_db, definition.replace("{run_date,timezone}", "{run_date,timezone,fortnight}"))
    drift = key_list_drift(migrated_db, binary)
    assert drift == ["date: C++ allows run_date, timezone, misfire_grace_time, coalesce, max_instances, next_run_time, "
                     "timeout, retries, retry_delay, queue; rowsched_trigger_kwargs_keys: run_date, timezone, fortnight, "
                     "misfire_grace_time, coalesce, max_instances, next_run_time, timeout, retries, retry_delay, queue"]


def test_the_key_list_in_sql_is_the_one_the_cmake_generator_reads():
    text = (Path(__file__).resolve().parents[2] / "sql" / "definitions" / "10_trigger_kwargs.sql").read_text()
    body = text.split("rowsched:trigger_kwargs_keys begin")[1].split("-- rowsched:trigger_kwargs_keys end")[0]
    entries = [line for line in body.splitlines()[1:] if line.strip()]
    assert entries and all(re.fullmatch(r"\s*WHEN '[a-z_]+' THEN '\{[a-z_,]+\}'::text\[\]", line) for line in entries)


# --- The definitions recorded; newer and older schemas ---------------------------------------------------


def test_a_migrate_records_the_hash_of_the_definitions_it_applied(db, binary):
    done = run_cli(binary, "migrate", "--dsn", db)
    assert done.returncode == 0, done.stderr
    assert f"applied migration {definitions_record_name()}" in done.stderr + done.stdout
    again = run_cli(binary, "migrate", "--dsn", db)
    assert "schema public is up to date" in again.stderr + again.stdout
    assert sql_value(db, "SELECT count(*) FROM rowsched_migration WHERE name LIKE 'definitions-%%'") == 1


def test_a_daemon_refuses_definitions_older_than_its_own_and_names_the_fix(migrated_db, binary, tmp_path):
    sql(migrated_db, "UPDATE rowsched_migration SET name = 'definitions-0000000000000000' WHERE name = %s",
        (definitions_record_name(),))
    d = Daemon(binary, migrated_db, tmp_path).start()
    try:
        wait_until(lambda: f"migration {definitions_record_name()} is not applied" in d.log(),
                   what="the daemon naming the definitions to apply")
        assert "rowsched migrate --dsn" in d.log()
    finally:
        d.stop()
    assert run_cli(binary, "migrate", "--dsn", migrated_db).returncode == 0
    assert sql_value(migrated_db, "SELECT count(*) FROM rowsched_migration WHERE name = %s",
                     (definitions_record_name(),)) == 1


def test_migrate_refuses_a_schema_migrated_by_a_newer_rowsched(migrated_db, binary):
    sql(migrated_db, "INSERT INTO rowsched_migration (name) VALUES ('999_from_the_future.sql')")
    done = run_cli(binary, "migrate", "--dsn", migrated_db)
    assert done.returncode == 1
    assert "was migrated by a newer rowsched: it has migration 999_from_the_future.sql" in done.stderr + done.stdout
    assert "migrate with the newer rowsched" in done.stderr + done.stdout


def test_definition_files_hold_only_definitions_and_no_transaction_control():
    for path in definition_files():
        code = re.sub(r"--[^\n]*", "", path.read_text())
        assert re.fullmatch(r"\d{2}_[a-z0-9_]+\.sql", path.name), path.name
        assert not re.search(r"^\s*\\", code, re.M), f"{path.name}: psql meta-command"
        assert not re.search(r"\b(BEGIN|COMMIT|ROLLBACK)\s*;", code, re.I), f"{path.name}: transaction control"
        assert not re.search(r"\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX)\b", code, re.I), f"{path.name}: a table change"
        assert not re.search(r"\bCREATE\s+(FUNCTION|VIEW|TRIGGER)\b", code, re.I), f"{path.name}: not OR REPLACE"


def test_numbered_migrations_hold_no_function_trigger_view_or_policy():
    for path in numbered_migration_files():
        code = re.sub(r"--[^\n]*", "", path.read_text())
        assert not re.search(r"\bCREATE\s+(OR\s+REPLACE\s+)?(FUNCTION|TRIGGER|VIEW|POLICY)\b", code, re.I), \
            f"{path.name}: a definition belongs in sql/definitions/"
