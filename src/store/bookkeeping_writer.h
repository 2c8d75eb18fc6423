// What happened, written back: run outcomes into job_run, the runs' counters and the loop's
// write-backs (next_run_time, state, ...) into job_info guarded by version, served run_right_now
// requests cleared, and the last status of fires recorded without a run. None of it is a definition
// change (no notification). Internal to src/store (JobStore::write_bookkeeping is the public side).
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "store/job_store.h"
#include "store/statements.h"

namespace rowsched::store {

class BookkeepingWriter {
 public:
  // Prepares the bookkeeping statement on `conn` (again every kReplanEvery while it writes).
  BookkeepingWriter(pqxx::connection& conn, const Statements& sql);

  // Runs the bookkeeping statement on empty batches (it changes nothing), so that its generic plan is
  // made now and not in the first batch of outcomes. A failure is left for that batch to report.
  void warm() noexcept;

  // See JobStore::held_jobs.
  std::set<std::string> held_jobs(const std::vector<std::string>& job_ids);
  // See JobStore::write_bookkeeping.
  void write(const std::vector<RunRecord>& runs, const std::vector<JobStateUpdate>& updates,
             const std::vector<std::pair<std::string, TimePoint>>& run_now_served, const std::vector<FireOutcome>& fire_outcomes);

  // How long one generic plan of the bookkeeping statement serves before it is made again.
  static constexpr std::chrono::seconds kReplanEvery{5};

 private:
  // The last status of the jobs whose fires were recorded without a run (fire_outcomes.sql).
  void write_fire_outcomes(pqxx::transaction_base& tx, const std::vector<FireOutcome>& outcomes);
  // Prepares the bookkeeping statement on the connection; its plan is made at its next run.
  void prepare();
  // Prepares the statement anew when its plan is kReplanEvery old (see the .cc).
  void replan_if_due();

  pqxx::connection& conn_;
  const Statements& sql_;
  std::chrono::steady_clock::time_point planned_at_;
};

}  // namespace rowsched::store
