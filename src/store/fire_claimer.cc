#include "store/fire_claimer.h"

#include <set>

#include "store/guarded.h"
#include "store/pg_array.h"
#include "store/timestamp_text.h"

namespace rowsched::store {

namespace {
// Prepared once per connection (FireClaimer is created on connect).
constexpr const char* kClaim = "rowsched_claim";
}  // namespace

FireClaimer::FireClaimer(pqxx::connection& conn, const Statements& sql, std::string instance)
    : conn_(conn), sql_(sql), instance_(std::move(instance)) {
  conn_.prepare(kClaim, sql_["claim.sql"]);
}

void FireClaimer::warm() noexcept {
  try {
    pqxx::nontransaction tx(conn_);
    tx.exec_prepared(kClaim, instance_, "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}");
  } catch (const std::exception&) {
  }
}

std::vector<Claim> FireClaimer::claim(const std::vector<ClaimRequest>& fires) {
  if (fires.empty()) return {};
  PgArray job_id, scheduled_for, attempt, status, kind, max_instances, own, note, queue, take_by, not_before, version;
  std::set<std::string> job_ids;  // byte order: the order every instance locks in
  for (const auto& f : fires) {
    job_id.add(f.job_id);
    scheduled_for.add(f.scheduled_for);
    attempt.add(int64_t{f.attempt});
    status.add(f.status);
    kind.add(f.run_now ? "run_now" : "schedule");
    max_instances.add(int64_t{f.max_instances});
    own.add(int64_t{f.own_running});
    note.add(f.note.empty() ? std::nullopt : std::optional<std::string>(f.note));
    queue.add(f.queue.empty() ? std::nullopt : std::optional<std::string>(f.queue));
    take_by.add(f.take_by);
    not_before.add(f.not_before);
    if (f.version) version.add(*f.version);
    else version.add_null();
    job_ids.insert(f.job_id);
  }
  PgArray lock_ids;
  for (const auto& id : job_ids) lock_ids.add(id);
  return guarded([&] {
    // One statement, one implicit transaction: the advisory locks are held until it ends.
    pqxx::nontransaction tx(conn_);
    const auto r = tx.exec_prepared(kClaim, instance_, lock_ids.str(), job_id.str(), scheduled_for.str(), attempt.str(), status.str(), kind.str(),
                                    max_instances.str(), own.str(), note.str(), queue.str(), take_by.str(),
                                    not_before.str(), version.str());
    std::vector<Claim> out;
    out.reserve(r.size());
    if (r.empty()) return out;
    const auto run_id_col = r.column_number("run_id"), job_id_col = r.column_number("job_id"),
               scheduled_for_col = r.column_number("scheduled_for"), attempt_col = r.column_number("attempt"),
               status_col = r.column_number("status");
    for (const auto& row : r)
      out.push_back(Claim{row[run_id_col].is_null() ? 0 : row[run_id_col].as<int64_t>(), row[job_id_col].as<std::string>(),
                          parse_utc_timestamp(row[scheduled_for_col].c_str()), row[attempt_col].as<int>(),
                          row[status_col].as<std::string>()});
    return out;
  });
}

}  // namespace rowsched::store
