"""The exec, http and plugin handlers end to end (docs/handlers.md): a daemon started with its
allowlists, jobs written as rows of job_info, and only what a user can SELECT asserted (job_run's
status, output and error; job_info's state and last_error). The only network traffic is to a
throwaway HTTP server on 127.0.0.1."""

import datetime
import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import sql
from daemon import Daemon, wait_until

MAX_CAPTURE = 64 * 1024  # run::Executor::kMaxCapture


@pytest.fixture
def start_daemon(rowsched_bin, tmp_path):
    """start_daemon(dsn, *args) -> a running Daemon; its log is printed at teardown, which pytest
    shows only when the test failed."""
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    started = []

    def start(dsn, *args):
        d = Daemon(rowsched_bin, dsn, tmp_path, *args)
        started.append(d)
        return d.start().wait_ready()

    yield start
    for d in started:
        d.stop()
        print(f"--- log of {d.instance} ---\n{d.log()}")


def insert_job(dsn, job_id, func, args, kwargs=None):
    """A job that fires once, now (a date trigger without run_date), unless `kwargs` say otherwise."""
    sql(dsn, "INSERT INTO job_info (job_id, func, func_args, trigger_kwargs) VALUES (%s, %s, %s, %s)",
        (job_id, func, json.dumps(args), json.dumps(kwargs if kwargs is not None else {"trigger": "date"})))


def finished_run(dsn, job_id, timeout=10.0):
    """(status, output, error, seconds taken) of the job's first run, once it is no longer running."""
    return wait_until(lambda: (sql(dsn, "SELECT status, output, error, extract(epoch FROM finished_at - started_at)::float "
                                        "FROM job_run WHERE job_id = %s AND status <> 'running' ORDER BY run_id LIMIT 1",
                                   (job_id,)) or [None])[0], timeout, f"a finished run of {job_id}")


def invalid_reason(dsn, job_id):
    """job_info.last_error once rowsched has marked the row invalid."""
    return wait_until(lambda: (sql(dsn, "SELECT last_error FROM job_info WHERE job_id = %s AND state = 'invalid'",
                                   (job_id,)) or [[None]])[0][0], what=f"{job_id} to be invalid")


def processes_with_argv(argv):
    """PIDs of live processes whose command line is exactly `argv` (read from /proc)."""
    wanted = ("\0".join(argv) + "\0").encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes() == wanted:
                    found.append(int(entry.name))
            except OSError:
                pass  # the process ended while we looked
    return found


# --- exec ------------------------------------------------------------------------------------------


def test_an_exec_job_runs_an_allowed_program_and_records_its_stdout(migrated_db, start_daemon):
    start_daemon(migrated_db, "--allow-exec", "/bin/echo")
    insert_job(migrated_db, "echo", "exec", ["/bin/echo", "hello", "from exec"])
    status, output, error, _ = finished_run(migrated_db, "echo")
    assert (status, output, error) == ("succeeded", "hello from exec\n", None)


def test_an_exec_job_gets_a_fixed_environment_and_working_directory(migrated_db, start_daemon):
    start_daemon(migrated_db, "--allow-exec", "/usr/bin/env", "--allow-exec", "/bin/pw*")
    insert_job(migrated_db, "env", "exec", ["/usr/bin/env"])
    insert_job(migrated_db, "pwd", "exec", ["/bin/pwd"])
    status, output, _, _ = finished_run(migrated_db, "env")
    assert status == "succeeded"
    env = dict(line.split("=", 1) for line in output.splitlines())
    assert set(env) == {"PATH", "LANG", "ROWSCHED_JOB_ID", "ROWSCHED_RUN_ID", "ROWSCHED_SCHEDULED_FOR"}
    assert env["PATH"] == "/usr/bin:/bin" and env["ROWSCHED_JOB_ID"] == "env"
    assert env["ROWSCHED_RUN_ID"] == str(sql(migrated_db, "SELECT run_id FROM job_run WHERE job_id = 'env'")[0][0])
    assert env["ROWSCHED_SCHEDULED_FOR"].endswith("Z")
    assert finished_run(migrated_db, "pwd")[:2] == ("succeeded", "/\n")


