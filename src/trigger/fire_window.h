// The fires of one job in a window of time, as the scheduler would fire a job that always runs on
// time: what the web page draws as upcoming marks and lists as "next fire times". Pure: `now` is
// passed in, nothing is read.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "trigger/trigger_kwargs.h"

namespace rowsched {

struct FireWindow {
  std::vector<TimePoint> fires;  // actual fire instants (jitter applied), ascending
  bool truncated = false;        // more fires fall in the window than `max_fires`
};

// The fires of `spec` for job `job_id` at or after `now` and not after `to`, at most `max_fires`.
// The first is the job's next_run_time option when that is still ahead, else the trigger's first
// fire from `now`; each next one follows the previous nominal fire.
FireWindow fires_between(const JobSpec& spec, std::string_view job_id, TimePoint now, TimePoint to, std::size_t max_fires);

}  // namespace rowsched
