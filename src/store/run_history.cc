#include "store/run_history.h"

#include "store/guarded.h"
#include "store/pg_array.h"
#include "store/timestamp_text.h"

namespace rowsched::store {

RunHistory::RunHistory(pqxx::connection& conn, const Statements& sql, std::string instance)
    : conn_(conn), sql_(sql), instance_(std::move(instance)) {}

namespace {
// Runs `statement` in a transaction that waits at most kWriterLockWait for a row lock. These statements
// count ended runs into job_info rows on the scheduler loop's connection: a row a user's transaction
// holds would stop every claim until it ended (and, with several rows, could deadlock a bulk UPDATE).
template <typename F>
auto with_short_lock_wait(pqxx::connection& conn, F&& statement) {
  pqxx::work tx(conn);
  tx.exec("SET LOCAL lock_timeout = '" + std::to_string(kWriterLockWait.count()) + "ms'");
  auto r = statement(tx);
  tx.commit();
  return r;
}
}  // namespace

std::vector<LostRun> RunHistory::mark_lost_runs(Duration lost_after, bool unregistered_too) {
  return guarded([&] {
    const auto r = with_short_lock_wait(conn_, [&](pqxx::work& tx) {
      return tx.exec_params(sql_["mark_lost_runs.sql"], static_cast<long long>(lost_after.count()), instance_, unregistered_too);
    });
    std::vector<LostRun> out;
    for (const auto& row : r)
      out.push_back(LostRun{row["job_id"].as<std::string>(), parse_utc_timestamp(row["scheduled_for"].c_str()),
                            row["attempt"].as<int>()});
    return out;
  });
}

std::vector<EndedWorkerRun> RunHistory::sweep_worker_runs(Duration lost_after) {
  return guarded([&] {
    const auto r = with_short_lock_wait(conn_, [&](pqxx::work& tx) {
      return tx.exec_params("SELECT job_id, scheduled_for, attempt, status, queue, coalesce(error, '') AS error FROM " +
                                sql_.quoted_schema() + ".rowsched_worker_sweep($1)",
                            std::chrono::duration<double>(lost_after).count());
    });
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

JobStore::PrunePass RunHistory::prune_history(
    Duration max_age, int per_job, int batch, JobStore::NewRange new_range,
    const std::function<std::vector<std::string>(const JobStore::NewRuns&)>& choose) {
  return guarded([&] {
    JobStore::PrunePass out;
    pqxx::work tx(conn_);
    // Only one instance prunes at a time; the others skip this round.
    if (!tx.exec("SELECT pg_try_advisory_xact_lock(hashtextextended('rowsched.prune', 0))")[0][0].as<bool>()) {
      out.skipped = true;
      return out;
    }
    const auto fresh = tx.exec_params(sql_["prune_new_runs.sql"], static_cast<long long>(new_range.after),
                                      static_cast<long long>(new_range.seen), static_cast<long long>(new_range.margin));
    JobStore::NewRuns rows;
    for (const auto& row : fresh) {
      if (row[0].is_null()) rows.newest = row[1].as<int64_t>();
      else if (row[2].is_null()) rows.counts.emplace_back(row[0].as<std::string>(), row[1].as<int64_t>());
      else rows.single.emplace_back(row[0].as<std::string>(), row[2].as<int64_t>());
    }
    PgArray jobs;
    for (const auto& id : choose(rows)) jobs.add(id);
    const auto r = tx.exec_params(sql_["prune_history.sql"], static_cast<long long>(max_age.count()), per_job, batch,
                                  jobs.str());
    for (const auto& row : r) {
      if (row[0].is_null()) out.deleted = row[1].as<int64_t>();
      else out.left.emplace_back(row[0].as<std::string>(), row[1].as<int64_t>());
    }
    tx.commit();
    return out;
  });
}

}  // namespace rowsched::store
