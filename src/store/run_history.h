// job_run beyond claiming and recording: runs lost with their instance (marked, counted, returned for
// retry), the worker runs nobody will end (sql/010_workers.sql's sweep), the worker queues' status,
// and pruning of old history. Internal to src/store (JobStore is the public side).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "store/job_store.h"
#include "store/statements.h"

namespace rowsched::store {

class RunHistory {
 public:
  RunHistory(pqxx::connection& conn, const Statements& sql, std::string instance);

  // See JobStore::mark_lost_runs, sweep_worker_runs, worker_queues and prune_history.
  std::vector<LostRun> mark_lost_runs(Duration lost_after, bool unregistered_too);
  std::vector<EndedWorkerRun> sweep_worker_runs(Duration lost_after);
  std::vector<WorkerQueue> worker_queues();
  JobStore::PrunePass prune_history(
      Duration max_age, int per_job, int batch, JobStore::NewRange new_range,
      const std::function<std::vector<std::string>(const JobStore::NewRuns&)>& choose);

 private:
  pqxx::connection& conn_;
  const Statements& sql_;
  std::string instance_;
};

}  // namespace rowsched::store
