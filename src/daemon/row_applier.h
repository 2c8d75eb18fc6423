// Applies job_info rows to the loop's picture of them: the job table (job_table.h) and the
// Schedule, queuing the write-back of each row's state and next fire. A full reload streams every
// row; a reload re-reads the rows a notification or a resync named, and forgets the deleted ones.
// One bad row never takes the others down: whatever parsing it throws makes that row invalid with
// the reason. The rowsched_jobs gauges follow every change.
//
// Thread safety: none; the loop's thread only.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/bookkeeping_queue.h"
#include "daemon/job_table.h"
#include "daemon/loop_store.h"
#include "daemon/metrics.h"
#include "daemon/row_parser.h"
#include "schedule/schedule.h"

namespace rowsched::daemon {

// Thrown out of a full reload when `interrupted` says so (SIGTERM during a long load); not a
// std::exception: no fault.
struct ReloadInterrupted {};

class RowApplier {
 public:
  // Every reference must outlive the applier.
  RowApplier(JobTable& jobs, schedule::Schedule& schedule, RowParser& parser, BookkeepingQueue& writer, Metrics& metrics,
             std::function<TimePoint()> clock);

  // Forgets every job and loads the whole table from `store`; `interrupted` is asked every few
  // thousand rows. Throws ReloadInterrupted, or what the store throws.
  void full_reload(LoopStore& store, const std::function<bool()>& interrupted);
  // Re-reads these jobs; those no longer in the table are forgotten.
  void reload(LoopStore& store, const std::vector<std::string>& job_ids);
  // Queues the write-back of a known job's state and next fire (nullopt unless scheduled).
  void write_back(const std::string& job_id, const KnownJob& k, std::optional<TimePoint> next);
  // Sets the rowsched_jobs gauges from the job table.
  void publish_counts();

 private:
  // From this many rows a reload logs one line, not one per row.
  static constexpr size_t kSummarizeFrom = 100;
  // `skip_unchanged`: queue no write-back when the row already holds what it would write.
  void apply(const store::JobRow& row, bool skip_unchanged);

  JobTable& jobs_;
  schedule::Schedule& schedule_;
  RowParser& parser_;
  BookkeepingQueue& writer_;
  Metrics& metrics_;
  std::function<TimePoint()> clock_;
};

}  // namespace rowsched::daemon