@pytest.mark.parametrize("flags, argv, message", [
    ([], ["/bin/echo", "hi"],
     'func "exec" is not enabled on this rowsched: it was started without --allow-exec. To run "/bin/echo", '
     'start rowsched with --allow-exec /bin/echo'),
    (["--allow-exec", "/bin/echo"], ["/bin/rm", "-rf", "/tmp/nothing-here"],
     'program "/bin/rm" is not allowed by --allow-exec (allowed: /bin/echo); to allow it, start rowsched with '
     '--allow-exec /bin/rm'),
    (["--allow-exec", "/usr/bin/*"], ["/usr/bin/../../bin/rm"], "must be a normalised absolute path"),
    (["--allow-exec", "/bin/echo"], ["echo", "hi"], "exec runs no shell and does no PATH lookup"),
    (["--allow-exec", "/bin/echo"], [], "func_args must be the program's argv"),
    (["--allow-exec", "/bin/echo"], ["/bin/echo", {"not": "an argument"}], "func_args[1] must be a string"),
])
def test_an_exec_row_the_allowlist_does_not_cover_is_invalid_and_says_how_to_allow_it(migrated_db, start_daemon, flags,
                                                                                       argv, message):
    start_daemon(migrated_db, *flags)
    insert_job(migrated_db, "x", "exec", argv)
    reason = invalid_reason(migrated_db, "x")
    assert reason.startswith('func_args for "exec": ') and message in reason
    assert sql(migrated_db, "SELECT count(*) FROM job_run WHERE job_id = 'x'")[0][0] == 0


def test_a_program_exiting_non_zero_is_a_failure_with_its_status_and_stderr(migrated_db, start_daemon):
    start_daemon(migrated_db, "--allow-exec", "/bin/sh")
    insert_job(migrated_db, "three", "exec", ["/bin/sh", "-c", "echo partial; echo 'it broke' >&2; exit 3"])
    status, output, error, _ = finished_run(migrated_db, "three")
    assert (status, output, error) == ("failed", "partial\n", "exited with status 3\nit broke\n")
    wait_until(lambda: sql(migrated_db, "SELECT last_status = 'failed' AND failure_count = 1 FROM job_info "
                                        "WHERE job_id = 'three'")[0][0], what="the failure to be counted")


def test_a_program_killed_by_a_signal_is_a_failure_naming_the_signal(migrated_db, start_daemon):
    start_daemon(migrated_db, "--allow-exec", "/bin/sh")
    insert_job(migrated_db, "killed", "exec", ["/bin/sh", "-c", "kill -9 $$"])
    status, _, error, _ = finished_run(migrated_db, "killed")
    assert (status, error) == ("failed", "killed by signal 9 (SIGKILL)")


def test_a_program_past_its_timeout_is_terminated_and_recorded_as_timeout(migrated_db, start_daemon):
    argv = ["/bin/sleep", "31.25"]  # an argv no other process has, to find it in /proc
    start_daemon(migrated_db, "--allow-exec", "/bin/sleep")
    insert_job(migrated_db, "slow", "exec", argv, {"trigger": "date", "timeout": 1})
    wait_until(lambda: processes_with_argv(argv), what="the program to start")
    status, _, error, took = finished_run(migrated_db, "slow", timeout=5)
    assert status == "timeout" and took < 3
    assert error.startswith("timed out after 1 s: sent SIGTERM to its process group")
    assert processes_with_argv(argv) == []


def test_a_program_ignoring_sigterm_is_killed_with_its_whole_process_group(migrated_db, start_daemon):
    child = ["/bin/sleep", "32.5"]
    start_daemon(migrated_db, "--allow-exec", "/bin/sh")
    # The shell and its child both ignore SIGTERM; only SIGKILL to the group ends them.
    insert_job(migrated_db, "stubborn", "exec", ["/bin/sh", "-c", "trap '' TERM; /bin/sleep 32.5; echo never"],
               {"trigger": "date", "timeout": 0.5})
    wait_until(lambda: processes_with_argv(child), what="the grandchild to start")
    status, output, error, took = finished_run(migrated_db, "stubborn", timeout=6)
    assert status == "timeout" and took < 4
    assert "then SIGKILL 2 s later; killed by signal 9 (SIGKILL)" in error and "never" not in output
    wait_until(lambda: processes_with_argv(child) == [], timeout=2, what="the grandchild to be gone")


