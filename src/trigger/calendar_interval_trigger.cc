#include "trigger/calendar_interval_trigger.h"

#include <cstdio>

namespace rowsched {

namespace {
constexpr date::year kLastYear{9999};
}

CalendarIntervalTrigger::CalendarIntervalTrigger(CalendarStep step, std::chrono::seconds time_of_day,
                                                 date::year_month_day start_date,
                                                 std::optional<date::year_month_day> end_date, Zone zone)
    : step_(step), time_of_day_(time_of_day), start_(start_date), end_(end_date), zone_(zone) {}

std::optional<date::year_month_day> CalendarIntervalTrigger::step_after(date::year_month_day d) const {
  // Months and years first, keeping the day of month; a month without that day is skipped (the
  // next month step is tried), then weeks and days are added as plain days.
  date::year_month_day next = d;
  if (step_.years != 0 || step_.months != 0) {
    const date::months by{step_.years * 12 + step_.months};
    date::year_month ym{d.year(), d.month()};
    for (int tries = 0;; ++tries) {
      ym += by;
      if (ym.year() > kLastYear || tries > 48) return std::nullopt;
      next = date::year_month_day{ym.year(), ym.month(), d.day()};
      if (next.ok()) break;
    }
  }
  next = date::year_month_day{date::sys_days{next} + date::days{step_.weeks * 7 + step_.days}};
  if (next.year() > kLastYear) return std::nullopt;
  return next;
}

TimePoint CalendarIntervalTrigger::fire_on(date::year_month_day d) const {
  return resolve_local(LocalTime{date::local_days{d}.time_since_epoch() + time_of_day_}, zone_);
}

std::optional<TimePoint> CalendarIntervalTrigger::next_fire_time(std::optional<TimePoint> previous, TimePoint now) const {
  std::optional<date::year_month_day> d;
  TimePoint floor;  // the answer must be >= floor (strictly > previous, or >= now)
  if (previous) {
    // The sequence date of the previous fire is its local date (resolve_local never moves a fire to
    // another day: a skipped time moves by the gap, at most a few hours, never across midnight
    // except for zones that skip midnight itself, which the loop below tolerates).
    d = date::year_month_day{date::floor<date::days>(to_local(*previous, zone_))};
    if (date::sys_days{*d} < date::sys_days{start_}) d = start_;
    floor = *previous + Duration{1};
    if (fire_on(*d) < floor) d = step_after(*d);
  } else {
    d = start_;
    floor = now;
    // Jump close to `now` for pure day/week steps instead of walking day by day from start_date.
    if (step_.years == 0 && step_.months == 0) {
      const int period = step_.weeks * 7 + step_.days;
      const auto now_day = date::floor<date::days>(to_local(now, zone_));
      const int behind = static_cast<int>((now_day.time_since_epoch() - date::local_days{start_}.time_since_epoch()).count()) - 1;
      if (behind > period) d = date::year_month_day{date::sys_days{start_} + date::days{behind / period * period}};
    }
  }
  // Bounded: at most one step per month up to year 9999.
  for (int i = 0; d && i < 200000; ++i) {
    if (end_ && date::sys_days{*d} > date::sys_days{*end_}) return std::nullopt;
    if (TimePoint t = fire_on(*d); t >= floor) return t;
    d = step_after(*d);
  }
  return std::nullopt;
}

std::string CalendarIntervalTrigger::describe() const {
  const date::hh_mm_ss<std::chrono::seconds> tod{time_of_day_};
  char buf[160];
  std::snprintf(buf, sizeof buf, "calendarinterval[years=%d, months=%d, weeks=%d, days=%d at %02d:%02d:%02d from %04d-%02u-%02u] in ",
                step_.years, step_.months, step_.weeks, step_.days, static_cast<int>(tod.hours().count()),
                static_cast<int>(tod.minutes().count()), static_cast<int>(tod.seconds().count()),
                static_cast<int>(start_.year()), static_cast<unsigned>(start_.month()), static_cast<unsigned>(start_.day()));
  return buf + std::string(zone_->name());
}

}  // namespace rowsched
