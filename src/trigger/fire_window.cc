#include "trigger/fire_window.h"

#include "trigger/jitter.h"

namespace rowsched {

FireWindow fires_between(const JobSpec& spec, std::string_view job_id, TimePoint now, TimePoint to, std::size_t max_fires) {
  FireWindow window;
  std::optional<TimePoint> nominal = spec.options.next_run_time && *spec.options.next_run_time >= now
                                         ? spec.options.next_run_time
                                         : spec.trigger->next_fire_time(std::nullopt, now);
  // A date trigger answers its run_date even when it has passed: that fire is history, not upcoming.
  while (nominal && *nominal < now) nominal = spec.trigger->next_fire_time(*nominal, now);
  while (nominal && *nominal <= to) {
    if (window.fires.size() == max_fires) {
      window.truncated = true;
      break;
    }
    window.fires.push_back(*nominal + jitter_offset(job_id, *nominal, spec.trigger->jitter()));
    nominal = spec.trigger->next_fire_time(*nominal, *nominal);
  }
  return window;
}

}  // namespace rowsched
