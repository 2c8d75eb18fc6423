"""The table contract of sql/, driven by SQL as a user would: what job_info accepts and rejects (with
the exact message), what its triggers stamp, which writes notify and with what payload, job_run as the
claim, and migrations that run twice, with psql or `rowsched migrate`, in any schema.
docs/sql-contract.md is the prose version of these tests."""

import json
import re

import psycopg2
import psycopg2.errorcodes
import pytest
from psycopg2.extras import Json

from conftest import (dsn_with, migrate_with_rowsched, migration_files, psql, quote_ident, recorded_names, sql,
                      sql_value)

OPTIONS = "misfire_grace_time, coalesce, max_instances, next_run_time, timeout, retries, retry_delay, queue"
ALLOWED = {
    "cron": "year, month, day, week, day_of_week, hour, minute, second, start_date, end_date, timezone, jitter",
    "crontab": "crontab, start_date, end_date, timezone, jitter",
    "interval": "weeks, days, hours, minutes, seconds, start_date, end_date, timezone, jitter",
    "date": "run_date, timezone",
    "calendarinterval": "years, months, weeks, days, hour, minute, second, start_date, end_date, timezone",
}
EVERY_MINUTE = {"trigger": "cron", "minute": "*"}
DAEMON_COLUMNS = ("next_run_time", "is_running", "state", "last_error", "last_run_time", "last_status",
                  "run_count", "failure_count")


def _adapt(value):
    return Json(value) if isinstance(value, (dict, list)) else value


def insert_job(dsn, job_id="job", func="log", trigger_kwargs=None, schema=None, **columns):
    """Inserts one job_info row (trigger_kwargs defaults to every minute) and returns it as a dict."""
    columns = {"job_id": job_id, "func": func,
               "trigger_kwargs": EVERY_MINUTE if trigger_kwargs is None else trigger_kwargs, **columns}
    columns = {k: v for k, v in columns.items() if v is not ...}  # `...` leaves a column to its default
    table = f"{quote_ident(schema)}.job_info" if schema else "job_info"
    names = ", ".join(columns)
    marks = ", ".join(["%s"] * len(columns))
    return _as_dict(dsn, f"INSERT INTO {table} ({names}) VALUES ({marks}) RETURNING *",
                    [_adapt(v) for v in columns.values()])


def update_job(dsn, which="job", /, **columns):
    """Updates columns of the job named `which` and returns the row as a dict."""
    sets = ", ".join(f"{k} = %s" for k in columns)
    return _as_dict(dsn, f"UPDATE job_info SET {sets} WHERE job_id = %s RETURNING *",
                    [_adapt(v) for v in columns.values()] + [which])


def job(dsn, job_id="job"):
    return _as_dict(dsn, "SELECT * FROM job_info WHERE job_id = %s", [job_id])


def _as_dict(dsn, query, params):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        row = cur.fetchone()
        names = [d.name for d in cur.description]
    conn.close()
    return dict(zip(names, row)) if row else None


def rejection(write, *args, **kwargs):
    """The database error that `write(*args, **kwargs)` must raise."""
    with pytest.raises(psycopg2.Error) as caught:
        write(*args, **kwargs)
    return caught.value


def insert_message(dsn, **columns):
    """The message with which job_info refuses the row; asserts that it is a check_violation."""
    error = rejection(insert_job, dsn, **columns)
    assert error.pgcode == psycopg2.errorcodes.CHECK_VIOLATION, error.pgerror
    return error.diag.message_primary


def kwargs_message(dsn, trigger_kwargs):
    return insert_message(dsn, trigger_kwargs=trigger_kwargs)


# --- Structural validation -------------------------------------------------------------------------


def test_a_job_id_longer_than_200_characters_is_rejected_with_its_length(shared_migrated_db):
    assert insert_message(shared_migrated_db, job_id="x" * 201) == "job_info.job_id: must be 1-200 characters, got 201"


def test_an_empty_job_id_is_rejected(shared_migrated_db):
    assert insert_message(shared_migrated_db, job_id="") == "job_info.job_id: must be 1-200 characters, got 0"


def test_a_job_id_of_200_characters_even_multibyte_ones_is_accepted(shared_migrated_db):
    assert insert_job(shared_migrated_db, job_id="é" * 200)["job_id"] == "é" * 200


def test_a_job_without_a_job_id_is_named_by_a_random_uuid(shared_migrated_db):
    row = insert_job(shared_migrated_db, job_id=...)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", row["job_id"])


@pytest.mark.parametrize("func", ["", "   "])
def test_an_empty_func_is_rejected(shared_migrated_db, func):
    assert insert_message(shared_migrated_db, func=func) == "job_info.func: must not be empty"


def test_a_missing_func_is_rejected_by_not_null(shared_migrated_db):
    error = rejection(insert_job, shared_migrated_db, func=...)
    assert error.pgcode == psycopg2.errorcodes.NOT_NULL_VIOLATION


@pytest.mark.parametrize("args,kind", [({"a": 1}, "object"), ("x", "string"), (5, "number")])
def test_func_args_must_be_a_json_array(shared_migrated_db, args, kind):
    message = insert_message(shared_migrated_db, func_args=Json(args))
    assert message == f"job_info.func_args: must be a JSON array, got {kind}"


def test_func_args_and_trigger_kwargs_default_to_an_empty_list_and_a_run_once_now_schedule(shared_migrated_db):
    # {} is APScheduler's add_job without a trigger: a date trigger that runs once, now.
    row = insert_job(shared_migrated_db, func_args=..., trigger_kwargs=...)
    assert row["func_args"] == [] and row["trigger_kwargs"] == {}


@pytest.mark.parametrize("kwargs,kind", [([1, 2], "array"), ("cron", "string"), (None, "null")])
def test_trigger_kwargs_must_be_a_json_object(shared_migrated_db, kwargs, kind):
    assert kwargs_message(shared_migrated_db, Json(kwargs)) == f"job_info.trigger_kwargs: must be a JSON object, got {kind}"


def test_an_unknown_trigger_is_rejected_with_the_allowed_triggers(shared_migrated_db):
    assert kwargs_message(shared_migrated_db, {"trigger": "crn"}) == (
        'job_info.trigger_kwargs: unknown trigger "crn"; allowed: cron, interval, date, calendarinterval')


def test_trigger_names_are_case_sensitive_as_in_apscheduler(shared_migrated_db):
    assert kwargs_message(shared_migrated_db, {"trigger": "Cron"}).startswith('job_info.trigger_kwargs: unknown trigger "Cron"')


