// The worker-queue part of `rowsched status`: one line per queue (live workers, runs waiting and
// running, how long the oldest has waited) and one line per scheduled worker job that no live worker
// serves. Empty when there are neither (no worker jobs and no workers).
#pragma once

#include <string>
#include <vector>

#include "store/worker_queues.h"

namespace rowsched::daemon {

std::string format_worker_queue_table(const std::vector<store::WorkerQueue>& queues,
                                      const std::vector<store::UnservedJob>& unserved);

}  // namespace rowsched::daemon
