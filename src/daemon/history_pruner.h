// Pruning of job_run, on a thread and a database connection of its own, so that no pass ever holds
// up a fire: a pass that reads a large history (a second and more at millions of rows) used to run
// on the scheduler loop's connection, and the fires due meanwhile waited for it, or were missed.
//
// A pass deletes at most a batch of rows: those finished more than --history-max-age ago (found
// through the BRIN index on finished_at), and those beyond the newest --history-per-job finished runs
// of their job. That second part used to rank the whole of job_run every pass; now it ranks only the
// jobs that may have grown past the limit (HistoryCounts), so a pass costs PostgreSQL what was
// inserted since the last one, not the size of the history.
//
// The batch adapts: a pass that deleted all it was allowed to left rows behind, so the next one
// comes soon after (kBehindInterval) and doubles its batch up to kMaxBatch; once passes keep up,
// batches halve back to kMinBatch. From 1,000 to 20,000 rows every 0.1 s while behind: as fast as
// passes run, up to 200,000 rows a second. (On the loop's connection passes came every 0.5 s, to
// leave it to the fires; fires went on at full rate once pruning left it, and a backlog took longer
// to catch up: tests/integration/test_faults.py's bound.) A failed pass waits the shared backoff (backoff.h) and logs one line.
//
// Thread safety: HistoryCounts, none. HistoryPruner: constructed and destroyed on one thread; its
// own thread does the passes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/time.h"
#include "daemon/metrics.h"
#include "store/job_store.h"

namespace rowsched::daemon {

// How many job_run rows each job has, as far as pruning needs to know: never fewer than it has (rows
// deleted by anyone else only make the counts high), so a job under the per-job limit by these
// counts is under it in the table, and need not be ranked.
//
// The first pass counts every job's rows; each later one the rows whose run_id is above the newest
// the last one saw, less kMargin: a claim that had taken its run_ids but not committed when a pass
// looked commits later with ids below what that pass saw, and is counted then. The rows in the margin
// come one by one (JobStore::NewRange), and the run_ids counted there are kept, so that no row is
// counted twice. A ranked job's count is what the pass left of it, exactly. A claim that commits
// more than kMargin run_ids late goes uncounted until its job's next run.
class HistoryCounts {
 public:
  static constexpr int64_t kMargin = 10000;

  explicit HistoryCounts(int per_job) : per_job_(per_job) {}

  // The rows the next pass reads.
  store::JobStore::NewRange new_range() const {
    return known_ ? store::JobStore::NewRange{std::max<int64_t>(0, newest_ - kMargin), newest_, kMargin}
                  : store::JobStore::NewRange{0, 0, kMargin};
  }
  // A pass read `rows` (new_range()). Returns the jobs that may have more than the per-job limit: to rank.
  std::vector<std::string> counted(const store::JobStore::NewRuns& rows);
  // After the pass ranked the jobs counted() returned and deleted every row beyond their limit: the
  // rows each has left.
  void ranked(const std::vector<std::pair<std::string, int64_t>>& left);
  // Start over: the next pass counts every job's rows.
  void forget();
  size_t jobs() const { return rows_.size(); }

 private:
  int per_job_;
  bool known_ = false;
  int64_t newest_ = 0;
  std::unordered_map<std::string, int64_t> rows_;
  std::unordered_set<std::string> over_;  // jobs counted above the limit
  std::unordered_set<int64_t> seen_;      // the run_ids within kMargin of newest_, counted
};

class HistoryPruner {
 public:
  static constexpr int64_t kMinBatch = 1000, kMaxBatch = 20000;
  static constexpr Duration kBehindInterval = std::chrono::milliseconds(100);

  // Starts the thread; its first pass comes at once. `interval`: between passes while not behind.
  // `metrics` must outlive the pruner.
  HistoryPruner(std::string dsn, std::string schema, std::string instance, Duration max_age, int per_job,
                Duration interval, Metrics& metrics);
  // Cancels a statement under way and joins the thread.
  ~HistoryPruner();
  HistoryPruner(const HistoryPruner&) = delete;
  HistoryPruner& operator=(const HistoryPruner&) = delete;

  // How long to wait before the next pass after one that deleted `deleted` rows out of an allowed
  // `batch`; updates `batch` for the next pass.
  static Duration next_pass(int64_t deleted, int64_t& batch, Duration interval);

 private:
  void work();
  // One pass; the rows deleted.
  int64_t pass();

  std::string dsn_, schema_;
  Duration max_age_;
  int per_job_;
  Duration interval_;
  Metrics& metrics_;
  int64_t batch_ = kMinBatch;
  HistoryCounts counts_;
  store::JobStore store_;
  std::mutex mu_;  // stopping_, connecting_; store_.disconnect() and a cancel
  std::condition_variable cv_;
  bool stopping_ = false;
  bool connecting_ = false;  // the thread is (re)connecting: not to be cancelled
  std::atomic<bool> stop_asked_{false};  // stopping_, read without the lock
  std::thread thread_;
};

}  // namespace rowsched::daemon
