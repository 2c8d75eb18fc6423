// libpqxx 6.4 behind JobStore. Instants cross the boundary as integer microseconds since the epoch
// (read) and RFC 3339 text inside jsonb (written), both exact.
#include "store/job_store.h"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <pqxx/pqxx>

#include "store/connect.h"
#include "store/guarded.h"

namespace rowsched::store {

namespace {

constexpr const char* kChannel = "rowsched_job_info";

// SQL expression giving a timestamptz as int8 microseconds since the epoch (exact: numeric in PG 14+).
std::string micros(const std::string& column) { return "(extract(epoch from " + column + ") * 1000000)::int8"; }

TimePoint from_micros(int64_t us) { return TimePoint{Duration{us}}; }

nlohmann::json json_or_null(const std::optional<TimePoint>& t) {
  return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json(nullptr);
}

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, std::vector<std::string>& sink) : pqxx::notification_receiver(c, kChannel), sink_(sink) {}
  void operator()(const std::string& payload, int) override { sink_.push_back(payload); }

 private:
  std::vector<std::string>& sink_;
};

}  // namespace

struct JobStore::Impl {
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<Receiver> receiver;
  std::vector<std::string> payloads;
};

JobStore::JobStore(std::string dsn, std::string schema, std::string instance, std::string session)
    : impl_(std::make_unique<Impl>()),
      dsn_(std::move(dsn)),
      schema_(std::move(schema)),
      instance_(std::move(instance)),
      session_(std::move(session)) {}

JobStore::~JobStore() { disconnect(); }

std::string JobStore::table(const char* name) const {
  if (impl_->conn) return impl_->conn->quote_name(schema_) + "." + impl_->conn->quote_name(name);
  return "\"" + schema_ + "\".\"" + name + "\"";
}

namespace {
// Timestamps travel as text in UTC (parse_utc_timestamp): every JobStore session runs this first.
constexpr const char* kTimestampsAsUtcText = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'";
// The prepared statement that writes run outcomes and write-backs (bookkeeping_statement()).
constexpr const char* kBookkeeping = "rowsched_bookkeeping";

}  // namespace

void JobStore::connect(bool listen) {
  disconnect();
  guarded([&] {
    impl_->conn = open_connection(dsn_, "rowsched " + instance_ + (session_.empty() ? "" : " " + session_));
    if (listen) impl_->receiver = std::make_unique<Receiver>(*impl_->conn, impl_->payloads);
    // Timestamps come back as text in UTC (parse_utc_timestamp) on this session; this statement also
    // sends the receiver's LISTEN, which waits for the next statement, so that it takes effect now.
    pqxx::nontransaction(*impl_->conn).exec(kTimestampsAsUtcText);
    impl_->conn->prepare(kBookkeeping, bookkeeping_statement());
  });
}

void JobStore::disconnect() noexcept {
  try {
    impl_->receiver.reset();
  } catch (...) {
  }
  impl_->conn.reset();
  impl_->payloads.clear();
}

bool JobStore::connected() const { return impl_->conn && impl_->conn->is_open(); }

int JobStore::socket() const { return impl_->conn ? impl_->conn->sock() : -1; }

std::vector<Notification> JobStore::drain_notifications() {
  guarded([&] { return impl_->conn->get_notifs(); });
  if (!impl_->conn->is_open()) throw ConnectionLost("connection closed while waiting for notifications");
  std::vector<Notification> out;
  for (const std::string& payload : impl_->payloads) {
    const auto j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    if (j.value("schema", "") != schema_) continue;
    Notification n;
    n.op = j.value("op", "");
    if (j.contains("job_ids") && j["job_ids"].is_array()) {
      // One notification per statement that inserted or deleted rows: {"op":..,"job_ids":[...]}.
      for (const auto& id : j["job_ids"])
        if (id.is_string()) out.push_back(Notification{n.op, id.get<std::string>(), "", false});
      continue;
    }
    if (j.contains("count") && !j.contains("job_id")) {
      // A statement with too many rows to name: {"op":..,"count":N}.
      n.many = true;
      out.push_back(std::move(n));
      continue;
    }
    if (j.contains("job_id") && j["job_id"].is_string()) n.job_id = j["job_id"].get<std::string>();
    if (j.contains("old_job_id") && j["old_job_id"].is_string()) n.old_job_id = j["old_job_id"].get<std::string>();
    out.push_back(std::move(n));
  }
  impl_->payloads.clear();
  return out;
}

