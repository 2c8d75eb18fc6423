// CronTrigger.get_next_fire_time of APScheduler 3.9 around rowsched's CronPattern search: where the
// search starts (just after the previous fire, but never after now; or now, but never before
// start_date), rounding up to a whole second, and the end_date cut-off.
#include "trigger/pattern_trigger.h"

#include <algorithm>

namespace rowsched {

namespace {

class PatternTrigger final : public Trigger {
 public:
  PatternTrigger(CronPattern pattern, const CronBounds& bounds, std::string description)
      : pattern_(std::move(pattern)),
        bounds_(bounds),
        description_(std::move(description) + " in " + std::string(bounds_.zone->name())) {}

  std::optional<TimePoint> next_fire_time(std::optional<TimePoint> previous, TimePoint now) const override {
    // Searches never start outside the years a cron pattern can match; this also keeps the
    // arithmetic below far from the limits of the time point type.
    const TimePoint earliest{date::sys_days{date::year{kFirstCronYear - 1} / 12 / 30}};
    const TimePoint latest{date::sys_days{date::year{kLastCronYear + 1} / 1 / 2}};
    TimePoint start;
    if (previous) {
      if (*previous >= latest) return std::nullopt;
      start = std::min(now, std::max(*previous, earliest) + Duration{1});
      if (start == *previous) start += Duration{1};
    } else {
      start = bounds_.start_date ? std::max(now, *bounds_.start_date) : now;
    }
    start = std::clamp(start, earliest, latest);

    const std::optional<SysSeconds> fire = pattern_.next_fire(date::ceil<std::chrono::seconds>(start), bounds_.zone);
    if (!fire) return std::nullopt;
    const TimePoint at{*fire};
    if (bounds_.end_date && at > *bounds_.end_date) return std::nullopt;
    return at;
  }

  Duration jitter() const override { return bounds_.jitter; }

  std::string describe() const override { return description_; }

 private:
  CronPattern pattern_;
  CronBounds bounds_;
  std::string description_;
};

}  // namespace

std::unique_ptr<Trigger> make_pattern_trigger(CronPattern pattern, const CronBounds& bounds, std::string description) {
  CronBounds with_zone = bounds;
  if (with_zone.zone == nullptr) with_zone.zone = date::locate_zone("UTC");
  return std::make_unique<PatternTrigger>(std::move(pattern), with_zone, std::move(description));
}

}  // namespace rowsched
