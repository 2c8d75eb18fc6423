#!/usr/bin/env python3
"""Hand-off latency of worker jobs: from a fire's nominal instant to the first line of the Python
function a worker calls for it (docs/workers.md), at a given rate of worker-job fires per second, with
1 and 4 worker processes. Also counts fires called twice or never.

    bench/worker_handoff.py --rowsched build/rowsched [--rates 100,1000] [--workers 1,4] [--seconds 10]
                            [--compare graphile]

Starts its own throwaway PostgreSQL (scripts/pg-start, removed on exit) and one `rowsched run`.
Each measurement inserts N interval jobs (N = rate, period 1 s, first fires evenly spread), starts the
workers (`python3 -m rowsched worker --concurrency 2` each), and lets them run for --seconds; the
function (bench/worker_tasks/handoff_tasks.py:stamp) appends `job time.time()` to a file as its first
line. A job's runs never overlap (max_instances 1), so its k-th call belongs to its k-th run in job_run;
the latency is the call's time minus that run's scheduled_for. Fires that find the job's previous run
still queued or running are `skipped` (max_instances), counted apart.

--compare graphile also measures graphile-worker (npm, bench/queue_compare: `npm ci` there from the
committed lock file) on a database of the same cluster in the same run: jobs added at the same rate
with graphile_worker.add_job, latency from the add to the task's first line, WORKERS as its
concurrency in one Node.js process. Not the same origin as rowsched's (a fire instant has no add
call), but the same question: how long until the function runs."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import benchlib  # noqa: E402
from benchlib import Daemon, iso_utc, log, sql, sql_value, stagger, summarize, wait_until  # noqa: E402

PYTHON = os.environ.get("PYTHON", "/usr/bin/python3")


def start_workers(dsn, count, out, log_dir):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "clients", "python"), HANDOFF_OUT=out)
    procs = []
    for i in range(count):
        f = open(os.path.join(log_dir, "worker-%d.log" % i), "a")
        procs.append(subprocess.Popen([PYTHON, "-m", "rowsched", "worker", "--dsn", dsn, "--concurrency", "2",
                                       "--path", os.path.join(HERE, "worker_tasks"), "--log-level", "WARNING"],
                                      env=env, stdout=f, stderr=subprocess.STDOUT))
    wait_until(lambda: sql_value(dsn, "SELECT count(*) FROM rowsched_worker") == count, 30, "the workers to register")
    return procs


def stop_workers(procs):
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()


def measure(dsn, rate, workers, seconds, log_dir):
    out = os.path.join(log_dir, "stamps-%d-%d.txt" % (rate, workers))
    open(out, "w").close()
    sql(dsn, "DELETE FROM job_info")
    sql(dsn, "DELETE FROM job_run")
    procs = start_workers(dsn, workers, out, log_dir)
    t0 = time.time() + 3.0
    period, starts = stagger(rate, rate, t0)
    rows = [(f"h{i}", json.dumps([i]), json.dumps({"trigger": "interval", "seconds": period,
                                                     "start_date": iso_utc(s), "misfire_grace_time": None}))
            for i, s in enumerate(starts)]
    conn = benchlib.connect(dsn)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO job_info (job_id, func, func_args, trigger_kwargs) "
                        "VALUES (%s, 'handoff_tasks:stamp', %s, %s)", rows)
    conn.close()
    end = t0 + seconds
    time.sleep(max(0.0, end - time.time()))
    sql(dsn, "UPDATE job_info SET is_paused = true")
    wait_until(lambda: sql_value(dsn, "SELECT count(*) FROM job_run WHERE status IN ('queued', 'running')") == 0,
               120, "the queue to drain")
    stop_workers(procs)
    # A job's runs never overlap (max_instances 1: a fire while the previous run is queued or running
    # is skipped), so its k-th call is its k-th run by scheduled_for.
    stamps = {}
    for line in open(out):
        i, t = line.split()
        stamps.setdefault(int(i), []).append(float(t))
    runs = {}
    for job_id, fire, status in sql(dsn, "SELECT job_id, extract(epoch FROM scheduled_for)::float8, status FROM job_run "
                                         "WHERE status <> 'skipped' ORDER BY scheduled_for"):
        runs.setdefault(int(job_id[1:]), []).append((fire, status))
    latencies, twice, never = [], 0, 0
    for i, fires in runs.items():
        called = sorted(stamps.get(i, []))
        twice += max(0, len(called) - len(fires))
        never += max(0, len(fires) - len(called))
        for (fire, _), t in zip(fires, called):
            if t0 <= fire < end:
                latencies.append((t - fire) * 1000.0)
                if os.environ.get("HANDOFF_DEBUG") and t - fire > 0.05:
                    log("slow: fire at t0+%.3f s called %.1f ms late" % (fire - t0, (t - fire) * 1000))
    expected = benchlib.expected_fires(starts, period, t0, end)
    skipped = sql_value(dsn, "SELECT count(*) FROM job_run WHERE status = 'skipped'")
    bad = sql_value(dsn, "SELECT count(*) FROM job_run WHERE status NOT IN ('succeeded', 'skipped')")
    for row in sql(dsn, "SELECT job_id, status, error FROM job_run WHERE status NOT IN ('succeeded', 'skipped') LIMIT 5"):
        log("not succeeded: %r" % (row,))
    result = summarize(latencies)
    result.update(rate=rate, workers=workers, expected=expected, called=len(latencies), twice=twice, never=never,
                  skipped=skipped, not_succeeded=bad)
    return result


def measure_graphile(dsn, args):
    here = os.path.join(HERE, "queue_compare")
    if shutil.which("node") is None or shutil.which("npm") is None:
        log("--compare graphile skipped: node and npm are not installed")
        return []
    if not os.path.isdir(os.path.join(here, "node_modules")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=here, check=True, capture_output=True)
    out = []
    for rate in [int(r) for r in args.rates.split(",")]:
        for workers in [int(w) for w in args.workers.split(",")]:
            db = "graphile_%d_%d" % (rate, workers)
            sql(dsn, "CREATE DATABASE " + db)
            log("measuring graphile-worker: %d jobs/s, concurrency %d, for %g s" % (rate, workers, args.seconds))
            fields = dict(kv.split("=", 1) for kv in dsn.split())
            url = "postgresql://%s@%s:%s/%s" % (fields["user"], fields["host"], fields["port"], db)
            proc = subprocess.run(["node", "graphile_handoff.js", url,
                                   str(rate), str(args.seconds), str(workers)], cwd=here, capture_output=True,
                                  text=True, timeout=600)
            if proc.returncode != 0:
                log("graphile-worker failed: " + proc.stderr[-2000:])
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r.update(rate=rate, workers=workers)
            out.append(r)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rowsched", required=True)
    ap.add_argument("--rates", default="100")
    ap.add_argument("--workers", default="1,4")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--compare", choices=["graphile"], default=None)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="rowsched-handoff-", dir="/tmp")
    os.chmod(tmp, 0o755)
    pgdir = os.path.join(tmp, "pg")
    dsn = subprocess.run([os.path.join(ROOT, "scripts", "pg-start"), pgdir], check=True, capture_output=True,
                         text=True).stdout.strip()
    daemon = None
    try:
        subprocess.run([args.rowsched, "migrate", "--dsn", dsn], check=True, capture_output=True)
        daemon = Daemon(args.rowsched, dsn, tmp, "handoff", "--log-level", "warn").start()
        daemon.wait_ready()
        results = []
        for rate in [int(r) for r in args.rates.split(",")]:
            for workers in [int(w) for w in args.workers.split(",")]:
                log("measuring %d worker-job fires/s with %d workers for %g s" % (rate, workers, args.seconds))
                results.append(measure(dsn, rate, workers, args.seconds, tmp))
        compare = []
        if args.compare == "graphile":
            compare = measure_graphile(dsn, args)
        print("| fires/s | workers | nominal fires | runs called | skipped (max_instances) | called twice | never called "
              "| not succeeded | p50 ms | p99 ms | max ms |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in results:
            print("| %d | %d | %d | %d | %d | %d | %d | %d | %s | %s | %s |" % (
                r["rate"], r["workers"], r["expected"], r["called"], r["skipped"], r["twice"], r["never"], r["not_succeeded"],
                benchlib.fmt(r["p50"]), benchlib.fmt(r["p99"]), benchlib.fmt(r["max"])))
        if compare:
            print()
            print("graphile-worker (job added -> task started):")
            print("| jobs/s | concurrency | called | called twice | never called | p50 ms | p99 ms | max ms |")
            print("|---:|---:|---:|---:|---:|---:|---:|---:|")
            for r in compare:
                print("| %d | %d | %s | %s | %s | %s | %s | %s |" % (r["rate"], r["workers"], r.get("n", "n/a"),
                      r.get("twice", "n/a"), r.get("never", "n/a"), benchlib.fmt(r.get("p50")),
                      benchlib.fmt(r.get("p99")), benchlib.fmt(r.get("max"))))
        return 0
    finally:
        if daemon:
            daemon.stop()
        subprocess.run([os.path.join(ROOT, "scripts", "pg-stop"), pgdir, "immediate"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
