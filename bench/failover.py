#!/usr/bin/env python3
"""Failover figures for docs/high-availability.md: N rowsched instances, J jobs firing every second;
one instance is SIGKILLed mid-way. Reports fires without a claim (should be 0), start lateness of the
fires before and after the kill, and how long until a run left 'running' by the killed instance is
marked 'lost'. Usage: bench/failover.py [--rowsched build/rowsched] [--jobs 100] [--instances 3]"""

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from conftest import PgCluster, create_database, migrate_with_rowsched, sql, sql_value  # noqa: E402


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rowsched", default="build/rowsched")
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--instances", type=int, default=3)
    ap.add_argument("--lost-after", type=float, default=3.0)
    args = ap.parse_args()
    cluster = PgCluster(tempfile.mkdtemp(prefix="rowsched-failover-", dir="/tmp"))
    procs = []
    try:
        cluster.init()
        cluster.start()
        dsn = cluster.dsn(create_database(cluster))
        migrate_with_rowsched(args.rowsched, dsn)
        logs = Path(cluster.base)
        for i in range(args.instances):
            procs.append(subprocess.Popen([args.rowsched, "run", "--dsn", dsn, "--instance", f"i{i}",
                                           "--lost-after", str(args.lost_after), "--log-level", "warn"],
                                          stdout=open(logs / f"i{i}.log", "w"), stderr=subprocess.STDOUT))
        sql(dsn, "INSERT INTO job_info (job_id, func, func_args, trigger_kwargs) SELECT 'j' || i, 'log', '[]', "
                 "'{\"trigger\":\"interval\",\"seconds\":1,\"start_date\":\"2020-01-01Z\"}' FROM generate_series(1, %s) i",
            (args.jobs,))
        # One long job so that the killed instance may be holding a run when it dies.
        sql(dsn, "INSERT INTO job_info (job_id, func, func_args, trigger_kwargs) VALUES ('long', 'sql', "
                 "'[\"SELECT pg_sleep(30)\"]', '{\"trigger\":\"interval\",\"seconds\":1,\"start_date\":\"2020-01-01Z\"}')")
        time.sleep(5)
        victim = sql_value(dsn, "SELECT instance FROM job_run WHERE job_id = 'long' AND status = 'running' LIMIT 1") or "i0"
        killed_at = sql_value(dsn, "SELECT now()")
        procs[int(victim[1:])].send_signal(signal.SIGKILL)
        time.sleep(8 + args.lost_after)
        end = sql_value(dsn, "SELECT now() - interval '2 seconds'")
        start = sql_value(dsn, "SELECT %s::timestamptz - interval '4 seconds'", (killed_at,))
        expected = sql_value(dsn, "SELECT count(*) FROM generate_series(date_trunc('second', %s::timestamptz) + interval '1 second', "
                                  "date_trunc('second', %s::timestamptz), interval '1 second')", (start, end))
        claimed = sql(dsn, "SELECT job_id, count(*) FROM job_run WHERE attempt = 1 AND job_id <> 'long' AND scheduled_for > %s "
                           "AND scheduled_for <= %s GROUP BY job_id", (start, end))
        missing = sum(expected - n for _, n in claimed) + expected * (args.jobs - len(claimed))
        before = [float(r[0]) * 1000 for r in sql(dsn, "SELECT extract(epoch from started_at - scheduled_for) FROM job_run "
                  "WHERE job_id <> 'long' AND status IN ('succeeded','running') AND scheduled_for > %s AND scheduled_for <= %s",
                  (start, killed_at))]
        after = [float(r[0]) * 1000 for r in sql(dsn, "SELECT extract(epoch from started_at - scheduled_for) FROM job_run "
                 "WHERE job_id <> 'long' AND status IN ('succeeded','running') AND scheduled_for > %s AND scheduled_for <= %s",
                 (killed_at, end))]
        lost = sql(dsn, "SELECT extract(epoch from finished_at - %s::timestamptz) FROM job_run WHERE status = 'lost'", (killed_at,))
        print(f"instances={args.instances} jobs={args.jobs} killed={victim} window={expected}s per job")
        print(f"fires without a claim: {missing} of {expected * args.jobs}")
        print(f"lateness before kill: p50={pct(before, 50):.1f} ms p99={pct(before, 99):.1f} ms max={max(before):.1f} ms (n={len(before)})")
        print(f"lateness after kill:  p50={pct(after, 50):.1f} ms p99={pct(after, 99):.1f} ms max={max(after):.1f} ms (n={len(after)})")
        print(f"runs marked lost: {len(lost)}; seconds from SIGKILL to 'lost': "
              f"{', '.join(f'{float(r[0]):.1f}' for r in lost) or '-'} (--lost-after {args.lost_after})")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(40)
            except subprocess.TimeoutExpired:
                p.kill()
        cluster.destroy()


if __name__ == "__main__":
    main()