def test_output_beyond_the_bound_is_cut_with_a_note(migrated_db, start_daemon):
    start_daemon(migrated_db, "--allow-exec", "/bin/sh")
    insert_job(migrated_db, "chatty", "exec", ["/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a"])
    status, output, _, _ = finished_run(migrated_db, "chatty")
    assert status == "succeeded"
    assert len(output.encode()) <= MAX_CAPTURE
    kept = output.split("\n")[0]
    assert set(kept) == {"a"} and len(kept) > MAX_CAPTURE - 100
    assert output.endswith(f"[... {300000 - len(kept)} more bytes not kept]")


def test_exec_jobs_due_at_one_instant_run_at_once_not_one_after_another(migrated_db, start_daemon):
    start_daemon(migrated_db, "--allow-exec", "/bin/sleep", "--workers", "1")
    at = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)).isoformat()
    sql(migrated_db, "INSERT INTO job_info (job_id, func, func_args, trigger_kwargs) SELECT 'nap-' || i, 'exec', "
                     "'[\"/bin/sleep\", \"1\"]', jsonb_build_object('trigger', 'date', 'run_date', %s::text) "
                     "FROM generate_series(1, 20) i", (at,))
    done = wait_until(lambda: (lambda r: r if r[0][0] == 20 else None)(sql(
        migrated_db, "SELECT count(*), extract(epoch FROM max(finished_at) - min(started_at))::float FROM job_run "
                     "WHERE job_id LIKE 'nap-%%' AND status = 'succeeded'")), timeout=60, what="20 succeeded naps")
    # Each program sleeps 1 s: one after another on the one executor thread would take 20 s.
    assert done[0][1] < 8, f"20 programs of 1 s each took {done[0][1]:.1f} s from the first start to the last end"


# --- http ------------------------------------------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    """/ok -> 200, /fail -> 500, /echo -> 200 with the request, /slow -> answers after 5 s,
    /second -> answers after 1 s, /hop -> 302 to /ok, /away -> 302 to a host that is not allowed."""

    def _answer(self, code, body, headers=()):
        data = body.encode()
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.server.requests.append((self.command, self.path, dict(self.headers), body))
        if self.path == "/ok":
            self._answer(200, "all good")
        elif self.path == "/fail":
            self._answer(500, "boom")
        elif self.path == "/echo":
            self._answer(200, json.dumps({"method": self.command, "body": body,
                                          "content_type": self.headers.get("Content-Type"),
                                          "token": self.headers.get("X-Token"),
                                          "job": self.headers.get("X-Rowsched-Job-Id")}))
        elif self.path == "/slow":
            self.server.release.wait(5)
            self._answer(200, "late")
        elif self.path == "/second":
            time.sleep(1)
            self._answer(200, "a second later")
        elif self.path == "/hop":
            self._answer(302, "", [("Location", "/ok")])
        elif self.path == "/away":
            self._answer(302, "", [("Location", "http://elsewhere.invalid/ok")])
        else:
            self._answer(404, "no such path")

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    """A local HTTP server on a free port of 127.0.0.1: yields it (.server_port, .requests)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.daemon_threads = True
    server.requests = []
    server.release = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def test_an_http_job_records_the_status_and_body_of_a_2xx_answer(migrated_db, start_daemon, http_server):
    start_daemon(migrated_db, "--allow-http", "127.0.0.1")
    insert_job(migrated_db, "ping", "http", [f"http://127.0.0.1:{http_server.server_port}/ok"])
    assert finished_run(migrated_db, "ping")[:3] == ("succeeded", "HTTP 200\nall good", None)


