// What `rowsched status` shows: one row of the job_status view per job, read on a short-lived
// connection of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/time.h"

namespace rowsched::store {

struct JobStatus {
  std::string job_id;
  std::string state;  // pending, scheduled, paused, finished, invalid
  std::optional<TimePoint> next_run_time;
  std::optional<TimePoint> last_run_time;
  std::optional<std::string> last_status;
  int64_t run_count = 0;
  int64_t failure_count = 0;
  bool is_paused = false;
  std::optional<std::string> last_error;
};

// A rowsched instance whose heartbeat in <schema>.scheduler_instance is recent.
struct LiveInstance {
  std::string instance;
  double heartbeat_age_seconds = 0;
};

// The instances that heart-beat within the last `alive_seconds` (the default --lost-after: 10 s), by
// name. Throws std::runtime_error with the server's message.
std::vector<LiveInstance> load_live_instances(const std::string& dsn, const std::string& schema, double alive_seconds = 10.0);

// Every row of <schema>.job_status, in job_id order. Throws std::runtime_error with the server's
// message (for example when the schema was never migrated).
std::vector<JobStatus> load_job_status(const std::string& dsn, const std::string& schema);

}  // namespace rowsched::store