def test_a_trigger_that_is_not_a_string_is_rejected(shared_migrated_db):
    assert kwargs_message(shared_migrated_db, {"trigger": 5}) == (
        "job_info.trigger_kwargs.trigger: 5 is a number; allowed: cron, interval, date, calendarinterval")


@pytest.mark.parametrize("kwargs,key", [({"hour": 3}, "hour"), ({"trigger": None, "minute": 5}, "minute")])
def test_trigger_kwargs_without_trigger_or_crontab_is_a_date_trigger_as_in_apscheduler(shared_migrated_db, kwargs, key):
    assert kwargs_message(shared_migrated_db, kwargs) == (
        f'job_info.trigger_kwargs: unknown key "{key}" for trigger "date"; allowed: run_date, timezone, '
        'misfire_grace_time, coalesce, max_instances, next_run_time, timeout, retries, retry_delay, queue')


@pytest.mark.parametrize("kwargs", [
    {"crontab": "*/5 * * * *"},
    {"trigger": "cron", "crontab": "0 3 * * 0", "timezone": "Asia/Shanghai", "jitter": 5},
    {"trigger": None, "crontab": "@hourly", "start_date": "2024-01-01", "end_date": "2025-01-01"},
])
def test_a_crontab_alone_or_with_trigger_cron_is_a_cron_schedule(shared_migrated_db, kwargs):
    assert insert_job(shared_migrated_db, trigger_kwargs=kwargs)["trigger_kwargs"] == kwargs


def test_a_crontab_cannot_be_combined_with_cron_fields(shared_migrated_db):
    assert kwargs_message(shared_migrated_db, {"crontab": "* * * * *", "minute": 5, "hour": 2}) == (
        'job_info.trigger_kwargs: "crontab" cannot be combined with cron field "hour"')


def test_a_crontab_must_be_a_string(shared_migrated_db):
    assert kwargs_message(shared_migrated_db, {"crontab": 5}) == (
        'job_info.trigger_kwargs.crontab: 5 is a number; allowed: a crontab string such as "*/5 * * * *"')


def test_an_unknown_cron_key_is_rejected_with_every_allowed_key(shared_migrated_db):
    assert kwargs_message(shared_migrated_db, {"trigger": "cron", "minuts": 5}) == (
        'job_info.trigger_kwargs: unknown key "minuts" for trigger "cron"; allowed: year, month, day, week, '
        "day_of_week, hour, minute, second, start_date, end_date, timezone, jitter, misfire_grace_time, coalesce, "
        "max_instances, next_run_time, timeout, retries, retry_delay, queue")


def test_of_several_unknown_keys_the_first_in_alphabetical_order_is_named(shared_migrated_db):
    message = kwargs_message(shared_migrated_db, {"trigger": "interval", "zz": 1, "minuts": 1, "b": 2, "seconds": 5})
    assert message.startswith('job_info.trigger_kwargs: unknown key "b" for trigger "interval"')


@pytest.mark.parametrize("trigger", ["cron", "crontab", "interval", "date", "calendarinterval"])
def test_each_trigger_lists_its_own_keys_then_the_job_options(shared_migrated_db, trigger):
    kwargs = {"crontab": "* * * * *"} if trigger == "crontab" else {"trigger": trigger}
    name = "cron" if trigger == "crontab" else trigger
    assert kwargs_message(shared_migrated_db, {**kwargs, "bogus": 1}) == (
        f'job_info.trigger_kwargs: unknown key "bogus" for trigger "{name}"; allowed: {ALLOWED[trigger]}, {OPTIONS}')


@pytest.mark.parametrize("trigger", ["cron", "crontab", "interval", "date", "calendarinterval"])
def test_each_trigger_accepts_every_key_it_lists(shared_migrated_db, trigger):
    kwargs = {"crontab": "* * * * *"} if trigger == "crontab" else {"trigger": trigger}
    for key in ALLOWED[trigger].split(", "):
        kwargs.setdefault(key, "1")
    kwargs.update({"misfire_grace_time": 30, "coalesce": False, "max_instances": 3, "next_run_time": "now",
                   "timeout": 1.5, "retries": 2, "retry_delay": 10})
    if "jitter" in kwargs:
        kwargs["jitter"] = 5
    assert insert_job(shared_migrated_db, trigger_kwargs=kwargs)["trigger_kwargs"] == kwargs


def test_a_key_of_another_trigger_is_unknown(shared_migrated_db):
    assert kwargs_message(shared_migrated_db, {"trigger": "date", "run_date": "2030-01-01", "hour": 3}).startswith(
        'job_info.trigger_kwargs: unknown key "hour" for trigger "date"; allowed: run_date, timezone, ')


@pytest.mark.parametrize("key,value,message", [
    ("coalesce", "yes", '"yes" is a string; allowed: true or false'),
    ("max_instances", 0, "0 is out of range; allowed: an integer >= 1"),
    ("max_instances", 1.5, "1.5 is not an integer; allowed: an integer >= 1"),
    ("max_instances", "2", '"2" is a string; allowed: an integer >= 1'),
    ("retries", -1, "-1 is out of range; allowed: an integer >= 0"),
    ("misfire_grace_time", -5, "-5 is out of range; allowed: a number of seconds >= 0 or null"),
    ("misfire_grace_time", "60", '"60" is a string; allowed: a number of seconds >= 0 or null'),
    ("timeout", 0, "0 is out of range; allowed: a number of seconds > 0 or null"),
    ("retry_delay", -0.5, "-0.5 is out of range; allowed: a number of seconds >= 0"),
    ("retry_delay", [1], "[1] is an array; allowed: a number of seconds >= 0"),
    ("jitter", {"s": 1}, '{"s": 1} is an object; allowed: a number of seconds >= 0 or null'),
    ("next_run_time", 17, '17 is a number; allowed: "now" or a timestamp string such as "2024-01-31 09:00:00"'),
])
def test_a_job_option_of_the_wrong_type_or_range_is_rejected_naming_key_value_and_what_is_allowed(
        shared_migrated_db, key, value, message):
    assert kwargs_message(shared_migrated_db, {**EVERY_MINUTE, key: value}) == f"job_info.trigger_kwargs.{key}: {message}"


def test_a_long_bad_value_is_cut_in_the_message(shared_migrated_db):
    message = kwargs_message(shared_migrated_db, {**EVERY_MINUTE, "coalesce": "x" * 500})
    assert message == 'job_info.trigger_kwargs.coalesce: "' + "x" * 76 + '... is a string; allowed: true or false'


