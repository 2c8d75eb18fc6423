#include "daemon/worker_queue_gauges.h"

namespace rowsched::daemon {

void WorkerQueueGauges::report(const std::vector<store::WorkerQueue>& queues) {
  std::set<std::string> seen;
  for (const auto& q : queues) {
    metrics_.worker_queue("live_workers", q.queue).set(static_cast<double>(q.live_workers));
    metrics_.worker_queue("queued", q.queue).set(static_cast<double>(q.queued));
    metrics_.worker_queue("running", q.queue).set(static_cast<double>(q.running));
    metrics_.worker_queue("oldest", q.queue).set(q.oldest_queued_age_seconds);
    seen.insert(q.queue);
  }
  for (const auto& gone : reported_)
    if (!seen.count(gone))
      for (const char* what : {"live_workers", "queued", "running", "oldest"}) metrics_.worker_queue(what, gone).set(0);
  reported_.insert(seen.begin(), seen.end());
}

}  // namespace rowsched::daemon
