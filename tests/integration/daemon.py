"""Running `rowsched run` as a real child process in integration tests, and waiting for what it
writes. Waiting polls the database (every 20 ms, with a deadline), never sleeps for a fixed time."""

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import json

import pytest

from conftest import connect, sql, sql_value


def wait_until(predicate, timeout=10.0, what="condition", interval=0.02):
    """Polls `predicate` until it returns a truthy value, which is returned; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {last!r})")
        time.sleep(interval)


class Daemon:
    """One `rowsched run` process; its log is kept in a file and shown when a test fails."""

    def __init__(self, binary, dsn, log_dir, *args, instance=None):
        self.binary, self.dsn, self.args = binary, dsn, list(args)
        self.instance = instance or f"test-{os.getpid()}-{id(self)}"
        self.log_path = Path(log_dir) / f"{self.instance}.log"
        self.proc = None

    def start(self):
        self._log = open(self.log_path, "a")
        self.proc = subprocess.Popen([self.binary, "run", "--dsn", self.dsn, "--instance", self.instance,
                                      "--resync-interval", "2", *self.args],
                                     stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, timeout=10.0):
        """Waits until the daemon has registered in scheduler_instance (it loaded every job first)."""
        wait_until(lambda: self.proc.poll() is not None or sql(
            self.dsn, "SELECT 1 FROM scheduler_instance WHERE instance = %s", (self.instance,)),
            timeout, f"{self.instance} to register")
        assert self.proc.poll() is None, f"rowsched exited early:\n{self.log()}"
        return self

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        """Sends `sig` and waits for the exit; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def kill(self):
        return self.stop(signal.SIGKILL)

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def started_under(rowsched_bin, dsn, tmp_path, *args, prefix=()):
    """A ready daemon started under `prefix` (setpriv, nice, prlimit: a command that execs the rest)."""
    binary = rowsched_bin
    if prefix:
        binary = tmp_path / "rowsched-under-prefix"
        binary.write_text("#!/bin/sh\nexec " + " ".join(prefix) + f" {rowsched_bin} \"$@\"\n")
        binary.chmod(0o755)
    return Daemon(str(binary), dsn, tmp_path, *args).start().wait_ready()


def run_with_option(rowsched_bin, option, value, how):
    """`rowsched run` (against no server) with `option` (--start-nice) set to `value` on the command line
    (how="option") or in its environment variable (how="environment": ROWSCHED_START_NICE); the
    finished process, its output as text."""
    args = [option, value] if how == "option" else []
    env = {**os.environ, "ROWSCHED_" + option[2:].upper().replace("-", "_"): value} if how == "environment" else None
    return subprocess.run([rowsched_bin, "run", "--dsn", "host=/nonexistent", *args],
                          capture_output=True, text=True, timeout=30, env=env)


@pytest.fixture
def start_daemon(rowsched_bin, tmp_path, request):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    started = []

    def start(dsn, *args, instance=None):
        d = Daemon(rowsched_bin, dsn, tmp_path, *args, instance=instance).start().wait_ready()
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        for d in started:
            print(f"--- log of {d.instance} ---\n{d.log()}")


def insert_job(dsn, job_id, func="log", args=None, kwargs=None, **columns):
    cols = {"job_id": job_id, "func": func, "func_args": json.dumps(args if args is not None else ["hello"]),
            "trigger_kwargs": json.dumps(kwargs if kwargs is not None else {"trigger": "interval", "hours": 1})}
    cols.update(columns)
    names = ", ".join(cols)
    marks = ", ".join(["%s"] * len(cols))
    sql(dsn, f"INSERT INTO job_info ({names}) VALUES ({marks})", list(cols.values()))


def job(dsn, job_id):
    rows = sql(dsn, "SELECT state, next_run_time, is_running, last_error, run_count, failure_count, last_status, "
                    "run_right_now, version FROM job_info WHERE job_id = %s", (job_id,))
    if not rows:
        return None
    keys = ["state", "next_run_time", "is_running", "last_error", "run_count", "failure_count", "last_status",
            "run_right_now", "version"]
    return dict(zip(keys, rows[0]))


def runs(dsn, job_id, status=None):
    q = "SELECT scheduled_for, status, output, error, instance FROM job_run WHERE job_id = %s"
    params = [job_id]
    if status:
        q += " AND status = %s"
        params.append(status)
    return sql(dsn, q + " ORDER BY scheduled_for", params)


def state_is(dsn, job_id, state):
    j = job(dsn, job_id)
    return j if j and j["state"] == state else None




@contextlib.contextmanager
def row_held(dsn, statement):
    """A session in a transaction that ran `statement` (an UPDATE of job_info rows, a SELECT ... FOR
    UPDATE) and is still open, as a psql session or an admin page can leave one: the rows stay held
    until the block ends, then it rolls back."""
    holder = connect(dsn, autocommit=False)
    try:
        with holder.cursor() as cur:
            cur.execute(statement)
        yield
    finally:
        holder.rollback()
        holder.close()


def wait_for_a_counted_run_of_every_job(dsn):
    wait_until(lambda: sql_value(dsn, "SELECT min(run_count) FROM job_info") >= 1, what="a counted run of each job")
