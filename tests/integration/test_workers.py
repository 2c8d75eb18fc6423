"""Worker jobs (func "module:callable"): rowsched queues their fires, real `python3 -m rowsched worker`
processes take and run them (sql/010_workers.sql, clients/python, docs/workers.md)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from conftest import sql, sql_value
from daemon import insert_job, job, runs, start_daemon, wait_until  # noqa: F401 (start_daemon is a fixture)

ROOT = Path(__file__).resolve().parents[2]
TASKS = Path(__file__).resolve().parent / "worker_tasks"
# Heart-beats and sweeps often, so that lost and timed-out runs are found within a second or two.
FAST = ("--heartbeat-interval", "0.2", "--lost-after", "1")


class WorkerProcess:
    def __init__(self, dsn, out, log_path, *args):
        env = dict(os.environ, PYTHONPATH=str(ROOT / "clients" / "python"), WTASKS_OUT=str(out))
        self.log_path = log_path
        self._log = open(log_path, "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "rowsched", "worker", "--dsn", dsn, "--path", str(TASKS),
                                      "--heartbeat-interval", "0.2", *args], env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def log(self):
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def out(tmp_path):
    path = tmp_path / "calls.jsonl"
    path.touch()
    return path


def calls(out):
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.fixture
def start_worker(tmp_path, out, request):
    started = []

    def start(dsn, *args, wait=True):
        w = WorkerProcess(dsn, out, tmp_path / f"worker-{len(started)}.log", *args)
        started.append(w)
        if wait:
            wait_until(lambda: w.proc.poll() is not None or sql_value(
                dsn, "SELECT count(*) FROM rowsched_worker WHERE pid = %s", (w.proc.pid,)), what="the worker to register")
            assert w.proc.poll() is None, f"the worker exited early:\n{w.log()}"
        return w

    yield start
    for w in started:
        w.stop(signal.SIGKILL)
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        for i, w in enumerate(started):
            print(f"--- log of worker {i} ---\n{w.log()}")


def worker_runs(dsn, job_id):
    return sql(dsn, "SELECT run_id, status, output, error, worker, queue, attempt, started_at, finished_at "
                    "FROM job_run WHERE job_id = %s ORDER BY run_id", (job_id,))


def test_rows_run_their_function_once_per_fire_across_two_workers(migrated_db, start_daemon, start_worker, out):
    start_daemon(migrated_db, *FAST)
    start_worker(migrated_db, "--concurrency", "2")
    start_worker(migrated_db, "--concurrency", "2")
    insert_job(migrated_db, "every-second", func="wtasks:record", args=["tick"],
               kwargs={"trigger": "interval", "seconds": 0.2})
    insert_job(migrated_db, "adder", func="wtasks:add", args=[1, 2], kwargs={"trigger": "date"})
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'every-second' "
                                              "AND status = 'succeeded'") >= 10, timeout=20, what="10 runs")
    sql(migrated_db, "UPDATE job_info SET is_paused = true WHERE job_id = 'every-second'")
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE status IN ('queued', 'running')") == 0,
               what="the last runs to end")
    done = sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'every-second' AND status = 'succeeded'")
    assert len([c for c in calls(out) if c["tag"] == "tick"]) == done  # each fire called exactly once
    assert sql_value(migrated_db, "SELECT count(DISTINCT worker) FROM job_run WHERE job_id = 'every-second'") == 2
    assert sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'every-second' "
                                  "AND status NOT IN ('succeeded', 'skipped')") == 0
    assert sql_value(migrated_db, "SELECT output FROM job_run WHERE job_id = 'every-second' LIMIT 1") == '{"tag": "tick"}'
    wait_until(lambda: runs(migrated_db, "adder", "succeeded"))
    assert worker_runs(migrated_db, "adder")[0][2] == "3"
    j = job(migrated_db, "every-second")
    assert j["run_count"] == done and j["failure_count"] == 0 and j["last_status"] == "succeeded"


def test_an_unserialisable_return_value_is_recorded_as_its_repr(migrated_db, start_daemon, start_worker):
    start_daemon(migrated_db, *FAST)
    start_worker(migrated_db)
    insert_job(migrated_db, "set", func="wtasks:unserialisable", args=[], kwargs={"trigger": "date"})
    wait_until(lambda: runs(migrated_db, "set", "succeeded"))
    assert worker_runs(migrated_db, "set")[0][2] == "{1, 2}"


def test_an_exception_fails_the_run_with_its_traceback(migrated_db, start_daemon, start_worker):
    start_daemon(migrated_db, *FAST)
    start_worker(migrated_db)
    insert_job(migrated_db, "raises", func="wtasks:fail", args=["boom"], kwargs={"trigger": "date"})
    insert_job(migrated_db, "missing", func="wtasks:no_such_function", args=[], kwargs={"trigger": "date"})
    wait_until(lambda: runs(migrated_db, "raises", "failed"))
    error = worker_runs(migrated_db, "raises")[0][3]
    assert error.startswith("Traceback (most recent call last)") and "ValueError: boom" in error
    assert 'in fail' in error  # the function's own frame
    j = wait_until(lambda: (j := job(migrated_db, "raises")) and j["last_status"] == "failed" and j)
    assert j["failure_count"] == 1 and "ValueError: boom" in j["last_error"]
    wait_until(lambda: runs(migrated_db, "missing", "failed"))
    assert "AttributeError" in worker_runs(migrated_db, "missing")[0][3] and "no_such_function" in worker_runs(migrated_db, "missing")[0][3]


def test_a_killed_worker_s_run_is_lost_and_retried_when_the_job_asks(migrated_db, start_daemon, start_worker, tmp_path):
    start_daemon(migrated_db, *FAST)
    w = start_worker(migrated_db)
    marker = str(tmp_path / "first-call")
    insert_job(migrated_db, "retried", func="wtasks:sleep_first_time", args=[marker, 60],
               kwargs={"trigger": "date", "retries": 1, "retry_delay": 0})
    wait_until(lambda: os.path.exists(marker), what="the first call to start")
    w.stop(signal.SIGKILL)
    first = wait_until(lambda: runs(migrated_db, "retried", "lost"), what="the run to be marked lost")
    assert "stopped heart-beating" in first[0][3]
    start_worker(migrated_db)
    wait_until(lambda: runs(migrated_db, "retried", "succeeded"), what="the retry to run")
    attempts = [(r[1], r[6]) for r in worker_runs(migrated_db, "retried")]
    assert attempts == [("lost", 1), ("succeeded", 2)]


def test_a_queue_without_worker_misses_its_fires_saying_so(migrated_db, start_daemon, start_worker):
    start_daemon(migrated_db, *FAST)
    start_worker(migrated_db)  # serves "default" only
    insert_job(migrated_db, "unserved", func="wtasks:record", args=["x"],
               kwargs={"trigger": "date", "queue": "reports", "misfire_grace_time": 0.3})
    missed = wait_until(lambda: runs(migrated_db, "unserved", "missed"), what="the run to be missed")
    assert 'no worker took it from queue "reports"' in missed[0][3]
    assert "live workers on that queue: 0" in missed[0][3]
    # worker_job_status says that nothing serves the queue; worker_queue_status counts the workers.
    assert sql_value(migrated_db, "SELECT worker_note FROM worker_job_status WHERE job_id = 'unserved'") == \
        'no live worker on queue "reports"'
    assert sql(migrated_db, "SELECT queue, live_workers FROM worker_queue_status ORDER BY queue") == [("default", 1)]


def test_max_instances_holds_across_two_workers(migrated_db, start_daemon, start_worker, out):
    start_daemon(migrated_db, *FAST)
    start_worker(migrated_db, "--concurrency", "2")
    start_worker(migrated_db, "--concurrency", "2")
    insert_job(migrated_db, "slow", func="wtasks:sleep", args=["slow", 0.7],
               kwargs={"trigger": "interval", "seconds": 0.2, "max_instances": 1, "misfire_grace_time": None})
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'slow' "
                                              "AND status = 'succeeded'") >= 3, timeout=20, what="3 runs")
    sql(migrated_db, "UPDATE job_info SET is_paused = true WHERE job_id = 'slow'")
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run WHERE status IN ('queued', 'running')") == 0)
    spans = sorted((c["at"], c["event"]) for c in calls(out) if c["tag"] == "slow")
    depth = max_depth = 0
    for _, event in spans:
        depth += 1 if event == "start" else -1
        max_depth = max(max_depth, depth)
    assert max_depth == 1
    skipped = sql_value(migrated_db, "SELECT error FROM job_run WHERE job_id = 'slow' AND status = 'skipped' LIMIT 1")
    assert "max_instances (1) runs of this job were already queued or running" in skipped


def test_a_run_past_its_timeout_is_recorded_timeout_and_the_worker_goes_on(migrated_db, start_daemon, start_worker):
    start_daemon(migrated_db, *FAST)
    start_worker(migrated_db)
    insert_job(migrated_db, "hangs", func="wtasks:sleep", args=["hangs", 60], kwargs={"trigger": "date", "timeout": 0.5})
    timed_out = wait_until(lambda: runs(migrated_db, "hangs", "timeout"), what="the timeout")
    assert "timeout of 0.5 s" in timed_out[0][3] and "abandoned" in timed_out[0][3]
    # Its slot is free again: the next run is taken by the same (concurrency 1) worker.
    insert_job(migrated_db, "after", func="wtasks:add", args=[2, 2], kwargs={"trigger": "date"})
    wait_until(lambda: runs(migrated_db, "after", "succeeded"))


def test_a_run_whose_worker_says_nothing_past_its_timeout_is_marked_timeout_by_rowsched(migrated_db, start_daemon):
    start_daemon(migrated_db, *FAST)
    # A worker (in any language) that takes a run and then only heart-beats.
    conn = psycopg2.connect(migrated_db)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT rowsched_worker_register('silent', '{default}', 1, 'test')")
    insert_job(migrated_db, "silent-run", func="mod:fn", args=[], kwargs={"trigger": "date", "timeout": 0.2})
    wait_until(lambda: runs(migrated_db, "silent-run", "queued"))
    cur.execute("SELECT run_id FROM rowsched_take('silent', '{default}', 5)")
    run_id = cur.fetchone()[0]

    def marked():
        cur.execute("SELECT rowsched_heartbeat('silent')")
        return runs(migrated_db, "silent-run", "timeout")
    timed_out = wait_until(marked, what="rowsched to mark the run timeout")
    assert "did not end it" in timed_out[0][3]
    cur.execute("SELECT rowsched_finish(%s, 'silent', 'succeeded', 'late', NULL)", (run_id,))
    assert cur.fetchone()[0] is False  # too late: the outcome stays timeout
    conn.close()


def test_sigterm_lets_the_run_in_progress_finish_and_the_worker_exits_0(migrated_db, start_daemon, start_worker, out):
    start_daemon(migrated_db, *FAST)
    w = start_worker(migrated_db)
    # It runs longer than the daemon's --lost-after (1 s): the worker heart-beats while it shuts down.
    insert_job(migrated_db, "in-flight", func="wtasks:sleep", args=["in-flight", 2.0], kwargs={"trigger": "date"})
    wait_until(lambda: any(c.get("event") == "start" for c in calls(out)), what="the call to start")
    assert w.stop(signal.SIGTERM) == 0
    assert [r[1] for r in worker_runs(migrated_db, "in-flight")] == ["succeeded"]
    assert sql_value(migrated_db, "SELECT count(*) FROM rowsched_worker") == 0  # it deregistered


def test_a_queue_must_be_a_non_empty_string(migrated_db):
    with pytest.raises(psycopg2.errors.CheckViolation) as e:
        insert_job(migrated_db, "bad-queue", func="m:f", kwargs={"trigger": "date", "queue": 5})
    assert 'job_info.trigger_kwargs.queue: 5 is a number; allowed: a queue name' in str(e.value)


def test_status_metrics_and_views_show_live_workers_queue_depth_and_unserved_queues(
        migrated_db, start_daemon, start_worker, rowsched_bin):
    from conftest import free_port
    from test_operations import run_cli, sample, scrape
    port = free_port()
    start_daemon(migrated_db, *FAST, "--metrics-addr", f"127.0.0.1:{port}")
    start_worker(migrated_db, "--queue", "default", "--queue", "mail")
    # Waits in "reports" for ever (misfire_grace_time null): nothing serves that queue.
    insert_job(migrated_db, "nightly", func="wtasks:record", args=["n"],
               kwargs={"trigger": "interval", "hours": 1, "next_run_time": "now", "queue": "reports",
                       "misfire_grace_time": None})
    wait_until(lambda: runs(migrated_db, "nightly", "queued"))
    rows = {r[0]: r[1:4] for r in sql(migrated_db, "SELECT queue, live_workers, queued, running FROM worker_queue_status")}
    assert rows == {"default": (1, 0, 0), "mail": (1, 0, 0), "reports": (0, 1, 0)}

    metrics = wait_until(lambda: (m := scrape(port)) and sample(m, "rowsched_worker_queue_depth", queue="reports") == 1 and m,
                         what="the queue gauges")
    assert sample(metrics, "rowsched_worker_queue_live_workers", queue="default") == 1
    assert sample(metrics, "rowsched_worker_queue_live_workers", queue="reports") == 0
    assert sample(metrics, "rowsched_worker_queue_oldest_seconds", queue="reports") >= 0

    proc = run_cli(rowsched_bin, "status", "--dsn", migrated_db)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = lines.index(next(l for l in lines if l.startswith("WORKER QUEUE")))
    assert [l.split()[:4] for l in lines[header + 1:header + 4]] == [
        ["default", "1", "0", "0"], ["mail", "1", "0", "0"], ["reports", "0", "1", "0"]]
    assert 'job nightly: no live worker on queue "reports"' in lines


def test_pip_installs_the_package_offline_and_its_worker_command_runs(tmp_path):
    import shutil
    source = tmp_path / "src"
    shutil.copytree(ROOT / "clients" / "python", source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    offline = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    proc = subprocess.run([str(venv / "bin" / "pip"), "install", str(source)], capture_output=True, text=True,
                          env=offline, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    help_text = subprocess.run([str(venv / "bin" / "rowsched-worker"), "worker", "--help"], capture_output=True,
                               text=True, cwd=tmp_path, timeout=60).stdout
    assert "--concurrency" in help_text and "--queue NAME" in help_text


def test_a_worker_whose_connection_is_killed_reconnects_and_goes_on(migrated_db, start_daemon, start_worker):
    start_daemon(migrated_db, *FAST)
    w = start_worker(migrated_db)
    killed = sql_value(migrated_db, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                    "WHERE application_name LIKE 'rowsched worker %%'")
    assert killed == 1
    insert_job(migrated_db, "after-reconnect", func="wtasks:add", args=[20, 22], kwargs={"trigger": "date"})
    wait_until(lambda: runs(migrated_db, "after-reconnect", "succeeded"), what="the run after the reconnect")
    assert "reconnecting" in w.log()


def test_a_run_whose_job_was_deleted_while_queued_fails_saying_so(migrated_db, start_daemon, start_worker):
    start_daemon(migrated_db, *FAST)
    insert_job(migrated_db, "deleted", func="wtasks:add", args=[1, 1], kwargs={"trigger": "date"})
    wait_until(lambda: runs(migrated_db, "deleted", "queued"))
    sql(migrated_db, "DELETE FROM job_info WHERE job_id = 'deleted'")
    start_worker(migrated_db)
    failed = wait_until(lambda: runs(migrated_db, "deleted", "failed"))
    assert "job deleted no longer exists in job_info" in failed[0][3]


def test_the_protocol_refuses_bad_calls_and_a_restarted_worker_s_old_runs_are_lost(migrated_db, start_daemon):
    start_daemon(migrated_db, *FAST)
    conn = psycopg2.connect(migrated_db)
    conn.autocommit = True
    cur = conn.cursor()
    for call, message in [
            ("SELECT rowsched_worker_register('', '{default}', 1, 'h')", "the worker name is empty"),
            ("SELECT rowsched_worker_register('w', '{}', 1, 'h')", "worker w names no queue"),
            ("SELECT rowsched_finish(1, 'w', 'done', NULL, NULL)",
             "status 'done' is not an outcome; allowed: succeeded, failed, timeout")]:
        with pytest.raises(psycopg2.Error) as e:
            cur.execute(call)
        assert message in str(e.value)
    cur.execute("SELECT rowsched_worker_register('fixed-name', '{default}', 100, 'h')")
    insert_job(migrated_db, "restarted", func="mod:fn", args=[], kwargs={"trigger": "date"})
    wait_until(lambda: runs(migrated_db, "restarted", "queued"))
    cur.execute("SELECT count(*) FROM rowsched_take('fixed-name', '{default}', 1)")
    assert cur.fetchone()[0] == 1
    cur.execute("SELECT rowsched_worker_register('fixed-name', '{default}', 200, 'h')")  # another process
    lost = runs(migrated_db, "restarted", "lost")
    assert lost and "worker fixed-name restarted while this run was in progress" in lost[0][3]
    conn.close()


def test_the_worker_command_refuses_bad_options_naming_what_is_allowed(migrated_db):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "clients" / "python"))
    for option, value, message in [
            ("--concurrency", "0", "--concurrency: 0 is out of range; allowed: 1 or more"),
            ("--heartbeat-interval", "0", "--heartbeat-interval: 0 is out of range; allowed: a number of seconds, more than 0"),
            ("--shutdown-timeout", "-1", "--shutdown-timeout: -1 is out of range; allowed: a number of seconds, 0 or more"),
            ("--shutdown-timeout", "soon", "--shutdown-timeout: 'soon' is not a number; allowed: a number of seconds, 0 or more")]:
        proc = subprocess.run([sys.executable, "-m", "rowsched", "worker", "--dsn", migrated_db, option, value],
                              env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and message in proc.stderr, (option, value, proc.stderr)


def test_a_failed_worker_run_is_retried_as_often_as_the_job_asks(migrated_db, start_daemon, start_worker):
    start_daemon(migrated_db, *FAST)
    start_worker(migrated_db)
    insert_job(migrated_db, "flaky", func="wtasks:fail", args=["again"],
               kwargs={"trigger": "date", "retries": 2, "retry_delay": 0})
    wait_until(lambda: len(runs(migrated_db, "flaky", "failed")) == 3, what="the fire and its two retries")
    assert [(r[1], r[6]) for r in worker_runs(migrated_db, "flaky")] == [("failed", 1), ("failed", 2), ("failed", 3)]
    j = wait_until(lambda: (j := job(migrated_db, "flaky")) and j["run_count"] == 3 and j)
    assert j["failure_count"] == 3
