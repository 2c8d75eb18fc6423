// Fires once, at run_date, as APScheduler's DateTrigger; a run_date in the past is still returned
// (whether a late fire runs is the misfire rule's decision, not the trigger's).
#pragma once

#include "trigger/trigger.h"

namespace rowsched {

class DateTrigger final : public Trigger {
 public:
  DateTrigger(TimePoint run_date, Zone zone) : run_date_(run_date), zone_(zone) {}

  std::optional<TimePoint> next_fire_time(std::optional<TimePoint> previous, TimePoint) const override {
    if (previous) return std::nullopt;
    return run_date_;
  }
  std::string describe() const override { return "date[" + format_rfc3339(run_date_) + "] in " + std::string(zone_->name()); }

 private:
  TimePoint run_date_;
  Zone zone_;
};

}  // namespace rowsched
