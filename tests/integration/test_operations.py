"""Operating rowsched (docs/operations.md): the metrics endpoint read over real HTTP as Prometheus
would, /healthz and /readyz, `rowsched status`, configuration by flag, environment and file, JSON
logs, passwords kept out of every log, and the systemd unit. Everything is observed from outside the
process: HTTP answers, exit codes, stdout and the log."""

import json
import math
import os
import re
import shutil
import signal
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import REPO, free_port, sql, sql_value
from daemon import insert_job, runs, start_daemon, state_is, wait_until  # noqa: F401 (fixture)


# --- helpers -------------------------------------------------------------------------------------------


def http_get(port, path, timeout=5.0):
    """(status, body) of GET http://127.0.0.1:<port><path>; a 503 is an answer, not an error."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
            return resp.status, resp.read().decode(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("Content-Type", "")
    except (urllib.error.URLError, ConnectionError, OSError):
        return None, "", ""


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)$")


def parse_labels(text):
    """{name: value} of a `{a="x",b="y\\"z"}` label set, undoing the escapes of the text format."""
    labels, i = {}, 1
    while i < len(text) - 1:
        eq = text.index("=", i)
        name = text[i:eq].strip().lstrip(",").strip()
        assert text[eq + 1] == '"', f"label value not quoted in {text}"
        j, value = eq + 2, []
        while text[j] != '"':
            if text[j] == "\\":
                value.append({"\\": "\\", '"': '"', "n": "\n"}[text[j + 1]])
                j += 2
            else:
                value.append(text[j])
                j += 1
        labels[name] = "".join(value)
        i = j + 1
        if i < len(text) and text[i] == ",":
            i += 1
    return labels


def parse_exposition(text):
    """{family: {"help", "type", "samples": [(name, labels, value)]}} of Prometheus text format 0.0.4.
    Fails on any line that is not a comment, a HELP/TYPE line or a sample."""
    families, current = {}, None
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            current = families.setdefault(name, {"help": None, "type": None, "samples": []})
            current["help"] = help_text
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            families.setdefault(name, {"help": None, "type": None, "samples": []})["type"] = kind
        elif line.startswith("#"):
            continue
        else:
            m = _SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            name, labels, value = m.group(1), parse_labels(m.group(2)) if m.group(2) else {}, float(m.group(3))
            family = next((f for f in (name, re.sub(r"_(bucket|sum|count)$", "", name)) if f in families), None)
            assert family, f"sample {name} before its HELP/TYPE lines"
            families[family]["samples"].append((name, labels, value))
    return families


def sample(families, name, **labels):
    """The value of the sample `name` with exactly `labels` (None when absent)."""
    family = families.get(name) or families.get(re.sub(r"_(bucket|sum|count)$", "", name))
    for n, lab, value in (family or {}).get("samples", []):
        if n == name and lab == labels:
            return value
    return None


def scrape(port):
    status, body, content_type = http_get(port, "/metrics")
    assert status == 200, (status, body)
    assert content_type.startswith("text/plain") and "version=0.0.4" in content_type, content_type
    return parse_exposition(body)


def run_cli(rowsched_bin, *args, env=None, timeout=60):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ROWSCHED_") and k != "DATABASE_URL"}
    return subprocess.run([rowsched_bin, *args], capture_output=True, text=True, timeout=timeout,
                          env={**clean, **(env or {})})


class Process:
    """A `rowsched run` started with exactly the given arguments and environment (no --instance added)."""

    def __init__(self, rowsched_bin, args, log_path, env=None):
        clean = {k: v for k, v in os.environ.items() if not k.startswith("ROWSCHED_") and k != "DATABASE_URL"}
        self.log_path = log_path
        self._log = open(log_path, "a")
        self.proc = subprocess.Popen([rowsched_bin, "run", *args], stdout=self._log, stderr=subprocess.STDOUT,
                                     env={**clean, **(env or {})})

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
        self._log.close()
        return self.proc.returncode

    def log(self):
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def processes():
    started = []
    yield started
    for p in started:
        p.stop()


@pytest.fixture
def binary(rowsched_bin):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    return rowsched_bin


# --- /metrics, /healthz, /readyz ---------------------------------------------------------------------


def test_metrics_are_served_in_prometheus_text_format_and_count_what_happened(migrated_db, start_daemon):
    port = free_port()
    start_daemon(migrated_db, "--metrics-addr", f"127.0.0.1:{port}")
    wait_until(lambda: http_get(port, "/readyz")[0] == 200, what="/readyz 200")
    before = scrape(port)
    assert sample(before, "rowsched_up") == 1
    assert sample(before, "rowsched_reloads_total") == 1

    insert_job(migrated_db, "tick", args=["tick"], kwargs={"trigger": "interval", "seconds": 1})
    insert_job(migrated_db, "resting", kwargs={"trigger": "interval", "hours": 1}, is_paused=True)
    insert_job(migrated_db, "broken", kwargs={"trigger": "cron", "minute": "61"})
    insert_job(migrated_db, "once", kwargs={"trigger": "date", "run_date": "2999-01-01"})
    wait_until(lambda: len(runs(migrated_db, "tick", "succeeded")) >= 2, timeout=15, what="2 runs of tick")
    wait_until(lambda: state_is(migrated_db, "broken", "invalid"))

    def counted():
        m = scrape(port)
        return m if (sample(m, "rowsched_runs_total", status="succeeded") or 0) >= 2 else None

    after = wait_until(counted, what="the runs counted in /metrics")
    for name, family in after.items():
        assert family["help"], f"{name} has no HELP line"
        assert family["type"], f"{name} has no TYPE line"
        if name.endswith("_total"):
            assert family["type"] == "counter", name

    assert sample(after, "rowsched_fires_total", outcome="run") >= 2
    assert sample(after, "rowsched_fires_total", outcome="run") > sample(before, "rowsched_fires_total", outcome="run")
    assert sample(after, "rowsched_runs_total", status="failed") == 0
    assert sample(after, "rowsched_notifications_total") >= 4
    assert sample(after, "rowsched_reloads_total") == 1
    assert sample(after, "rowsched_claim_conflicts_total") == 0  # the only instance wins every claim
    assert 0.005 <= sample(after, "rowsched_claim_lead_seconds") <= 0.1  # fires were claimed ahead, within bounds
    assert sample(after, "rowsched_build_info", version=sample_label(after, "rowsched_build_info", "version")) == 1

    for histogram in ("rowsched_fire_lateness_seconds", "rowsched_change_pickup_seconds"):
        assert after[histogram]["type"] == "histogram"
        buckets = [(float(lab["le"]), v) for n, lab, v in after[histogram]["samples"] if n == histogram + "_bucket"]
        assert buckets[-1][0] == math.inf, "the last bucket is +Inf"
        assert [le for le, _ in buckets] == sorted(le for le, _ in buckets), "bounds increase"
        assert all(a <= b for (_, a), (_, b) in zip(buckets, buckets[1:])), f"{histogram} buckets are cumulative"
        assert buckets[-1][1] == sample(after, histogram + "_count")
        assert sample(after, histogram + "_sum") >= 0
    assert sample(after, "rowsched_fire_lateness_seconds_count") >= 2
    assert sample(after, "rowsched_change_pickup_seconds_count") >= 4  # four rows changed while running
    # Picked up within milliseconds, not by the 2 s resync: every change is in a bucket below it.
    assert sample(after, "rowsched_change_pickup_seconds_bucket", le="1") == sample(after, "rowsched_change_pickup_seconds_count")

    def gauges_match_the_table():
        by_state = dict(sql(migrated_db, "SELECT state, count(*) FROM job_info GROUP BY state"))
        m = scrape(port)
        gauges = {s: sample(m, "rowsched_jobs", state=s) for s in ("scheduled", "paused", "finished", "invalid")}
        return gauges if all(gauges[s] == by_state.get(s, 0) for s in gauges) and "pending" not in by_state else None

    gauges = wait_until(gauges_match_the_table, what="rowsched_jobs to match SELECT state, count(*)")
    assert gauges == {"scheduled": 2, "paused": 1, "finished": 0, "invalid": 1}


def sample_label(families, name, label):
    return next(lab[label] for n, lab, _ in families[name]["samples"] if n == name)


def test_healthz_answers_ok_and_readyz_ready_once_the_jobs_are_loaded(migrated_db, start_daemon):
    port = free_port()
    start_daemon(migrated_db, "--metrics-addr", f"127.0.0.1:{port}")
    status, body, _ = wait_until(lambda: (lambda r: r if r[0] == 200 else None)(http_get(port, "/readyz")))
    assert body.strip() == "ready"
    status, body, _ = http_get(port, "/healthz")
    assert (status, body.strip()) == (200, "ok")
    assert http_get(port, "/nothing-here")[0] == 404


def test_readyz_says_why_while_the_database_is_unreachable_and_healthz_stays_ok(pg, binary, tmp_path, processes):
    port = free_port()
    p = Process(binary, ["--dsn", pg.dsn("no_such_database"), "--metrics-addr", f"127.0.0.1:{port}"], tmp_path / "d.log")
    processes.append(p)
    status, body, _ = wait_until(lambda: (lambda r: r if r[0] == 503 and "cannot connect" in r[1] else None)(
        http_get(port, "/readyz")), what="/readyz 503 naming the connection problem")
    assert "no_such_database" in body
    assert http_get(port, "/healthz")[:2] == (200, "ok\n")


def test_a_malformed_metrics_address_fails_at_start_up_with_exit_code_2(binary, migrated_db):
    proc = run_cli(binary, "run", "--dsn", migrated_db, "--metrics-addr", "localhost")
    assert proc.returncode == 2
    assert "--metrics-addr" in proc.stderr and "HOST:PORT" in proc.stderr


# --- rowsched status -----------------------------------------------------------------------------------


def status_rows(stdout):
    """{job_id: {column: cell}} of the table `rowsched status` prints, split at the header's columns."""
    lines = stdout.splitlines()
    assert re.match(r"^\d+ rowsched instances? live: ", lines[0]), lines[0]  # the liveness line comes first
    lines = lines[1:]
    names = ["JOB", "STATE", "NEXT RUN", "LAST RUN", "LAST STATUS", "RUNS", "FAILURES"]
    assert re.split(r"\s{2,}", lines[0].strip()) == names, lines[0]
    rows = {}
    for line in lines[1:]:
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip())  # columns are padded; no cell holds two spaces
        assert len(cells) == len(names), line
        rows[cells[0]] = dict(zip(names, cells))
    return rows