def test_an_http_job_answered_with_500_is_a_failure(migrated_db, start_daemon, http_server):
    start_daemon(migrated_db, "--allow-http", f"127.0.0.1:{http_server.server_port}")
    url = f"http://127.0.0.1:{http_server.server_port}/fail"
    insert_job(migrated_db, "bad", "http", [url])
    status, output, error, _ = finished_run(migrated_db, "bad")
    assert (status, output) == ("failed", "HTTP 500\nboom")
    assert error == f"HTTP 500 from GET {url} (only 2xx is success)"


def test_http_jobs_due_at_one_instant_are_requested_at_once_not_one_after_another(
        migrated_db, start_daemon, http_server):
    start_daemon(migrated_db, "--allow-http", "127.0.0.1", "--workers", "1")
    at = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)).isoformat()
    url = f"http://127.0.0.1:{http_server.server_port}/second"
    sql(migrated_db, "INSERT INTO job_info (job_id, func, func_args, trigger_kwargs) SELECT 'get-' || i, 'http', "
                     "jsonb_build_array(%s::text), jsonb_build_object('trigger', 'date', 'run_date', %s::text) "
                     "FROM generate_series(1, 40) i", (url, at))
    done = wait_until(lambda: (lambda r: r if r[0][0] == 40 else None)(sql(
        migrated_db, "SELECT count(*), extract(epoch FROM max(finished_at) - min(started_at))::float FROM job_run "
                     "WHERE job_id LIKE 'get-%%' AND status = 'succeeded'")), timeout=60, what="40 succeeded requests")
    # Each answer takes 1 s: one after another on the one executor thread would take 40 s. (The test
    # server's listen backlog of 5 delays some connections by a SYN retry of 1 s or more.)
    assert done[0][1] < 15, f"40 requests of 1 s each took {done[0][1]:.1f} s from the first start to the last end"


def test_an_http_job_sends_its_method_headers_and_json_body(migrated_db, start_daemon, http_server):
    start_daemon(migrated_db, "--allow-http", "127.0.0.1")
    insert_job(migrated_db, "post", "http", [f"http://127.0.0.1:{http_server.server_port}/echo",
                                             {"method": "PUT", "headers": {"X-Token": "s3cret"}, "body": {"n": 1}}])
    status, output, _, _ = finished_run(migrated_db, "post")
    assert status == "succeeded" and output.startswith("HTTP 200\n")
    assert json.loads(output.split("\n", 1)[1]) == {"method": "PUT", "body": '{"n":1}', "content_type": "application/json",
                                                    "token": "s3cret", "job": "post"}


def test_an_http_redirect_is_followed_only_within_allowed_hosts(migrated_db, start_daemon, http_server):
    start_daemon(migrated_db, "--allow-http", "127.0.0.1")
    base = f"http://127.0.0.1:{http_server.server_port}"
    insert_job(migrated_db, "hop", "http", [base + "/hop"])
    insert_job(migrated_db, "away", "http", [base + "/away"])
    assert finished_run(migrated_db, "hop")[:2] == ("succeeded", "HTTP 200\nall good")
    status, _, error, _ = finished_run(migrated_db, "away")
    assert status == "failed"
    assert error.startswith('HTTP 302 redirect not followed: host "elsewhere.invalid:80" of "http://elsewhere.invalid/ok" '
                            "is not allowed by --allow-http")


def test_an_http_request_past_its_timeout_is_aborted_and_recorded_as_timeout(migrated_db, start_daemon, http_server):
    start_daemon(migrated_db, "--allow-http", "127.0.0.1")
    insert_job(migrated_db, "slow", "http", [f"http://127.0.0.1:{http_server.server_port}/slow"],
               {"trigger": "date", "timeout": 1})
    status, _, error, took = finished_run(migrated_db, "slow", timeout=5)
    assert status == "timeout" and took < 3
    assert error == "timed out after 1 s (the job's timeout): the transfer was aborted"


