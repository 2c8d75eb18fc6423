#!/usr/bin/python3
"""The APScheduler 3.9 side of the database benchmarks (Debian python3-apscheduler, BackgroundScheduler,
its default ThreadPoolExecutor of 10 threads and job defaults: misfire_grace_time 1 s, coalesce,
max_instances 1 -- the same defaults as rowsched). One mode per run; prints one JSON object.

    aps_bench.py lateness --jobs N --rate R --duration D [--lead S]
        N interval jobs, periods N/R s, first fires spread evenly from now+lead: R fires/s in total.
        A no-op job computes its own lateness (time.time() minus its nominal instant) on entry.
    aps_bench.py burst --jobs N --every S --duration D
        N cron jobs (second="*/S"), all due at the same instants.
    aps_bench.py pickup --url URL --changes N
        SQLAlchemyJobStore: alternately add_job / reschedule_job through the API; the time until the
        call returns, when the row in apscheduler_jobs already shows the new next_run_time.
    aps_bench.py bulk --url URL --jobs N
        add_job N jobs to a running scheduler with a SQLAlchemyJobStore (one INSERT + COMMIT each).
    aps_bench.py memory --jobs N
        add N jobs (a mix of cron/interval/crontab triggers) to a MemoryJobStore; time and resident memory.
    aps_bench.py effect --dsn DSN --jobs N [--burst] --duration D [--lead S]
        The work where it happens: MemoryJobStore, ThreadPoolExecutor(20), each job INSERTs
        (job, nominal instant, clock_timestamp()) into aps_stamp through psycopg2 (a connection per
        executor thread, autocommit). Staggered: N interval jobs of 1 s spread over the second; --burst:
        N date jobs due at the same instant, once. Prints the window; bench/db_bench.py reads the stamps.
"""
import argparse
import datetime as dt
import gc
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

import pytz  # noqa: E402
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED  # noqa: E402
from apscheduler.schedulers.background import BackgroundScheduler  # noqa: E402
from apscheduler.triggers.cron import CronTrigger  # noqa: E402
from apscheduler.triggers.date import DateTrigger  # noqa: E402
from apscheduler.triggers.interval import IntervalTrigger  # noqa: E402

UTC = pytz.utc


def noop():
    pass


def utc(epoch):
    return dt.datetime.fromtimestamp(epoch, UTC)


class Recorder:
    def __init__(self):
        self.fired = []  # (nominal epoch, actual epoch)
        self.missed = []  # nominal epochs of EVENT_JOB_MISSED
        self.max_instances = 0

    def listener(self, event):
        if event.code == EVENT_JOB_MISSED:
            self.missed.append(event.scheduled_run_time.timestamp())
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            self.max_instances += 1


def run_lateness(scheduler, rec, ws_min, we_len, expected_fn, tail=1.5):
    started = time.time()
    scheduler.start()
    ready = time.time()
    ws = max(ws_min, ready + 1.0)
    we = ws + we_len
    cpu0 = time.process_time()
    while time.time() < we + tail:
        time.sleep(0.1)
    cpu = time.process_time() - cpu0
    scheduler.shutdown(wait=False)
    fired = [(s, a) for s, a in rec.fired if ws <= s < we]
    late = [(a - s) * 1000.0 for s, a in fired]
    expected = expected_fn(ws, we)
    missed_events = sum(1 for s in rec.missed if ws <= s < we)
    return {"lateness_ms": benchlib.summarize(late), "expected": expected, "ran": len(fired),
            "missed": max(0, expected - len(fired)), "missed_events": missed_events,
            "max_instances_events": rec.max_instances, "setup_s": round(ready - started, 3),
            "window_s": we_len, "cpu_s": round(cpu, 2), "cpu_pct": round(100.0 * cpu / (we - ws + tail), 1),
            "late_start": ws > ws_min + 1e-6}


