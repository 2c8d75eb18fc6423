#include "store/status.h"

#include <stdexcept>

#include <pqxx/pqxx>

#include "store/connect.h"

namespace rowsched::store {

namespace {
std::optional<TimePoint> optional_time(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return TimePoint{Duration{f.as<int64_t>()}};
}

std::optional<std::string> optional_text(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}
}  // namespace

std::vector<JobStatus> load_job_status(const std::string& dsn, const std::string& schema) {
  auto connection = open_connection(dsn, "rowsched status");
  pqxx::read_transaction tx(*connection);
  const std::string view = connection->quote_name(schema) + ".job_status";
  pqxx::result rows;
  try {
    rows = tx.exec("SELECT job_id, state, (extract(epoch from next_run_time) * 1000000)::int8, "
                   "(extract(epoch from last_run_time) * 1000000)::int8, last_status, run_count, failure_count, "
                   "is_paused, last_error FROM " + view + " ORDER BY job_id");
  } catch (const pqxx::sql_error& e) {
    throw std::runtime_error(std::string("cannot read ") + view + ": " + e.what());
  }
  std::vector<JobStatus> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    JobStatus s;
    s.job_id = r[0].as<std::string>();
    s.state = r[1].as<std::string>();
    s.next_run_time = optional_time(r[2]);
    s.last_run_time = optional_time(r[3]);
    s.last_status = optional_text(r[4]);
    s.run_count = r[5].as<int64_t>();
    s.failure_count = r[6].as<int64_t>();
    s.is_paused = r[7].as<bool>();
    s.last_error = optional_text(r[8]);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<LiveInstance> load_live_instances(const std::string& dsn, const std::string& schema, double alive_seconds) {
  auto connection = open_connection(dsn, "rowsched status");
  pqxx::read_transaction tx(*connection);
  const std::string table = connection->quote_name(schema) + ".scheduler_instance";
  pqxx::result rows;
  try {
    rows = tx.exec_params("SELECT instance, greatest(0, extract(epoch from clock_timestamp() - heartbeat_at))::float8 FROM " +
                              table + " WHERE heartbeat_at > clock_timestamp() - make_interval(secs => $1) ORDER BY instance",
                          alive_seconds);
  } catch (const pqxx::sql_error& e) {
    throw std::runtime_error(std::string("cannot read ") + table + ": " + e.what());
  }
  std::vector<LiveInstance> out;
  for (const auto& r : rows) out.push_back({r[0].as<std::string>(), r[1].as<double>()});
  return out;
}

}  // namespace rowsched::store