@pytest.mark.parametrize("flags, args, message", [
    (["--allow-http", "127.0.0.1:1"], ["http://127.0.0.1:{port}/ok"],
     'host "127.0.0.1:{port}" of "http://127.0.0.1:{port}/ok" is not allowed by --allow-http (allowed: 127.0.0.1:1)'),
    (["--allow-http", "*.example.com"], ["https://example.com/"], 'host "example.com:443" of "https://example.com/" is not allowed'),
    ([], ["http://127.0.0.1:{port}/ok"], 'func "http" is not enabled on this rowsched: it was started without --allow-http'),
    (["--allow-http", "127.0.0.1"], ["file:///etc/passwd"], 'the scheme must be http or https, got "file"'),
    (["--allow-http", "127.0.0.1"], ["http://127.0.0.1:{port}/ok", {"methd": "GET"}],
     'func_args[1]: unknown key "methd"; allowed: body, headers, method, timeout'),
    (["--allow-http", "127.0.0.1"], ["http://127.0.0.1:{port}/ok", {"timeout": "5"}], 'func_args[1].timeout: "5" is out of range'),
])
def test_an_http_row_for_a_host_not_allowed_or_with_bad_options_is_invalid(migrated_db, start_daemon, http_server, flags,
                                                                            args, message):
    port = http_server.server_port
    start_daemon(migrated_db, *flags)
    insert_job(migrated_db, "x", "http", [a.format(port=port) if isinstance(a, str) else a for a in args])
    reason = invalid_reason(migrated_db, "x")
    assert reason.startswith('func_args for "http": ') and message.format(port=port) in reason
    assert http_server.requests == []


# --- plugins ---------------------------------------------------------------------------------------


@pytest.fixture
def example_plugin(rowsched_bin):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    path = Path(rowsched_bin).parent / "librowsched_example_plugin.so"
    assert path.is_file(), f"the example plugin is built with rowsched (target rowsched_example_plugin): {path}"
    return str(path)


def test_a_plugin_handler_runs_jobs_that_name_it(migrated_db, start_daemon, example_plugin):
    start_daemon(migrated_db, "--plugin", example_plugin)
    insert_job(migrated_db, "greet", "example.greet", ["plugin test"])
    insert_job(migrated_db, "fail", "example.fail", ["on purpose"])
    insert_job(migrated_db, "bad", "example.greet", [1, 2])
    status, output, _, _ = finished_run(migrated_db, "greet")
    assert status == "succeeded" and output.startswith("Hello, plugin test! (job greet, run ")
    status, output, error, _ = finished_run(migrated_db, "fail")
    assert (status, error) == ("failed", "on purpose") and not output
    assert invalid_reason(migrated_db, "bad") == 'func_args for "example.greet": func_args must be [] or [name], name a string'


def test_a_row_naming_a_plugin_handler_is_invalid_without_the_plugin(migrated_db, start_daemon):
    start_daemon(migrated_db)
    insert_job(migrated_db, "greet", "example.greet", [])
    assert invalid_reason(migrated_db, "greet").startswith('func: "example.greet" is not a handler; available: ')


@pytest.mark.parametrize("make_flags, message", [
    (lambda tmp, plugin: ["--plugin", str(tmp / "missing.so")], "--plugin {tmp}/missing.so: cannot load the library: "),
    (lambda tmp, plugin: ["--plugin", str((tmp / "empty.so").touch() or tmp / "empty.so")],
     "--plugin {tmp}/empty.so: cannot load the library: "),
    (lambda tmp, plugin: ["--plugin", plugin, "--plugin", plugin],
     '--plugin {plugin}: handler name "example.greet" is already taken'),
    (lambda tmp, plugin: ["--allow-exec", "bin/echo"], '--allow-exec "bin/echo": must be an absolute program path'),
    (lambda tmp, plugin: ["--allow-http", "http://example.com/"], '--allow-http "http://example.com/": write a host or host:port'),
])
def test_a_start_up_option_that_cannot_work_stops_rowsched_with_the_reason(migrated_db, rowsched_bin, example_plugin,
                                                                           tmp_path, make_flags, message):
    flags = make_flags(tmp_path, example_plugin)
    proc = subprocess.run([rowsched_bin, "run", "--dsn", migrated_db, *flags], capture_output=True, text=True, timeout=20,
                          env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 2, proc.stderr
    assert message.format(tmp=tmp_path, plugin=example_plugin) in proc.stderr
