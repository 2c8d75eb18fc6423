"""rowsched.contrib.django against real Django (Debian's python3-django) and real PostgreSQL: the models
over rowsched's tables, the admin (Django's test client, logged in as a superuser), `manage.py migrate`
leaving rowsched's tables alone, `manage.py rowsched_worker`, the move from the seed's table
(docs/django.md), and `rowsched migrate` refusing a job_info of another shape.

Django's settings are process-global: the test project (tests/django_project) is set up once in this
process, on one database migrated by rowsched and then by Django, shared by the tests of this module
(each starts with no jobs and no runs). What needs another database or a process of its own (`manage.py
migrate` on a fresh database, `--help`, the workers) runs `manage.py` in a subprocess."""

import io
import json
import os
import re
import subprocess
import sys
import types
from contextlib import closing, contextmanager

import psycopg2
import psycopg2.extensions
import pytest

from conftest import REPO, _migrate_methods, create_database, drop_database, sql, sql_value
from daemon import runs, start_daemon, wait_until  # noqa: F401 (fixture)

pytest.importorskip("django")

CLIENT = REPO / "clients" / "python"
PROJECT = REPO / "tests" / "django_project"
sys.path.insert(0, str(CLIENT))

from rowsched.contrib.django.dsn import dsn_from_database, redacted  # noqa: E402

# The columns sql/010_workers.sql (the worker protocol, issue 14's other half) adds to job_run, which
# the JobRun model maps. Added here only while that migration is absent, so the admin's run pages work.
WORKER_RUN_COLUMNS = "ADD COLUMN IF NOT EXISTS queue text, ADD COLUMN IF NOT EXISTS worker text, " \
                     "ADD COLUMN IF NOT EXISTS heartbeat_at timestamptz"


def django_env(dsn):
    params = psycopg2.extensions.parse_dsn(dsn)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(CLIENT), str(PROJECT)]),
           "DJANGO_SETTINGS_MODULE": "project.settings",
           "ROWSCHED_DJANGO_DB_NAME": params["dbname"], "ROWSCHED_DJANGO_DB_HOST": params.get("host", ""),
           "ROWSCHED_DJANGO_DB_PORT": params.get("port", ""), "ROWSCHED_DJANGO_DB_USER": params.get("user", "")}
    return env


