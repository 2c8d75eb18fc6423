// Pruning of job_run: one pass deletes at most a batch of rows (the pass holds the control
// connection, so it must stay short). The batch adapts: a pass that deleted all it was allowed to
// left rows behind, so the next one comes sooner (kBehindInterval) and doubles its batch up to
// kMaxBatch; once passes keep up, batches halve back to kMinBatch. From 1,000 to 20,000 rows every
// 0.5 s while behind: up to 40,000 rows a second.
//
// Thread safety: none; the loop's thread only.
#pragma once

#include <cstdint>
#include <functional>

#include "base/time.h"
#include "daemon/loop_store.h"
#include "daemon/metrics.h"

namespace rowsched::daemon {

class HistoryPruner {
 public:
  static constexpr int64_t kMinBatch = 1000, kMaxBatch = 20000;
  static constexpr Duration kBehindInterval = std::chrono::milliseconds(500);

  // `interval`: between passes while not behind. `metrics` must outlive the pruner.
  HistoryPruner(Duration max_age, int per_job, Duration interval, Metrics& metrics);

  // One pass on `store`, `took` measured by the caller's clock; returns the wait before the next.
  // Throws what the store throws.
  Duration prune(LoopStore& store, const std::function<TimePoint()>& clock);
  int64_t batch() const { return batch_; }

 private:
  Duration max_age_;
  int per_job_;
  Duration interval_;
  Metrics& metrics_;
  int64_t batch_ = kMinBatch;
};

}  // namespace rowsched::daemon