def test_status_lists_every_job_with_its_state_runs_and_failures(migrated_db, start_daemon, binary):
    d = start_daemon(migrated_db)
    insert_job(migrated_db, "tick", args=["tick"], kwargs={"trigger": "interval", "seconds": 1})
    insert_job(migrated_db, "failing", func="sql", args=["SELECT 1/0"], kwargs={"trigger": "interval", "seconds": 1})
    insert_job(migrated_db, "resting", kwargs={"trigger": "interval", "hours": 1}, is_paused=True)
    insert_job(migrated_db, "broken", kwargs={"trigger": "cron", "minute": "61"})
    wait_until(lambda: sql_value(migrated_db, "SELECT min(run_count) FROM job_info WHERE job_id IN ('tick', 'failing')") >= 2,
               timeout=15, what="two runs of each interval job")
    wait_until(lambda: state_is(migrated_db, "broken", "invalid"))
    d.stop()  # so that the counts hold still while we compare

    proc = run_cli(binary, "status", "--dsn", migrated_db, "--timezone", "Europe/Berlin")
    assert proc.returncode == 0, proc.stderr
    rows = status_rows(proc.stdout)
    table = {r[0]: r[1:] for r in sql(migrated_db, "SELECT job_id, state, run_count, failure_count, last_status FROM job_info")}
    assert set(rows) == set(table)
    for job_id, (state, run_count, failure_count, last_status) in table.items():
        # The daemon has stopped: no instance is live, and scheduled jobs say they are not firing.
        assert rows[job_id]["STATE"] == ("not firing" if state == "scheduled" else state)
        assert rows[job_id]["RUNS"] == str(run_count)
        assert rows[job_id]["FAILURES"] == str(failure_count)
        assert rows[job_id]["LAST STATUS"] == (last_status or "-")
    assert rows["failing"]["LAST STATUS"] == "failed" and int(rows["failing"]["FAILURES"]) >= 2
    assert rows["resting"]["NEXT RUN"] == "-" and rows["resting"]["LAST RUN"] == "-"
    assert re.fullmatch(r"\w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T", rows["tick"]["LAST RUN"]), rows["tick"]
    assert "4 jobs listed." in proc.stdout
    assert proc.stdout.splitlines()[0] == "0 rowsched instances live: nothing is firing"
    assert re.search(r"^invalid: broken: .*61", proc.stdout, re.M)


