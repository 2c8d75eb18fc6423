#!/usr/bin/python3
"""Next-fire computation with APScheduler 3.9: ns per get_next_fire_time call for the same triggers
as bench/trigger_bench.cc (keep CASES in step with kCases there).

    /usr/bin/python3 bench/trigger_apscheduler.py [--quick] [--reps N] [--json]

Each call advances like APScheduler's scheduler does for a job that runs on time:
    t = trigger.get_next_fire_time(t, t)
from 2024-01-01T00:00:00Z; when the trigger ends (date) it starts over with previous=None. One
repetition is timed with timeit over a fixed number of calls; the figure is the median of --reps
repetitions. APScheduler 3 has no calendarinterval trigger (it is new in APScheduler 4), so that row
prints n/a.
"""
import argparse
import datetime as dt
import json
import statistics
import sys
import timeit

import pytz
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

UTC = pytz.utc


def build(name):
    if name == "cron_every_5_min":
        return CronTrigger(minute="*/5", timezone=UTC)
    if name == "cron_daily_0330_berlin":
        return CronTrigger(hour=3, minute=30, timezone="Europe/Berlin")
    if name == "cron_last_fri_9_17":
        return CronTrigger(day="last fri", hour="9-17", timezone=UTC)
    if name == "crontab_15min_workhours":
        return CronTrigger.from_crontab("*/15 9-17 * * mon-fri", timezone=UTC)
    if name == "interval_30s":
        return IntervalTrigger(seconds=30, start_date="2024-01-01 00:00:00", timezone=UTC)
    if name == "date_once":
        return DateTrigger(run_date="2024-06-01 12:00:00", timezone=UTC)
    return None  # calendarinterval: not in APScheduler 3


CASES = ["cron_every_5_min", "cron_daily_0330_berlin", "cron_last_fri_9_17", "crontab_15min_workhours",
         "interval_30s", "date_once", "calendarinterval_1_month"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    calls = 2000 if args.quick else 20000
    start = dt.datetime(2024, 1, 1, tzinfo=UTC)
    if not args.json:
        print("# trigger\tns_per_call\tcalls_per_rep\tmin_ns\tmax_ns\tfirst_fire")
    for name in CASES:
        trig = build(name)
        if trig is None:
            if args.json:
                print(json.dumps({"trigger": name, "ns_per_call": None}))
            else:
                print("%s\tn/a\t0\t0\t0\t-" % name)
            continue
        state = {"prev": None, "now": start}

        def one():
            nxt = trig.get_next_fire_time(state["prev"], state["now"])
            if nxt is None:
                state["prev"], state["now"] = None, start
            else:
                state["prev"] = state["now"] = nxt

        def rep():
            state["prev"], state["now"] = None, start
            for _ in range(calls):
                one()

        times = [timeit.timeit(rep, number=1) * 1e9 / calls for _ in range(args.reps)]
        first = trig.get_next_fire_time(None, start)
        first_s = first.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if first else "none"
        med = statistics.median(times)
        if args.json:
            print(json.dumps({"trigger": name, "ns_per_call": round(med, 1), "calls_per_rep": calls,
                              "min_ns": round(min(times), 1), "max_ns": round(max(times), 1),
                              "first_fire": first_s}))
        else:
            print("%s\t%.1f\t%d\t%.1f\t%.1f\t%s" % (name, med, calls, min(times), max(times), first_s))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
