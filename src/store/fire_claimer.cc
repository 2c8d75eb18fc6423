#include "store/fire_claimer.h"

#include <set>

#include <nlohmann/json.hpp>

#include "store/guarded.h"
#include "store/timestamp_text.h"

namespace rowsched::store {

namespace {
nlohmann::json json_or_null(const std::optional<TimePoint>& t) {
  return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json(nullptr);
}
std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }
}  // namespace

FireClaimer::FireClaimer(pqxx::connection& conn, const Statements& sql, std::string instance)
    : conn_(conn), sql_(sql), instance_(std::move(instance)) {}

std::vector<Claim> FireClaimer::claim(const std::vector<ClaimRequest>& fires) {
  if (fires.empty()) return {};
  nlohmann::json batch = nlohmann::json::array();
  int ord = 0;
  std::set<std::string> job_ids;  // byte order: the order every instance locks in
  for (const auto& f : fires) {
    batch.push_back({{"job_id", f.job_id}, {"scheduled_for", format_rfc3339(f.scheduled_for)}, {"attempt", f.attempt},
                     {"status", f.status}, {"kind", f.run_now ? "run_now" : "schedule"}, {"max_instances", f.max_instances},
                     {"own", f.own_running}, {"note", f.note.empty() ? nlohmann::json(nullptr) : nlohmann::json(f.note)},
                     {"queue", f.queue.empty() ? nlohmann::json(nullptr) : nlohmann::json(f.queue)},
                     {"take_by", json_or_null(f.take_by)}, {"not_before", json_or_null(f.not_before)},
                     {"ord", ord++}});
    job_ids.insert(f.job_id);
  }
  return guarded([&] {
    // Two statements in one transaction: the locks, then the INSERT, whose snapshot is taken after
    // the locks are granted (so it sees the runs another instance claimed before releasing them).
    pqxx::work tx(conn_);
    tx.exec_params(sql_["claim_locks.sql"], dump(nlohmann::json(job_ids)));
    const auto r = tx.exec_params(sql_["claim.sql"], dump(batch), instance_);
    tx.commit();
    std::vector<Claim> out;
    out.reserve(r.size());
    if (r.empty()) return out;
    const auto run_id = r.column_number("run_id"), job_id = r.column_number("job_id"),
               scheduled_for = r.column_number("scheduled_for"), attempt = r.column_number("attempt"),
               status = r.column_number("status");
    for (const auto& row : r)
      out.push_back(Claim{row[run_id].as<int64_t>(), row[job_id].as<std::string>(),
                          parse_utc_timestamp(row[scheduled_for].c_str()), row[attempt].as<int>(),
                          row[status].as<std::string>()});
    return out;
  });
}

}  // namespace rowsched::store