def test_status_sorts_by_next_run(migrated_db, binary, start_daemon):
    d = start_daemon(migrated_db)
    insert_job(migrated_db, "c-2030", kwargs={"trigger": "date", "run_date": "2030-01-01"})
    insert_job(migrated_db, "a-2040", kwargs={"trigger": "date", "run_date": "2040-01-01"})
    insert_job(migrated_db, "b-2035", kwargs={"trigger": "date", "run_date": "2035-01-01"})
    for j in ("c-2030", "a-2040", "b-2035"):
        wait_until(lambda: state_is(migrated_db, j, "scheduled"))
    d.stop()
    proc = run_cli(binary, "status", "--dsn", migrated_db)
    assert list(status_rows(proc.stdout)) == ["c-2030", "b-2035", "a-2040"]
    assert status_rows(proc.stdout)["c-2030"]["NEXT RUN"] == "Tue 2030-01-01 00:00:00 UTC"


def test_status_of_an_unmigrated_database_fails_with_exit_code_1_and_says_why(db, binary):
    proc = run_cli(binary, "status", "--dsn", db)
    assert proc.returncode == 1
    assert "job_status" in proc.stderr


# --- configuration -------------------------------------------------------------------------------------


def registered_instance(dsn):
    return sql_value(dsn, "SELECT instance FROM scheduler_instance")


