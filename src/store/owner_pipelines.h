// The statements of `sql` and `notify` runs, sent down non-blocking libpq connections logged in as
// their owners (owner_conninfo.h), in pipeline mode, by one thread that polls them all. No thread
// waits on a run: a burst of one owner's runs goes down a few connections as pipelines, one round trip
// for many runs.
//
// Per run, on one connection: [[DISCARD ALL,] SET statement_timeout = <the job's timeout>, Sync],
// [DISCARD ALL,] the statement (extended protocol, unnamed statement: DISCARD ALL drops named ones),
// Sync. The DISCARD ALL goes first when the session ran anything since its last reset, in the same
// Sync as the run's first query (a Sync of its own costs the server a transaction end and a flush,
// most of what a run costs); a session left with nothing to do is reset at once, in a Sync of its
// own. Each run is its own implicit transaction, so one failing run aborts nothing after it, and
// nothing a run sets (GUCs, search_path, temp tables, LISTENs, advisory locks, SET SESSION
// AUTHORIZATION) reaches the next run, nor outlives its burst on an idle session.
//
// Statements the extended protocol cannot run as the simple one does (several statements separated
// by `;`, BEGIN and the other transaction control: can_pipeline() says so) run here too, one at a
// time on a connection with nothing else in flight: it leaves pipeline mode, runs [SET
// statement_timeout,] the statement over the simple query protocol (a ROLLBACK after it when it left
// a transaction open, which fails the run), goes back to pipeline mode and is reset as above. COPY
// (can_run_simple()) is not taken: the caller runs it in a blocking owner session (sql_session.h).
//
// Over TCP, the socket is corked (TCP_CORK) while a dispatch pass queues runs on it and its owner has
// more due: libpq 15 flushes at every Sync, and the runs one pass sends down a connection then leave
// in one segment, not one each. A lone run (a staggered schedule) leaves at once, uncorked.
//
// Warm-up: a connection that logs in while its owner's next run is not yet due (a burst is claimed
// at least 300 ms ahead) parses that run's statement (Parse only, unnamed, then Sync): the new
// backend loads the catalogs the statement names before the instant, not during the burst.
//
// Pools: connections open as the burst needs them, at most `max_open` over all owners (an idle
// connection of another owner is closed to make room); a connection idle for `idle_timeout` is closed
// (unless its owner has runs queued or expected within kLoginLead), and at most `max_idle` idle ones
// stay open. A run expect()ed gets a session that logs in kLoginLead before its instant when its
// owner has none open then: an hourly job finds its session ready, not one that logs in after its
// claim, a few milliseconds ahead of it. A login that fails is remembered for `login_backoff`: no
// other login of that owner is tried meanwhile; its runs wait for the sessions it has open, and fail
// at once with the same message when it has none (a role refused beside open sessions, by its
// CONNECTION LIMIT or max_connections, keeps running on those). A connection lost mid-run fails the runs sent
// down it; runs not yet sent wait for another connection.
//
// Fairness: owners' queues are served round-robin, one run each per turn, so one owner's burst does not
// starve another owner's run due at the same instant. A run is queued behind others on a connection
// only when every run in flight there is known to be fast: its statement (same owner, same text up to
// its string and number literals) took at most `slow_after` the last time it ran. A statement never seen, or slow last time, has its
// connection to itself until it ends; so a slow statement occupies only its own connection, and a
// burst of new statements starts one per connection until their first runs end (about a millisecond
// for an INSERT), then pipelines. Nor is a run queued behind one the server has been on for longer
// than `slow_after` (a lock wait, say).
//
// Thread safety: submit(), drain_unsent() and pending() may be called from any thread; `done` is
// called on the pipeline thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/time.h"

namespace rowsched::store {

// One statement to run as `owner`, not before `not_before`.
struct OwnerStatement {
  std::string owner;
  std::string statement;
  std::vector<std::optional<std::string>> params;  // $1.. ; nullopt binds NULL
  std::optional<Duration> timeout;
  TimePoint not_before{};
};

struct OwnerStatementResult {
  enum class Outcome { succeeded, failed, timed_out };
  Outcome outcome = Outcome::succeeded;
  std::string output;  // the summary for job_run.output (owner_session.h's)
  std::string error;
  TimePoint started_at{}, finished_at{};
};

class OwnerPipelines {
 public:
  struct Limits {
    size_t max_open = 8;         // connections open at once, over all owners
    size_t max_idle = 8;         // idle connections kept open (rowsched run --owner-connections)
    size_t max_depth = 16;       // runs in flight on one connection
    Duration idle_timeout = std::chrono::seconds(60);
    Duration login_backoff = std::chrono::seconds(5);
    Duration slow_after = std::chrono::milliseconds(20);
  };
  using Clock = std::function<TimePoint()>;
  using Done = std::function<void(uint64_t id, OwnerStatementResult)>;

  // Starts the pipeline thread. `dsn` is the daemon's; owners log in as owner_conninfo() says.
  OwnerPipelines(std::string dsn, Limits limits, Clock clock, Done done);
  // Runs what is queued and in flight to the end, then closes the connections and joins the thread.
  ~OwnerPipelines();
  OwnerPipelines(const OwnerPipelines&) = delete;
  OwnerPipelines& operator=(const OwnerPipelines&) = delete;

  // True when `statement` can run here exactly as the simple query protocol would run it.
  static bool can_pipeline(const std::string& statement);
  // True when `statement` (without parameters) can run here over the simple query protocol: anything
  // but COPY (the word anywhere), which needs a client to feed or read it.
  static bool can_run_simple(const std::string& statement);
  // `statement` with its string and number literals replaced by `?`: statements of one shape
  // ("INSERT ... VALUES ('job-17', ...)") are taken to take about as long as each other.
  static std::string statement_shape(const std::string& statement);

  // Queues `statement`; `done(id, ...)` reports its end.
  void submit(uint64_t id, OwnerStatement statement);
  // Says that a run of `statement` is coming at its not_before (nothing runs): if its owner has no
  // connection open kLoginLead before then, one logs in and parses the statement. The 16 earliest
  // expectations of each owner are kept until their instants pass.
  void expect(OwnerStatement statement);
  // How long before an expected run its owner's session is opened: a login, with the burst's other
  // logins, took 15-20 ms on the bench machine.
  static constexpr Duration kLoginLead = std::chrono::milliseconds(150);
  // Removes and returns the ids of what has not been sent yet.
  std::vector<uint64_t> drain_unsent();
  // Statements queued or in flight.
  size_t pending() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rowsched::store
