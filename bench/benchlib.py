"""Helpers shared by the database benchmarks (bench/db_bench.py, bench/aps_bench.py): percentiles,
schedules of staggered interval jobs, running `rowsched run` as a child process, reading its memory,
what a window of load costs the database (DbCost: the cluster's CPU, the machine's idle share,
pg_stat_statements).

Nothing here sleeps to wait for a result: readiness and progress are polled with a deadline.
"""

import ctypes
import json
import math
import os
import signal
import subprocess
import sys
import time

import psycopg2


def log(*args):
    print("bench:", *args, file=sys.stderr, flush=True)


def percentile(sorted_values, p):
    """Nearest-rank percentile of an already sorted list (None when empty)."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100.0 * len(sorted_values)) - 1))
    return sorted_values[k]


def summarize(values_ms):
    """{"n", "p50", "p99", "max"} of a list of milliseconds (rounded to 0.01 ms)."""
    v = sorted(values_ms)

    def r(x):
        return None if x is None else round(x, 2)

    return {"n": len(v), "p50": r(percentile(v, 50)), "p99": r(percentile(v, 99)), "max": r(v[-1] if v else None)}


def fmt(x, unit=""):
    if x is None:
        return "n/a"
    if isinstance(x, str):
        return x
    if abs(x) >= 100:
        s = "%.0f" % x
    elif abs(x) >= 10:
        s = "%.1f" % x
    else:
        s = "%.2f" % x
    return s + unit


def ratio(competitor, rowsched, better="lower"):
    """competitor/rowsched for times (how many times slower the competitor is), or rowsched/competitor
    for rates (better="higher"); "n/a" when one side is missing."""
    try:
        if better == "lower":
            if rowsched <= 0:
                return "n/a"
            return "%.1fx" % (competitor / rowsched)
        if competitor <= 0:
            return "n/a"
        return "%.1fx" % (rowsched / competitor)
    except TypeError:
        return "n/a"


# --- staggered interval jobs -----------------------------------------------------------------------

def stagger(n_jobs, rate, t0):
    """n_jobs interval jobs whose fires add up to `rate` per second, evenly spread: job i has period
    P = n_jobs/rate and first fire t0 + i*P/n_jobs. Returns (period, [start_i])."""
    period = n_jobs / float(rate)
    return period, [t0 + i * period / n_jobs for i in range(n_jobs)]


def expected_fires(starts, period, ws, we):
    """How many nominal instants start_i + k*period (k >= 0) fall in [ws, we)."""
    total = 0
    for s in starts:
        first = max(0, math.ceil((ws - s) / period - 1e-9))
        last = math.ceil((we - s) / period - 1e-9) - 1  # the last k with s + k*period < we
        if last >= first:
            total += last - first + 1
    return total


def iso_utc(epoch):
    """RFC 3339 UTC with microseconds, as trigger_kwargs accepts it."""
    whole = int(math.floor(epoch))
    us = int(round((epoch - whole) * 1e6))
    if us == 1000000:
        whole, us = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + ".%06dZ" % us


# --- PostgreSQL ------------------------------------------------------------------------------------

# The SQL helpers are the integration tests' own (one definition for both).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from conftest import connect, sql, sql_value  # noqa: E402,F401


def wait_until(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise RuntimeError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


# --- child processes -------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    # PR_SET_PDEATHSIG = 1: the child gets SIGKILL when this process dies, however it dies.
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def popen(argv, **kw):
    return subprocess.Popen(argv, preexec_fn=_die_with_parent, **kw)


def proc_status(pid, key):
    """A kB figure of /proc/PID/status (VmRSS, VmHWM) as bytes, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid):
    """user + system CPU seconds of a process so far (None when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Daemon:
    """One `rowsched run` child process, its output in a log file."""

    def __init__(self, binary, dsn, log_dir, instance, *args):
        self.binary, self.dsn, self.instance, self.args = binary, dsn, instance, list(args)
        self.log_path = os.path.join(log_dir, instance + ".log")
        self.proc = None
        self.started = None

    def start(self):
        self._log = open(self.log_path, "a")
        self.started = time.time()
        self.proc = popen([self.binary, "run", "--dsn", self.dsn, "--instance", self.instance, *self.args],
                          stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=120.0):
        """Until the daemon has registered in scheduler_instance (it has loaded every job first)."""
        def ready():
            if not self.alive():
                raise RuntimeError("rowsched %s exited early:\n%s" % (self.instance, self.log_tail()))
            return sql(self.dsn, "SELECT 1 FROM scheduler_instance WHERE instance = %s", (self.instance,))
        wait_until(ready, timeout, "%s to register" % self.instance, interval=0.02)
        return time.time()

    def rss(self):
        return proc_status(self.proc.pid, "VmRSS")

    def hwm(self):
        return proc_status(self.proc.pid, "VmHWM")

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def stop(self, timeout=60.0):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)


# --- what a window of load costs the database and the machine ----------------------------------------

def _clock_ticks(path, fields):
    """The sum of the given 0-based fields after the command name of /proc/PID/stat, in seconds."""
    with open(path) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return sum(int(rest[i]) for i in fields) / os.sysconf("SC_CLK_TCK")


def cluster_cpu_seconds(postmaster_pid):
    """user + system CPU seconds of a PostgreSQL cluster so far: the postmaster itself, the children it
    has reaped (cutime/cstime: backends that exited, pg_cron's job connections) and the live children."""
    total = _clock_ticks("/proc/%d/stat" % postmaster_pid, (11, 12, 13, 14))
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                rest = f.read().rsplit(")", 1)[1].split()
            if int(rest[1]) == postmaster_pid:
                total += (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue  # exited meanwhile: counted in the postmaster's cutime once reaped
    return total


def machine_idle_ticks():
    """(idle + iowait, total) jiffies of all CPUs so far, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[3] + v[4], sum(v[:8])


def postmaster_pid(dsn):
    """The pid of the cluster's postmaster: the parent of a backend (the cluster runs on this machine)."""
    conn = connect(dsn)  # open while its backend's /proc entry is read: a closed session's backend exits
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            backend = cur.fetchone()[0]
        with open("/proc/%d/stat" % backend) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    finally:
        conn.close()


class DbCost:
    """What a window of load costs: the cluster's CPU seconds (per fire once the fires are counted), the
    machine's idle share, and pg_stat_statements' top statements of the window (when the extension is
    loaded). start() resets the statement statistics; stop(fires) returns the figures."""

    def __init__(self, dsn):
        self.dsn = dsn
        self.pid = postmaster_pid(dsn)
        self.have_pgss = bool(sql_value(dsn, "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"))

    def start(self):
        if self.have_pgss:
            sql(self.dsn, "SELECT pg_stat_statements_reset()")
        self.t0, self.cpu0, self.idle0 = time.time(), cluster_cpu_seconds(self.pid), machine_idle_ticks()
        return self

    def stop(self, fires, top=5):
        cpu = cluster_cpu_seconds(self.pid) - self.cpu0
        idle1 = machine_idle_ticks()
        seconds = time.time() - self.t0
        d_idle, d_total = idle1[0] - self.idle0[0], idle1[1] - self.idle0[1]
        res = {"window_s": round(seconds, 2), "pg_cpu_s": round(cpu, 3), "fires": fires,
               "pg_cpu_us_per_fire": round(1e6 * cpu / fires, 1) if fires else None,
               "idle_pct": round(100.0 * d_idle / d_total, 1) if d_total else None,
               "loadavg": open("/proc/loadavg").read().split()[0]}
        if self.have_pgss:
            res["top_statements"] = [
                {"query": q, "calls": c, "total_ms": round(t, 1), "ms_per_call": round(t / c, 3) if c else None}
                for q, c, t in sql(self.dsn, """
                    SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90), calls, total_exec_time
                      FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT %s""", (top,))]
        return res
