// What rowsched shows of its worker queues (sql/010_workers.sql): per queue the live workers, the
// runs waiting and running and how long the oldest has waited (the worker_queue_status view), and
// the worker jobs whose queue no live worker serves (the worker_job_status view).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rowsched::store {

struct WorkerQueue {
  std::string queue;
  int64_t live_workers = 0, queued = 0, running = 0;
  double oldest_queued_age_seconds = 0;  // 0 when nothing waits
};

// A worker job and why it will not run now, e.g. `no live worker on queue "reports"`.
struct UnservedJob {
  std::string job_id, note;
};

// For `rowsched status`, on a short-lived connection of its own. Throw std::runtime_error with the
// server's message.
std::vector<WorkerQueue> load_worker_queues(const std::string& dsn, const std::string& schema);
std::vector<UnservedJob> load_unserved_jobs(const std::string& dsn, const std::string& schema);

}  // namespace rowsched::store
