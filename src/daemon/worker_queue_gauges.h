// The worker-queue gauges of /metrics (live workers, queued, running, age of the oldest queued run,
// per queue) set from the worker_queue_status view; a queue that vanished from the view is set to
// zero rather than left showing its last values.
//
// Thread safety: none; the loop's thread only.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "daemon/metrics.h"
#include "store/worker_queues.h"

namespace rowsched::daemon {

class WorkerQueueGauges {
 public:
  explicit WorkerQueueGauges(Metrics& metrics) : metrics_(metrics) {}
  void report(const std::vector<store::WorkerQueue>& queues);

 private:
  Metrics& metrics_;
  std::set<std::string> reported_;  // queues with gauges, zeroed when they vanish
};

}  // namespace rowsched::daemon
