#include "store/bookkeeping_writer.h"

#include <map>

#include "store/guarded.h"
#include "store/pg_array.h"

namespace rowsched::store {

namespace {
constexpr const char* kBookkeeping = "rowsched_bookkeeping";

}  // namespace

BookkeepingWriter::BookkeepingWriter(pqxx::connection& conn, const Statements& sql) : conn_(conn), sql_(sql) {
  prepare();
}

void BookkeepingWriter::prepare() {
  conn_.prepare(kBookkeeping, sql_["bookkeeping.sql"]);
  planned_at_ = std::chrono::steady_clock::now();
}

// The session keeps one generic plan per prepared statement (job_store.cc), made at its first run
// from job_run as it was then, and PostgreSQL makes it again only when job_run's statistics or
// definition change. A plan made for an empty job_run that had the statistics of a larger one (a
// history cleared with TRUNCATE; the bench's reset) reads job_run's primary key whole per call, and
// goes on doing so as the history grows, until autovacuum's next ANALYZE of job_run (docs/decisions.md;
// 39.8-46.6 ms a call against 17.7-18.8 at 10,000 fires/s). Statement shape alone does not stop it (a
// probe by `run_id = ANY($1)` was answered by reading job_run_job_recent whole), so the plan is made
// again from the table as it is every kReplanEvery: one planning (under a millisecond) per 5 s.
void BookkeepingWriter::replan_if_due() {
  if (std::chrono::steady_clock::now() - planned_at_ < kReplanEvery) return;
  conn_.unprepare(kBookkeeping);
  prepare();
}

void BookkeepingWriter::warm() noexcept {
  try {
    pqxx::nontransaction tx(conn_);
    tx.exec_prepared(kBookkeeping, "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "{}");
  } catch (const std::exception&) {
  }
}

void BookkeepingWriter::write(const std::vector<RunRecord>& runs, const std::vector<JobStateUpdate>& updates,
                              const std::vector<std::pair<std::string, TimePoint>>& run_now_served,
                              const std::vector<FireOutcome>& fire_outcomes) {
  if (runs.empty() && updates.empty() && run_now_served.empty() && fire_outcomes.empty()) return;
  PgArray run_id, run_job_id, status, started_at, finished_at, output, error;
  for (const auto& r : runs) {
    run_id.add(r.run_id);
    run_job_id.add(r.job_id);
    status.add(r.status);
    started_at.add(r.started_at);
    finished_at.add(r.finished_at);
    output.add(r.output);
    error.add(r.error.empty() ? std::nullopt : std::optional<std::string>(r.error));
  }
  PgArray job_id, version, next_run_time, state, last_error, is_running;
  for (const auto& u : updates) {
    job_id.add(u.job_id);
    version.add(u.version);
    next_run_time.add(u.next_run_time);
    state.add(u.state);
    last_error.add(u.last_error);
    is_running.add(u.is_running);
  }
  guarded([&] {
    if (!runs.empty() || !updates.empty()) replan_if_due();
    pqxx::nontransaction tx(conn_);
    if (!run_now_served.empty()) {
      PgArray served_id, served_at;
      for (const auto& [id, at] : run_now_served) {
        served_id.add(id);
        served_at.add(at);
      }
      tx.exec_params(sql_["run_now_served.sql"], served_id.str(), served_at.str());
    }
    // Before the batch's run outcomes: a run that ended after such a fire was recorded has the last word.
    if (!fire_outcomes.empty()) write_fire_outcomes(tx, fire_outcomes);
    if (runs.empty() && updates.empty()) return;
    tx.exec_prepared(kBookkeeping, run_id.str(), run_job_id.str(), status.str(), started_at.str(), finished_at.str(),
                     output.str(), error.str(), job_id.str(), version.str(), next_run_time.str(), state.str(),
                     last_error.str(), is_running.str());
  });
}

std::set<std::string> BookkeepingWriter::held_jobs(const std::vector<std::string>& job_ids) {
  PgArray ids;
  for (const auto& id : job_ids) ids.add(id);
  return guarded([&] {
    std::set<std::string> held;
    for (const auto& row : pqxx::nontransaction(conn_).exec_params(sql_["held_jobs.sql"], ids.str())) held.insert(row[0].as<std::string>());
    return held;
  });
}

void BookkeepingWriter::write_fire_outcomes(pqxx::transaction_base& tx, const std::vector<FireOutcome>& outcomes) {
  std::map<std::string, const FireOutcome*> last;  // one source row per job: UPDATE ... FROM takes any
  for (const auto& o : outcomes) last[o.job_id] = &o;
  PgArray job_id, status, error;
  for (const auto& [id, o] : last) {
    job_id.add(id);
    status.add(o->status);
    error.add(o->error);
  }
  tx.exec_params(sql_["fire_outcomes.sql"], job_id.str(), status.str(), error.str());
}

}  // namespace rowsched::store