@pytest.mark.parametrize("options", [
    {"misfire_grace_time": None, "coalesce": None, "max_instances": None, "next_run_time": None,
     "timeout": None, "retries": None, "retry_delay": None, "jitter": None},
    {"misfire_grace_time": 0, "max_instances": 1, "retries": 0, "retry_delay": 0, "jitter": 0, "timeout": 0.001},
    {"max_instances": 2.0, "coalesce": True, "next_run_time": "2030-01-01 00:00:00"},
])
def test_job_options_at_their_limits_or_null_are_accepted(shared_migrated_db, options):
    insert_job(shared_migrated_db, trigger_kwargs={**EVERY_MINUTE, **options})


@pytest.mark.parametrize("kwargs", [
    {"trigger": "cron", "hour": "*/2", "minute": 0},
    {"trigger": "cron", "day_of_week": "mon-fri", "hour": 9, "minute": 30, "next_run_time": "now"},
    {"trigger": "interval", "seconds": 30},
    {"trigger": "interval", "minutes": 5, "start_date": "2019-09-12 10:00:00"},
    {"trigger": "date", "run_date": "2019-09-12 10:00:00"},
    {"trigger": "cron", "second": "*/10", "misfire_grace_time": 1000, "coalesce": True, "max_instances": 1},
])
def test_rows_written_for_the_apscheduler_django_setup_are_accepted_unchanged(shared_migrated_db, kwargs):
    row = insert_job(shared_migrated_db, func="scheduler_jobs.tasks:test", func_args=["a", 1], trigger_kwargs=kwargs)
    assert row["trigger_kwargs"] == kwargs and row["state"] == "pending"


def test_deeper_checks_are_left_to_the_daemon(shared_migrated_db):
    kwargs = {"trigger": "cron", "hour": "25", "timezone": "Mars/Olympus", "start_date": "yesterday"}
    assert insert_job(shared_migrated_db, trigger_kwargs=kwargs)["trigger_kwargs"] == kwargs


def test_errors_name_the_column_the_table_and_the_schema(shared_migrated_db):
    error = rejection(insert_job, shared_migrated_db, trigger_kwargs={"trigger": "crn"})
    assert (error.diag.column_name, error.diag.table_name, error.diag.schema_name) == \
        ("trigger_kwargs", "job_info", "public")


def test_an_update_is_validated_like_an_insert(shared_migrated_db):
    insert_job(shared_migrated_db)
    error = rejection(update_job, shared_migrated_db, trigger_kwargs={"trigger": "cron", "minuts": 1})
    assert error.diag.message_primary.startswith('job_info.trigger_kwargs: unknown key "minuts"')
    assert rejection(update_job, shared_migrated_db, job_id="").diag.message_primary == \
        "job_info.job_id: must be 1-200 characters, got 0"


def test_an_update_validates_only_the_columns_it_changes(shared_migrated_db):
    # A row written under older, looser rules (here: with the triggers bypassed) stays writable.
    with psycopg2.connect(shared_migrated_db) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        cur.execute("""INSERT INTO job_info (job_id, func, trigger_kwargs)
                       VALUES ('legacy', 'log', '{"trigger": "cron", "old_key": 1}')""")
    conn.close()
    assert update_job(shared_migrated_db, "legacy", state="invalid", next_run_time=None)["state"] == "invalid"
    assert update_job(shared_migrated_db, "legacy", description="still here")["version"] == 2
    assert rejection(update_job, shared_migrated_db, "legacy", trigger_kwargs={"trigger": "cron", "new_key": 1})


# The fast path of INSERT (006) accepts a row with a few cheap expressions and leaves everything else
# to job_info_trigger_kwargs_problem: both must agree on every value.

TRIGGER_FORMS = [{"trigger": "cron"}, {"crontab": "* * * * *"}, {"trigger": "cron", "crontab": "0 3 * * *"},
                 {"trigger": None, "crontab": "@daily"}, {"trigger": "interval"}, {"trigger": "date"}, {},
                 {"trigger": None}, {"trigger": "calendarinterval"}]
EVERY_KEY = sorted({k for keys in ALLOWED.values() for k in keys.split(", ")} | set(OPTIONS.split(", ")))
ODD_VALUES = [None, True, False, "x", "", -1, -0.5, 0, 0.5, 1, 1.5, 2.0, 3, 1e3, 10 ** 30, [], [1], {}, {"a": 1}]


def kwargs_cases():
    """Valid and invalid trigger_kwargs: the existing tests' values, every key under every trigger,
    every job option with values of every type and sign, and structural edge cases."""
    cases = [
        EVERY_MINUTE, {}, {"trigger": None}, {"trigger": "crn"}, {"trigger": "Cron"}, {"trigger": 5},
        {"trigger": True}, {"trigger": ["cron"]}, {"trigger": {"cron": 1}}, {"trigger": ""}, {"trigger": "crontab"},
        {"hour": 3}, {"trigger": None, "minute": 5}, {"crontab": 5}, {"crontab": None}, {"crontab": ["* * * * *"]},
        {"crontab": "* * * * *", "minute": 5, "hour": 2}, {"crontab": "* * * * *", "second": None},
        {"trigger": "interval", "crontab": "* * * * *"}, {"trigger": "date", "crontab": "* * * * *"},
        {"trigger": "cron", "minuts": 5}, {"trigger": "interval", "zz": 1, "minuts": 1, "b": 2, "seconds": 5},
        {"trigger": "interval", "": 1}, {"trigger": "interval", "Seconds": 1}, {"trigger": "interval", "seconds ": 1},
        {"trigger": "date", "run_date": "2030-01-01", "hour": 3},
        {"trigger": "cron", "hour": "25", "timezone": "Mars/Olympus", "start_date": "yesterday"},
        {"trigger": "interval", "hours": 1}, {"trigger": "interval", "seconds": 30, "jitter": None},
        {"trigger": "cron", "second": "*/10", "misfire_grace_time": 1000, "coalesce": True, "max_instances": 1},
        {**EVERY_MINUTE, "coalesce": "x" * 500},
        {**EVERY_MINUTE, "misfire_grace_time": None, "coalesce": None, "max_instances": None, "next_run_time": None,
         "timeout": None, "retries": None, "retry_delay": None, "jitter": None},
        {**EVERY_MINUTE, "misfire_grace_time": 0, "max_instances": 1, "retries": 0, "retry_delay": 0, "jitter": 0,
         "timeout": 0.001},
        {**EVERY_MINUTE, "max_instances": 2.0, "coalesce": True, "next_run_time": "2030-01-01 00:00:00"},
        {**EVERY_MINUTE, "max_instances": 0, "retries": -1},  # the first problem in the checks' order is named
        {**EVERY_MINUTE, "jitter": -1, "timeout": 0},
        {"trigger": "date", "jitter": -1}, {"trigger": "calendarinterval", "jitter": 1},
    ]
    for form in TRIGGER_FORMS:
        for key in EVERY_KEY + ["bogus", "trigger_kwargs"]:
            cases.append({**form, key: 1})
            cases.append({**form, key: "1"})
    for form in (EVERY_MINUTE, {"crontab": "* * * * *"}, {"trigger": "interval", "minutes": 5}, {}):
        for option in OPTIONS.split(", ") + ["jitter"]:
            for value in ODD_VALUES:
                cases.append({**form, option: value})
    return cases


