// The runs of this instance between claim and end, and what happens when a run ends: outcomes from
// the runs (executor), runs marked lost because their instance stopped heart-beating, worker runs
// ended by the sweep. Each ending is counted in the metrics, logged, handed to the bookkeeping queue
// (executor outcomes) and retried when its job asks (retries, retry_delay doubling per attempt).
//
// It also counts, per job, the runs claimed here and not yet seen end, for max_instances: job_run
// may still say running for an ended run whose outcome the writer has not written.
//
// Thread safety: none; the loop's thread only.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/bookkeeping_queue.h"
#include "daemon/job_table.h"
#include "daemon/metrics.h"
#include "run/executor.h"
#include "schedule/schedule.h"
#include "store/job_store.h"

namespace rowsched::daemon {

class RunEndings {
 public:
  // Every reference must outlive this object.
  RunEndings(const JobTable& jobs, schedule::Schedule& schedule, BookkeepingQueue& writer, Metrics& metrics,
             std::function<TimePoint()> clock);

  // A run of `job_id` was claimed and handed to the runs.
  void started(const std::string& job_id) { ++running_[job_id]; }
  // Runs of `job_id` claimed here and not yet seen end.
  int running(const std::string& job_id) const;

  void finished(std::vector<run::RunResult> results);
  void lost(const std::vector<store::LostRun>& runs);
  void worker_runs_ended(const std::vector<store::EndedWorkerRun>& runs);

 private:
  // Schedules the next attempt of a failed or lost run when the job asks for retries.
  void retry_if_asked(const std::string& job_id, TimePoint scheduled_for, int attempt);

  const JobTable& jobs_;
  schedule::Schedule& schedule_;
  BookkeepingQueue& writer_;
  Metrics& metrics_;
  std::function<TimePoint()> clock_;
  std::unordered_map<std::string, int> running_;
};

}  // namespace rowsched::daemon
