#include "store/run_history.h"

#include "store/guarded.h"
#include "store/timestamp_text.h"

namespace rowsched::store {

RunHistory::RunHistory(pqxx::connection& conn, const Statements& sql, std::string instance)
    : conn_(conn), sql_(sql), instance_(std::move(instance)) {}

std::vector<LostRun> RunHistory::mark_lost_runs(Duration lost_after) {
  return guarded([&] {
    const auto r = pqxx::nontransaction(conn_).exec_params(sql_["mark_lost_runs.sql"],
                                                           static_cast<long long>(lost_after.count()), instance_);
    std::vector<LostRun> out;
    for (const auto& row : r)
      out.push_back(LostRun{row["job_id"].as<std::string>(), parse_utc_timestamp(row["scheduled_for"].c_str()),
                            row["attempt"].as<int>()});
    return out;
  });
}

std::vector<EndedWorkerRun> RunHistory::sweep_worker_runs(Duration lost_after) {
  return guarded([&] {
    const auto r = pqxx::nontransaction(conn_).exec_params(
        "SELECT job_id, scheduled_for, attempt, status, queue, coalesce(error, '') AS error FROM " +
            sql_.quoted_schema() + ".rowsched_worker_sweep($1)",
        std::chrono::duration<double>(lost_after).count());
    std::vector<EndedWorkerRun> out;
    for (const auto& row : r)
      out.push_back(EndedWorkerRun{row["job_id"].as<std::string>(), parse_utc_timestamp(row["scheduled_for"].c_str()),
                                   row["attempt"].as<int>(), row["status"].as<std::string>(),
                                   row["queue"].as<std::string>(), row["error"].as<std::string>()});
    return out;
  });
}

std::vector<WorkerQueue> RunHistory::worker_queues() {
  return guarded([&] {
    const auto r = pqxx::nontransaction(conn_).exec(
        "SELECT queue, live_workers, queued, running, coalesce(oldest_queued_age_seconds, 0) AS oldest FROM " +
        sql_.quoted_schema() + ".worker_queue_status ORDER BY queue");
    std::vector<WorkerQueue> out;
    for (const auto& row : r)
      out.push_back(WorkerQueue{row["queue"].as<std::string>(), row["live_workers"].as<int64_t>(),
                                row["queued"].as<int64_t>(), row["running"].as<int64_t>(), row["oldest"].as<double>()});
    return out;
  });
}

int64_t RunHistory::prune_history(Duration max_age, int per_job, int batch) {
  return guarded([&] {
    pqxx::work tx(conn_);
    // Only one instance prunes at a time; the others skip this round.
    if (!tx.exec("SELECT pg_try_advisory_xact_lock(hashtextextended('rowsched.prune', 0))")[0][0].as<bool>()) return int64_t{0};
    const auto r = tx.exec_params(sql_["prune_history.sql"], static_cast<long long>(max_age.count()), per_job, batch);
    tx.commit();
    return static_cast<int64_t>(r.affected_rows());
  });
}

}  // namespace rowsched::store
