#include "store/bookkeeping_writer.h"

#include <map>

#include <nlohmann/json.hpp>

#include "store/guarded.h"

namespace rowsched::store {

namespace {
constexpr const char* kBookkeeping = "rowsched_bookkeeping";

nlohmann::json json_or_null(const std::optional<TimePoint>& t) {
  return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json(nullptr);
}
nlohmann::json json_or_null(const std::optional<std::string>& s) { return s ? nlohmann::json(*s) : nlohmann::json(nullptr); }
std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }
}  // namespace

BookkeepingWriter::BookkeepingWriter(pqxx::connection& conn, const Statements& sql) : conn_(conn), sql_(sql) {
  conn_.prepare(kBookkeeping, sql_["bookkeeping.sql"]);
}

void BookkeepingWriter::write(const std::vector<RunRecord>& runs, const std::vector<JobStateUpdate>& updates,
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
                            {"last_error", json_or_null(u.last_error)},
                            {"is_running", u.is_running}});
  }
  guarded([&] {
    pqxx::nontransaction tx(conn_);
    if (!run_now_served.empty()) {
      nlohmann::json served = nlohmann::json::array();
      for (const auto& [id, at] : run_now_served) served.push_back({{"job_id", id}, {"at", format_rfc3339(at)}});
      tx.exec_params(sql_["run_now_served.sql"], dump(served));
    }
    if (!runs.empty() || !updates.empty()) tx.exec_prepared(kBookkeeping, dump(run_batch), dump(update_batch));
  });
}

void BookkeepingWriter::record_fire_outcomes(const std::vector<FireOutcome>& outcomes) {
  if (outcomes.empty()) return;
  std::map<std::string, const FireOutcome*> last;  // one source row per job: UPDATE ... FROM takes any
  for (const auto& o : outcomes) last[o.job_id] = &o;
  nlohmann::json batch = nlohmann::json::array();
  for (const auto& [id, o] : last) batch.push_back({{"job_id", id}, {"status", o->status}, {"error", json_or_null(o->error)}});
  guarded([&] { pqxx::nontransaction(conn_).exec_params(sql_["fire_outcomes.sql"], dump(batch)); });
}

}  // namespace rowsched::store
