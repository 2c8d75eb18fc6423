#include "daemon/liveness_line.h"

#include <spdlog/fmt/fmt.h>

#include "base/states.h"

namespace rowsched::daemon {

std::string format_liveness_line(const std::vector<store::LiveInstance>& live) {
  if (live.empty()) return "0 rowsched instances live: nothing is firing";
  std::string out = fmt::format("{} rowsched instance{} live: ", live.size(), live.size() == 1 ? "" : "s");
  for (size_t i = 0; i < live.size(); ++i)
    out += fmt::format("{}{} (heartbeat {:.1f} s ago)", i ? ", " : "", live[i].instance, live[i].heartbeat_age_seconds);
  return out;
}

void mark_not_firing(std::vector<store::JobStatus>& jobs, const std::vector<store::LiveInstance>& live) {
  if (!live.empty()) return;
  for (auto& j : jobs)
    if (j.state == to_sql(JobState::scheduled)) j.state = "not firing";
}

}  // namespace rowsched::daemon