namespace {
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// A timestamptz as PostgreSQL prints it with TimeZone UTC and DateStyle ISO (load_query sets both):
// "2024-03-31 01:30:00.25+00", years of 4 or more digits, " BC" after the offset for years before 1.
// Exact to the microsecond, and far cheaper than extract(epoch ...)'s numeric arithmetic.
TimePoint parse_utc_timestamp(const char* s) {
  const char* const text = s;
  auto fail = [&]() -> TimePoint { throw std::runtime_error(std::string("unexpected timestamp from PostgreSQL: ") + text); };
  auto digits = [&](int n, int64_t& out) {
    out = 0;
    for (int i = 0; i < n; ++i, ++s) {
      if (*s < '0' || *s > '9') return false;
      out = out * 10 + (*s - '0');
    }
    return true;
  };
  int64_t year = 0;
  int ny = 0;
  for (; *s >= '0' && *s <= '9'; ++s, ++ny) year = year * 10 + (*s - '0');
  int64_t month, day, hour, minute, second;
  if (ny < 4 || *s++ != '-' || !digits(2, month) || *s++ != '-' || !digits(2, day) || *s++ != ' ' || !digits(2, hour) ||
      *s++ != ':' || !digits(2, minute) || *s++ != ':' || !digits(2, second))
    return fail();
  int64_t micros = 0;
  if (*s == '.') {
    ++s;
    int n = 0;
    for (; *s >= '0' && *s <= '9'; ++s, ++n) {
      if (n >= 6) return fail();
      micros = micros * 10 + (*s - '0');
    }
    if (n == 0) return fail();
    for (; n < 6; ++n) micros *= 10;
  }
  if (s[0] != '+' || s[1] != '0' || s[2] != '0') return fail();
  s += 3;
  if (std::strcmp(s, " BC") == 0) year = 1 - year;
  else if (*s != '\0') return fail();
  const int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return TimePoint{Duration{((days * 86400 + hour * 3600 + minute * 60 + second) * 1000000) + micros}};
}

std::optional<TimePoint> optional_timestamp(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return parse_utc_timestamp(f.c_str());
}

JobRow row_of(const pqxx::row& row) {
  JobRow j;
  j.job_id.assign(row[0].c_str(), row[0].size());
  j.func.assign(row[1].c_str(), row[1].size());
  j.func_args.assign(row[2].c_str(), row[2].size());
  j.trigger_kwargs.assign(row[3].c_str(), row[3].size());
  j.is_paused = row[4].as<bool>();
  j.run_right_now = row[5].as<bool>();
  j.owner.assign(row[6].c_str(), row[6].size());
  j.version = row[7].as<int64_t>();
  j.update_time = parse_utc_timestamp(row[8].c_str());
  j.last_fire = optional_timestamp(row[9]);
  j.run_right_now_at = optional_timestamp(row[10]);
  j.version_hash = static_cast<uint64_t>(row[11].as<int64_t>());
  j.trigger_time = row[12].is_null() ? j.update_time : parse_utc_timestamp(row[12].c_str());
  j.active_time = row[13].is_null() ? j.update_time : parse_utc_timestamp(row[13].c_str());
  j.next_run_time = optional_timestamp(row[14]);
  j.state.assign(row[15].c_str(), row[15].size());
  if (!row[16].is_null()) j.last_error = std::string(row[16].c_str(), row[16].size());
  j.is_running = row[17].as<bool>();
  return j;
}

std::vector<JobRow> rows_of(const pqxx::result& r) {
  std::vector<JobRow> rows;
  rows.reserve(r.size());
  for (const auto& row : r) rows.push_back(row_of(row));
  return rows;
}

// The per-row hash behind version_fingerprint(); computed by PostgreSQL so both sides agree.
const std::string kVersionHash = "hashtextextended(j.job_id || ':' || j.version::text, 0)";


// `last_fire` is an SQL expression for the newest scheduled_for of the row's fires (kind 'schedule').
std::string load_query(const std::string& job_info, const std::string& last_fire, const std::string& from_where) {
  return "SELECT j.job_id, j.func, j.func_args::text, j.trigger_kwargs::text, j.is_paused, j.run_right_now, "
         "j.owner::text, j.version, j.update_time, " + last_fire + ", j.run_right_now_at, " + kVersionHash +
         ", j.trigger_time, j.active_time, j.next_run_time, j.state, j.last_error, j.is_running FROM " + job_info + " j " +
         from_where;
}
}  // namespace

