#include "store/web_reader.h"

#include <pqxx/pqxx>

#include <nlohmann/json.hpp>

#include "store/connect.h"
#include "store/guarded.h"
#include "store/job_store.h"

namespace rowsched::store {

namespace {

// Timestamps travel as microseconds since the epoch: exact, and no text parsing.
std::string micros(const std::string& column) { return "(extract(epoch from " + column + ") * 1000000)::int8"; }

std::optional<TimePoint> optional_time(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return TimePoint{Duration{f.as<int64_t>()}};
}

TimePoint time_of(const pqxx::field& f) { return TimePoint{Duration{f.as<int64_t>()}}; }

std::optional<std::string> optional_text(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return std::string(f.c_str(), f.size());
}

std::string text_of(const pqxx::field& f) { return std::string(f.c_str(), f.size()); }

const std::string kJobColumns =
    "job_id, owner::text AS owner, func, func_args::text AS func_args, trigger_kwargs::text AS trigger_kwargs, "
    "description, is_paused, state, " + micros("next_run_time") + " AS next_run_time, " + micros("last_run_time") +
    " AS last_run_time, last_status, run_count, failure_count, last_error, " +
    micros("coalesce(trigger_time, update_time)") + " AS trigger_time, " + micros("create_time") + " AS create_time, " +
    micros("update_time") + " AS update_time, version";

WebJob job_of(const pqxx::row& r) {
  WebJob j;
  j.job_id = text_of(r["job_id"]);
  j.owner = text_of(r["owner"]);
  j.func = text_of(r["func"]);
  j.func_args = text_of(r["func_args"]);
  j.trigger_kwargs = text_of(r["trigger_kwargs"]);
  j.description = optional_text(r["description"]);
  j.is_paused = r["is_paused"].as<bool>();
  j.state = text_of(r["state"]);
  j.next_run_time = optional_time(r["next_run_time"]);
  j.last_run_time = optional_time(r["last_run_time"]);
  j.last_status = optional_text(r["last_status"]);
  j.run_count = r["run_count"].as<int64_t>();
  j.failure_count = r["failure_count"].as<int64_t>();
  j.last_error = optional_text(r["last_error"]);
  j.trigger_time = time_of(r["trigger_time"]);
  j.create_time = time_of(r["create_time"]);
  j.update_time = time_of(r["update_time"]);
  j.version = r["version"].as<int64_t>();
  return j;
}

// `output_column` is "output", or "NULL" where a list does not show it (outputs can be large).
std::string run_columns(const std::string& output_column) {
  return "run_id, job_id, " + micros("scheduled_for") + " AS scheduled_for, instance, attempt, status, " +
         micros("started_at") + " AS started_at, " + micros("finished_at") + " AS finished_at, " + output_column +
         " AS output, error";
}

std::vector<WebRun> runs_of(const pqxx::result& rows) {
  std::vector<WebRun> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    WebRun run;
    run.run_id = r["run_id"].as<int64_t>();
    run.job_id = text_of(r["job_id"]);
    run.scheduled_for = time_of(r["scheduled_for"]);
    run.instance = text_of(r["instance"]);
    run.attempt = r["attempt"].as<int>();
    run.status = text_of(r["status"]);
    run.started_at = optional_time(r["started_at"]);
    run.finished_at = optional_time(r["finished_at"]);
    run.output = optional_text(r["output"]);
    run.error = optional_text(r["error"]);
    out.push_back(std::move(run));
  }
  return out;
}

}  // namespace

struct WebReader::Session {
  std::unique_ptr<pqxx::connection> connection;
};

WebReader::WebReader(const std::string& dsn, const std::string& schema) : session_(std::make_unique<Session>()) {
  guarded([&] {
    session_->connection = open_connection(dsn, "rowsched web");
    auto& connection = *session_->connection;
    // A page must never hold up the scheduler: a slow query is cut short rather than left running.
    pqxx::nontransaction(connection).exec("SET statement_timeout = '5s'");
    const std::string s = connection.quote_name(schema) + ".";
    job_info_ = s + "job_info";
    job_run_ = s + "job_run";
    scheduler_instance_ = s + "scheduler_instance";
  });
}

WebReader::~WebReader() = default;

