#include "store/job_reader.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "store/guarded.h"
#include "store/timestamp_text.h"

namespace rowsched::store {

namespace {

// The column numbers of a result of load_all_jobs.sql or load_jobs.sql, looked up by name once per
// result rather than once per row.
struct JobColumns {
  explicit JobColumns(const pqxx::result& r)
      : job_id(r.column_number("job_id")),
        func(r.column_number("func")),
        func_args(r.column_number("func_args")),
        trigger_kwargs(r.column_number("trigger_kwargs")),
        is_paused(r.column_number("is_paused")),
        run_right_now(r.column_number("run_right_now")),
        owner(r.column_number("owner")),
        version(r.column_number("version")),
        update_time(r.column_number("update_time")),
        last_fire(r.column_number("last_fire")),
        run_right_now_at(r.column_number("run_right_now_at")),
        version_hash(r.column_number("version_hash")),
        trigger_time(r.column_number("trigger_time")),
        active_time(r.column_number("active_time")),
        next_run_time(r.column_number("next_run_time")),
        state(r.column_number("state")),
        last_error(r.column_number("last_error")),
        is_running(r.column_number("is_running")) {}
  pqxx::row::size_type job_id, func, func_args, trigger_kwargs, is_paused, run_right_now, owner, version, update_time,
      last_fire, run_right_now_at, version_hash, trigger_time, active_time, next_run_time, state, last_error, is_running;
};

std::string text_of(const pqxx::field& f) { return std::string(f.c_str(), f.size()); }

std::optional<TimePoint> optional_timestamp(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return parse_utc_timestamp(f.c_str());
}

JobRow row_of(const pqxx::row& row, const JobColumns& c) {
  JobRow j;
  j.job_id = text_of(row[c.job_id]);
  j.func = text_of(row[c.func]);
  j.func_args = text_of(row[c.func_args]);
  j.trigger_kwargs = text_of(row[c.trigger_kwargs]);
  j.is_paused = row[c.is_paused].as<bool>();
  j.run_right_now = row[c.run_right_now].as<bool>();
  j.owner = text_of(row[c.owner]);
  j.version = row[c.version].as<int64_t>();
  j.update_time = parse_utc_timestamp(row[c.update_time].c_str());
  j.last_fire = optional_timestamp(row[c.last_fire]);
  j.run_right_now_at = optional_timestamp(row[c.run_right_now_at]);
  j.version_hash = static_cast<uint64_t>(row[c.version_hash].as<int64_t>());
  // Rows written before these columns existed: the last definition change stands in for both.
  j.trigger_time = row[c.trigger_time].is_null() ? j.update_time : parse_utc_timestamp(row[c.trigger_time].c_str());
  j.active_time = row[c.active_time].is_null() ? j.update_time : parse_utc_timestamp(row[c.active_time].c_str());
  j.next_run_time = optional_timestamp(row[c.next_run_time]);
  j.state = text_of(row[c.state]);
  if (!row[c.last_error].is_null()) j.last_error = text_of(row[c.last_error]);
  j.is_running = row[c.is_running].as<bool>();
  return j;
}

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace

JobReader::JobReader(pqxx::connection& conn, const Statements& sql, std::string schema)
    : conn_(conn), sql_(sql), schema_(std::move(schema)) {}

size_t JobReader::load_all(const std::function<void(JobRow&&)>& sink, const std::function<void(size_t)>& size_hint,
                           int chunk_rows) {
  return guarded([&] {
    pqxx::read_transaction tx(conn_);
    // The cursor is planned for the whole result (a hash join over job_run), not for its first rows.
    tx.exec("SET LOCAL cursor_tuple_fraction = 1.0");
    tx.exec("DECLARE rowsched_load NO SCROLL CURSOR FOR " + sql_["load_all_jobs.sql"]);
    if (size_hint) {
      const auto est = tx.exec_params1(
          "SELECT greatest(c.reltuples, 0)::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
          "WHERE n.nspname = $1 AND c.relname = 'job_info'",
          schema_);
      size_hint(static_cast<size_t>(est[0].as<int64_t>()));
    }
    // PostgreSQL produces the next chunk while this thread applies the last one: a fetcher thread
    // uses the connection (nothing else does until it is joined) and hands over up to two chunks.
    const std::string fetch = "FETCH FORWARD " + std::to_string(chunk_rows) + " FROM rowsched_load";
    std::mutex mu;
    std::condition_variable cv;
    std::deque<pqxx::result> ready;
    bool done = false, stop = false;
    std::exception_ptr failure;
    std::thread fetcher([&] {
      try {
        for (bool more = true; more;) {
          pqxx::result chunk = tx.exec(fetch);
          more = chunk.size() == static_cast<size_t>(chunk_rows);
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return stop || ready.size() < 2; });
          if (stop) break;
          ready.push_back(std::move(chunk));
          cv.notify_all();
        }
      } catch (...) {
        failure = std::current_exception();
      }
      std::lock_guard lock(mu);
      done = true;
      cv.notify_all();
    });
    const auto join = [&] {
      {
        std::lock_guard lock(mu);
        stop = true;
        cv.notify_all();
      }
      fetcher.join();
    };
    size_t n = 0;
    try {
      for (;;) {
        pqxx::result chunk;
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return done || !ready.empty(); });
          if (ready.empty()) break;
          chunk = std::move(ready.front());
          ready.pop_front();
          cv.notify_all();
        }
        if (chunk.empty()) continue;
        const JobColumns columns(chunk);
        for (const auto& row : chunk) sink(row_of(row, columns));
        n += chunk.size();
      }
    } catch (...) {
      join();
      throw;
    }
    join();
    if (failure) std::rethrow_exception(failure);
    return n;
  });
}

std::vector<JobRow> JobReader::load(const std::vector<std::string>& job_ids) {
  if (job_ids.empty()) return {};
  return guarded([&] {
    pqxx::nontransaction tx(conn_);  // one statement, one round trip
    const auto r = tx.exec_params(sql_["load_jobs.sql"], dump(nlohmann::json(job_ids)));
    std::vector<JobRow> rows;
    if (r.empty()) return rows;
    const JobColumns columns(r);
    rows.reserve(r.size());
    for (const auto& row : r) rows.push_back(row_of(row, columns));
    return rows;
  });
}

std::vector<std::pair<std::string, int64_t>> JobReader::versions() {
  return guarded([&] {
    pqxx::nontransaction tx(conn_);
    std::vector<std::pair<std::string, int64_t>> out;
    for (const auto& row : tx.exec("SELECT job_id, version FROM " + conn_.quote_name(schema_) + ".job_info"))
      out.emplace_back(row["job_id"].as<std::string>(), row["version"].as<int64_t>());
    return out;
  });
}

std::pair<int64_t, uint64_t> JobReader::version_fingerprint() {
  return guarded([&] {
    pqxx::nontransaction tx(conn_);
    const auto row = tx.exec1(sql_["version_fingerprint.sql"]);
    return std::pair<int64_t, uint64_t>{row["row_count"].as<int64_t>(), std::stoull(row["hash_sum"].c_str())};
  });
}

}  // namespace rowsched::store