size_t JobStore::load_all(const std::function<void(JobRow&&)>& sink, const std::function<void(size_t)>& size_hint) {
  return guarded([&] {
    pqxx::read_transaction tx(*impl_->conn);
    // Every job's newest fire from one pass over job_run, hash-joined, instead of one index probe
    // per row; the cursor is planned for the whole result, not for its first rows.
    tx.exec("SET LOCAL cursor_tuple_fraction = 1.0");
    tx.exec("DECLARE rowsched_load NO SCROLL CURSOR FOR " +
            load_query(table("job_info"), "r.last_fire",
                       "LEFT JOIN (SELECT job_id, max(scheduled_for) AS last_fire FROM " + table("job_run") +
                           " WHERE kind = 'schedule' GROUP BY job_id) r ON r.job_id = j.job_id"));
    if (size_hint) {
      const auto est = tx.exec1("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = " +
                                tx.quote(table("job_info")) + "::regclass");
      size_hint(static_cast<size_t>(est[0].as<int64_t>()));
    }
    // PostgreSQL produces the next chunk while this thread applies the last one: a fetcher thread
    // uses the connection (nothing else does until it is joined) and hands over up to two chunks.
    const std::string fetch = "FETCH FORWARD " + std::to_string(kLoadChunk) + " FROM rowsched_load";
    std::mutex mu;
    std::condition_variable cv;
    std::deque<pqxx::result> ready;
    bool done = false, stop = false;
    std::exception_ptr failure;
    std::thread fetcher([&] {
      try {
        for (bool more = true; more;) {
          pqxx::result chunk = tx.exec(fetch);
          more = chunk.size() == static_cast<size_t>(kLoadChunk);
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
        for (const auto& row : chunk) sink(row_of(row));
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

std::vector<JobRow> JobStore::load(const std::vector<std::string>& job_ids) {
  if (job_ids.empty()) return {};
  return guarded([&] {
    pqxx::nontransaction tx(*impl_->conn);  // one statement, one round trip
    return rows_of(tx.exec_params(
        load_query(table("job_info"),
                   "(SELECT max(r.scheduled_for) FROM " + table("job_run") + " r WHERE r.job_id = j.job_id AND r.kind = 'schedule')",
                   "WHERE j.job_id IN (SELECT jsonb_array_elements_text($1::jsonb))"),
        dump(nlohmann::json(job_ids))));
  });
}

std::vector<std::pair<std::string, int64_t>> JobStore::versions() {
  return guarded([&] {
    pqxx::nontransaction tx(*impl_->conn);
    std::vector<std::pair<std::string, int64_t>> out;
    for (const auto& row : tx.exec("SELECT job_id, version FROM " + table("job_info")))
      out.emplace_back(row[0].as<std::string>(), row[1].as<int64_t>());
    return out;
  });
}

std::pair<int64_t, uint64_t> JobStore::version_fingerprint() {
  return guarded([&] {
    pqxx::nontransaction tx(*impl_->conn);
    // The sum modulo 2^64 as an unsigned decimal, so it matches a wrapping uint64 sum.
    const auto row = tx.exec1("SELECT count(*), ((coalesce(sum(" + kVersionHash + "::numeric), 0) % 18446744073709551616) "
                              "+ 18446744073709551616) % 18446744073709551616 FROM " + table("job_info") + " j");
    return std::pair<int64_t, uint64_t>{row[0].as<int64_t>(), std::stoull(row[1].c_str())};
  });
}

std::vector<Claim> JobStore::claim(const std::vector<ClaimRequest>& fires) {
  // At most kClaimChunk fires per transaction: each takes an advisory lock, and PostgreSQL's lock
  // table is finite (max_locks_per_transaction).
  if (fires.size() > kClaimChunk) {
    std::vector<Claim> all;
    for (size_t i = 0; i < fires.size(); i += kClaimChunk) {
      const auto end = fires.begin() + static_cast<std::ptrdiff_t>(std::min(fires.size(), i + kClaimChunk));
      auto part = claim(std::vector<ClaimRequest>(fires.begin() + static_cast<std::ptrdiff_t>(i), end));
      all.insert(all.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
    }
    return all;
  }
  if (fires.empty()) return {};
  nlohmann::json batch = nlohmann::json::array();
  int ord = 0;
  for (const auto& f : fires) {
    batch.push_back({{"job_id", f.job_id}, {"scheduled_for", format_rfc3339(f.scheduled_for)}, {"attempt", f.attempt},
                     {"status", f.status}, {"kind", f.run_now ? "run_now" : "schedule"}, {"max_instances", f.max_instances}, {"own", f.own_running}, {"note", f.note.empty() ? nlohmann::json(nullptr) : nlohmann::json(f.note)},
                     {"queue", f.queue.empty() ? nlohmann::json(nullptr) : nlohmann::json(f.queue)},
                     {"take_by", json_or_null(f.take_by)}, {"not_before", json_or_null(f.not_before)},
                     {"ord", ord++}});
  }
  return guarded([&] {
    pqxx::nontransaction tx(*impl_->conn);
    const std::string text = tx.quote(dump(batch));
    // Two statements in one query string: one round trip, one implicit transaction (the advisory
    // locks are held until it ends), and the INSERT takes its snapshot after the locks are granted.
    // Jobs are locked in a fixed order, their ids' byte order (no deadlock between instances), so that
    // the count of running runs below cannot change under us: max_instances holds across instances.
    std::set<std::string> job_ids;
    for (const auto& f : fires) job_ids.insert(f.job_id);
    const auto r = tx.exec(
        "SELECT pg_advisory_xact_lock(hashtextextended('rowsched.job:' || s.job_id, 0)) "
        "FROM jsonb_array_elements_text(" + tx.quote(dump(nlohmann::json(job_ids))) + "::jsonb) WITH ORDINALITY AS s(job_id, n) "
        "ORDER BY s.n; "
        "WITH c AS (SELECT * FROM jsonb_to_recordset(" + text + "::jsonb) AS c(job_id text, scheduled_for timestamptz, "
        "   attempt int, status text, kind text, max_instances int, own int, note text, ord int, "
        "   queue text, take_by timestamptz, not_before timestamptz)), "
        // Worker runs (queue set) count queued and running, whoever claimed them: no instance runs them.
        " running AS (SELECT r.job_id, count(*) AS n FROM " + table("job_run") + " r "
        "   WHERE ((r.status = 'running' AND r.instance <> " + tx.quote(instance_) + " AND r.queue IS NULL) "
        "          OR (r.status IN ('queued', 'running') AND r.queue IS NOT NULL)) "
        "     AND r.job_id IN (SELECT job_id FROM c) GROUP BY r.job_id), "
        " decided AS (SELECT c.*, CASE WHEN c.status <> 'running' THEN c.status "
        "   WHEN coalesce(running.n, 0) + c.own + count(*) FILTER (WHERE c.status = 'running') "
        "        OVER (PARTITION BY c.job_id ORDER BY c.ord) > c.max_instances THEN 'skipped' "
        "   WHEN c.queue IS NOT NULL THEN 'queued' "
        "   ELSE 'running' END AS final FROM c LEFT JOIN running USING (job_id)) "
        "INSERT INTO " + table("job_run") + " (job_id, scheduled_for, attempt, kind, instance, status, started_at, finished_at, error, command, "
        "  queue, take_by, not_before) "
        // A fire claimed ahead of its instant is not started before it: started_at is never earlier
        // (the writer records the real start).
        "SELECT job_id, scheduled_for, attempt, kind, " + tx.quote(instance_) + ", final, "
        "  CASE WHEN final = 'running' THEN greatest(now(), scheduled_for) WHEN final = 'queued' THEN NULL ELSE now() END, "
        "  CASE WHEN final NOT IN ('running', 'queued') THEN now() END, "
        "  CASE WHEN final = 'skipped' AND status = 'running' "
        "       THEN format('not run: max_instances (%s) runs of this job were already queued or running', max_instances) "
        "       ELSE note END, "
        // The command text that runs (sql/011_pg_cron_compat.sql), from the row the fire is claimed under.
        "  (SELECT " + table("rowsched_command_text") + "(j.func, j.func_args) FROM " + table("job_info") + " j WHERE j.job_id = decided.job_id), "
        "  queue, take_by, not_before "
        "FROM decided ORDER BY ord "
        "ON CONFLICT DO NOTHING "
        "RETURNING run_id, job_id, " + micros("scheduled_for") + ", attempt, status");
    std::vector<Claim> out;
    out.reserve(r.size());
    for (const auto& row : r)
      out.push_back(Claim{row[0].as<int64_t>(), row[1].as<std::string>(), from_micros(row[2].as<int64_t>()), row[3].as<int>(),
                          row[4].as<std::string>()});
    return out;
  });
}

std::vector<LostRun> JobStore::mark_lost_runs(Duration lost_after) {
  return guarded([&] {
    pqxx::nontransaction tx(*impl_->conn);
    const auto r = tx.exec_params(
        "WITH dead AS (SELECT instance FROM " + table("scheduler_instance") + " "
        "   WHERE heartbeat_at < now() - $1 * interval '1 microsecond' AND instance <> $2), "
        " lost AS (UPDATE " + table("job_run") + " r SET status = 'lost', finished_at = now(), "
        "   error = format('lost: instance %s stopped heart-beating while this run was in progress', r.instance) "
        "   WHERE r.status = 'running' AND r.queue IS NULL AND r.instance <> $2 AND (r.instance IN (SELECT instance FROM dead) OR NOT EXISTS "
        "     (SELECT 1 FROM " + table("scheduler_instance") + " i WHERE i.instance = r.instance)) "
        "   RETURNING r.job_id, r.scheduled_for, r.attempt), "
        " counted AS (UPDATE " + table("job_info") + " j SET run_count = j.run_count + s.n, "
        "   failure_count = j.failure_count + s.n, last_status = 'lost' "
        "   FROM (SELECT job_id, count(*) AS n FROM lost GROUP BY job_id) s WHERE j.job_id = s.job_id), "
        " gone AS (DELETE FROM " + table("scheduler_instance") + " WHERE instance IN (SELECT instance FROM dead)) "
        "SELECT job_id, " + micros("scheduled_for") + ", attempt FROM lost",
        static_cast<long long>(lost_after.count()), instance_);
    std::vector<LostRun> out;
    for (const auto& row : r) out.push_back(LostRun{row[0].as<std::string>(), from_micros(row[1].as<int64_t>()), row[2].as<int>()});
    return out;
  });
}

std::vector<EndedWorkerRun> JobStore::sweep_worker_runs(Duration lost_after) {
  return guarded([&] {
    pqxx::nontransaction tx(*impl_->conn);
    const auto r = tx.exec_params("SELECT job_id, " + micros("scheduled_for") + ", attempt, status, queue, coalesce(error, '') FROM " +
                                      table("rowsched_worker_sweep") + "($1)",
                                  std::chrono::duration<double>(lost_after).count());
    std::vector<EndedWorkerRun> out;
    for (const auto& row : r)
      out.push_back(EndedWorkerRun{row[0].as<std::string>(), from_micros(row[1].as<int64_t>()), row[2].as<int>(),
                                   row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<std::string>()});
    return out;
  });
}

std::vector<WorkerQueue> JobStore::worker_queues() {
  return guarded([&] {
    pqxx::nontransaction tx(*impl_->conn);
    const auto r = tx.exec("SELECT queue, live_workers, queued, running, coalesce(oldest_queued_age_seconds, 0) FROM " +
                           table("worker_queue_status") + " ORDER BY queue");
    std::vector<WorkerQueue> out;
    for (const auto& row : r)
      out.push_back(WorkerQueue{row[0].as<std::string>(), row[1].as<int64_t>(), row[2].as<int64_t>(), row[3].as<int64_t>(),
                                row[4].as<double>()});
    return out;
  });
}

int64_t JobStore::mark_own_runs_lost() {
  return guarded([&] {
    pqxx::nontransaction tx(*impl_->conn);
    const auto r = tx.exec_params(
        "UPDATE " + table("job_run") + " SET status = 'lost', finished_at = now(), "
        " error = 'lost: its instance ' || instance || ' stopped (restarted under the same name) during the run' "
        "WHERE instance = $1 AND status = 'running' AND queue IS NULL",
        instance_);
    return static_cast<int64_t>(r.affected_rows());
  });
}

int64_t JobStore::prune_history(Duration max_age, int per_job, int batch) {
  return guarded([&] {
    pqxx::work tx(*impl_->conn);
    if (!tx.exec("SELECT pg_try_advisory_xact_lock(hashtextextended('rowsched.prune', 0))")[0][0].as<bool>()) return int64_t{0};
    const auto r = tx.exec_params(
        "WITH victims AS ("
        "  (SELECT run_id FROM " + table("job_run") + " WHERE finished_at < now() - $1 * interval '1 microsecond' LIMIT $3) "
        "  UNION "
        "  (SELECT run_id FROM (SELECT run_id, row_number() OVER (PARTITION BY job_id ORDER BY run_id DESC) AS rn "
        "     FROM " + table("job_run") + " WHERE status NOT IN ('running', 'queued')) ranked WHERE rn > $2 LIMIT $3)) "
        // Never a job's newest fire of its schedule: it is where the schedule resumes after a restart.
        "DELETE FROM " + table("job_run") + " r WHERE r.run_id IN (SELECT run_id FROM victims LIMIT $3) "
        "AND NOT (r.kind = 'schedule' AND r.scheduled_for = (SELECT max(m.scheduled_for) FROM " + table("job_run") +
        "  m WHERE m.job_id = r.job_id AND m.kind = 'schedule'))",
        static_cast<long long>(max_age.count()), per_job, batch);
    tx.commit();
    return static_cast<int64_t>(r.affected_rows());
  });
}

std::string JobStore::bookkeeping_statement() const {
  // One UPDATE per job_info row for both the runs' counters and the write-back (two would leave two
  // row versions behind per fire). The write-back applies only while the row still has `version`:
  // a result computed from an older definition never overwrites a newer one. last_error: set while
  // the row is invalid, cleared when it stops being invalid, else the newest run's error (none after
  // a success); an invalid row keeps its reason whatever its runs did.
  return
      "WITH u AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS u(run_id int8, "
      "   job_id text, status text, started_at timestamptz, finished_at timestamptz, output text, error text)), "
      // Only runs still open are written, and only runs still `running` are counted: a batch written
      // again after its connection broke at COMMIT counts nothing twice. A run another instance
      // already marked `lost` (and counted) gets its real outcome without being counted again.
      " prev AS (SELECT r.run_id, r.status FROM " + table("job_run") + " r WHERE r.run_id IN (SELECT run_id FROM u)), "
      " done AS (UPDATE " + table("job_run") + " r SET status = u.status, started_at = u.started_at, "
      "   finished_at = u.finished_at, output = u.output, error = u.error FROM u "
      "   WHERE r.run_id = u.run_id AND r.status IN ('running', 'lost') RETURNING r.run_id), "
      " s AS (SELECT job_id, count(*) AS n, count(*) FILTER (WHERE u.status <> 'succeeded') AS failed, "
      "   (array_agg(started_at ORDER BY started_at DESC))[1] AS last_start, "
      "   (array_agg(u.status ORDER BY started_at DESC))[1] AS last_status, "
      "   (array_agg(error ORDER BY started_at DESC))[1] AS last_err "
      "   FROM u JOIN prev USING (run_id) WHERE prev.status = 'running' AND run_id IN (SELECT run_id FROM done) "
      "   GROUP BY job_id), "
      " w AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS w(job_id text, "
      "   version int8, next_run_time timestamptz, state text, last_error text, is_running bool)), "
      " x AS (SELECT coalesce(s.job_id, w.job_id) AS job_id, s.n, s.failed, s.last_start, s.last_status, s.last_err, "
      "   w.version, w.next_run_time, w.state AS w_state, w.last_error AS w_error, w.is_running "
      "   FROM s FULL JOIN w ON s.job_id = w.job_id) "
      "UPDATE " + table("job_info") + " j SET "
      " next_run_time = CASE WHEN x.version = j.version THEN x.next_run_time ELSE j.next_run_time END, "
      " state = CASE WHEN x.version = j.version THEN x.w_state ELSE j.state END, "
      " is_running = CASE WHEN x.version = j.version THEN x.is_running ELSE j.is_running END, "
      " last_run_time = CASE WHEN x.n IS NOT NULL THEN x.last_start ELSE j.last_run_time END, "
      " last_status = CASE WHEN x.n IS NOT NULL THEN x.last_status ELSE j.last_status END, "
      " run_count = j.run_count + coalesce(x.n, 0), "
      " failure_count = j.failure_count + coalesce(x.failed, 0), "
      " last_error = CASE WHEN x.version = j.version AND x.w_state = 'invalid' THEN x.w_error "
      "                   WHEN x.version = j.version AND j.state = 'invalid' THEN NULL "
      "                   WHEN x.n IS NULL OR j.state = 'invalid' THEN j.last_error "
      "                   WHEN x.last_status = 'succeeded' THEN NULL "
      "                   ELSE x.last_err END "
      "FROM x WHERE j.job_id = x.job_id AND (x.n IS NOT NULL OR (x.version = j.version AND "
      " (j.next_run_time IS DISTINCT FROM x.next_run_time OR j.state IS DISTINCT FROM x.w_state OR "
      "  j.is_running IS DISTINCT FROM x.is_running OR "
      "  (x.w_state = 'invalid' AND j.last_error IS DISTINCT FROM x.w_error))))";
}

void JobStore::write_bookkeeping(const std::vector<RunRecord>& runs, const std::vector<JobStateUpdate>& updates,
                                 const std::vector<std::pair<std::string, TimePoint>>& run_now_served) {
  if (runs.empty() && updates.empty() && run_now_served.empty()) return;
  nlohmann::json run_batch = nlohmann::json::array();
  for (const auto& r : runs) {
    run_batch.push_back({{"run_id", r.run_id},
                         {"job_id", r.job_id},
                         {"status", r.status},
                         {"started_at", format_rfc3339(r.started_at)},
                         {"finished_at", format_rfc3339(r.finished_at)},
                         {"output", r.output},
                         {"error", r.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.error)}});
  }
  nlohmann::json update_batch = nlohmann::json::array();
  for (const auto& u : updates) {
    update_batch.push_back({{"job_id", u.job_id},
                            {"version", u.version},
                            {"next_run_time", json_or_null(u.next_run_time)},
                            {"state", u.state},
                            {"last_error", u.last_error ? nlohmann::json(*u.last_error) : nlohmann::json(nullptr)},
                            {"is_running", u.is_running}});
  }
  guarded([&] {
    pqxx::nontransaction tx(*impl_->conn);
    std::string query;
    if (!run_now_served.empty()) {
      // A run_right_now request is cleared once claimed; a newer request made meanwhile is left alone.
      // Not a definition change: no notification.
      nlohmann::json served = nlohmann::json::array();
      for (const auto& [id, at] : run_now_served) served.push_back({{"job_id", id}, {"at", format_rfc3339(at)}});
      query += "UPDATE " + table("job_info") + " j SET run_right_now = false "
               "FROM jsonb_to_recordset(" + tx.quote(dump(served)) + "::jsonb) AS u(job_id text, at timestamptz) "
               "WHERE j.job_id = u.job_id AND j.run_right_now AND j.run_right_now_at = u.at; ";
    }
    if (!query.empty()) tx.exec(query);
    if (!runs.empty() || !updates.empty()) tx.exec_prepared(kBookkeeping, dump(run_batch), dump(update_batch));
  });
}

void JobStore::heartbeat(int pid, const std::string& host) {
  guarded([&] {
    pqxx::nontransaction tx(*impl_->conn);
    tx.exec_params("INSERT INTO " + table("scheduler_instance") + " (instance, pid, host, started_at, heartbeat_at, version) "
                   "VALUES ($1, $2, $3, now(), now(), $4) "
                   "ON CONFLICT (instance) DO UPDATE SET heartbeat_at = now(), "
                   " started_at = CASE WHEN " + table("scheduler_instance") + ".pid IS DISTINCT FROM EXCLUDED.pid "
                   "                   THEN now() ELSE " + table("scheduler_instance") + ".started_at END, "
                   " pid = EXCLUDED.pid, host = EXCLUDED.host, version = EXCLUDED.version",
                   instance_, pid, host, std::string(ROWSCHED_VERSION));
  });
}

void JobStore::deregister() {
  guarded([&] {
    pqxx::nontransaction tx(*impl_->conn);
    tx.exec_params("DELETE FROM " + table("scheduler_instance") + " WHERE instance = $1", instance_);
  });
}

void JobStore::clear_is_running_if_last(Duration alive) {
  guarded([&] {
    pqxx::nontransaction tx(*impl_->conn);
    tx.exec_params("UPDATE " + table("job_info") + " SET is_running = false WHERE is_running AND NOT EXISTS ("
                   " SELECT 1 FROM " + table("scheduler_instance") + " WHERE instance <> $1 "
                   " AND heartbeat_at > now() - $2 * interval '1 microsecond')",
                   instance_, static_cast<long long>(alive.count()));
  });
}

std::optional<std::vector<std::string>> JobStore::applied_migrations() {
  return guarded([&]() -> std::optional<std::vector<std::string>> {
    std::vector<std::string> names;
    try {
      for (const auto& r : pqxx::nontransaction(*impl_->conn).exec("SELECT name FROM " + table("rowsched_migration")))
        names.push_back(r[0].as<std::string>());
    } catch (const pqxx::insufficient_privilege&) {
      return std::nullopt;  // a role granted only what docs/sql-contract.md lists before this check existed
    }
    return names;
  });
}

std::string JobStore::role() const { return impl_->conn ? impl_->conn->username() : ""; }

void JobStore::record_fire_outcomes(const std::vector<FireOutcome>& outcomes) {
  if (outcomes.empty()) return;
  std::map<std::string, const FireOutcome*> last;  // one source row per job: UPDATE ... FROM takes any
  for (const auto& o : outcomes) last[o.job_id] = &o;
  nlohmann::json batch = nlohmann::json::array();
  for (const auto& [id, o] : last)
    batch.push_back({{"job_id", id}, {"status", o->status}, {"error", o->error ? nlohmann::json(*o->error) : nlohmann::json(nullptr)}});
  guarded([&] {
    pqxx::nontransaction(*impl_->conn)
        .exec_params("UPDATE " + table("job_info") + " j SET last_status = x.status, last_error = coalesce(x.error, j.last_error) "
                     "FROM jsonb_to_recordset($1::jsonb) AS x(job_id text, status text, error text) "
                     "WHERE j.job_id = x.job_id AND j.state IS DISTINCT FROM 'invalid'",
                     dump(batch));
  });
}

}  // namespace rowsched::store