def mode_lateness(a):
    rec = Recorder()
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_listener(rec.listener, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
    t_build = time.time()
    t0 = t_build + a.lead
    period, starts = benchlib.stagger(a.jobs, a.rate, t0)
    fired = rec.fired

    def make(start):
        def tick():
            now = time.time()
            k = math.floor((now - start) / period + 1e-9)
            fired.append((start + k * period, now))
        return tick

    for i, s in enumerate(starts):
        scheduler.add_job(make(s), IntervalTrigger(seconds=period, start_date=utc(s), timezone=UTC), id="j%d" % i)
    return run_lateness(scheduler, rec, t0, a.duration, lambda ws, we: benchlib.expected_fires(starts, period, ws, we))


def mode_burst(a):
    rec = Recorder()
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_listener(rec.listener, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
    every = a.every
    fired = rec.fired

    def tick():
        now = time.time()
        fired.append((math.floor(now / every) * every, now))

    for i in range(a.jobs):
        scheduler.add_job(tick, CronTrigger(second="*/%d" % every, timezone=UTC), id="b%d" % i)

    def expected(ws, we):
        first = math.ceil(ws / every) * every
        return a.jobs * max(0, math.ceil((we - first) / every)) if we > first else 0

    # the window: whole bursts only
    now = time.time()
    ws_min = math.ceil((now + 1.0) / every) * every
    return run_lateness(scheduler, rec, ws_min, a.duration, expected)


def mode_pickup(a):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    store = SQLAlchemyJobStore(url=a.url, tablename="apscheduler_jobs")
    scheduler = BackgroundScheduler(timezone=UTC, jobstores={"default": store})
    scheduler.start()
    scheduler.remove_all_jobs()
    base = dt.datetime(2030, 1, 1, tzinfo=UTC)
    ins, upd = [], []
    for k in range(a.changes):
        run_date = base + dt.timedelta(seconds=k)
        t0 = time.perf_counter()
        if k % 2 == 0:
            scheduler.add_job(noop, DateTrigger(run_date=run_date, timezone=UTC), id="p%d" % k)
            ins.append((time.perf_counter() - t0) * 1000.0)
        else:
            scheduler.reschedule_job("p%d" % (k - 1), trigger=DateTrigger(run_date=run_date, timezone=UTC))
            upd.append((time.perf_counter() - t0) * 1000.0)
        time.sleep(0.002)
    # check the last change is in the row (the call commits before it returns)
    import psycopg2
    dsn = a.url.replace("postgresql+psycopg2://", "postgresql://")
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM apscheduler_jobs WHERE next_run_time IS NOT NULL")
        rows = cur.fetchone()[0]
    scheduler.remove_all_jobs()
    scheduler.shutdown(wait=False)
    return {"insert_ms": benchlib.summarize(ins), "update_ms": benchlib.summarize(upd),
            "all_ms": benchlib.summarize(ins + upd), "rows_seen": rows}


def mode_bulk(a):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    store = SQLAlchemyJobStore(url=a.url, tablename="apscheduler_jobs")
    scheduler = BackgroundScheduler(timezone=UTC, jobstores={"default": store})
    scheduler.start()
    scheduler.remove_all_jobs()
    t0 = time.perf_counter()
    for i in range(a.jobs):
        scheduler.add_job(noop, IntervalTrigger(hours=1, timezone=UTC), id="bulk%d" % i)
    elapsed = time.perf_counter() - t0
    scheduler.remove_all_jobs()
    scheduler.shutdown(wait=False)
    return {"jobs": a.jobs, "seconds": round(elapsed, 3), "per_job_ms": round(1000.0 * elapsed / a.jobs, 3)}


def mixed_trigger(i):
    k = i % 3
    if k == 0:
        return CronTrigger(minute="*/5", timezone=UTC)
    if k == 1:
        return IntervalTrigger(hours=1, timezone=UTC)
    return CronTrigger.from_crontab("0 3 * * *", timezone=UTC)


def mode_memory(a):
    gc.collect()
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.start(paused=True)
    rss0 = benchlib.proc_status(os.getpid(), "VmRSS")
    t0 = time.perf_counter()
    for i in range(a.jobs):
        scheduler.add_job(noop, mixed_trigger(i), id="m%d" % i)
    elapsed = time.perf_counter() - t0
    gc.collect()
    rss1 = benchlib.proc_status(os.getpid(), "VmRSS")
    n = len(scheduler.get_jobs())
    scheduler.shutdown(wait=False)
    return {"jobs": n, "seconds": round(elapsed, 3), "rss_before": rss0, "rss_after": rss1,
            "bytes_per_job": round((rss1 - rss0) / float(a.jobs), 1)}


def mode_effect(a):
    import threading
    import psycopg2
    from apscheduler.executors.pool import ThreadPoolExecutor
    local = threading.local()

    def conn():
        if not hasattr(local, "conn"):
            local.conn = psycopg2.connect(a.dsn)
            local.conn.autocommit = True
        return local.conn

    scheduler = BackgroundScheduler(timezone=UTC, executors={"default": ThreadPoolExecutor(20)})
    t0 = time.time() + a.lead

    def make(job, start, period):
        def work():
            now = time.time()
            nominal = start + math.floor((now - start) / period + 1e-9) * period if period else start
            with conn().cursor() as cur:
                cur.execute("INSERT INTO aps_stamp VALUES (%s, to_timestamp(%s), clock_timestamp())", (job, nominal))
        return work

    if a.burst:
        for i in range(a.jobs):
            scheduler.add_job(make("a%d" % i, t0, None), DateTrigger(run_date=utc(t0), timezone=UTC), id="a%d" % i)
        we = t0 + 1e-3
    else:
        period, starts = benchlib.stagger(a.jobs, a.jobs, t0)
        for i, s in enumerate(starts):
            scheduler.add_job(make("a%d" % i, s, period), IntervalTrigger(seconds=period, start_date=utc(s), timezone=UTC),
                              id="a%d" % i)
        we = t0 + a.duration
    scheduler.start()
    ready = time.time()
    while time.time() < we + a.tail:
        time.sleep(0.05)
    scheduler.shutdown(wait=False)
    return {"window_start": t0, "window_end": we, "late_start": ready > t0, "setup_s": round(ready - t0 + a.lead, 3)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["lateness", "burst", "pickup", "bulk", "memory", "effect"])
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--lead", type=float, default=2.0)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--changes", type=int, default=200)
    ap.add_argument("--url")
    ap.add_argument("--dsn")
    ap.add_argument("--burst", action="store_true")
    ap.add_argument("--tail", type=float, default=2.0)
    a = ap.parse_args()
    out = globals()["mode_" + a.mode](a)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    os._exit(0)  # do not wait for executor threads still busy with a backlog


if __name__ == "__main__":
    main()
