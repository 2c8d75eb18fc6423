// A cron pattern: the set of wall-clock times a cron schedule matches, kept as one bit per allowed
// value of each field (plus the day-of-month forms that depend on the month, such as "last fri"), and
// the two searches every cron-like trigger needs:
//
//   next_match  the earliest matching wall-clock time at or after a given one (field by field, jumping
//               over whole years, months and days; never second by second), up to 9999-12-31;
//   next_fire   the earliest instant at or after a given one at which the pattern fires in a zone,
//               applying rowsched's daylight-saving rules (cron_trigger.h).
//
// Both searches are bounded: they give up at year 9999 and after a fixed number of zone periods.
// A CronPattern is a plain value; it is filled in by the APScheduler-field parser (cron_expression.h)
// or the crontab parser and never changed afterwards.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include <date/date.h>

#include "trigger/time.h"

namespace rowsched {

using LocalSeconds = date::local_seconds;
using SysSeconds = date::sys_seconds;

inline constexpr int kFirstCronYear = 1970;
inline constexpr int kLastCronYear = 9999;

// Allowed years as first, first+step, ... <= last.
struct YearRange {
  int first = kFirstCronYear;
  int last = kLastCronYear;
  int step = 1;
};

// A day of the month that depends on the month: its last day, its nth (1..5) weekday, or its last
// weekday. Weekdays count from 0 = Monday.
struct MonthDay {
  enum class Kind : uint8_t { kLastDay, kNthWeekday, kLastWeekday };
  Kind kind = Kind::kLastDay;
  int nth = 0;
  int weekday = 0;
};

struct CronPattern {
  std::vector<YearRange> years;  // empty = every year
  uint16_t months = 0;           // bit m: month m (1..12)
  uint32_t days = 0;             // bit d: day d of the month (1..31), clipped to the month's length
  std::vector<MonthDay> month_days;
  uint64_t weeks = 0;            // bit w: ISO week w (1..53)
  uint8_t weekdays = 0;          // bit 0: Monday ... bit 6: Sunday
  uint32_t hours = 0;            // bit h: hour h (0..23)
  uint64_t minutes = 0;          // bit m: minute m (0..59)
  uint64_t seconds = 0;          // bit s: second s (0..59)

  // Vixie cron: when both the day of month and the day of week are restricted, a day matches when
  // either does. Otherwise (APScheduler, or a crontab with a `*` field) both must match.
  bool day_or_weekday = false;

  // The hour field is `*` or `*/n`: the job follows the clock through daylight-saving changes (fires
  // in both repeated hours, not at all in a skipped hour). Otherwise it is a fixed-time job.
  bool follows_clock = false;

  // The earliest matching wall-clock time at or after `from`, or nullopt when none exists up to the
  // end of year 9999. Times before 1970 search from 1970-01-01 00:00:00.
  std::optional<LocalSeconds> next_match(LocalSeconds from) const;

  // The earliest instant at or after `from` at which the pattern fires in `zone`.
  std::optional<SysSeconds> next_fire(SysSeconds from, Zone zone) const;

  // True when at least one day from 1970 to 9999 matches (the time of day always exists).
  bool can_match() const;
};

}  // namespace rowsched
