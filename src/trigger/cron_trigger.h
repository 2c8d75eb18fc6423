// Cron schedules: APScheduler 3's CronTrigger (fields year..second, its expression grammar, defaulting
// of less significant fields, 0 = Monday, day AND day_of_week) and the classic crontab string with
// Vixie cron semantics (0 and 7 = Sunday, day-of-month OR day-of-week when both are restricted).
//
// Daylight saving time (docs/schedules.md): a fixed-time job never skips a day and never runs twice in
// one day (a skipped local time fires at resolve_local's instant, a repeated one at its first
// occurrence); a job whose hour field is a wildcard or step follows the clock through both repeated
// hours and has nothing to fire in a skipped hour.
//
// Immutable after construction; next_fire_time is bounded (never loops forever).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "trigger/trigger.h"

namespace rowsched {

// The APScheduler cron fields exactly as written in trigger_kwargs (integers already turned into
// their decimal text); an absent field is nullopt and gets APScheduler's default.
struct CronFields {
  std::optional<std::string> year, month, day, week, day_of_week, hour, minute, second;
};

// The common tail of every cron-like trigger.
struct CronBounds {
  Zone zone = nullptr;
  std::optional<TimePoint> start_date;  // inclusive
  std::optional<TimePoint> end_date;    // inclusive
  Duration jitter{0};
};

// Builds an APScheduler-style cron trigger. Throws TriggerError naming `trigger_kwargs.<field>`,
// the value and what is allowed, or saying that the expression can never fire.
std::unique_ptr<Trigger> make_cron_trigger(const CronFields& fields, const CronBounds& bounds);

// Builds a trigger from a crontab string (5 fields, or 6 with seconds first, or @yearly @annually
// @monthly @weekly @daily @midnight @hourly, and pg_cron's `$` day of month and `N seconds`; see
// crontab.cc). Throws TriggerError naming `trigger_kwargs.crontab`.
std::unique_ptr<Trigger> make_crontab_trigger(const std::string& crontab, const CronBounds& bounds);

}  // namespace rowsched
