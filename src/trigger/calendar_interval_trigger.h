// Fires at a fixed wall-clock time of day every N years/months/weeks/days, as APScheduler 4's
// CalendarIntervalTrigger: "the 31st of every month at 09:00" steps in calendar terms, and a day that
// does not exist in a month (Feb 31) is skipped rather than moved. The time of day follows
// resolve_local's DST rule (a skipped 02:30 fires at 03:30 new time; a repeated one at its first
// occurrence), so no day of the sequence is ever lost (APScheduler 4 skips such a day instead).
#pragma once

#include "trigger/trigger.h"

namespace rowsched {

struct CalendarStep {
  int years = 0, months = 0, weeks = 0, days = 0;
};

class CalendarIntervalTrigger final : public Trigger {
 public:
  // REQUIRES: at least one of step's fields > 0; time_of_day in [0, 24h).
  CalendarIntervalTrigger(CalendarStep step, std::chrono::seconds time_of_day, date::year_month_day start_date,
                          std::optional<date::year_month_day> end_date, Zone zone);

  // The first fire strictly after `previous`; with no previous, the first one at or after `now`.
  std::optional<TimePoint> next_fire_time(std::optional<TimePoint> previous, TimePoint now) const override;
  std::string describe() const override;

 private:
  // The date after `d` in the sequence (skipping dates that do not exist), or nullopt past year 9999.
  std::optional<date::year_month_day> step_after(date::year_month_day d) const;
  TimePoint fire_on(date::year_month_day d) const;

  CalendarStep step_;
  std::chrono::seconds time_of_day_;
  date::year_month_day start_;
  std::optional<date::year_month_day> end_;
  Zone zone_;
};

}  // namespace rowsched