def start_and_read(binary, dsn, tmp_path, processes, args=(), env=None, name="p"):
    """Starts `rowsched run`, waits for its scheduler_instance row; returns (instance, log)."""
    p = Process(binary, list(args), tmp_path / f"{name}.log", env=env)
    processes.append(p)
    instance = wait_until(lambda: p.proc.poll() is not None or registered_instance(dsn), what="the instance to register")
    assert p.proc.poll() is None, p.log()
    assert p.stop() == 0
    wait_until(lambda: registered_instance(dsn) is None, what="deregistration")
    return instance, p.log()


def test_config_precedence_is_flag_over_environment_over_file_over_default(migrated_db, binary, tmp_path, processes):
    config = tmp_path / "rowsched.toml"
    config.write_text(f'# rowsched configuration\ndsn = "{migrated_db}"\ninstance = "from-file"\nworkers = 3\n'
                      'log_format = "json"  # keys may be written with underscores\n')

    instance, log = start_and_read(binary, migrated_db, tmp_path, processes, ["--config", str(config)], name="file")
    assert instance == "from-file"
    assert "3 workers" in log
    assert json.loads(log.splitlines()[0])["level"] == "info"

    env = {"ROWSCHED_INSTANCE": "from-env", "ROWSCHED_CONFIG": str(config)}
    instance, log = start_and_read(binary, migrated_db, tmp_path, processes, [], env=env, name="env")
    assert instance == "from-env"
    assert "3 workers" in log  # the file still supplies what the environment does not set

    instance, log = start_and_read(binary, migrated_db, tmp_path, processes, ["--instance", "from-flag", "--workers", "5"],
                                   env=env, name="flag")
    assert instance == "from-flag"
    assert "5 workers" in log

    instance, log = start_and_read(binary, migrated_db, tmp_path, processes, ["--dsn", migrated_db], name="default")
    assert re.fullmatch(r".+-\d+", instance)  # <hostname>-<pid>
    assert "4 workers" in log


def test_a_flag_wins_over_an_environment_variable_that_other_commands_also_read(migrated_db, binary, tmp_path, processes):
    # ROWSCHED_TIMEZONE and DATABASE_URL are read by status and migrate too; they must not override
    # the flags given to run.
    env = {"ROWSCHED_TIMEZONE": "Mars/Olympus", "DATABASE_URL": "host=127.0.0.1 port=1 dbname=nowhere"}
    instance, log = start_and_read(binary, migrated_db, tmp_path, processes,
                                   ["--dsn", migrated_db, "--timezone", "UTC", "--instance", "flags-win"], env=env)
    assert instance == "flags-win"
    assert "default time zone UTC" in log


