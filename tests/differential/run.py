#!/usr/bin/python3
"""Differential test: `rowsched next` against the reference implementations.

    /usr/bin/python3 tests/differential/run.py --rowsched build/rowsched [--cases 6000 | --quick] [--seed S]

A deterministic generator (fixed seed) produces trigger_kwargs of every kind rowsched shares with
APScheduler 3.9 (cron, interval, date) and classic crontab strings (compared with croniter 1.3.5).
For each case both sides compute up to COUNT fire instants from the same `from` instant, advancing
exactly as APScheduler's scheduler advances a job that runs on time:

    times[0] = next_fire_time(previous=None, now=from)
    times[k] = next_fire_time(previous=times[k-1], now=times[k-1])

and the sequences are compared exactly (microseconds, as UTC instants).

Every case ends in one category:
  agree                   identical sequences, or both sides reject the input
  dst-excluded            a fire (from either side) lies within +-26 h of a UTC-offset change of the
                          case's zone: rowsched deliberately differs from APScheduler there (DESIGN.md,
                          "Daylight saving time"; covered by unit tests), so the case is not compared
  explained:<reason>      a known, documented difference, recognised by a narrow rule below that in
                          most cases re-runs a *corrected* reference and requires it to agree
  skipped:<reason>        the reference could not produce an answer (time limit)
  DIFF                    anything else: a bug in rowsched (or a new, undocumented difference)

Exit status 1 on any DIFF. The last line is `N passed, M failed` (N = agree, M = DIFF).
Rowsched is driven through `rowsched next --batch` (one process, JSON lines); if the binary has no
batch mode the script falls back to one `rowsched next` process per case.
"""

import argparse
import bisect
import calendar
import datetime as dt
import json
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import time
import zoneinfo
from concurrent.futures import ThreadPoolExecutor

import pytz
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import localize
from croniter import croniter

COUNT = 10
UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
DST_WINDOW_US = 26 * 3600 * 10**6
# pytz (what APScheduler 3.9 uses) reads only the 32-bit part of TZif files: it knows no UTC-offset
# change after 2037 and keeps the last offset it knows (standard time) for ever after.
PYTZ_HORIZON = dt.datetime(2037, 6, 1, tzinfo=UTC)
REFERENCE_TIME_LIMIT_S = 2.0

ZONES = [
    "UTC", "Europe/Berlin", "America/New_York", "Asia/Shanghai", "Asia/Kolkata", "Australia/Lord_Howe",
    "Australia/Sydney", "America/Santiago", "Pacific/Chatham", "Asia/Kathmandu", "America/St_Johns",
    "Africa/Casablanca", "Europe/London", "America/Los_Angeles", "Asia/Tokyo", "America/Sao_Paulo",
    "Pacific/Auckland", "Asia/Tehran", "Europe/Moscow", "America/Havana", "Pacific/Apia",
    "Etc/GMT+5", "America/Caracas", "Europe/Dublin", "Asia/Kabul",
]
JOB_OPTIONS = {"misfire_grace_time", "coalesce", "max_instances", "next_run_time", "timeout",
               "retries", "retry_delay", "jitter"}
CRON_KEYS = ["year", "month", "day", "week", "day_of_week", "hour", "minute", "second",
             "start_date", "end_date", "timezone"]
INTERVAL_KEYS = ["weeks", "days", "hours", "minutes", "seconds", "start_date", "end_date", "timezone"]
DATE_KEYS = ["run_date", "timezone"]
CRONTAB_KEYS = ["crontab", "start_date", "end_date", "timezone"]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CRON_WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]  # crontab numbering, 0 = Sunday


# ----------------------------------------------------------------------------------------------
# Time helpers
# ----------------------------------------------------------------------------------------------

def to_us(d):
    """Aware datetime -> microseconds since the epoch (exact integer arithmetic)."""
    d = d.astimezone(UTC)
    return calendar.timegm(d.utctimetuple()) * 10**6 + d.microsecond


def from_us(us):
    return EPOCH + dt.timedelta(microseconds=us)


def rfc3339(us):
    d = from_us(us)
    s = d.strftime("%Y-%m-%dT%H:%M:%S")
    if d.microsecond:
        s += ("." + "%06d" % d.microsecond).rstrip("0")
    return s + "Z"


_RFC_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?$")


def parse_rfc3339(s):
    m = _RFC_RE.match(s)
    if not m:
        raise ValueError("not RFC 3339: %r" % s)
    y, mo, d, h, mi, se, frac, off = m.groups()
    us = int((frac or "").ljust(6, "0")[:6]) if frac else 0
    base = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(se), us, tzinfo=UTC)
    if off and off != "Z":
        sign = 1 if off[0] == "+" else -1
        base -= sign * dt.timedelta(hours=int(off[1:3]), minutes=int(off[4:6]))
    return to_us(base)


_TRANSITIONS = {}


def transitions(zone):
    """Sorted UTC instants (us) at which `zone`'s UTC offset changes, 1900..2120 (zoneinfo: the
    system tz database including its POSIX footer, i.e. the truth rowsched is meant to follow)."""
    if zone in _TRANSITIONS:
        return _TRANSITIONS[zone]
    zi = zoneinfo.ZoneInfo(zone)
    out = []
    try:
        pz = pytz.timezone(zone)
        utc_times = getattr(pz, "_utc_transition_times", [])
        infos = getattr(pz, "_transition_info", [])
        for i in range(1, len(utc_times)):
            if infos[i][0] != infos[i - 1][0]:
                out.append(to_us(utc_times[i].replace(tzinfo=UTC)))
    except Exception:
        pass
    # After 2037 pytz knows nothing: scan zoneinfo day by day and bisect to the second.
    step = 86400
    t = calendar.timegm((2037, 1, 1, 0, 0, 0))
    end = calendar.timegm((2120, 1, 1, 0, 0, 0))

    def off(ts):
        return dt.datetime.fromtimestamp(ts, zi).utcoffset()

    prev = off(t)
    while t < end:
        nxt = t + step
        o = off(nxt)
        if o != prev:
            lo, hi = t, nxt
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if off(mid) == prev:
                    lo = mid
                else:
                    hi = mid
            us = hi * 10**6
            if not out or us > out[-1]:
                out.append(us)
            prev = o
        t = nxt
    out.sort()
    _TRANSITIONS[zone] = out
    return out


def near_transition(zone, us, window=DST_WINDOW_US):
    tr = transitions(zone)
    i = bisect.bisect_left(tr, us - window)
    return i < len(tr) and tr[i] <= us + window


def has_offset_change_after(zone, us):
    tr = transitions(zone)
    return bisect.bisect_right(tr, us) < len(tr)


# ----------------------------------------------------------------------------------------------
# Case generator (deterministic for a given seed)
# ----------------------------------------------------------------------------------------------