def test_the_fast_path_and_job_info_trigger_kwargs_problem_agree(shared_migrated_db):
    cases = [Json(k) for k in kwargs_cases()] + [Json([1, 2]), Json("cron"), Json(5), Json(None), Json(True)]
    with psycopg2.connect(shared_migrated_db) as conn, conn.cursor() as cur:
        for kwargs in cases:
            cur.execute("SELECT job_info_trigger_kwargs_problem(%s), rowsched_trigger_kwargs_fast_ok(%s)",
                        (kwargs, kwargs))
            problem, fast_ok = cur.fetchone()
            cur.execute("SAVEPOINT attempt")
            try:
                cur.execute("INSERT INTO job_info (job_id, func, trigger_kwargs) VALUES ('job', 'log', %s)", (kwargs,))
                inserted = None
            except psycopg2.Error as error:
                assert error.pgcode == psycopg2.errorcodes.CHECK_VIOLATION, (kwargs.adapted, error.pgerror)
                inserted = error.diag.message_primary
            cur.execute("ROLLBACK TO SAVEPOINT attempt")
            assert inserted == problem, kwargs.adapted
            # The fast check never accepts what the full one rejects, and passes every valid object.
            assert fast_ok is (problem is None), (kwargs.adapted, problem, fast_ok)
        conn.rollback()
    conn.close()
    assert len(cases) > 700


def test_the_fast_path_and_the_full_checks_agree_on_job_id_func_and_func_args(shared_migrated_db):
    rows = [("", "log", []), ("x" * 201, "", "x"), ("x", " ", {}), ("x", "log", 5), ("x", "log", {"a": 1}),
            ("x", "  ", {"trigger": "crn"})]
    messages = [rejection(insert_job, shared_migrated_db, job_id=j, func=f, func_args=Json(a)).diag.message_primary
                for j, f, a in rows]
    assert messages == ["job_info.job_id: must be 1-200 characters, got 0",
                        "job_info.job_id: must be 1-200 characters, got 201",
                        "job_info.func: must not be empty",
                        "job_info.func_args: must be a JSON array, got number",
                        "job_info.func_args: must be a JSON array, got object",
                        "job_info.func: must not be empty"]
    # Only spaces make a func blank (btrim), as before.
    assert insert_job(shared_migrated_db, job_id="é" * 200, func="\t")["func"] == "\t"


# --- Stamping --------------------------------------------------------------------------------------


def test_an_insert_stamps_owner_version_and_times_and_resets_the_daemon_columns(shared_migrated_db):
    row = insert_job(shared_migrated_db, owner=..., version=42, create_time="2000-01-01", update_time="2000-01-01",
                     next_run_time="2000-01-01", is_running=True, state="finished", last_error="x",
                     last_run_time="2000-01-01", last_status="failed", run_count=7, failure_count=3)
    now = sql_value(shared_migrated_db, "SELECT now()")
    assert row["owner"] == "postgres" and row["version"] == 1
    assert abs((row["create_time"] - now).total_seconds()) < 60 and row["update_time"] == row["create_time"]
    assert {c: row[c] for c in DAEMON_COLUMNS} == {
        "next_run_time": None, "is_running": False, "state": "pending", "last_error": None, "last_run_time": None,
        "last_status": None, "run_count": 0, "failure_count": 0}


@pytest.mark.parametrize("column,value", [
    ("job_id", "renamed"), ("func", "sql"), ("func_args", ["select 1"]),
    ("trigger_kwargs", {"trigger": "interval", "seconds": 5}), ("is_paused", True), ("run_right_now", True),
    ("description", "nightly"),
])
def test_each_definition_change_bumps_version_and_update_time(shared_migrated_db, column, value):
    before = insert_job(shared_migrated_db)
    after = update_job(shared_migrated_db, **{column: value})
    assert after["version"] == 2
    assert after["update_time"] > before["update_time"]
    assert after["create_time"] == before["create_time"]


def test_daemon_write_backs_keep_version_and_update_time(shared_migrated_db):
    before = insert_job(shared_migrated_db)
    after = update_job(shared_migrated_db, next_run_time="2030-01-01T00:00:00Z", is_running=True, state="scheduled",
                       last_error=None, last_run_time="2024-01-01T00:00:00Z", last_status="succeeded",
                       run_count=5, failure_count=1)
    assert (after["version"], after["update_time"]) == (1, before["update_time"])
    assert (after["state"], after["run_count"]) == ("scheduled", 5)


def test_writes_to_version_and_the_times_are_reset_to_the_stamped_values(shared_migrated_db):
    before = insert_job(shared_migrated_db)
    after = update_job(shared_migrated_db, version=99, create_time="2000-01-01", update_time="2000-01-01")
    assert (after["version"], after["create_time"], after["update_time"]) == \
        (1, before["create_time"], before["update_time"])
    after = update_job(shared_migrated_db, version=99, func="sql")
    assert after["version"] == 2 and after["create_time"] == before["create_time"]


def test_an_update_that_writes_the_same_values_changes_nothing(shared_migrated_db):
    before = insert_job(shared_migrated_db, description="same")
    after = update_job(shared_migrated_db, func="log", description="same", trigger_kwargs=EVERY_MINUTE)
    assert (after["version"], after["update_time"]) == (1, before["update_time"])


