#include "store/worker_queues.h"

#include <stdexcept>

#include <pqxx/pqxx>

#include "store/connect.h"

namespace rowsched::store {

std::vector<WorkerQueue> load_worker_queues(const std::string& dsn, const std::string& schema) {
  auto connection = open_connection(dsn, "rowsched status");
  pqxx::read_transaction tx(*connection);
  pqxx::result rows;
  try {
    rows = tx.exec("SELECT queue, live_workers, queued, running, coalesce(oldest_queued_age_seconds, 0) FROM " +
                   connection->quote_name(schema) + ".worker_queue_status ORDER BY queue");
  } catch (const pqxx::sql_error& e) {
    throw std::runtime_error(std::string("cannot read worker_queue_status: ") + e.what());
  }
  std::vector<WorkerQueue> out;
  for (const auto& r : rows)
    out.push_back(WorkerQueue{r[0].as<std::string>(), r[1].as<int64_t>(), r[2].as<int64_t>(), r[3].as<int64_t>(), r[4].as<double>()});
  return out;
}

std::vector<UnservedJob> load_unserved_jobs(const std::string& dsn, const std::string& schema) {
  auto connection = open_connection(dsn, "rowsched status");
  pqxx::read_transaction tx(*connection);
  pqxx::result rows;
  try {
    rows = tx.exec("SELECT job_id, worker_note FROM " + connection->quote_name(schema) +
                   ".worker_job_status WHERE worker_note IS NOT NULL AND state = 'scheduled' ORDER BY job_id");
  } catch (const pqxx::sql_error& e) {
    throw std::runtime_error(std::string("cannot read worker_job_status: ") + e.what());
  }
  std::vector<UnservedJob> out;
  for (const auto& r : rows) out.push_back(UnservedJob{r[0].as<std::string>(), r[1].as<std::string>()});
  return out;
}

}  // namespace rowsched::store