def test_database_url_supplies_the_dsn_and_a_config_file_may_use_a_run_section(migrated_db, binary, tmp_path, processes):
    config = tmp_path / "rowsched.toml"
    config.write_text('[run]\ninstance = "sectioned"\n')
    instance, _ = start_and_read(binary, migrated_db, tmp_path, processes, ["--config", str(config)],
                                 env={"DATABASE_URL": migrated_db})
    assert instance == "sectioned"


@pytest.mark.parametrize("args, env, config, names", [
    (["--workers", "0"], {}, None, "--workers"),
    (["--log-format", "xml"], {}, None, "--log-format"),
    (["--owner-idle-timeout", "0"], {}, None, "--owner-idle-timeout"),
    (["--no-such-option"], {}, None, "--no-such-option"),
    ([], {"ROWSCHED_WORKERS": "many"}, None, "ROWSCHED_WORKERS"),
    ([], {}, "workers = 0\n", "workers"),
    ([], {}, "wrokers = 4\n", "wrokers"),
])
def test_an_invalid_option_fails_at_start_up_with_exit_code_2_and_names_it(binary, migrated_db, tmp_path, args, env,
                                                                           config, names):
    if config is not None:
        path = tmp_path / "bad.toml"
        path.write_text(config)
        args = [*args, "--config", str(path)]
    proc = run_cli(binary, "run", "--dsn", migrated_db, *args, env=env, timeout=20)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert names in proc.stderr, proc.stderr
    if config is not None:
        assert str(tmp_path / "bad.toml") in proc.stderr


def test_a_missing_config_file_fails_at_start_up_with_exit_code_2(binary, migrated_db, tmp_path):
    proc = run_cli(binary, "run", "--dsn", migrated_db, env={"ROWSCHED_CONFIG": str(tmp_path / "nowhere.toml")})
    assert proc.returncode == 2
    assert "nowhere.toml" in proc.stderr


def test_run_help_documents_every_option_with_its_default_and_environment_variable(binary):
    proc = run_cli(binary, "run", "--help")
    assert proc.returncode == 0
    for text in ("--metrics-addr", "ROWSCHED_METRICS_ADDR", "--workers", "ROWSCHED_WORKERS", "--log-format",
                 "ROWSCHED_LOG_FORMAT", "--config", "ROWSCHED_CONFIG", "--dsn", "DATABASE_URL", "--schema",
                 "ROWSCHED_SCHEMA"):
        assert text in proc.stdout, text
    workers_line = next(line for line in proc.stdout.splitlines() if "--workers" in line)
    assert "4" in workers_line  # its default


# --- logs ----------------------------------------------------------------------------------------------


def test_json_logs_are_one_object_per_line_with_time_level_and_message(migrated_db, start_daemon):
    d = start_daemon(migrated_db, "--log-format", "json")
    tricky = 'say "hi"\nthen \\ back\tslash \u00e9'  # a quote, a newline, a backslash, a tab, non-ASCII
    insert_job(migrated_db, "talk", args=[tricky], kwargs={"trigger": "interval", "seconds": 1})
    wait_until(lambda: runs(migrated_db, "talk", "succeeded"), what="a run of talk")
    d.stop()
    lines = [line for line in d.log().splitlines() if line.strip()]
    assert len(lines) >= 3
    records = [json.loads(line) for line in lines]
    for r in records:
        assert set(r) >= {"time", "level", "message"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["time"]), r["time"]
        assert r["level"] in ("trace", "debug", "info", "warn", "error", "critical")
    assert any(tricky in r["message"] for r in records), "the job's output, quotes and all, survives the escaping"
    assert any(r["message"] == "rowsched stopped" for r in records)


