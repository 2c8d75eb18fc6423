#include "trigger/interval_trigger.h"

namespace rowsched {

IntervalTrigger::IntervalTrigger(Duration interval, TimePoint start_date, std::optional<TimePoint> end_date, Zone zone,
                                 Duration jitter)
    : interval_(interval), start_(start_date), end_(end_date), zone_(zone), jitter_(jitter) {}

std::optional<TimePoint> IntervalTrigger::next_fire_time(std::optional<TimePoint> previous, TimePoint now) const {
  TimePoint next;
  if (previous) {
    next = *previous + interval_;
  } else if (start_ > now) {
    next = start_;
  } else {
    // The first multiple of the interval from start_date at or after now (integer ceiling division;
    // APScheduler does the same in floating point).
    const auto elapsed = (now - start_).count();
    const auto step = interval_.count();
    next = start_ + interval_ * ((elapsed + step - 1) / step);
  }
  if ((end_ && next > *end_) || next > kLatestInstant) return std::nullopt;
  return next;
}

std::string IntervalTrigger::describe() const {
  return "interval[" + format_seconds(interval_) + " s from " + format_rfc3339(start_) + "] in " + std::string(zone_->name());
}

}  // namespace rowsched