def manage(dsn, *args, check=True, timeout=60):
    proc = subprocess.run([sys.executable, str(PROJECT / "manage.py"), *args], cwd=PROJECT, env=django_env(dsn),
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


def columns_of(dsn, table):
    return sql(dsn, "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
                    "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (table,))


def rowsched_objects(dsn):
    """What `manage.py migrate` must leave alone: rowsched's tables' columns and job_info's triggers."""
    tables = ("job_info", "job_run", "scheduler_instance", "rowsched_migration")
    return ({t: columns_of(dsn, t) for t in tables},
            sql(dsn, "SELECT tgname FROM pg_trigger WHERE tgrelid = 'job_info'::regclass ORDER BY 1"))


@pytest.fixture(scope="module")
def django_migrate(request, pg, _migrated_templates):
    """The module's database: migrated by rowsched, then Django set up on it in this process and
    `manage.py migrate` run; returns (dsn, what migrate printed, rowsched's objects before, after)."""
    name = create_database(pg, template=_migrated_templates(_migrate_methods(request.config)[0], "public"))
    dsn = pg.dsn(name)
    sql(dsn, f"ALTER TABLE job_run {WORKER_RUN_COLUMNS}")
    saved_environ = dict(os.environ)  # restored afterwards: later test modules' subprocesses inherit it
    os.environ.update({k: v for k, v in django_env(dsn).items() if k.startswith(("ROWSCHED_DJANGO_", "DJANGO_"))})
    sys.path.insert(0, str(PROJECT))
    import django
    from django.conf import settings
    if settings.configured and settings.DATABASES["default"]["NAME"] != name:
        pytest.skip("Django was already set up on another database in this process")
    django.setup()
    from django.core.management import call_command
    before = rowsched_objects(dsn)
    out = io.StringIO()
    call_command("migrate", verbosity=1, interactive=False, stdout=out)
    yield dsn, out.getvalue(), before, rowsched_objects(dsn)
    from django.db import connections
    connections.close_all()
    os.environ.clear()
    os.environ.update(saved_environ)
    if pg.is_running():
        drop_database(pg, name)


@pytest.fixture(scope="module")
def django_db(django_migrate):
    from django.contrib.auth.models import User
    User.objects.create_superuser("admin", "admin@example.com", "not-a-secret")
    return django_migrate[0]


@pytest.fixture
def dj(django_db):
    sql(django_db, "TRUNCATE job_info, job_run, emails_email, scheduler_jobs_taskcall RESTART IDENTITY")
    return django_db


@pytest.fixture
def admin_client(dj):
    from django.contrib.auth.models import User
    from django.test import Client
    client = Client()
    client.force_login(User.objects.get(username="admin"))
    return client


def add_job(dsn, job_id, func="scheduler_jobs.tasks:test", args=None, kwargs=None):
    sql(dsn, "INSERT INTO job_info (job_id, func, func_args, trigger_kwargs) VALUES (%s, %s, %s, %s)",
        (job_id, func, json.dumps(args if args is not None else []),
         json.dumps(kwargs if kwargs is not None else {"trigger": "interval", "hours": 1})))


# --- manage.py migrate -------------------------------------------------------------------------------


def test_manage_py_migrate_creates_the_projects_tables_and_leaves_rowscheds_tables_alone(django_migrate):
    from django.core.management import call_command
    dsn, output, before, after = django_migrate
    assert "Applying rowsched.0001_initial... OK" in output
    assert after == before
    assert sql_value(dsn, "SELECT to_regclass('emails_email') IS NOT NULL")
    assert sql_value(dsn, "SELECT to_regclass('scheduler_jobs_taskcall') IS NOT NULL")
    assert not sql(dsn, "SELECT relname FROM pg_class WHERE relname LIKE 'rowsched_job%'")
    # The package's migration matches its models: Django has nothing to write into the installed package.
    out = io.StringIO()
    call_command("makemigrations", "rowsched", check=True, dry_run=True, stdout=out)
    assert "No changes detected" in out.getvalue()


# --- the models --------------------------------------------------------------------------------------


def test_a_job_created_through_the_model_is_a_job_info_row_stamped_by_rowscheds_trigger(dj):
    from rowsched.contrib.django.models import JobInfo
    job = JobInfo.objects.create(func="scheduler_jobs.tasks:send_emails",
                                 func_args=[["a@example.com"], "subject", "<h1>body</h1>", ["/tmp/a"]],
                                 trigger_kwargs={"trigger": "cron", "minute": "*/5"})
    assert job.state == "pending" and job.version == 1 and job.create_time is not None
    assert job.owner == "postgres"  # stamped by the table's trigger: the role Django connects as
    assert len(job.job_id) == 36  # the seed's default: a UUID string
    row = sql(dj, "SELECT func, func_args, trigger_kwargs FROM job_info WHERE job_id = %s", (job.job_id,))
    assert row == [("scheduler_jobs.tasks:send_emails", [["a@example.com"], "subject", "<h1>body</h1>", ["/tmp/a"]],
                    {"trigger": "cron", "minute": "*/5"})]


def test_a_job_the_tables_trigger_rejects_raises_rowscheds_message_in_django(dj):
    from django.db import IntegrityError
    from rowsched.contrib.django.models import JobInfo
    with pytest.raises(IntegrityError, match='unknown key "minuts" for trigger "cron"'):
        JobInfo.objects.create(job_id="typo", func="scheduler_jobs.tasks:test",
                               trigger_kwargs={"trigger": "cron", "minuts": 5})
    assert sql_value(dj, "SELECT count(*) FROM job_info") == 0


def test_saving_a_job_read_earlier_writes_its_definition_and_never_rowscheds_columns(dj):
    from rowsched.contrib.django.models import JobInfo
    add_job(dj, "report")
    job = JobInfo.objects.get(job_id="report")
    # rowsched writes back after the job was read
    sql(dj, "UPDATE job_info SET state = 'scheduled', run_count = 7, last_error = 'boom' WHERE job_id = 'report'")
    job.is_paused = True
    job.description = "paused by hand"
    job.save()
    assert sql(dj, "SELECT is_paused, description, state, run_count, last_error, version FROM job_info") == [
        (True, "paused by hand", "scheduled", 7, "boom", 2)]


def test_a_runs_job_is_its_job_until_the_job_is_deleted(dj):
    from rowsched.contrib.django.models import JobInfo, JobRun
    add_job(dj, "gone")
    sql(dj, "INSERT INTO job_run (job_id, scheduled_for, instance, status) VALUES ('gone', now(), 'i1', 'succeeded')")
    run = JobRun.objects.get()
    assert run.job().job_id == "gone" and run.status == "succeeded"
    JobInfo.objects.get(job_id="gone").delete()
    assert run.job() is None and JobRun.objects.count() == 1  # the history outlives the job


# --- the admin ---------------------------------------------------------------------------------------


def test_a_job_added_in_the_admin_is_stored_with_its_json_fields(dj, admin_client):
    r = admin_client.post("/admin/rowsched/jobinfo/add/", {
        "job_id": "mail", "func": "scheduler_jobs.tasks:send_emails",
        "func_args": json.dumps([["a@example.com"], "subject", "<h1>body</h1>", []]),
        "trigger_kwargs": json.dumps({"trigger": "interval", "minutes": 10}), "owner": "", "description": ""})
    assert r.status_code == 302, r.content.decode()[-2000:]
    assert sql(dj, "SELECT func, func_args, trigger_kwargs, state FROM job_info WHERE job_id = 'mail'") == [
        ("scheduler_jobs.tasks:send_emails", [["a@example.com"], "subject", "<h1>body</h1>", []],
         {"trigger": "interval", "minutes": 10}, "pending")]


def test_a_job_added_in_the_admin_with_empty_arguments_and_options_gets_the_tables_defaults(dj, admin_client):
    r = admin_client.post("/admin/rowsched/jobinfo/add/", {
        "job_id": "once", "func": "scheduler_jobs.tasks:test", "func_args": "", "trigger_kwargs": "", "owner": ""})
    assert r.status_code == 302, r.content.decode()[-2000:]
    assert sql(dj, "SELECT func_args, trigger_kwargs FROM job_info WHERE job_id = 'once'") == [([], {})]


@pytest.mark.parametrize("field, value, message", [
    ("trigger_kwargs", {"trigger": "cron", "minuts": 5},
     'job_info.trigger_kwargs: unknown key &quot;minuts&quot; for trigger &quot;cron&quot;; allowed: '),
    ("trigger_kwargs", ["cron"], "must be a JSON object"),
    ("func_args", {"to": "a@example.com"}, "must be a JSON array of positional arguments"),
])
def test_the_admin_add_form_shows_what_is_wrong_with_a_job_and_stores_nothing(dj, admin_client, field, value, message):
    data = {"job_id": "bad", "func": "scheduler_jobs.tasks:test", "func_args": "[]", "trigger_kwargs": "{}", "owner": ""}
    data[field] = json.dumps(value)
    r = admin_client.post("/admin/rowsched/jobinfo/add/", data)
    assert r.status_code == 200  # the form again, not a server error
    assert message in r.content.decode()
    assert sql_value(dj, "SELECT count(*) FROM job_info") == 0


def test_the_admin_changelist_shows_the_seeds_columns_rowscheds_state_and_last_error(dj, admin_client):
    add_job(dj, "broken", func="scheduler_jobs.tasks:nope")
    add_job(dj, "fine")
    sql(dj, "UPDATE job_info SET state = 'invalid', last_error = 'cannot import scheduler_jobs.tasks:nope' "
            "WHERE job_id = 'broken'")
    r = admin_client.get("/admin/rowsched/jobinfo/")
    assert r.status_code == 200
    html = r.content.decode()
    for header in ("job id", "function", "trigger and job options", "next run time", "paused", "created",
                   "definition changed", "state", "last error"):
        assert re.search(rf"<th[^>]*>.*?{re.escape(header)}", html, re.I | re.S), header
    assert "cannot import scheduler_jobs.tasks:nope" in html
    assert '<td class="field-state">invalid</td>' in html and ">fine<" in html
    filtered = admin_client.get("/admin/rowsched/jobinfo/?state__exact=invalid").content.decode()
    assert ">broken<" in filtered and ">fine<" not in filtered


def test_the_admin_actions_pause_resume_and_run_now_change_the_rows(dj, admin_client):
    add_job(dj, "a")
    add_job(dj, "b")

    def act(action, *job_ids):
        return admin_client.post("/admin/rowsched/jobinfo/", {"action": action, "_selected_action": list(job_ids)})

    def rows():
        return sql(dj, "SELECT job_id, is_paused, run_right_now FROM job_info ORDER BY job_id")

    assert act("pause", "a", "b").status_code == 302
    assert rows() == [("a", True, False), ("b", True, False)]
    assert act("resume", "b").status_code == 302
    assert rows() == [("a", True, False), ("b", False, False)]
    assert act("run_now", "a").status_code == 302
    assert rows() == [("a", True, True), ("b", False, False)]
    assert sql_value(dj, "SELECT run_right_now_at IS NOT NULL FROM job_info WHERE job_id = 'a'")


def test_a_jobs_admin_page_lists_its_recent_runs_and_links_to_all_of_them(dj, admin_client):
    add_job(dj, "mail")
    add_job(dj, "other")
    sql(dj, "INSERT INTO job_run (job_id, scheduled_for, instance, status, error, worker, queue) VALUES "
            "('mail', '2024-01-01 09:00Z', 'i1', 'failed', 'Traceback: RuntimeError: smtp down', 'w1', 'default'), "
            "('mail', '2024-01-01 10:00Z', 'i1', 'succeeded', NULL, 'w2', 'default'), "
            "('other', '2024-01-01 10:00Z', 'i1', 'missed', 'no worker took it', NULL, 'mail')")
    change = admin_client.get("/admin/rowsched/jobinfo/mail/change/")
    assert change.status_code == 200
    html = change.content.decode()
    assert "RuntimeError: smtp down" in html and "succeeded" in html and "w2" in html
    assert "/admin/rowsched/jobrun/?job_id=mail" in html
    assert "no worker took it" not in html
    run_list = admin_client.get("/admin/rowsched/jobrun/?job_id=mail")
    assert run_list.status_code == 200
    assert "smtp down" in run_list.content.decode() and "no worker took it" not in run_list.content.decode()
    assert admin_client.get("/admin/rowsched/jobrun/add/").status_code == 403  # history is not written here


# --- manage.py rowsched_worker -----------------------------------------------------------------------


def test_rowsched_worker_help_lists_its_options(dj):
    out = manage(dj, "rowsched_worker", "--help").stdout
    for option in ("--queue NAME", "--concurrency N", "--dsn", "--database ALIAS", "--schema S", "--shutdown-timeout"):
        assert option in out


def test_rowsched_worker_refuses_a_concurrency_below_one_or_an_unknown_database_alias(dj):
    from django.core.management import call_command
    from django.core.management.base import CommandError
    with pytest.raises(CommandError, match="--concurrency 0: must be an integer >= 1"):
        call_command("rowsched_worker", "--concurrency", "0")
    with pytest.raises(CommandError, match="--database 'reports' is not in DATABASES; allowed: default"):
        call_command("rowsched_worker", "--database", "reports")


def test_rowsched_worker_without_the_worker_module_says_what_to_install(dj, monkeypatch):
    from django.core.management import call_command
    from django.core.management.base import CommandError
    monkeypatch.setitem(sys.modules, "rowsched.worker", None)  # as if the client were not installed
    with pytest.raises(CommandError, match=r"cannot import rowsched.worker .*pip install ./clients/python"):
        call_command("rowsched_worker")


def test_rowsched_worker_hands_the_settings_database_queues_and_concurrency_to_the_worker(dj, monkeypatch):
    # The worker itself is the other half of the issue; a stand-in records what the command passes,
    # and the DSN the command built must reach the real database.
    from django.core.management import call_command
    calls = []

    class Worker:
        def __init__(self, dsn, queues, concurrency, shutdown_timeout, schema="public"):
            calls.append({"dsn": dsn, "queues": queues, "concurrency": concurrency, "shutdown_timeout": shutdown_timeout,
                          "schema": schema})

        def run(self):
            calls[-1]["ran"] = True

    monkeypatch.setitem(sys.modules, "rowsched.worker", types.SimpleNamespace(Worker=Worker))
    call_command("rowsched_worker", "--queue", "mail", "--queue", "reports", "--concurrency", "3")
    call_command("rowsched_worker", "--schema", "jobs")
    first, second = calls
    assert first["queues"] == ["mail", "reports"] and first["concurrency"] == 3 and first["ran"]
    assert second["queues"] == ["default"] and second["concurrency"] == 1 and second["shutdown_timeout"] == 30.0
    assert first["schema"] == "public" and second["schema"] == "jobs"
    with closing(psycopg2.connect(first["dsn"])) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_database()")
        assert cur.fetchone()[0] == psycopg2.extensions.parse_dsn(dj)["dbname"]


def test_the_dsn_built_from_django_settings_keeps_a_password_with_quotes_and_spaces_and_logs_none():
    dsn = dsn_from_database({"ENGINE": "django.db.backends.postgresql", "NAME": "app", "USER": "me",
                             "PASSWORD": "it's a \\secret", "HOST": "db.example", "PORT": 5433,
                             "OPTIONS": {"sslmode": "require", "isolation_level": 1}})
    assert psycopg2.extensions.parse_dsn(dsn) == {"host": "db.example", "port": "5433", "dbname": "app",
                                                  "user": "me", "password": "it's a \\secret", "sslmode": "require"}
    assert "secret" not in redacted(dsn) and "password=***" in redacted(dsn)
    assert redacted("postgresql://me:pw@db/app") == "postgresql://me:***@db/app"
    with pytest.raises(ValueError, match="ENGINE 'django.db.backends.sqlite3'; rowsched needs PostgreSQL"):
        dsn_from_database({"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"})


# --- moving from the seed ----------------------------------------------------------------------------

# The table Django 3.2 makes for the seed's scheduler_jobs.JobInfo (the blog post's model).
SEED_TABLE = """
CREATE TABLE {name} (
    id serial PRIMARY KEY,
    job_id varchar(100) NOT NULL,
    trigger_kwargs jsonb NOT NULL,
    next_run_time timestamptz NULL,
    run_right_now boolean NOT NULL,
    func varchar(100) NOT NULL,
    func_args jsonb NOT NULL,
    is_paused boolean NOT NULL,
    is_running boolean NOT NULL,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL
)"""


def documented_copy_statement():
    text = (REPO / "docs" / "django.md").read_text()
    blocks = [b for b in re.findall(r"```sql\n(.*?)```", text, re.S) if "INSERT INTO job_info" in b]
    assert len(blocks) == 1, "docs/django.md must hold exactly one INSERT INTO job_info block"
    return blocks[0]


def test_the_documented_insert_select_copies_the_seeds_jobs_into_rowscheds_table(migrated_db):
    sql(migrated_db, SEED_TABLE.format(name="scheduler_jobs_jobinfo"))
    seed_rows = [
        ("mail", {"trigger": "cron", "hour": 9, "minute": 30}, True, "scheduler_jobs.tasks:send_emails",
         [["a@example.com"], "subject", "<h1>body</h1>", ["/path/attachment"]], False),
        ("tick", {"trigger": "interval", "seconds": 30, "next_run_time": "2019-09-11 16:45:03"}, True,
         "scheduler_jobs.tasks:test", ["hello"], False),
        ("held", {"trigger": "cron", "crontab": "0 3 * * *", "misfire_grace_time": 60}, False,
         "scheduler_jobs.tasks:test", [], True),
    ]
    for job_id, kwargs, right_now, func, args, paused in seed_rows:
        sql(migrated_db, "INSERT INTO scheduler_jobs_jobinfo (job_id, trigger_kwargs, next_run_time, run_right_now, "
                         "func, func_args, is_paused, is_running, create_time, update_time) "
                         "VALUES (%s, %s, '2019-09-12 09:30+08', %s, %s, %s, %s, true, now(), now())",
            (job_id, json.dumps(kwargs), right_now, func, json.dumps(args), paused))
    statement = documented_copy_statement()

    sql(migrated_db, statement)
    sql(migrated_db, statement)  # a second run copies nothing twice

    assert sql(migrated_db, "SELECT job_id, func, func_args, trigger_kwargs, is_paused, run_right_now, state, "
                            "next_run_time, description FROM job_info ORDER BY job_id") == [
        ("held", "scheduler_jobs.tasks:test", [], {"crontab": "0 3 * * *", "misfire_grace_time": 60, "trigger": "cron"},
         True, False, "pending", None, "copied from scheduler_jobs_jobinfo id 3"),
        ("mail", "scheduler_jobs.tasks:send_emails", [["a@example.com"], "subject", "<h1>body</h1>", ["/path/attachment"]],
         {"trigger": "cron", "hour": 9, "minute": 30, "misfire_grace_time": 1000}, False, False, "pending", None,
         "copied from scheduler_jobs_jobinfo id 1"),
        ("tick", "scheduler_jobs.tasks:test", ["hello"], {"trigger": "interval", "seconds": 30, "misfire_grace_time": 1000},
         False, False, "pending", None, "copied from scheduler_jobs_jobinfo id 2"),
    ]


@pytest.mark.parametrize("how", ["the seed's table renamed to job_info", "a hand-made job_info"])
def test_rowsched_migrate_refuses_a_job_info_of_another_shape_and_says_what_to_do(db, rowsched_bin, how):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    if how == "a hand-made job_info":
        sql(db, "CREATE TABLE job_info (job_id text PRIMARY KEY, func text, func_args jsonb, trigger_kwargs jsonb)")
    else:
        sql(db, SEED_TABLE.format(name="scheduler_jobs_jobinfo"))
        sql(db, "ALTER TABLE scheduler_jobs_jobinfo RENAME TO job_info")
    before = columns_of(db, "job_info")

    proc = subprocess.run([rowsched_bin, "migrate", "--dsn", db], capture_output=True, text=True, timeout=60)

    assert proc.returncode == 1, proc.stdout + proc.stderr
    said = proc.stdout + proc.stderr
    assert "schema public already has a table job_info that rowsched did not create" in said
    assert "lacks the columns" in said and "version" in said
    assert 'ALTER TABLE "public"."job_info" RENAME TO "job_info_old"' in said and "--schema" in said
    assert "old.version" not in said
    assert columns_of(db, "job_info") == before  # untouched
    assert sql_value(db, "SELECT to_regclass('rowsched_migration')") is None

    # Doing what it says works.
    sql(db, "ALTER TABLE job_info RENAME TO job_info_old")
    again = subprocess.run([rowsched_bin, "migrate", "--dsn", db], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
    assert sql_value(db, "SELECT count(*) FROM job_info") == 0


def test_rowsched_migrate_refuses_a_job_run_of_another_shape(db, rowsched_bin):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    sql(db, "CREATE TABLE job_run (id serial PRIMARY KEY, job_id text, status text)")
    proc = subprocess.run([rowsched_bin, "migrate", "--dsn", db], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert ("schema public already has a table job_run that rowsched did not create (it lacks the columns "
            "run_id, scheduled_for, instance, attempt, started_at, finished_at, output, error)") in proc.stderr + proc.stdout
    assert sql_value(db, "SELECT to_regclass('job_info')") is None  # nothing was created


def test_rowsched_migrate_into_another_schema_beside_a_foreign_job_info_works(db, rowsched_bin):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    sql(db, SEED_TABLE.format(name="job_info"))
    proc = subprocess.run([rowsched_bin, "migrate", "--dsn", db, "--schema", "jobs"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sql_value(db, "SELECT count(*) FROM jobs.job_info") == 0


# --- end to end, with rowsched run -------------------------------------------------------------------


def test_the_admins_run_now_makes_rowsched_run_the_job_once(dj, admin_client, start_daemon):
    start_daemon(dj)
    add_job(dj, "later", func="log", args=["hello"], kwargs={"trigger": "date", "run_date": "2999-01-01"})
    wait_until(lambda: sql_value(dj, "SELECT state = 'scheduled' FROM job_info WHERE job_id = 'later'"),
               what="the job scheduled")
    r = admin_client.post("/admin/rowsched/jobinfo/", {"action": "run_now", "_selected_action": ["later"]})
    assert r.status_code == 302
    wait_until(lambda: runs(dj, "later", "succeeded"), what="the requested run")
    wait_until(lambda: not sql_value(dj, "SELECT run_right_now FROM job_info WHERE job_id = 'later'"),
               what="run_right_now cleared")
    assert len(runs(dj, "later")) == 1


@contextmanager
def two_django_workers(dj, tmp_path):
    """Two `manage.py rowsched_worker --concurrency 2` processes, registered before the body runs; on
    the way out each gets SIGTERM and must exit 0 (their logs are in the failure message)."""
    logs = [open(tmp_path / f"worker{i}.log", "w") for i in range(2)]
    workers = [subprocess.Popen([sys.executable, str(PROJECT / "manage.py"), "rowsched_worker", "--concurrency", "2"],
                                cwd=PROJECT, env=django_env(dj), stdout=log, stderr=subprocess.STDOUT) for log in logs]
    try:
        wait_until(lambda: sql_value(dj, "SELECT count(*) FROM rowsched_worker") == 2, timeout=30,
                   what="both workers registered")
        yield workers
    finally:
        for w in workers:
            w.terminate()
        codes = [w.wait(30) for w in workers]
        for log in logs:
            log.close()
    assert codes == [0, 0], [p.read_text() for p in tmp_path.glob("worker*.log")]


def test_two_django_workers_take_each_queued_run_once_and_their_functions_write_through_the_orm(dj, tmp_path):
    for job_id, func, args in [("mail", "send_emails", [["a@example.com"], "subject", "<h1>body</h1>", ["/x"]]),
                               ("boom", "fail", ["smtp down"]), ("count", "count_emails", [])] + \
            [(f"t{i}", "test", [i]) for i in range(5)]:
        add_job(dj, job_id, func=f"scheduler_jobs.tasks:{func}", args=args,
                kwargs={"trigger": "date", "run_date": "2999-01-01"})
    with two_django_workers(dj, tmp_path):
        # Runs queued by hand, as rowsched queues a worker job's fire (the protocol of docs/workers.md);
        # the workers, idle, are woken by its NOTIFY.
        sql(dj, "INSERT INTO job_run (job_id, scheduled_for, instance, status, queue) "
                "SELECT job_id, now() - interval '1 minute' * (CASE WHEN job_id = 'count' THEN 0 ELSE 1 END), "
                "'by-hand', 'queued', 'default' FROM job_info")
        done = "SELECT count(*) FROM job_run WHERE status IN ('succeeded', 'failed')"
        wait_until(lambda: sql_value(dj, done) == 8, timeout=30, what="all eight runs finished")
        # Each run's thread closed its Django connection: no idle session per run is left behind (the
        # workers' own sessions carry an application_name; this process's Django session is the one left).
        idle_django_sessions = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND application_name = '' AND pid <> pg_backend_pid()")
        wait_until(lambda: sql_value(dj, idle_django_sessions) <= 1, timeout=10, what="the runs' sessions closed")
    assert sql(dj, "SELECT receivers, subject FROM emails_email") == [(["a@example.com"], "subject")]
    assert sorted(r[0] for r in sql(dj, "SELECT args FROM scheduler_jobs_taskcall WHERE task = 'test'")) == \
        [[i] for i in range(5)]
    assert sql(dj, "SELECT output FROM job_run WHERE job_id = 'count'") == [("1",)]  # it saw the e-mail's row
    (status, error), = sql(dj, "SELECT status, error FROM job_run WHERE job_id = 'boom'")
    assert status == "failed" and "Traceback" in error and "RuntimeError: smtp down" in error
    assert sql(dj, "SELECT job_id, last_status, run_count, failure_count FROM job_info "
                   "WHERE job_id IN ('mail', 'boom') ORDER BY job_id") == [("boom", "failed", 1, 1),
                                                                           ("mail", "succeeded", 1, 0)]
    assert sql_value(dj, "SELECT count(*) FROM job_run WHERE worker IS NULL") == 0


def test_jobs_created_through_the_model_run_their_functions_in_two_django_workers_once_each(dj, start_daemon, tmp_path):
    from rowsched.contrib.django.models import JobInfo
    start_daemon(dj)
    with two_django_workers(dj, tmp_path):
        JobInfo.objects.create(job_id="mail", func="scheduler_jobs.tasks:send_emails",
                               func_args=[["a@example.com"], "subject", "<h1>body</h1>", ["/path/attachment"]],
                               trigger_kwargs={})
        JobInfo.objects.create(job_id="boom", func="scheduler_jobs.tasks:fail", func_args=["smtp down"],
                               trigger_kwargs={})
        for i in range(6):
            JobInfo.objects.create(job_id=f"t{i}", func="scheduler_jobs.tasks:test", func_args=[i], trigger_kwargs={})
        done = "SELECT count(*) FROM job_run WHERE status IN ('succeeded', 'failed')"
        wait_until(lambda: sql_value(dj, done) == 8, timeout=30, what="all eight runs finished")
        assert sql(dj, "SELECT receivers, subject FROM emails_email") == [(["a@example.com"], "subject")]
        assert sorted(r[0] for r in sql(dj, "SELECT args FROM scheduler_jobs_taskcall WHERE task = 'test'")) == \
            [[i] for i in range(6)]
        (status, error), = sql(dj, "SELECT status, error FROM job_run WHERE job_id = 'boom'")
        assert status == "failed" and "Traceback" in error and "RuntimeError: smtp down" in error
        assert json.loads(sql_value(dj, "SELECT output FROM job_run WHERE job_id = 'mail'")) == {"email_id": 1}
        assert sql_value(dj, "SELECT count(*) FROM job_run") == 8  # each fire once