def test_a_password_in_the_dsn_never_appears_in_any_log(pg, migrated_db, binary, tmp_path, processes, start_daemon):
    secret_dsn = migrated_db + " password=hunter2"  # trust authentication ignores it
    d = start_daemon(secret_dsn)
    insert_job(migrated_db, "tick", kwargs={"trigger": "interval", "seconds": 1})
    wait_until(lambda: runs(migrated_db, "tick", "succeeded"))
    d.stop()
    logs = [d.log()]
    assert "password=***" in d.log()

    # Failing connections log the DSN too: the URI form, a wrong port, migrate and status.
    unreachable = f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/nowhere"
    p = Process(binary, ["--dsn", unreachable], tmp_path / "unreachable.log")
    processes.append(p)
    wait_until(lambda: "cannot connect" in p.log(), what="a failed connection attempt in the log")
    p.stop()
    logs.append(p.log())
    assert "postgres:***@" in p.log()
    for command in (["migrate", "--dsn", unreachable], ["status", "--dsn", unreachable],
                    ["migrate", "--dsn", pg.dsn("no_such_db") + " password=hunter2"]):
        proc = run_cli(binary, *command)
        assert proc.returncode == 1
        logs.append(proc.stdout + proc.stderr)
    proc = run_cli(binary, "run", "--workers", "0", env={"DATABASE_URL": unreachable})
    logs.append(proc.stdout + proc.stderr)
    for log in logs:
        assert "hunter2" not in log, log


# --- packaging -----------------------------------------------------------------------------------------


def test_the_systemd_unit_passes_systemd_analyze_verify(binary, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed")
    unit = (REPO / "packaging" / "rowsched.service").read_text()
    for line in ("ExecStartPre=/usr/bin/rowsched migrate", "ExecStart=/usr/bin/rowsched run", "User=rowsched",
                 "EnvironmentFile=-/etc/rowsched/rowsched.env", "Restart=on-failure", "KillSignal=SIGTERM",
                 "TimeoutStopSec=45", "NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=",
                 "SystemCallFilter=@system-service", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"):
        assert line in unit.splitlines(), line
    # The binary is not installed under /usr/bin here: verify a copy that points at the built one.
    copy = tmp_path / "rowsched.service"
    copy.write_text(unit.replace("/usr/bin/rowsched", os.path.abspath(binary)))
    proc = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    complaints = [line for line in (proc.stdout + proc.stderr).splitlines() if "rowsched.service" in line]
    assert proc.returncode == 0 and not complaints, proc.stdout + proc.stderr


def test_the_example_environment_file_names_only_real_options(binary):
    help_text = run_cli(binary, "run", "--help").stdout
    example = (REPO / "packaging" / "rowsched.env.example").read_text()
    names = re.findall(r"^#?([A-Z][A-Z0-9_]+)=", example, re.M)  # settings, commented out or not
    assert "DATABASE_URL" in names and "ROWSCHED_METRICS_ADDR" in names
    for name in names:
        assert name in help_text, f"{name} in rowsched.env.example is not an option of rowsched run"


def test_pruning_reports_what_it_deleted_and_its_batch_in_the_metrics(migrated_db, start_daemon):
    # 3,000 runs past --history-max-age (30 days): the first pass deletes a full batch (1,000), so the
    # next is behind, comes sooner and doubles its batch, until every one is gone.
    sql(migrated_db, "INSERT INTO job_run (job_id, scheduled_for, instance, status, started_at, finished_at, kind) "
                     "SELECT 'old-' || (i % 7), now() - interval '40 days' - i * interval '1 second', 'earlier', "
                     "'succeeded', now() - interval '40 days', now() - interval '40 days', 'run_now' "
                     "FROM generate_series(1, 3000) i")
    port = free_port()
    start_daemon(migrated_db, "--metrics-addr", f"127.0.0.1:{port}", "--prune-interval", "0.2", "--history-per-job", "5")
    wait_until(lambda: sql_value(migrated_db, "SELECT count(*) FROM job_run") == 0, timeout=15, what="the old runs pruned")
    # Counted, and caught up: a pass after the last full batch found nothing more.
    families = wait_until(lambda: (lambda f: f if sample(f, "rowsched_history_pruned_rows_total") == 3000 and
                                   sample(f, "rowsched_history_prune_behind") == 0 else None)(scrape(port)),
                          timeout=5, what="the deleted rows counted and pruning caught up")
    # The batch doubled while behind (1,000 then 2,000), and halves back once passes find little.
    assert sample(families, "rowsched_history_prune_batch_rows") in (1000, 2000)
    assert sample(families, "rowsched_history_prune_seconds") >= 0
    # The first pass counted each old job's rows: 7 jobs past --history-per-job 5 were ranked.
    assert sample(families, "rowsched_history_prune_ranked_jobs") in (0, 7)