def test_run_right_now_set_is_a_definition_change_but_cleared_is_not(shared_migrated_db):
    insert_job(shared_migrated_db)
    assert update_job(shared_migrated_db, run_right_now=True)["version"] == 2
    cleared = update_job(shared_migrated_db, run_right_now=False, next_run_time="2030-01-01T00:00:00Z")
    assert (cleared["version"], cleared["run_right_now"]) == (2, False)
    assert update_job(shared_migrated_db, run_right_now=True)["version"] == 3


def test_a_job_inserted_with_run_right_now_keeps_it(shared_migrated_db):
    assert insert_job(shared_migrated_db, run_right_now=True)["run_right_now"] is True


def test_an_insert_stamps_the_run_request_and_the_schedule_anchor_whatever_the_row_said(shared_migrated_db):
    with psycopg2.connect(shared_migrated_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT clock_timestamp()")
        before = cur.fetchone()[0]
        cur.execute("""INSERT INTO job_info (job_id, func, trigger_kwargs, run_right_now, run_right_now_at,
                                             trigger_time, active_time)
                       VALUES ('now', 'log', '{}', true, NULL, '2000-01-01', '2000-01-01'),
                              ('later', 'log', '{}', false, '2000-01-01', NULL, NULL)
                       RETURNING job_id, run_right_now_at, trigger_time, active_time""")
        rows = {r[0]: r[1:] for r in cur.fetchall()}
        cur.execute("SELECT clock_timestamp()")
        after = cur.fetchone()[0]
    conn.close()
    for job_id in ("now", "later"):
        _, trigger_time, active_time = rows[job_id]
        assert before <= trigger_time <= after and active_time == trigger_time
    assert before <= rows["now"][0] <= rows["now"][1]
    assert rows["later"][0] is None


# --- Owner -----------------------------------------------------------------------------------------


def grant_writer(dsn, role):
    sql(dsn, f"GRANT USAGE ON SCHEMA public TO {quote_ident(role)};"
             f"GRANT SELECT, INSERT, UPDATE, DELETE ON job_info TO {quote_ident(role)}")


def test_a_non_superuser_with_grants_can_insert_and_is_stamped_as_owner(shared_migrated_db, make_role):
    alice = make_role("alice")
    grant_writer(shared_migrated_db, alice)
    row = insert_job(dsn_with(shared_migrated_db, user=alice), owner=None)
    assert row["owner"] == alice and row["version"] == 1


def test_a_role_without_grants_cannot_write_jobs(shared_migrated_db, make_role):
    mallory = make_role("mallory")
    error = rejection(insert_job, dsn_with(shared_migrated_db, user=mallory))
    assert error.pgcode == psycopg2.errorcodes.INSUFFICIENT_PRIVILEGE


@pytest.mark.parametrize("owner", [None, ""])
def test_a_null_or_empty_owner_means_the_current_user(shared_migrated_db, owner):
    assert insert_job(shared_migrated_db, owner=owner)["owner"] == "postgres"


def test_a_role_may_make_a_job_owned_by_a_role_it_is_a_member_of(shared_migrated_db, make_role):
    alice, team = make_role("alice"), make_role("team")
    grant_writer(shared_migrated_db, alice)
    sql(shared_migrated_db, f"GRANT {quote_ident(team)} TO {quote_ident(alice)}")
    assert insert_job(dsn_with(shared_migrated_db, user=alice), owner=team)["owner"] == team


def test_a_role_may_not_make_a_job_owned_by_a_role_it_cannot_set_role_to(shared_migrated_db, make_role):
    alice = make_role("alice")
    grant_writer(shared_migrated_db, alice)
    error = rejection(insert_job, dsn_with(shared_migrated_db, user=alice), owner="postgres")
    assert error.pgcode == psycopg2.errorcodes.INSUFFICIENT_PRIVILEGE
    assert error.diag.message_primary == (
        f'job_info.owner: role "{alice}" is not a member of role "postgres"; '
        "a job can only be owned by a role its writer can SET ROLE to")


def test_a_superuser_may_make_a_job_owned_by_any_role(shared_migrated_db, make_role):
    bob = make_role("bob")
    assert insert_job(shared_migrated_db, owner=bob)["owner"] == bob


def test_an_owner_that_is_no_role_is_rejected(shared_migrated_db):
    assert insert_message(shared_migrated_db, owner="no_such_role") == 'job_info.owner: role "no_such_role" does not exist'


def test_only_members_of_the_owner_role_may_change_a_jobs_definition(shared_migrated_db, make_role):
    alice, bob = make_role("alice"), make_role("bob")
    grant_writer(shared_migrated_db, alice)
    # Row-level security hides bob's job from alice altogether (test_security.py); a member of
    # rowsched_admin sees it, and may still not change it.
    sql(shared_migrated_db, f"GRANT rowsched_admin TO {quote_ident(alice)}")
    insert_job(shared_migrated_db, owner=bob)
    for change in ({"func_args": ["drop table x"]}, {"is_paused": True}, {"owner": alice}):
        error = rejection(update_job, dsn_with(shared_migrated_db, user=alice), **change)
        assert error.pgcode == psycopg2.errorcodes.INSUFFICIENT_PRIVILEGE
        assert error.diag.message_primary == (
            f'job_info: role "{alice}" is not a member of role "{bob}", the owner of job "job"; '
            "only a member of the owner role may change a job's definition")


def test_any_role_with_update_rights_may_write_back_and_clear_run_right_now(shared_migrated_db, make_role):
    daemon, bob = make_role("rowsched"), make_role("bob")
    sql(shared_migrated_db, f"GRANT SELECT, UPDATE ON job_info TO {quote_ident(daemon)}; "
                            f"ALTER ROLE {quote_ident(daemon)} BYPASSRLS")  # a daemon must see every job
    insert_job(shared_migrated_db, owner=bob, run_right_now=True)
    row = update_job(dsn_with(shared_migrated_db, user=daemon), run_right_now=False, state="scheduled",
                     next_run_time="2030-01-01T00:00:00Z", is_running=True)
    assert (row["owner"], row["version"], row["run_right_now"], row["state"]) == (bob, 1, False, "scheduled")


def test_the_owner_stays_when_another_member_changes_the_definition(shared_migrated_db, make_role):
    alice, team = make_role("alice"), make_role("team")
    grant_writer(shared_migrated_db, alice)
    sql(shared_migrated_db, f"GRANT {quote_ident(team)} TO {quote_ident(alice)}")
    insert_job(shared_migrated_db, owner=team)
    row = update_job(dsn_with(shared_migrated_db, user=alice), func="sql")
    assert (row["owner"], row["version"]) == (team, 2)


def test_changing_the_owner_is_a_definition_change(shared_migrated_db, make_role):
    bob = make_role("bob")
    insert_job(shared_migrated_db)
    assert update_job(shared_migrated_db, owner=bob)["version"] == 2


def test_a_job_whose_owner_role_was_dropped_must_be_given_a_new_owner_to_change(shared_migrated_db, make_role):
    gone = make_role("gone")
    insert_job(shared_migrated_db, owner=gone)
    sql(shared_migrated_db, f"DROP ROLE {quote_ident(gone)}")
    assert rejection(update_job, shared_migrated_db, is_paused=True).diag.message_primary == \
        f'job_info.owner: role "{gone}" does not exist'
    assert update_job(shared_migrated_db, is_paused=True, owner="postgres")["owner"] == "postgres"


# --- Notifications ---------------------------------------------------------------------------------


def test_an_insert_notifies_with_a_compact_payload(shared_migrated_db, listen):
    listener = listen(shared_migrated_db)
    insert_job(shared_migrated_db, job_id='a "quoted" id')
    assert listener.get() == '{"op":"insert","schema":"public","job_ids":["a \\"quoted\\" id"]}'


def test_a_definition_change_notifies_with_the_new_version(shared_migrated_db, listen):
    insert_job(shared_migrated_db)
    listener = listen(shared_migrated_db)
    update_job(shared_migrated_db, is_paused=True)
    assert json.loads(listener.get()) == {"op": "update", "schema": "public", "job_id": "job", "version": 2}


def test_a_rename_notifies_with_the_old_job_id(shared_migrated_db, listen):
    insert_job(shared_migrated_db, job_id="old")
    listener = listen(shared_migrated_db)
    update_job(shared_migrated_db, "old", job_id="new")
    assert listener.get() == '{"op":"update","schema":"public","job_id":"new","old_job_id":"old","version":2}'


def test_a_delete_notifies_once_with_the_deleted_ids(shared_migrated_db, listen):
    for job_id in ("a", "b", "c"):
        insert_job(shared_migrated_db, job_id=job_id)
    listener = listen(shared_migrated_db)
    sql(shared_migrated_db, "DELETE FROM job_info WHERE job_id = 'b'")
    sql(shared_migrated_db, "DELETE FROM job_info WHERE job_id IN ('a', 'c')")
    payloads = listener.drain()
    assert payloads[0] == '{"op":"delete","schema":"public","job_ids":["b"]}'
    assert len(payloads) == 2 and json.loads(payloads[1])["op"] == "delete"
    assert sorted(json.loads(payloads[1])["job_ids"]) == ["a", "c"]


def test_a_truncate_notifies_once(shared_migrated_db, listen):
    insert_job(shared_migrated_db, job_id="a")
    insert_job(shared_migrated_db, job_id="b")
    listener = listen(shared_migrated_db)
    sql(shared_migrated_db, "TRUNCATE job_info")
    assert listener.drain() == ['{"op":"truncate","schema":"public"}']


def test_write_backs_do_not_notify(shared_migrated_db, listen):
    insert_job(shared_migrated_db, run_right_now=True)
    listener = listen(shared_migrated_db)
    update_job(shared_migrated_db, next_run_time="2030-01-01T00:00:00Z", state="scheduled", is_running=True, run_count=1)
    update_job(shared_migrated_db, run_right_now=False)
    update_job(shared_migrated_db, func="log")  # the same value
    assert listener.drain() == []


def test_setting_run_right_now_notifies(shared_migrated_db, listen):
    insert_job(shared_migrated_db)
    listener = listen(shared_migrated_db)
    update_job(shared_migrated_db, run_right_now=True)
    assert json.loads(listener.get())["version"] == 2


def test_a_failed_write_does_not_notify(shared_migrated_db, listen):
    listener = listen(shared_migrated_db)
    rejection(insert_job, shared_migrated_db, trigger_kwargs={"trigger": "crn"})
    assert listener.drain() == []


def insert_many(dsn, count, prefix="bulk-", width=0):
    """Inserts `count` jobs named prefix + i (i zero-padded to `width` digits) in one statement."""
    sql(dsn, """INSERT INTO job_info (job_id, func, trigger_kwargs)
                SELECT %s || lpad(i::text, greatest(%s, length(i::text)), '0'), 'log', '{"trigger": "interval", "seconds": 60}'
                  FROM generate_series(1, %s) AS i""", (prefix, width, count))


def test_a_multi_row_insert_notifies_once_listing_every_id_in_order(shared_migrated_db, listen):
    listener = listen(shared_migrated_db)
    insert_many(shared_migrated_db, 100)
    payloads = listener.drain()
    assert len(payloads) == 1
    assert json.loads(payloads[0]) == {"op": "insert", "schema": "public",
                                       "job_ids": [f"bulk-{i}" for i in range(1, 101)]}
    assert payloads[0].startswith('{"op":"insert","schema":"public","job_ids":["bulk-1","bulk-2",')


def test_a_bulk_insert_of_more_than_100_rows_notifies_once_with_the_count_after_commit(shared_migrated_db, listen):
    listener = listen(shared_migrated_db)
    with psycopg2.connect(shared_migrated_db) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO job_info (job_id, func, trigger_kwargs)
                       SELECT 'bulk-' || i, 'log', '{"trigger": "interval", "seconds": 60}'
                         FROM generate_series(1, 2000) AS i""")
        assert listener.drain() == []  # not before commit
    conn.close()
    assert listener.drain() == ['{"op":"insert","schema":"public","count":2000}']
    insert_many(shared_migrated_db, 101, prefix="more-")
    sql(shared_migrated_db, "DELETE FROM job_info WHERE job_id LIKE 'bulk-%'")
    assert listener.drain() == ['{"op":"insert","schema":"public","count":101}',
                                '{"op":"delete","schema":"public","count":2000}']


def test_a_notification_that_would_reach_7000_bytes_gives_the_count_instead(shared_migrated_db, listen):
    listener = listen(shared_migrated_db)
    # The payload with n ids of L characters has 45 + n * (L + 3) bytes: 38 ids of 180 characters
    # make 6999 bytes, 65 ids of 104 characters make 7000.
    insert_many(shared_migrated_db, 38, prefix="a" * 177, width=3)
    insert_many(shared_migrated_db, 65, prefix="b" * 101, width=3)
    small, large = listener.drain()
    assert len(small.encode()) == 6999 and len(json.loads(small)["job_ids"]) == 38
    assert large == '{"op":"insert","schema":"public","count":65}'


def test_a_statement_that_touches_no_row_does_not_notify(shared_migrated_db, listen):
    insert_job(shared_migrated_db)
    listener = listen(shared_migrated_db)
    sql(shared_migrated_db, "DELETE FROM job_info WHERE job_id = 'nobody'")
    insert_many(shared_migrated_db, 0)
    sql(shared_migrated_db, """INSERT INTO job_info (job_id, func) VALUES ('job', 'log')
                               ON CONFLICT (job_id) DO NOTHING""")
    assert listener.drain() == []


def test_an_upsert_notifies_its_inserted_rows_once_and_each_changed_row_as_an_update(shared_migrated_db, listen):
    insert_job(shared_migrated_db, job_id="old")
    listener = listen(shared_migrated_db)
    sql(shared_migrated_db, """INSERT INTO job_info (job_id, func) VALUES ('old', 'log'), ('new', 'log')
                               ON CONFLICT (job_id) DO UPDATE SET description = 'changed'""")
    assert [json.loads(p) for p in listener.drain()] == [
        {"op": "update", "schema": "public", "job_id": "old", "version": 2},
        {"op": "insert", "schema": "public", "job_ids": ["new"]}]


def test_a_multi_row_insert_with_one_bad_row_is_rejected_with_its_message_and_does_not_notify(
        shared_migrated_db, listen):
    listener = listen(shared_migrated_db)
    error = rejection(sql, shared_migrated_db, """INSERT INTO job_info (job_id, func, trigger_kwargs) VALUES
        ('a', 'log', '{"trigger": "interval", "seconds": 5}'),
        ('b', 'log', '{"trigger": "interval", "second": 5}'),
        ('c', 'log', '{"trigger": "interval", "seconds": 5}')""")
    assert error.pgcode == psycopg2.errorcodes.CHECK_VIOLATION
    assert error.diag.message_primary == (
        f'job_info.trigger_kwargs: unknown key "second" for trigger "interval"; allowed: {ALLOWED["interval"]}, {OPTIONS}')
    assert listener.drain() == []
    assert sql_value(shared_migrated_db, "SELECT count(*) FROM job_info") == 0


def test_the_largest_payload_stays_far_below_the_notify_limit(shared_migrated_db, listen):
    old, new = "\x01" * 200, "\U0001F600" * 200
    insert_job(shared_migrated_db, job_id=old)
    listener = listen(shared_migrated_db)
    update_job(shared_migrated_db, old, job_id=new)
    payload = listener.get()
    assert json.loads(payload)["old_job_id"] == old and len(payload.encode()) < 4000


# --- job_run, scheduler_instance, job_status ---------------------------------------------------------

CLAIM = """INSERT INTO job_run (job_id, scheduled_for, instance, status, started_at)
           SELECT j, t, %s, 'running', now() FROM unnest(%s::text[], %s::timestamptz[]) AS c(j, t)
           ON CONFLICT (job_id, scheduled_for, attempt) DO NOTHING
           RETURNING job_id"""


def test_inserting_the_job_run_row_is_the_claim_and_only_one_instance_gets_it(shared_migrated_db):
    fires = (["a", "b"], ["2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"])
    assert sorted(r[0] for r in sql(shared_migrated_db, CLAIM, ("one", *fires))) == ["a", "b"]
    assert sql(shared_migrated_db, CLAIM, ("two", *fires)) == []
    more = (["a", "b"], ["2030-01-01T00:00:00Z", "2030-01-01T00:01:00Z"])
    assert sql(shared_migrated_db, CLAIM, ("two", *more)) == [("b",)]


def claim_fires(dsn, instance, job_ids, at, versions=None, statuses=False):
    """The daemon's claim (rowsched_claim_fires, src/store/statements/claim.sql) of one `running` fire at
    `at` for each of `job_ids`, asked under `versions` (None: any), as FireClaimer binds it; the job ids
    it won, or with `statuses` (job_id, status) for every fire it returned."""
    n = len(job_ids)
    rows = sql(dsn, """SELECT job_id, status, run_id FROM rowsched_claim_fires(
                           %s, %s::text[], %s::text[], %s::timestamptz[], %s::int[], %s::text[], %s::text[], %s::int[],
                           %s::int[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[], %s::int8[])""",
               (instance, sorted(job_ids), job_ids, [at] * n, [1] * n, ["running"] * n, ["schedule"] * n, [1] * n,
                [0] * n, [None] * n, [None] * n, [None] * n, [None] * n, versions or [None] * n))
    if statuses:
        return sorted((job_id, status, run_id is not None) for job_id, status, run_id in rows)
    return sorted(r[0] for r in rows)


def test_a_fire_of_a_job_deleted_before_its_claim_is_not_claimed(migrated_db):
    """The daemon may claim a fire ahead of a DELETE it has not read yet (a bulk DELETE is announced by
    its count, and the claims due meanwhile go first): the claim itself refuses a job no longer in
    job_info, so a deleted job never runs once its DELETE has committed."""
    for job_id in ("kept", "gone"):
        insert_job(migrated_db, job_id)
    sql(migrated_db, "DELETE FROM job_info WHERE job_id = 'gone'")
    assert claim_fires(migrated_db, "one", ["kept", "gone"], "2030-01-01T00:00:00Z") == ["kept"]
    assert sql(migrated_db, "SELECT job_id FROM job_run") == [("kept",)]


def test_a_fire_asked_under_an_older_version_of_its_row_is_returned_as_changed_and_not_claimed(migrated_db):
    """The daemon may claim a fire ahead of an UPDATE it has not applied yet (a bulk UPDATE is announced
    by its count, and the claims due meanwhile go first): the claim refuses a fire asked under another
    version of its row than the one committed, and says so, so that the daemon decides it again under
    the new row. Nothing of it reaches job_run; the same fire asked under the new version is claimed."""
    versions = {job_id: insert_job(migrated_db, job_id)["version"] for job_id in ("kept", "paused", "edited")}
    update_job(migrated_db, "paused", is_paused=True)
    edited = update_job(migrated_db, "edited", description="new words")
    assert edited["version"] == versions["edited"] + 1
    at = "2030-01-01T00:00:00Z"
    ids = ["kept", "paused", "edited"]
    assert claim_fires(migrated_db, "one", ids, at, [versions[j] for j in ids], statuses=True) == [
        ("edited", "changed", False), ("kept", "running", True), ("paused", "changed", False)]
    assert sql(migrated_db, "SELECT job_id FROM job_run") == [("kept",)]
    assert claim_fires(migrated_db, "one", ["edited"], at, [edited["version"]], statuses=True) == [
        ("edited", "running", True)]
    # A version the row never had (newer than the committed one) is refused as well.
    assert claim_fires(migrated_db, "two", ["kept"], "2030-01-01T00:01:00Z", [versions["kept"] + 5],
                       statuses=True) == [("kept", "changed", False)]


def test_a_retry_is_another_attempt_of_the_same_fire(shared_migrated_db):
    sql(shared_migrated_db, CLAIM, ("one", ["a"], ["2030-01-01T00:00:00Z"]))
    rows = sql(shared_migrated_db, """INSERT INTO job_run (job_id, scheduled_for, instance, attempt, status)
                               VALUES ('a', '2030-01-01T00:00:00Z', 'two', 2, 'running')
                               ON CONFLICT DO NOTHING RETURNING attempt""")
    assert rows == [(2,)]


@pytest.mark.parametrize("status,attempt", [("exploded", 1), ("running", 0)])
def test_job_run_rejects_unknown_statuses_and_attempts_below_one(shared_migrated_db, status, attempt):
    error = rejection(sql, shared_migrated_db, """INSERT INTO job_run (job_id, scheduled_for, instance, status, attempt)
                                           VALUES ('a', now(), 'one', %s, %s)""", (status, attempt))
    assert error.pgcode == psycopg2.errorcodes.CHECK_VIOLATION


def test_the_run_history_outlives_its_job(shared_migrated_db):
    insert_job(shared_migrated_db)
    sql(shared_migrated_db, CLAIM, ("one", ["job"], ["2030-01-01T00:00:00Z"]))
    sql(shared_migrated_db, "DELETE FROM job_info")
    assert sql_value(shared_migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'job'") == 1


def test_an_instance_registers_and_heart_beats_by_upsert(shared_migrated_db):
    upsert = """INSERT INTO scheduler_instance (instance, pid, host, version) VALUES ('i1', 42, 'h', '0.1.0')
                ON CONFLICT (instance) DO UPDATE SET heartbeat_at = now() RETURNING started_at <= heartbeat_at"""
    assert sql(shared_migrated_db, upsert) == [(True,)]
    assert sql(shared_migrated_db, upsert) == [(True,)]


def test_job_status_shows_what_will_happen_and_what_happened(shared_migrated_db):
    insert_job(shared_migrated_db, is_paused=True)
    rows = sql(shared_migrated_db, "SELECT * FROM job_status")
    assert rows == [("job", "pending", None, None, None, 0, 0, True, None)]


# --- Migrations ------------------------------------------------------------------------------------


def psql_file_twice_each(dsn, env=None):
    for _ in range(2):
        for path in migration_files():
            psql(dsn, "-f", str(path), env=env)


def test_the_migration_files_run_twice_with_plain_psql_and_keep_the_rows(db):
    for path in migration_files():
        psql(db, "-f", str(path))
    insert_job(db)
    update_job(db, description="v2")
    for path in migration_files():
        psql(db, "-f", str(path))
    assert job(db)["version"] == 2
    assert sql_value(db, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'job_info'::regclass "
                         "AND NOT tgisinternal") == 8


def test_the_schema_can_live_outside_public_and_works_with_any_search_path(db, listen):
    sql(db, "CREATE SCHEMA sched")
    psql_file_twice_each(db, env={"PGOPTIONS": "-c search_path=sched"})
    assert sql_value(db, "SELECT to_regclass('public.job_info')") is None
    other = dsn_with(db, options="-csearch_path=pg_catalog")
    listener = listen(other)
    row = insert_job(other, schema="sched")
    assert row["version"] == 1
    assert listener.get() == '{"op":"insert","schema":"sched","job_ids":["job"]}'
    error = rejection(insert_job, other, job_id="bad", trigger_kwargs={"trigger": "crn"}, schema="sched")
    assert error.diag.schema_name == "sched"


def test_two_schemas_in_one_database_are_told_apart_by_the_payload(make_migrated_db, listen):
    dsn = make_migrated_db()
    sql(dsn, "CREATE SCHEMA other")
    for path in migration_files():
        psql(dsn, "-f", str(path), env={"PGOPTIONS": "-c search_path=other"})
    listener = listen(dsn)
    insert_job(dsn, schema="other")
    insert_job(dsn, schema="public")
    assert [json.loads(p)["schema"] for p in listener.drain()] == ["other", "public"]


def test_migrating_into_a_named_schema_records_every_file_there(make_migrated_db):
    dsn = make_migrated_db(schema="jobs")
    assert [r[0] for r in sql(dsn, "SELECT name FROM jobs.rowsched_migration ORDER BY name")] == recorded_names()
    assert insert_job(dsn, schema="jobs")["owner"] == "postgres"


def test_migrated_databases_record_every_file(migrated_db):
    assert [r[0] for r in sql(migrated_db, "SELECT name FROM rowsched_migration ORDER BY name")] == recorded_names()


def test_migration_files_hold_no_transaction_control_or_psql_commands():
    for path in migration_files():
        text = path.read_text()
        assert re.fullmatch(r"\d{3}_[a-z0-9_]+\.sql|\d{2}_[a-z0-9_]+\.sql", path.name), path.name
        code = re.sub(r"--[^\n]*", "", text)
        assert not re.search(r"^\s*\\", code, re.M), f"{path.name}: psql meta-command"
        assert not re.search(r"\b(BEGIN|COMMIT|ROLLBACK)\s*;", code, re.I), f"{path.name}: transaction control"
        assert not re.search(r"\bSET\s+(LOCAL\s+)?search_path\s*(=|TO\b)", code, re.I), f"{path.name}: sets search_path"
        assert ')rowsched_sql"' not in text  # the raw-string delimiter of the migrations in cmake/embed_files.cmake


def test_rowsched_migrate_is_idempotent(db, rowsched_bin):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built (see --rowsched)")
    for schema in ("public", "public", "sched"):
        migrate_with_rowsched(rowsched_bin, db, schema)
    for schema in ("public", "sched"):
        assert sql_value(db, f"SELECT count(*) FROM {schema}.rowsched_migration") == len(recorded_names())
    assert insert_job(db, schema="sched")["version"] == 1
