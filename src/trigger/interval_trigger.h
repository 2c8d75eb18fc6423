// Fires every fixed amount of elapsed time from start_date, as APScheduler's IntervalTrigger. Elapsed
// time, not wall-clock time: an hourly job runs every 3600 s straight through DST changes.
#pragma once

#include "trigger/trigger.h"

namespace rowsched {

class IntervalTrigger final : public Trigger {
 public:
  // REQUIRES: interval > 0.
  IntervalTrigger(Duration interval, TimePoint start_date, std::optional<TimePoint> end_date, Zone zone, Duration jitter);

  std::optional<TimePoint> next_fire_time(std::optional<TimePoint> previous, TimePoint now) const override;
  Duration jitter() const override { return jitter_; }
  std::string describe() const override;

 private:
  Duration interval_;
  TimePoint start_;
  std::optional<TimePoint> end_;
  Zone zone_;
  Duration jitter_;
};

}  // namespace rowsched
