// The first line of `rowsched status`: which rowsched instances are alive (their heartbeat is recent),
// so that a table of `scheduled` jobs with next runs in the past is not mistaken for a working
// scheduler:
//   2 rowsched instances live: host-a-123 (heartbeat 0.4 s ago), host-b-77 (heartbeat 0.9 s ago)
//   0 rowsched instances live: nothing is firing
// With none live, the state `scheduled` reads `not firing` in the table (mark_not_firing).
//
// Pure: no clock, no I/O.
#pragma once

#include <string>
#include <vector>

#include "store/status.h"

namespace rowsched::daemon {

std::string format_liveness_line(const std::vector<store::LiveInstance>& live);

// With no instance live, every `scheduled` job shows `not firing` instead.
void mark_not_firing(std::vector<store::JobStatus>& jobs, const std::vector<store::LiveInstance>& live);

}  // namespace rowsched::daemon
