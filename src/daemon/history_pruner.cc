#include "daemon/history_pruner.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace rowsched::daemon {

HistoryPruner::HistoryPruner(Duration max_age, int per_job, Duration interval, Metrics& metrics)
    : max_age_(max_age), per_job_(per_job), interval_(interval), metrics_(metrics) {}

Duration HistoryPruner::prune(LoopStore& store, const std::function<TimePoint()>& clock) {
  const TimePoint started = clock();
  const int64_t n = store.prune_history(max_age_, per_job_, static_cast<int>(batch_));
  const Duration took = clock() - started;
  // A pass that deleted all it was allowed to left rows behind: the next one comes sooner and larger,
  // so that pruning keeps up with any insert rate; once it does, batches shrink back.
  const bool behind = n >= batch_;
  metrics_.registry.counter("rowsched_history_pruned_rows_total", "job_run rows deleted by history pruning").inc(static_cast<double>(n));
  metrics_.registry.gauge("rowsched_history_prune_behind", "1 when the last pruning pass deleted a full batch: more rows wait").set(behind ? 1.0 : 0.0);
  metrics_.registry.gauge("rowsched_history_prune_batch_rows", "Rows the next pruning pass may delete").set(
      static_cast<double>(behind ? std::min(batch_ * 2, kMaxBatch) : batch_));
  metrics_.registry.gauge("rowsched_history_prune_seconds", "How long the last pruning pass took").set(
      std::chrono::duration<double>(took).count());
  if (n > 0) spdlog::info("pruned {} old job_run rows in {} ms{}", n, took / std::chrono::milliseconds(1), behind ? "; more wait" : "");
  if (behind) batch_ = std::min(batch_ * 2, kMaxBatch);
  else if (n < batch_ / 4) batch_ = std::max(batch_ / 2, kMinBatch);
  return behind ? std::min(kBehindInterval, interval_) : interval_;
}

}  // namespace rowsched::daemon