class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    # --- instants and timestamps ---
    def instant(self, zone, lo_year=2001, hi_year=2035, avoid=True):
        r = self.r
        if r.random() < 0.1:
            lo_year = 1972
        lo = calendar.timegm((lo_year, 1, 1, 0, 0, 0))
        hi = calendar.timegm((hi_year, 12, 31, 0, 0, 0))
        for _ in range(20):
            ts = r.randrange(lo, hi)
            # round to something schedule-like most of the time
            k = r.random()
            if k < 0.3:
                ts -= ts % 3600
            elif k < 0.55:
                ts -= ts % 60
            elif k < 0.6:
                ts -= ts % 86400
            us = ts * 10**6
            if r.random() < 0.03:
                us += r.randrange(1, 10**6)
            # keep `from` away from offset changes (fires near them are excluded, not compared)
            if not avoid or not near_transition(zone, us, 12 * 86400 * 10**6) or r.random() < 0.05:
                return us
        return us

    def timestamp_text(self, us, zone, forms=None):
        """A timestamp string for instant `us` in one of the documented forms."""
        r = self.r
        zi = zoneinfo.ZoneInfo(zone)
        local = from_us(us).astimezone(zi)
        form = r.choice(forms or ["date", "space", "T", "Z", "offset", "offset", "micro", "space", "T"])
        if forms is None and r.random() < 0.02:
            form = "short-fraction"  # `.5`: APScheduler reads 5 us (explained below)
        if form == "date":
            return local.strftime("%Y-%m-%d")
        if form == "space":
            return local.strftime("%Y-%m-%d %H:%M:%S")
        if form == "T":
            return local.strftime("%Y-%m-%dT%H:%M:%S")
        if form == "Z":
            return from_us(us).strftime("%Y-%m-%dT%H:%M:%SZ")
        if form == "offset":
            off = r.choice([0, 60, -300, 330, 345, -150, 780, -240, 120])
            d = from_us(us).astimezone(dt.timezone(dt.timedelta(minutes=off)))
            sign = "+" if off >= 0 else "-"
            return d.strftime("%Y-%m-%dT%H:%M:%S") + "%s%02d:%02d" % (sign, abs(off) // 60, abs(off) % 60)
        if form == "micro":
            return local.strftime("%Y-%m-%d %H:%M:%S") + ".%06d" % r.randrange(0, 10**6)
        if form == "short-fraction":
            return local.strftime("%Y-%m-%d %H:%M:%S") + "." + str(r.randrange(1, 999))
        raise AssertionError(form)

    def zone(self):
        r = self.r
        return "UTC" if r.random() < 0.25 else r.choice(ZONES)

    def maybe_job_options(self, kw):
        r = self.r
        if r.random() < 0.08:
            kw["misfire_grace_time"] = r.choice([None, 1, 30, 3600])
        if r.random() < 0.05:
            kw["coalesce"] = r.choice([True, False])
        if r.random() < 0.05:
            kw["max_instances"] = r.choice([1, 2, 5])

    def zone_placement(self, kw, zone):
        """The zone goes into trigger_kwargs, or is the default zone of the command line."""
        if zone == "UTC" and self.r.random() < 0.5:
            return "UTC"
        if self.r.random() < 0.2:
            return zone
        kw["timezone"] = zone
        return self.r.choice(["UTC", "Asia/Tokyo"])  # must be ignored

    # --- APScheduler cron expressions ---
    def num_expr(self, lo, hi, names=None, allow_int=True):
        r = self.r
        span = hi - lo
        k = r.random()
        if k < 0.07:
            return "*"
        if k < 0.2:
            return "*/%d" % r.randint(1, max(1, min(span, 20)))
        if k < 0.45:
            v = r.randint(lo, hi)
            return v if allow_int and r.random() < 0.4 else str(v)
        if k < 0.6:
            a = r.randint(lo, hi - 1)
            return "%d-%d" % (a, r.randint(a + 1, min(hi, a + max(2, span // 2))))
        if k < 0.7:
            a = r.randint(lo, hi - 2)
            b = r.randint(a + 2, hi)
            return "%d-%d/%d" % (a, b, r.randint(1, b - a))
        if k < 0.76:
            a = r.randint(lo, hi - 1)
            return "%d/%d" % (a, r.randint(1, max(1, min(hi - a, 15))))
        if k < 0.88 or not names:
            n = r.randint(2, 4)
            vals = sorted(set(r.randint(lo, hi) for _ in range(n)))
            parts = [str(v) for v in vals]
            if r.random() < 0.3 and span > 4:
                a = r.randint(lo, hi - 2)
                parts.append("%d-%d" % (a, r.randint(a + 1, hi)))
            sep = ", " if r.random() < 0.1 else ","
            return sep.join(parts)
        # names
        if r.random() < 0.5:
            a = r.randrange(len(names))
            s = names[a]
        elif r.random() < 0.6:
            a = r.randrange(len(names) - 1)
            b = r.randint(a + 1, len(names) - 1)
            s = "%s-%s" % (names[a], names[b])
        else:
            s = ",".join(sorted(set(r.choice(names) for _ in range(3)), key=names.index))
        if r.random() < 0.15:
            s = s.upper() if r.random() < 0.5 else s.title()
        return s

    def day_expr(self):
        r = self.r
        k = r.random()
        if k < 0.1:
            return "last"
        if k < 0.25:
            return "%s %s" % (r.choice(["1st", "2nd", "3rd", "4th", "5th", "last"]), r.choice(WEEKDAYS))
        if k < 0.3:
            return "%s,%s" % (r.randint(1, 28), r.choice(["last", "2nd %s" % r.choice(WEEKDAYS)]))
        return self.num_expr(1, 31)

    def cron(self):
        r = self.r
        zone = self.zone()
        frm = self.instant(zone)
        y = from_us(frm).year
        kw = {"trigger": "cron"}
        present = {
            "year": r.random() < 0.1,
            "month": r.random() < 0.3,
            "day": r.random() < 0.3,
            "week": r.random() < 0.05,
            "day_of_week": r.random() < 0.3,
            "hour": r.random() < 0.6,
            "minute": r.random() < 0.55,
            "second": r.random() < 0.3,
        }
        if present["week"] and r.random() < 0.8:
            present["month"] = present["day"] = present["year"] = False
        if present["day"] and present["day_of_week"] and r.random() < 0.6:
            present[r.choice(["day", "day_of_week"])] = False  # day AND day_of_week is often empty
        if not any(present.values()):
            present["minute"] = True
        if present["year"]:
            k = r.random()
            if k < 0.4:
                kw["year"] = str(r.randint(y, y + 3)) if r.random() < 0.6 else r.randint(y, y + 3)
            elif k < 0.7:
                a = r.randint(y - 1, y + 2)
                kw["year"] = "%d-%d" % (a, a + r.randint(1, 6))
            elif k < 0.85:
                kw["year"] = "*/%d" % r.randint(1, 4)
            else:
                kw["year"] = "%d,%d" % (y + r.randint(0, 1), y + r.randint(2, 5))
        if present["month"]:
            kw["month"] = self.num_expr(1, 12, MONTHS)
        if present["day"]:
            kw["day"] = self.day_expr()
        if present["week"]:
            kw["week"] = self.num_expr(1, 53)
        if present["day_of_week"]:
            kw["day_of_week"] = self.num_expr(0, 6, WEEKDAYS)
        if present["hour"]:
            kw["hour"] = self.num_expr(0, 23)
        if present["minute"]:
            kw["minute"] = self.num_expr(0, 59)
        if present["second"]:
            kw["second"] = self.num_expr(0, 59)
        self.bounds(kw, zone, frm, span_days=r.choice([1, 10, 60, 400]))
        default_zone = self.zone_placement(kw, zone)
        self.maybe_job_options(kw)
        return dict(kind="cron", kwargs=kw, frm=frm, zone=zone, default_zone=default_zone)

    def bounds(self, kw, zone, frm, span_days):
        r = self.r
        if r.random() < 0.25:
            start = frm + r.randint(-30, 30) * 86400 * 10**6 + r.randint(0, 86399) * 10**6
            kw["start_date"] = self.timestamp_text(start, zone)
        if r.random() < 0.12:
            end = frm + r.randint(0, span_days) * 86400 * 10**6 + r.randint(0, 86399) * 10**6
            kw["end_date"] = self.timestamp_text(end, zone)

    # --- crontab strings (croniter reference) ---
    def tab_field(self, lo, hi, names=None, name_base=0):
        r = self.r
        k = r.random()
        if k < 0.3:
            return "*"
        if k < 0.45:
            return "*/%d" % r.randint(2, max(2, min(hi - lo, 20)))
        if k < 0.65:
            return str(r.randint(lo, hi))
        if k < 0.77:
            a = r.randint(lo, hi - 1)
            return "%d-%d" % (a, r.randint(a + 1, hi))
        if k < 0.84:
            a = r.randint(lo, hi - 2)
            b = r.randint(a + 2, hi)
            return "%d-%d/%d" % (a, b, r.randint(2, max(2, b - a)))
        if k < 0.92 or not names:
            vals = sorted(set(r.randint(lo, hi) for _ in range(r.randint(2, 4))))
            return ",".join(map(str, vals))
        if r.random() < 0.5:
            s = r.choice(names)
        else:
            a = r.randrange(len(names) - 1)
            s = "%s-%s" % (names[a], names[r.randint(a + 1, len(names) - 1)])
        return s.upper() if r.random() < 0.2 else s

    def crontab(self):
        r = self.r
        zone = self.zone()
        frm = self.instant(zone)
        frm -= frm % 10**6  # croniter has second resolution
        k = r.random()
        if k < 0.07:
            expr = r.choice(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"])
        else:
            minute = self.tab_field(0, 59)
            hour = self.tab_field(0, 23) if r.random() < 0.8 else "*"
            dom = self.tab_field(1, 31) if r.random() < 0.45 else "*"
            month = self.tab_field(1, 12, MONTHS) if r.random() < 0.35 else "*"
            if r.random() < 0.45:
                kd = r.random()
                if kd < 0.15:
                    dow = r.choice(["0", "7", "0,3", "5-7", "1-5", "6,7", "sun", "SUN,sat"])
                else:
                    dow = self.tab_field(0, 6, CRON_WEEKDAYS)
            else:
                dow = "*"
            fields = [minute, hour, dom, month, dow]
            if r.random() < 0.2:
                fields.insert(0, self.tab_field(0, 59))
            sep = "  " if r.random() < 0.05 else " "
            expr = sep.join(fields)
        kw = {"crontab": expr}
        if r.random() < 0.3:
            kw["trigger"] = "cron"
        self.bounds(kw, zone, frm, span_days=r.choice([1, 10, 60]))
        default_zone = self.zone_placement(kw, zone)
        self.maybe_job_options(kw)
        return dict(kind="crontab", kwargs=kw, frm=frm, zone=zone, default_zone=default_zone)

    # --- interval ---
    def interval(self):
        r = self.r
        zone = self.zone()
        frm = self.instant(zone)
        kw = {"trigger": "interval"}
        units = ["weeks", "days", "hours", "minutes", "seconds"]
        for u in r.sample(units, r.randint(1, 3)):
            kw[u] = r.choice({"weeks": [1, 2, 4], "days": [1, 2, 3, 7, 30], "hours": [1, 2, 5, 12, 36],
                              "minutes": [1, 5, 15, 45, 90], "seconds": [1, 10, 30, 59, 3600, 86400]}[u])
        if r.random() < 0.05:
            kw["seconds"] = r.choice([0.5, 1.5, 2.25, 0.001])  # fractional seconds (APScheduler: float)
        start = frm + r.randint(-400 * 86400, 5 * 86400) * 10**6
        if r.random() < 0.5:
            start -= start % (3600 * 10**6)
        kw["start_date"] = self.timestamp_text(start, zone)
        if r.random() < 0.25:
            kw["end_date"] = self.timestamp_text(frm + r.randint(0, 30 * 86400) * 10**6, zone)
        default_zone = self.zone_placement(kw, zone)
        self.maybe_job_options(kw)
        return dict(kind="interval", kwargs=kw, frm=frm, zone=zone, default_zone=default_zone)

    # --- date ---
    def date(self):
        r = self.r
        zone = self.zone()
        frm = self.instant(zone)
        run = frm + r.randint(-3 * 86400, 30 * 86400) * 10**6
        kw = {"trigger": "date", "run_date": self.timestamp_text(run, zone)}
        default_zone = self.zone_placement(kw, zone)
        self.maybe_job_options(kw)
        return dict(kind="date", kwargs=kw, frm=frm, zone=zone, default_zone=default_zone)

    # --- invalid inputs (the reference must reject them; rowsched must too) ---
    def invalid(self):
        r = self.r
        k = r.random()
        if k < 0.5:
            c = self.cron()
            kw = c["kwargs"]
            field, bad = r.choice([
                ("hour", "24"), ("hour", 24), ("minute", "60"), ("second", "61"), ("day", "0"),
                ("day", "32"), ("month", "13"), ("month", "0"), ("day_of_week", "7"), ("week", "54"),
                ("week", "0"), ("year", "1969"), ("month", "foo"), ("day_of_week", "mon-xyz"),
                ("day_of_week", "fri-mon"), ("minute", "*/0"), ("minute", "*/60"), ("hour", "5-3"),
                ("hour", "1-3/5"), ("day", "6th mon"), ("day", "last xyz"), ("minute", "a"),
                ("hour", "*/x"), ("second", "-1"), ("day", "1-32"), ("month", "jan-foo"),
                ("minute", "1,,2"), ("hour", ""), ("minute", "5-"),
            ])
            kw[field] = bad
        elif k < 0.62:
            c = self.cron()
            kw = c["kwargs"]
            kw[r.choice(["minuts", "hours", "days", "weekday", "run_date", "crontab_x", "seconds"])] = 1
        elif k < 0.7:
            c = self.cron()
            c["kwargs"]["timezone"] = r.choice(["Mars/Olympus", "Europe/Berlinn", "CEST+", "utc/x"])
        elif k < 0.8:
            c = self.interval() if r.random() < 0.5 else self.cron()
            c["kwargs"]["start_date"] = r.choice(["2023-02-29", "2024-13-01", "2024-01-01 24:00:00",
                                                  "2024-01-01 10:61:00", "tomorrow", "2024/01/01",
                                                  "2024-01-01T10:00:00+25:00"])
        elif k < 0.85:
            c = self.date()
            c["kwargs"]["run_date"] = r.choice(["2023-02-30", "now-ish", "2024-00-10", "2024-06-31 10:00:00"])
        elif k < 0.88:
            c = self.cron()
            c["kwargs"]["trigger"] = r.choice(["crontab", "Cron", "every", "intervals"])
        else:
            c = self.crontab()
            c["kwargs"]["crontab"] = r.choice([
                "* * * *", "* * * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * 32 * *",
                "* * * 13 *", "* * * * 8", "*/0 * * * *", "* * * foo *", "* * * * mon-xyz", "5-3 * * * *",
                "@every_minute", "@reboot", "61 * * * * *", "", "a b c d e",
            ])
        c["kind"] = "invalid"
        return c

    # --- hand-picked edge cases (sparse, calendar corners, lenient spellings APScheduler accepts) ---
    EDGE = [
        {"trigger": "cron", "day": "5th fri"}, {"trigger": "cron", "day": "5th mon", "hour": 12},
        {"trigger": "cron", "week": "53"}, {"trigger": "cron", "week": 1, "day_of_week": "sun"},
        {"trigger": "cron", "week": "52-53", "hour": 0}, {"trigger": "cron", "week": "*/10", "day_of_week": 0},
        {"trigger": "cron", "month": 2, "day": 29}, {"trigger": "cron", "month": "feb", "day": "last"},
        {"trigger": "cron", "year": "*/4", "month": 2, "day": 29, "hour": 23, "minute": 59, "second": 59},
        {"trigger": "cron", "day": "last", "hour": 23, "minute": 59, "second": 59},
        {"trigger": "cron", "day": "1-31/7"}, {"trigger": "cron", "day": "last, 1st mon", "hour": "6"},
        {"trigger": "cron", "day": "31"}, {"trigger": "cron", "day": "30,31", "month": "1-12/2"},
        {"trigger": "cron", "second": "*/7"}, {"trigger": "cron", "second": "59", "minute": "59"},
        {"trigger": "cron", "hour": " 3 ", "minute": "0"}, {"trigger": "cron", "minute": "1 , 2,3"},
        {"trigger": "cron", "day_of_week": "MON-FRI", "hour": 9}, {"trigger": "cron", "month": "Jan,Jul"},
        {"trigger": "cron", "minute": "*/1"}, {"trigger": "cron", "hour": "0-23/1"},
        {"trigger": "cron", "day": "1st  mon"}, {"trigger": "cron", "day": "LAST FRI"},
        {"trigger": "cron", "day": "last sun", "month": "mar,oct", "hour": 1},
        {"trigger": "cron", "day": "2nd tue", "month": "*/3"}, {"trigger": "cron", "day_of_week": "5-6", "day": "13"},
        {"trigger": "cron", "year": 2031}, {"trigger": "cron", "year": "2026-2028", "month": 12, "day": 31},
        {"trigger": "cron", "minute": "59/1"}, {"trigger": "cron", "hour": "23/1", "minute": "30"},
        {"trigger": "cron", "minute": "0-59/30", "second": "0-59/30"}, {"trigger": "cron", "day": "*/15"},
        {"trigger": "cron", "day_of_week": "*/2", "hour": 0}, {"trigger": "cron", "day_of_week": "6,0-1"},
        {"trigger": "cron", "week": "10", "day": "1-31/2"},
        {"trigger": "cron", "hour": 3.0}, {"trigger": "cron", "minute": True}, {"trigger": "cron", "hour": None},
        {"trigger": "cron", "minute": "*/30", "start_date": "2024-1-5"},
        {"trigger": "cron", "hour": 12, "end_date": "2024-01-05 12:00:00.000000"},
        {"crontab": "0 0 29 2 *"}, {"crontab": "0 12 * * 7"}, {"crontab": "0 12 * * 0,7"},
        {"crontab": "0 0 13 * 5"}, {"crontab": "0 0 1-7 * mon"}, {"crontab": "0 0 */2 * mon"},
        {"crontab": "0 0 * * sun-sat"}, {"crontab": "0 0 1 * 0-6"}, {"crontab": "0 0 1-31 * 1"},
        {"crontab": "*/10 * * * * *"}, {"crontab": "30 59 23 31 12 *"}, {"crontab": "0 0 31 * *"},
        {"crontab": "@hourly"}, {"crontab": "@WEEKLY"}, {"crontab": "0 9-17/2 * * MON-FRI"},
        {"crontab": "5/15 * * * *"}, {"crontab": "0 0 * jan-mar,oct *"}, {"crontab": " 0 0 * * * "},
        {"crontab": "0\t0\t*\t*\t*"},
        # pg_cron's documented examples (README): croniter reads `$` as `L`, and `N seconds` for N
        # dividing a minute as `*/N` seconds (other N have no reference and are unit-tested instead).
        {"crontab": "0 12 $ * *"}, {"crontab": "10 seconds"}, {"crontab": "30 seconds"}, {"crontab": "5 seconds"},
        {"crontab": "0 0 * * 1-5"}, {"crontab": "0 1 * * 0"}, {"crontab": "0 13 2 6 *"}, {"crontab": "30 3 * * 6"},
        {"crontab": "0 10 * * *"}, {"crontab": "* * * * *"},
        {"trigger": "interval", "seconds": 1, "start_date": "2024-01-01 00:00:00.5"},
        {"trigger": "interval", "weeks": 520, "start_date": "2001-01-01"},
        {"trigger": "interval", "seconds": 7, "start_date": "1999-12-31 23:59:59.999999"},
        {"trigger": "interval", "hours": 1, "minutes": 1, "seconds": 1, "start_date": "2024-02-29"},
        {"trigger": "interval", "minutes": 10, "start_date": "2030-06-01T00:00:00Z", "end_date": "2030-06-01T01:00:00Z"},
        {"trigger": "interval", "days": 1, "start_date": "2024-01-01", "end_date": "2023-12-31"},
        {"trigger": "date", "run_date": "2024-02-29"}, {"trigger": "date", "run_date": "2024-12-31T23:59:59.999999Z"},
        {"trigger": "date", "run_date": "1999-01-01 00:00:00"}, {"trigger": "date", "run_date": "2024-1-5 3:4:5"},
    ]

    def edge(self):
        r = self.r
        zone = self.zone()
        frm = self.instant(zone, lo_year=2001, hi_year=2035)
        if r.random() < 0.3:
            frm += r.randrange(1, 10**6)
        kw = json.loads(json.dumps(r.choice(self.EDGE)))
        if "crontab" in kw:
            frm -= frm % 10**6
        default_zone = self.zone_placement(kw, zone)
        return dict(kind=trigger_kind(kw), kwargs=kw, frm=frm, zone=zone, default_zone=default_zone)

    def case(self):
        k = self.r.random()
        if k < 0.06:
            return self.edge()
        if k < 0.50:
            return self.cron()
        if k < 0.70:
            return self.crontab()
        if k < 0.84:
            return self.interval()
        if k < 0.92:
            return self.date()
        return self.invalid()


def generate(n, seed):
    g = Gen(seed)
    out = []
    for i in range(n):
        c = g.case()
        c["id"] = i
        out.append(c)
    return out


# ----------------------------------------------------------------------------------------------
# References
# ----------------------------------------------------------------------------------------------

class RefTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise RefTimeout()


def trigger_kind(kw):
    if "trigger" in kw:
        t = kw["trigger"]
        if t == "cron" and "crontab" in kw:
            return "crontab"
        return t
    return "crontab" if "crontab" in kw else None


def advance(next_fire, frm_us, count=COUNT):
    """The scheduler's loop; next_fire(previous_dt_or_None, now_dt) -> aware datetime or None."""
    out = []
    prev = None
    now = from_us(frm_us)
    for _ in range(count):
        nxt = next_fire(prev, now)
        if nxt is None:
            break
        out.append(to_us(nxt))
        prev = now = nxt
    return out


def aps_kwargs(kw, default_zone, fix_fraction=False, fix_local=False):
    """trigger_kwargs -> constructor arguments of the APScheduler trigger (job options removed).
    The fix_* flags build a *corrected* reference used only to confirm an explained difference."""
    args = {k: v for k, v in kw.items() if k != "trigger" and k not in JOB_OPTIONS}
    if "timezone" not in args:
        args["timezone"] = default_zone
    zone = args["timezone"]
    for key in ("start_date", "end_date", "run_date"):
        v = args.get(key)
        if not isinstance(v, str):
            continue
        if fix_fraction:
            v = re.sub(r"\.(\d{1,5})(?=$|Z|[+-])", lambda m: "." + m.group(1).ljust(6, "0"), v)
        if fix_local and isinstance(zone, str) and not re.search(r"(Z|[+-]\d\d:\d\d)$", v):
            v = local_text_to_offset_text(v, zone)
        args[key] = v
    return args


def local_text_to_offset_text(v, zone):
    """A naive timestamp resolved with rowsched's rule (first occurrence of a repeated time; a skipped
    time keeps the offset in force before the gap) = zoneinfo fold=0, written with an explicit offset."""
    m = re.match(r"^(\d{4})-(\d\d?)-(\d\d?)(?:[ T](\d\d?):(\d\d?):(\d\d?)(?:\.(\d{1,6}))?)?$", v)
    if not m:
        return v
    y, mo, d, h, mi, s, f = m.groups()
    naive = dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0),
                        int((f or "0").ljust(6, "0")))
    aware = naive.replace(tzinfo=zoneinfo.ZoneInfo(zone), fold=0)
    off = aware.utcoffset()
    mins = int(off.total_seconds() // 60)
    sign = "+" if mins >= 0 else "-"
    text = naive.strftime("%Y-%m-%d %H:%M:%S") + (".%06d" % naive.microsecond if naive.microsecond else "")
    return text + "%s%02d:%02d" % (sign, abs(mins) // 60, abs(mins) % 60)


class FixedIncrementCronTrigger(CronTrigger):
    """APScheduler's CronTrigger with one bug fixed: _increment_field_value adds a wall-clock
    difference to an aware datetime that keeps the UTC offset of the *starting* date, so when a UTC
    offset change lies between the two, the result is an hour (or 30 min) off and the search then
    skips a valid fire (e.g. `day=1` in America/New_York from 2024-03-05 skips 2024-04-01). The fix
    localizes the new wall-clock value in the zone instead."""

    def _increment_field_value(self, dateval, fieldnum):
        values = {}
        i = 0
        while i < len(self.fields):
            field = self.fields[i]
            if not field.REAL:
                if i == fieldnum:
                    fieldnum -= 1
                    i -= 1
                else:
                    i += 1
                continue
            if i < fieldnum:
                values[field.name] = field.get_value(dateval)
                i += 1
            elif i > fieldnum:
                values[field.name] = field.get_min(dateval)
                i += 1
            else:
                value = field.get_value(dateval)
                maxval = field.get_max(dateval)
                if value == maxval:
                    fieldnum -= 1
                    i -= 1
                else:
                    values[field.name] = value + 1
                    i += 1
        return localize(dt.datetime(**values), self.timezone), fieldnum


def reference_aps(kind, kw, default_zone, frm, fixed_increment=False, **fix):
    args = aps_kwargs(kw, default_zone, **fix)
    if kind == "cron":
        t = (FixedIncrementCronTrigger if fixed_increment else CronTrigger)(**args)
    elif kind == "interval":
        t = IntervalTrigger(**args)
    elif kind == "date":
        t = DateTrigger(**args)
    else:
        raise ValueError("unknown trigger %r" % kind)
    return advance(t.get_next_fire_time, frm)


def vixie_fix(expr):
    """croniter deviates from Vixie cron's day rule; return how to compute Vixie's rule for `expr`
    (6-field form already in croniter order) with croniter, and which deviation applies:
      ("and", expr)            evaluate with day_or=False
      ("or", dom_only, dow_only)  the union of two croniter runs
    Vixie: when the day-of-month or the day-of-week field *starts with* '*' (DOM_STAR / DOW_STAR, so
    also `*/2`) a day must match both fields; otherwise it must match either. croniter instead
    (a) applies OR whenever neither *expanded* field is '*', so `*/n` in one field gives OR where
        Vixie gives AND                                       -> croniter-dom-dow-star-step;
    (b) collapses a restricted-looking field that covers every value (dow `0-6`, `sun-sat`, `0-7`,
        dom `1-31`) to '*' and then gives AND where Vixie gives OR -> croniter-dom-dow-full-range;
    (c) computes OR as the earlier of two searches and raises CroniterBadDateError when one of them
        never matches (`30-31 2 6`: no Feb 30, but every Saturday in February matches)
                                                              -> croniter-dom-dow-or-branch-never-matches."""
    parts = expr.split()
    if len(parts) < 5:
        return None, None
    dom, dow = parts[2], parts[4]
    if dom == "*" or dow == "*":
        return None, None
    if dom.startswith("*") or dow.startswith("*"):
        return ("and", expr), "croniter-dom-dow-star-step"
    a = list(parts)
    a[4] = "*"
    b = list(parts)
    b[2] = "*"
    why = "croniter-dom-dow-or-branch-never-matches"
    try:
        exp, _ = croniter.expand(expr)
        if exp[2] == ["*"] or exp[4] == ["*"]:
            why = "croniter-dom-dow-full-range"
    except Exception:
        pass
    return ("or", " ".join(a), " ".join(b)), why


def dow7_to_0(field):
    """croniter 1.3.5 maps day-of-week 7 to Sunday (0) only in the 5-field form; in its 6-field form
    (seconds last) `7` is out of range. Rewrite 7 as 0 for the corrected reference."""
    out = []
    for tok in field.split(","):
        m = re.match(r"^(\d+)-7$", tok)
        if tok == "7":
            out.append("0")
        elif m:
            out += ["%s-6" % m.group(1), "0"] if m.group(1) != "7" else ["0"]
        else:
            out.append(tok)
    return ",".join(out)


def reference_crontab(kw, default_zone, frm, vixie=False, fix_dow7=False, **fix):
    extra = set(kw) - set(CRONTAB_KEYS) - JOB_OPTIONS - {"trigger"}
    if extra:
        raise ValueError("unknown key %s" % sorted(extra))
    expr = kw["crontab"]
    if not isinstance(expr, str):
        raise ValueError("crontab must be a string")
    parts = expr.split()
    seconds = re.fullmatch(r"\s*(\d+)\s+seconds?\s*", expr, re.I)
    if seconds and 60 % int(seconds.group(1)) == 0:  # pg_cron's interval form
        parts = ["*", "*", "*", "*", "*", "*/" + seconds.group(1)]
    elif len(parts) == 6:  # rowsched: seconds first; croniter: seconds last
        parts = parts[1:] + parts[:1]
    if len(parts) in (5, 6) and parts[2] == "$":  # pg_cron's last day of the month
        parts[2] = "L"
    cexpr = " ".join(parts) if len(parts) in (5, 6) else expr
    if fix_dow7 and len(parts) == 6:
        parts[4] = dow7_to_0(parts[4])
        cexpr = " ".join(parts)
    runs = [(cexpr, True)]
    if vixie:
        fixed, _ = vixie_fix(cexpr)
        if fixed and fixed[0] == "and":
            runs = [(fixed[1], False)]
        elif fixed:
            runs = [(fixed[1], True), (fixed[2], True)]
    args = aps_kwargs(kw, default_zone, **fix)
    zone = pytz.timezone(args["timezone"])
    start = frm
    end = None
    from apscheduler.util import convert_to_datetime
    if args.get("start_date") is not None:
        start = max(start, to_us(convert_to_datetime(args["start_date"], zone, "start_date")))
    if args.get("end_date") is not None:
        end = to_us(convert_to_datetime(args["end_date"], zone, "end_date"))
    # croniter works in seconds and returns the first match strictly after its start
    start_s = -(-start // 10**6)
    merged = set()
    failed = 0
    for cexpr, day_or in runs:
        it = croniter(cexpr, from_us((start_s - 1) * 10**6).astimezone(zone), day_or=day_or)
        for _ in range(COUNT):
            try:
                nxt = to_us(it.get_next(dt.datetime))
            except Exception:
                if len(runs) == 1:
                    raise
                failed += 1
                break  # a branch of the union that never matches contributes nothing
            if end is not None and nxt > end:
                break
            merged.add(nxt)
    if len(runs) > 1 and failed == len(runs):
        raise ValueError("no branch of the day-of-month OR day-of-week union ever matches")
    return sorted(merged)[:COUNT]


def vixie_bruteforce(kw, default_zone, frm):
    """An independent, deliberately naive Vixie-cron evaluator, used only to confirm a croniter defect
    (see classify): walks local calendar days, applies Vixie's day rule and tries every time of day.
    Field values come from croniter.expand (its expansion is right; its day rule and date search are
    what is in question). Local times map to instants with zoneinfo fold=0."""
    parts = kw["crontab"].split()
    if len(parts) == 6:
        parts = parts[1:] + parts[:1]
        parts[4] = dow7_to_0(parts[4])
    expr = " ".join(parts)
    exp, nth = croniter.expand(expr)
    if nth:
        raise ValueError("nth weekday not supported here")
    lo_hi = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6), (0, 59)]

    def values(i):
        v = exp[i]
        if v == ["*"]:
            return list(range(lo_hi[i][0], lo_hi[i][1] + 1))
        return sorted(set(0 if (i == 4 and x == 7) else int(x) for x in v))

    minutes, hours, doms, months, dows = (values(i) for i in range(5))
    seconds = values(5) if len(parts) == 6 else [0]
    dom_star, dow_star = parts[2].startswith("*"), parts[4].startswith("*")
    args = aps_kwargs(kw, default_zone)
    zone = args["timezone"]
    zi = zoneinfo.ZoneInfo(zone)
    from apscheduler.util import convert_to_datetime
    start, end = frm, None
    if args.get("start_date") is not None:
        start = max(start, to_us(convert_to_datetime(args["start_date"], pytz.timezone(zone), "start_date")))
    if args.get("end_date") is not None:
        end = to_us(convert_to_datetime(args["end_date"], pytz.timezone(zone), "end_date"))
    day = from_us(start).astimezone(zi).date() - dt.timedelta(days=1)
    out = []
    for _ in range(366 * 60):
        cron_dow = (day.weekday() + 1) % 7
        dm, wm = day.day in doms, cron_dow in dows
        ok = (dm and wm) if (dom_star or dow_star) else (dm or wm)
        if ok and day.month in months:
            for h in hours:
                for mi in minutes:
                    for se in seconds:
                        t = to_us(dt.datetime(day.year, day.month, day.day, h, mi, se, tzinfo=zi))
                        if t < start:
                            continue
                        if end is not None and t > end:
                            return out
                        out.append(t)
                        if len(out) == COUNT:
                            return out
        day += dt.timedelta(days=1)
        if end is not None and to_us(dt.datetime(day.year, day.month, day.day, tzinfo=UTC)) > end + 2 * 86400 * 10**6:
            break
    return out


def reference(case, **fix):
    """Returns {"times": [...us]} or {"error": msg} or {"timeout": True}."""
    kw, default_zone, frm = case["kwargs"], case["default_zone"], case["frm"]
    signal.setitimer(signal.ITIMER_REAL, REFERENCE_TIME_LIMIT_S)
    try:
        kind = trigger_kind(kw)
        if kind == "crontab" and fix.get("bruteforce"):
            return {"times": vixie_bruteforce(kw, default_zone, frm)}
        if kind == "crontab":
            return {"times": reference_crontab(kw, default_zone, frm, **fix)}
        return {"times": reference_aps(kind, kw, default_zone, frm, **fix)}
    except RefTimeout:
        return {"timeout": True}
    except Exception as e:  # ValueError, TypeError, UnknownTimeZoneError, croniter errors, ...
        return {"error": "%s: %s" % (type(e).__name__, e)}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _worker_init():
    signal.signal(signal.SIGALRM, _alarm)


def _ref_job(case):
    return case["id"], reference(case)


# ----------------------------------------------------------------------------------------------
# rowsched
# ----------------------------------------------------------------------------------------------

def batch_line(case):
    return json.dumps({"trigger_kwargs": case["kwargs"], "from": rfc3339(case["frm"]), "count": COUNT,
                       "timezone": case["default_zone"]})


def parse_rowsched_obj(obj):
    if not isinstance(obj, dict):
        return {"error": "malformed batch output: %r" % (obj,), "malformed": True}
    if "error" in obj:
        return {"error": str(obj["error"])}
    if "times" in obj:
        try:
            return {"times": [parse_rfc3339(t) for t in obj["times"]], "text": obj["times"]}
        except Exception as e:
            return {"error": "malformed time in output: %s" % e, "malformed": True}
    return {"error": "malformed batch output: %r" % (obj,), "malformed": True}


def run_rowsched_batch(binary, cases):
    payload = "".join(batch_line(c) + "\n" for c in cases)
    try:
        p = subprocess.run([binary, "next", "--batch"], input=payload, capture_output=True, text=True,
                           timeout=150)
    except subprocess.TimeoutExpired:
        print("rowsched next --batch timed out", file=sys.stderr)
        return None
    lines = p.stdout.splitlines()
    if p.returncode != 0 or len(lines) != len(cases):
        print("rowsched next --batch: exit %d, %d output lines for %d inputs; stderr: %s" %
              (p.returncode, len(lines), len(cases), p.stderr.strip()[:500]), file=sys.stderr)
        return None
    out = []
    for line in lines:
        try:
            out.append(parse_rowsched_obj(json.loads(line)))
        except json.JSONDecodeError:
            out.append({"error": "malformed batch output line: %r" % line[:200], "malformed": True})
    return out


def run_rowsched_single(binary, case):
    cmd = [binary, "next", "--from", rfc3339(case["frm"]), "--count", str(COUNT), "--timezone",
           case["default_zone"], json.dumps(case["kwargs"])]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return {"error": "timed out", "malformed": True}
    if p.returncode == 2:
        return {"error": p.stderr.strip()}
    if p.returncode != 0:
        return {"error": "exit %d: %s" % (p.returncode, p.stderr.strip()), "malformed": True}
    return parse_rowsched_obj({"times": p.stdout.split()})


def run_rowsched(binary, cases, jobs, mode="auto"):
    if mode != "single":
        res = run_rowsched_batch(binary, cases)
        if res is not None:
            return res, "batch"
        if mode == "batch":
            sys.exit("rowsched next --batch failed")
        print("falling back to one `rowsched next` process per case", file=sys.stderr)
    with ThreadPoolExecutor(max_workers=jobs) as ex:
        return list(ex.map(lambda c: run_rowsched_single(binary, c), cases)), "per-case"


# ----------------------------------------------------------------------------------------------
# Classification
# ----------------------------------------------------------------------------------------------

def case_zone(case):
    kw = case["kwargs"]
    z = kw.get("timezone", case["default_zone"]) if isinstance(kw, dict) else "UTC"
    if not isinstance(z, str):
        return "UTC"
    try:
        zoneinfo.ZoneInfo(z)
        return z
    except Exception:
        return "UTC"


def naive_local_timestamps(kw):
    return [v for k, v in kw.items() if k in ("start_date", "end_date", "run_date") and isinstance(v, str)
            and not re.search(r"(Z|[+-]\d\d:\d\d)$", v)]


def local_time_is_irregular(text, zone):
    """True when the naive wall-clock time `text` is skipped or repeated in `zone`."""
    m = re.match(r"^(\d{4})-(\d\d?)-(\d\d?)(?:[ T](\d\d?):(\d\d?):(\d\d?)(?:\.\d+)?)?$", text)
    if not m:
        return False
    y, mo, d, h, mi, s = (int(x or 0) for x in m.groups())
    try:
        naive = dt.datetime(y, mo, d, h, mi, s)
    except ValueError:
        return False
    zi = zoneinfo.ZoneInfo(zone)
    a = naive.replace(tzinfo=zi, fold=0)
    b = naive.replace(tzinfo=zi, fold=1)
    if a.utcoffset() != b.utcoffset():
        return True
    return False


def same(ref, row):
    return "times" in ref and "times" in row and ref["times"] == row["times"]


def classify(case, ref, row):
    """-> category string. Order matters: agreement first, then the DST window, then the narrow
    explanations, each of which must be confirmed."""
    kind = trigger_kind(case["kwargs"]) if isinstance(case["kwargs"], dict) else None
    zone = case_zone(case)
    if row.get("malformed"):
        return "DIFF"
    if "timeout" in ref:
        # The reference was still searching after REFERENCE_TIME_LIMIT_S (APScheduler walks day by
        # day up to year 9999 for a cron expression that can never fire). rowsched rejects those
        # ("never fires"), which is the only acceptable answer we can confirm.
        if "error" in row and "never" in row["error"].lower():
            return "explained:never-fires"
        return "skipped:reference-timeout"
    if "error" in ref and "error" in row:
        return "agree"
    if same(ref, row):
        if any(near_transition(zone, t) for t in ref["times"]):
            return "dst-excluded"
        return "agree"
    if case["kind"] == "invalid" and "error" in ref:
        return "DIFF"  # the reference rejects it; rowsched must too

    # --- DST window: rowsched's documented DST rules differ from APScheduler's on purpose ---
    both = ref.get("times", []) + row.get("times", [])
    if "times" in ref and "times" in row and any(near_transition(zone, t) for t in both):
        return "dst-excluded"

    # --- a cron expression that never fires: APScheduler returns no fire time at all (after walking
    # to year 9999); rowsched rejects the definition with a message saying it can never fire ---
    if ref.get("times") == [] and "error" in row and "never" in row["error"].lower() and kind in ("cron", "crontab"):
        return "explained:never-fires"

    if "times" in ref and "times" in row:
        # --- pytz knows no offset change after 2037 (see PYTZ_HORIZON) ---
        cut = to_us(PYTZ_HORIZON)
        if has_offset_change_after(zone, cut) and any(t >= cut for t in both):
            a = [t for t in ref["times"] if t < cut]
            b = [t for t in row["times"] if t < cut]
            if a == b:
                return "explained:pytz-no-offset-changes-after-2037"

    # --- corrected references: each fixes one documented defect of the reference and must then
    # agree exactly with rowsched ---
    if kind == "cron" and "times" in row:
        fixed = reference(case, fixed_increment=True)
        if same(fixed, row):
            return "explained:apscheduler-increment-keeps-old-utc-offset"
    if kind in ("cron", "interval", "date", "crontab"):
        texts = [v for k, v in case["kwargs"].items() if k in ("start_date", "end_date", "run_date")
                 and isinstance(v, str)]
        if any(re.search(r"\.\d{1,5}(?:$|Z|[+-])", v) for v in texts):
            # APScheduler's date regex takes `.5` as 5 microseconds (int("5")); rowsched reads a
            # decimal fraction (0.5 s).
            if same(reference(case, fix_fraction=True), row):
                return "explained:apscheduler-fraction-digits"
        if any(local_time_is_irregular(v, zone) for v in naive_local_timestamps(case["kwargs"])):
            # A naive timestamp in a skipped or repeated hour: APScheduler (pytz localize,
            # is_dst=False) takes the standard-time reading, rowsched the first occurrence / the
            # offset before the gap (DESIGN.md).
            if same(reference(case, fix_local=True), row):
                return "explained:local-timestamp-in-dst-gap-or-overlap"
    if kind == "crontab" and "times" in row:
        parts = case["kwargs"]["crontab"].split()
        if len(parts) == 6:
            parts = parts[1:] + parts[:1]
        _, why = vixie_fix(" ".join(parts)) if len(parts) in (5, 6) else (None, None)
        if why and same(reference(case, vixie=True), row):
            return "explained:" + why
        if len(parts) == 6 and re.search(r"(^|[,-])7($|,)", parts[4]):
            if same(reference(case, fix_dow7=True), row):
                return "explained:croniter-6-field-dow-7"
            if why and same(reference(case, fix_dow7=True, vixie=True), row):
                return "explained:croniter-6-field-dow-7+" + why
        # croniter 1.3.5 skips the 1st of the next month when the day-of-month list holds a day the
        # current month does not have (`0 0 1,31 * *` from Feb 15 gives Mar 31, not Mar 1); confirmed
        # with the naive evaluator above.
        try:
            doms = croniter.expand(" ".join(parts))[0][2]
        except Exception:
            doms = ["*"]
        if doms != ["*"] and any(d in (29, 30, 31) for d in doms if isinstance(d, int)):
            if same(reference(case, bruteforce=True), row):
                return "explained:croniter-skips-day-after-short-month"
    return "DIFF"


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------

def fmt_result(res):
    if "times" in res:
        return "[" + ", ".join(rfc3339(t) for t in res["times"]) + "]"
    if "timeout" in res:
        return "(reference timed out)"
    return "error: " + res.get("error", "?")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rowsched", required=True, help="path to the rowsched binary")
    ap.add_argument("--cases", type=int, default=6000)
    ap.add_argument("--quick", action="store_true", help="500 cases")
    ap.add_argument("--seed", type=int, default=20240331)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--show", type=int, default=20, help="differences printed in full")
    ap.add_argument("--show-category", default=None,
                    help="also print cases of this category (e.g. dst-excluded, explained:never-fires)")
    ap.add_argument("--mode", choices=["auto", "batch", "single"], default="auto",
                    help="drive rowsched through `next --batch` (auto: fall back to single) or one process per case")
    ap.add_argument("--dump", default=None, help="write every case and both results as JSON lines here")
    args = ap.parse_args()
    n = 500 if args.quick else args.cases
    if not (os.path.isfile(args.rowsched) and os.access(args.rowsched, os.X_OK)):
        sys.exit("differential test: %s is not an executable file (build it: ninja -C build rowsched)" % args.rowsched)
    t0 = time.time()

    cases = generate(n, args.seed)
    for c in cases:  # warm the transition tables before forking
        transitions(case_zone(c))
    t_gen = time.time() - t0

    # The references run in worker processes while rowsched runs in its own process.
    ctx = multiprocessing.get_context("fork")
    pool = ctx.Pool(max(1, args.jobs), initializer=_worker_init)
    async_ref = pool.map_async(_ref_job, cases, chunksize=25)
    row_results, mode = run_rowsched(args.rowsched, cases, args.jobs, args.mode)
    ref_results = dict(async_ref.get())
    pool.close()
    pool.join()
    t_run = time.time() - t0

    signal.signal(signal.SIGALRM, _alarm)
    categories = {}
    by_kind = {}
    diffs = []
    shown_other = []
    dump = open(args.dump, "w") if args.dump else None
    for case, row in zip(cases, row_results):
        ref = ref_results[case["id"]]
        cat = classify(case, ref, row)
        categories[cat] = categories.get(cat, 0) + 1
        by_kind.setdefault(case["kind"], {}).setdefault(cat, 0)
        by_kind[case["kind"]][cat] += 1
        if cat == "DIFF":
            diffs.append((case, ref, row))
        elif args.show_category and cat == args.show_category:
            shown_other.append((case, ref, row))
        if dump:
            dump.write(json.dumps({"id": case["id"], "kind": case["kind"], "category": cat,
                                   "kwargs": case["kwargs"], "from": rfc3339(case["frm"]),
                                   "default_timezone": case["default_zone"],
                                   "reference": fmt_result(ref), "rowsched": fmt_result(row)}) + "\n")
    if dump:
        dump.close()

    def show(title, items, limit):
        for case, ref, row in items[:limit]:
            print("--- %s #%d (%s)" % (title, case["id"], case["kind"]))
            print("  trigger_kwargs: %s" % json.dumps(case["kwargs"]))
            print("  from: %s   default timezone: %s" % (rfc3339(case["frm"]), case["default_zone"]))
            print("  reference: %s" % fmt_result(ref))
            print("  rowsched:  %s" % fmt_result(row))
            print("  repro: rowsched next --from %s --count %d --timezone %s '%s'" % (
                rfc3339(case["frm"]), COUNT, case["default_zone"], json.dumps(case["kwargs"])))

    show("DIFF", diffs, args.show)
    if shown_other:
        show(args.show_category, shown_other, args.show)

    print("differential test: %d cases (seed %d), rowsched via %s, %.1fs (generate %.1fs)" % (
        n, args.seed, mode, t_run, t_gen))
    for kind in sorted(by_kind):
        print("  %-9s %s" % (kind, ", ".join("%s=%d" % kv for kv in sorted(by_kind[kind].items()))))
    for cat in sorted(categories, key=lambda c: (c != "agree", c)):
        print("%-55s %6d  (%.1f%%)" % (cat, categories[cat], 100.0 * categories[cat] / n))
    agree = categories.get("agree", 0)
    failed = categories.get("DIFF", 0)
    dst = categories.get("dst-excluded", 0)
    ok = True
    if dst > 0.15 * n:
        print("too many dst-excluded cases: %d of %d (limit 15%%)" % (dst, n))
        ok = False
    skipped = sum(v for k, v in categories.items() if k.startswith("skipped:"))
    if skipped > 0.02 * n:
        print("too many skipped cases: %d of %d (limit 2%%)" % (skipped, n))
        ok = False
    print("%d passed, %d failed" % (agree, failed))
    sys.exit(0 if failed == 0 and ok else 1)


if __name__ == "__main__":
    main()