std::vector<JobIndexRow> WebReader::job_index() {
  return guarded([&] {
    pqxx::read_transaction tx(*session_->connection);
    const auto rows = tx.exec("SELECT job_id, state, " + micros("next_run_time") + " AS next_run_time, "
                              "concat_ws(E'\\n', job_id, owner::text, func, description) AS text FROM " + job_info_);
    std::vector<JobIndexRow> out;
    out.reserve(rows.size());
    for (const auto& r : rows)
      out.push_back({text_of(r["job_id"]), text_of(r["state"]), optional_time(r["next_run_time"]), text_of(r["text"])});
    return out;
  });
}

std::vector<WebJob> WebReader::jobs_by_id(const std::vector<std::string>& job_ids) {
  if (job_ids.empty()) return {};
  return guarded([&] {
    pqxx::read_transaction tx(*session_->connection);
    const auto rows = tx.exec_params("SELECT " + kJobColumns + " FROM " + job_info_ +
                                         " WHERE job_id IN (SELECT jsonb_array_elements_text($1::jsonb))",
                                     nlohmann::json(job_ids).dump());
    std::vector<WebJob> out;
    out.reserve(rows.size());
    for (const auto& r : rows) out.push_back(job_of(r));
    return out;
  });
}

std::optional<WebJob> WebReader::job(const std::string& job_id) {
  return guarded([&]() -> std::optional<WebJob> {
    pqxx::read_transaction tx(*session_->connection);
    const auto rows = tx.exec_params("SELECT " + kJobColumns + " FROM " + job_info_ + " WHERE job_id = $1", job_id);
    if (rows.empty()) return std::nullopt;
    return job_of(rows[0]);
  });
}

std::vector<WebRun> WebReader::runs(const std::optional<std::string>& job_id, std::optional<TimePoint> since, int limit) {
  return guarded([&] {
    pqxx::read_transaction tx(*session_->connection);
    const std::optional<std::string> since_text = since ? std::optional(format_rfc3339(*since)) : std::nullopt;
    // One job's newest runs: the end of its range in job_run_claim (job_id, scheduled_for, attempt).
    // Every job's: the end of the primary key.
    if (job_id)
      return runs_of(tx.exec_params("SELECT " + run_columns("output") + " FROM " + job_run_ +
                                        " WHERE job_id = $1 AND ($2::timestamptz IS NULL OR scheduled_for >= $2::timestamptz) "
                                        "ORDER BY scheduled_for DESC, attempt DESC LIMIT $3",
                                    *job_id, since_text, limit));
    return runs_of(tx.exec_params("SELECT " + run_columns("output") + " FROM " + job_run_ +
                                      " WHERE $1::timestamptz IS NULL OR scheduled_for >= $1::timestamptz "
                                      "ORDER BY run_id DESC LIMIT $2",
                                  since_text, limit));
  });
}

std::vector<WebRun> WebReader::runs_between(const std::vector<std::string>& job_ids, TimePoint from, TimePoint to,
                                            int limit) {
  if (job_ids.empty()) return {};
  return guarded([&] {
    pqxx::read_transaction tx(*session_->connection);
    // One probe of the (job_id, scheduled_for, attempt) index per job of the page.
    return runs_of(tx.exec_params("SELECT " + run_columns("NULL") + " FROM " + job_run_ +
                                      " WHERE job_id IN (SELECT jsonb_array_elements_text($1::jsonb)) AND scheduled_for "
                                      "BETWEEN $2::timestamptz AND $3::timestamptz ORDER BY scheduled_for, job_id LIMIT $4",
                                  nlohmann::json(job_ids).dump(), format_rfc3339(from), format_rfc3339(to), limit));
  });
}

std::vector<WebInstance> WebReader::instances() {
  return guarded([&] {
    pqxx::read_transaction tx(*session_->connection);
    const auto rows = tx.exec("SELECT instance, pid, host, " + micros("started_at") + " AS started_at, " +
                              micros("heartbeat_at") + " AS heartbeat_at, version, " + micros("now()") +
                              " AS now FROM " + scheduler_instance_ + " ORDER BY instance");
    std::vector<WebInstance> out;
    for (const auto& r : rows) {
      WebInstance i;
      i.instance = text_of(r["instance"]);
      if (!r["pid"].is_null()) i.pid = r["pid"].as<int>();
      i.host = optional_text(r["host"]);
      i.started_at = time_of(r["started_at"]);
      i.heartbeat_at = time_of(r["heartbeat_at"]);
      i.version = optional_text(r["version"]);
      i.now = time_of(r["now"]);
      out.push_back(std::move(i));
    }
    return out;
  });
}

}  // namespace rowsched::store
