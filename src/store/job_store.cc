// JobStore is a facade: it owns the control connection and hands each call to the part of src/store
// whose concept it is (job_listener, job_reader, fire_claimer, bookkeeping_writer, instance_registry,
// run_history). The parts are created on connect, over the connection and the statements of
// src/store/statements/ with this schema's name substituted in.
#include "store/job_store.h"

#include <pqxx/pqxx>

#include "store/bookkeeping_writer.h"
#include "store/connect.h"
#include "store/fire_claimer.h"
#include "store/guarded.h"
#include "store/instance_registry.h"
#include "store/job_listener.h"
#include "store/job_reader.h"
#include "store/run_history.h"
#include "store/statements.h"

namespace rowsched::store {

struct JobStore::Impl {
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<Statements> sql;
  std::unique_ptr<JobListener> listener;
  std::unique_ptr<JobReader> reader;
  std::unique_ptr<FireClaimer> claimer;
  std::unique_ptr<BookkeepingWriter> bookkeeping;
  std::unique_ptr<InstanceRegistry> registry;
  std::unique_ptr<RunHistory> history;

  pqxx::connection& connection() {
    if (!conn) throw ConnectionLost("not connected");
    return *conn;
  }
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
// Every JobStore session runs this first. Timestamps travel as text in UTC (parse_utc_timestamp).
// The prepared statements (the claim, the bookkeeping) keep one generic plan per session: left to
// choose, PostgreSQL planned them anew for every batch (about 0.4 ms a call, as much as running
// them); their generic plans probe by primary key per element, whatever the batch's size.
// Statements with parameters but not prepared are planned per call whatever this says.
constexpr const char* kSessionSettings =
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET plan_cache_mode = force_generic_plan";

// A generic plan made when job_run is small (a new install, the first minute after start-up, before
// autovacuum's first ANALYZE) took a sequential scan of job_run, hashed against the batch, and kept it
// while the history grew (2 of the statement's 4 ms at 10,000 rows). Every statement of the writer's
// session finds its rows by primary key, so it forbids what it never wants (the bookkeeping statement
// is also planned again every few seconds: BookkeepingWriter::replan_if_due). And no JIT: where a
// sequential scan is still the only way (a tiny table), its plan carries the planner's penalty for a
// disabled path (1e10), far past jit_above_cost, and every call compiled itself: 1.5 s per bookkeeping
// call of a one-job install on this machine, which also held up shutdown's last flush
// (tests/integration/test_faults.py).
constexpr const char* kIndexPlans = "SET enable_seqscan = off; SET jit = off";
}  // namespace

void JobStore::connect(bool listen, bool writer) {
  disconnect();
  guarded([&] {
    Impl& i = *impl_;
    i.conn = open_connection(dsn_, "rowsched " + instance_ + (session_.empty() ? "" : " " + session_));
    i.sql = std::make_unique<Statements>(i.conn->quote_name(schema_));
    if (listen) i.listener = std::make_unique<JobListener>(*i.conn);
    // This statement also sends the listener's LISTEN, which waits for the next statement, so that it
    // takes effect now (before any load: no change falls between).
    std::string settings = kSessionSettings;
    if (writer)
      settings += std::string("; ") + kIndexPlans + "; SET lock_timeout = '" + std::to_string(kWriterLockWait.count()) + "ms'";
    pqxx::nontransaction(*i.conn).exec(settings);
    i.reader = std::make_unique<JobReader>(*i.conn, *i.sql, schema_);
    i.claimer = std::make_unique<FireClaimer>(*i.conn, *i.sql, instance_);
    i.bookkeeping = std::make_unique<BookkeepingWriter>(*i.conn, *i.sql);
    i.registry = std::make_unique<InstanceRegistry>(*i.conn, *i.sql, instance_);
    i.history = std::make_unique<RunHistory>(*i.conn, *i.sql, instance_);
    // The scheduler loop's session claims; the writer's writes the bookkeeping.
    if (listen) i.claimer->warm();
    if (writer) i.bookkeeping->warm();
  });
}

void JobStore::disconnect() noexcept {
  Impl& i = *impl_;
  i.history.reset();
  i.registry.reset();
  i.bookkeeping.reset();
  i.claimer.reset();
  i.reader.reset();
  i.listener.reset();  // before the connection it listens on
  i.sql.reset();
  i.conn.reset();
}

bool JobStore::connected() const { return impl_->conn && impl_->conn->is_open(); }

int JobStore::socket() const { return impl_->conn ? impl_->conn->sock() : -1; }

std::vector<Notification> JobStore::drain_notifications() {
  impl_->connection();
  if (!impl_->listener) return {};
  return impl_->listener->drain(schema_);
}

size_t JobStore::load_all(const std::function<void(JobRow&&)>& sink, const std::function<void(size_t)>& size_hint) {
  impl_->connection();
  return impl_->reader->load_all(sink, size_hint, kLoadChunk);
}

std::vector<JobRow> JobStore::load(const std::vector<std::string>& job_ids) {
  impl_->connection();
  return impl_->reader->load(job_ids);
}

std::vector<std::pair<std::string, int64_t>> JobStore::versions() {
  impl_->connection();
  return impl_->reader->versions();
}

std::pair<int64_t, uint64_t> JobStore::version_fingerprint() {
  impl_->connection();
  return impl_->reader->version_fingerprint();
}

std::vector<Claim> JobStore::claim(const std::vector<ClaimRequest>& fires) {
  impl_->connection();
  // At most kClaimChunk fires per transaction: each takes an advisory lock, and PostgreSQL's lock
  // table is finite (max_locks_per_transaction).
  std::vector<Claim> all;
  for (size_t i = 0; i < fires.size(); i += kClaimChunk) {
    const auto begin = fires.begin() + static_cast<std::ptrdiff_t>(i);
    const auto end = fires.begin() + static_cast<std::ptrdiff_t>(std::min(fires.size(), i + kClaimChunk));
    auto part = impl_->claimer->claim(std::vector<ClaimRequest>(begin, end));
    all.insert(all.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
  }
  return all;
}

void JobStore::write_bookkeeping(const std::vector<RunRecord>& runs, const std::vector<JobStateUpdate>& updates,
                                 const std::vector<std::pair<std::string, TimePoint>>& run_now_served,
                                 const std::vector<FireOutcome>& fire_outcomes) {
  if (runs.empty() && updates.empty() && run_now_served.empty() && fire_outcomes.empty()) return;
  impl_->connection();
  impl_->bookkeeping->write(runs, updates, run_now_served, fire_outcomes);
}

std::set<std::string> JobStore::held_jobs(const std::vector<std::string>& job_ids) {
  impl_->connection();
  return impl_->bookkeeping->held_jobs(job_ids);
}

void JobStore::heartbeat(int pid, const std::string& host) {
  impl_->connection();
  impl_->registry->heartbeat(pid, host);
}

void JobStore::deregister() {
  impl_->connection();
  impl_->registry->deregister();
}

void JobStore::clear_is_running_if_last(Duration alive) {
  impl_->connection();
  impl_->registry->clear_is_running_if_last(alive);
}

int64_t JobStore::mark_own_runs_lost() {
  impl_->connection();
  return impl_->registry->mark_own_runs_lost();
}

std::vector<LostRun> JobStore::mark_lost_runs(Duration lost_after, bool unregistered_too) {
  impl_->connection();
  return impl_->history->mark_lost_runs(lost_after, unregistered_too);
}

std::vector<EndedWorkerRun> JobStore::sweep_worker_runs(Duration lost_after) {
  impl_->connection();
  return impl_->history->sweep_worker_runs(lost_after);
}

std::vector<WorkerQueue> JobStore::worker_queues() {
  impl_->connection();
  return impl_->history->worker_queues();
}

JobStore::PrunePass JobStore::prune_history(
    Duration max_age, int per_job, int batch, NewRange new_range,
    const std::function<std::vector<std::string>(const NewRuns&)>& choose) {
  impl_->connection();
  return impl_->history->prune_history(max_age, per_job, batch, new_range, choose);
}

void JobStore::cancel() noexcept {
  try {
    if (impl_->conn) impl_->conn->cancel_query();
  } catch (const std::exception&) {
  }
}

std::optional<std::vector<std::string>> JobStore::applied_migrations() {
  return guarded([&]() -> std::optional<std::vector<std::string>> {
    std::vector<std::string> names;
    try {
      for (const auto& r : pqxx::nontransaction(impl_->connection()).exec("SELECT name FROM " + table("rowsched_migration")))
        names.push_back(r[0].as<std::string>());
    } catch (const pqxx::insufficient_privilege&) {
      return std::nullopt;  // a role granted only what docs/sql-contract.md lists before this check existed
    }
    return names;
  });
}

std::string JobStore::role() const { return impl_->conn ? impl_->conn->username() : ""; }

}  // namespace rowsched::store
