// The main loop of `rowsched run`: the one place that knows all the parts, and reads like
// pg_cron's: tick(now) does what is due at `now` (connect after the backoff, apply notified
// changes, claim due fires and hand them to the runs, record finished runs, heartbeat, resync) and answers how long the loop may sleep until the next deadline; run() alternates tick()
// and the event waiter until SIGTERM/SIGINT, then shuts down. Data moves one way: notifications ->
// re-read rows -> schedule -> due fires -> claims -> runs -> bookkeeping queue (the Writer's own
// connection), so a fire never queues behind bookkeeping.
//
// Everything outside the loop's decisions is a part passed in (LoopParts): the database (LoopStore),
// the runs (LoopRuns), the bookkeeping (BookkeepingQueue), the waiting (EventWaiter) and the clock.
// The loop never reads the system clock itself, so tests/unit/scheduler_loop_test.cc drives it with
// fakes of each and a fake clock: no database, no threads, no sleeps.
//
// Thread safety: one thread calls run() (or tick()); the parts hand results back their own way.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "base/time.h"
#include "daemon/backoff.h"
#include "daemon/bookkeeping_queue.h"
#include "daemon/claim_lead.h"
#include "daemon/commands.h"
#include "daemon/event_waiter.h"
#include "daemon/history_pruner.h"
#include "daemon/job_table.h"
#include "daemon/loop_parts.h"
#include "daemon/loop_runs.h"
#include "daemon/loop_store.h"
#include "daemon/metrics.h"
#include "daemon/row_applier.h"
#include "daemon/row_parser.h"
#include "daemon/run_endings.h"
#include "daemon/worker_queue_gauges.h"
#include "run/handler.h"
#include "schedule/schedule.h"

namespace rowsched::daemon {

class SchedulerLoop {
 public:
  // The production loop: a ControlConnection, a Writer, an Executor pool, signals through a
  // signalfd (SIGTERM and SIGINT must be blocked in every thread before this is constructed), the
  // system clock. `metrics` must outlive the loop; the loop counts into it and keeps its readiness
  // current.
  SchedulerLoop(const Options& options, std::string dsn, Metrics& metrics);
  // A loop on the given parts (every one set; no store: the production parts), with `handlers` deciding which func_args are valid.
  SchedulerLoop(const Options& options, std::string dsn, Metrics& metrics, run::HandlerRegistry handlers, LoopParts parts);
  ~SchedulerLoop();
  SchedulerLoop(const SchedulerLoop&) = delete;
  SchedulerLoop& operator=(const SchedulerLoop&) = delete;

  // Runs until SIGTERM or SIGINT, then shuts down. Returns the process exit code.
  int run();
  // One pass at `now`; returns how long the loop may wait for events before the next pass.
  Duration tick(TimePoint now);
  // After SIGTERM/SIGINT: stops claiming, lets running runs finish until --shutdown-timeout, records
  // the rest, clears is_running unless another instance lives. Returns the exit code.
  int shutdown();
  bool stopping() const { return stopping_; }

 private:
  SchedulerLoop(const Options& options, std::string dsn, Metrics& metrics, std::shared_ptr<const run::HandlerRegistry> handlers,
                LoopParts parts);
  // Connects when the backoff allows; false (and the next attempt scheduled) when it failed.
  bool connect();
  // After a connect: the schema check, the first start's own lost runs, a full reload, a heartbeat.
  void start_over();
  void full_reload();
  // Applies the notifications that have arrived; true when there were any.
  bool apply_notifications();
  // Claims the fires within the horizon (and `ahead` after it); true when it sent a claim.
  bool fire_due(TimePoint now, Duration ahead = Duration::zero());
  // Before work on the loop's connection expected to take `expected`: claims the fires due within
  // that and half again, no further ahead than a burst's lead (which bounds what shutdown waits for).
  void claim_ahead_of(Duration expected);
  // How long `work` took on the loop's clock.
  Duration timed(const std::function<void()>& work);
  // Whether housekeeping due at `due` (the heartbeat, the resync) runs now: right after a claim
  // (`claimed`), when no claim is due within kHousekeepingRoom, or once it is kHousekeepingSlip late.
  bool housekeeping_now(TimePoint now, bool claimed, TimePoint due);
  // When the loop next claims (the next fire less this tick's horizon), if any fire is scheduled.
  std::optional<TimePoint> next_claim_at();
  // Tells the runs which fires are due at `at` (runs_->expect), before they are claimed.
  void expect_fires(TimePoint at);
  void record_results();
  // Compares (job_id, version) with the table and re-reads what differs, in chunks, with the fires
  // that came due claimed between them (the claim refuses a fire of a job changed or deleted since
  // the loop read it). `announced`: a notification said a statement changed more rows than it names
  // (else this is the periodic repair).
  void resync(bool announced = false);
  // Re-reads the rows of `ids` kReloadChunk at a time, claiming the fires due before each chunk but
  // the first (and before that one too with `claim_first`).
  void reload_in_chunks(const std::vector<std::string>& ids, bool claim_first);
  // Decides again the fires `claims` returned as changed (their job's row has another version than
  // the one they were asked under, store::kChanged): logs them, re-reads their jobs' rows, and puts a
  // retry among them back to be claimed under the new version. Returns their (job_id, scheduled_for,
  // attempt).
  using FireKeys = std::set<std::tuple<std::string, TimePoint, int>>;  // (job_id, scheduled_for, attempt)
  FireKeys redecide_changed(const std::vector<store::Claim>& claims, const std::vector<schedule::DueFire>& due);
  void heartbeat();
  // The error path of every database failure: one log line per backoff step, the reason in /readyz,
  // the connection dropped, the next attempt after the backoff's wait.
  void back_off_after(const std::exception& e, const std::string& context);
  // How long until the next deadline of any part (and this tick's claim horizon).
  Duration until_next_deadline(TimePoint now);
  // tick() but the CPU wake-up latency request.
  Duration pass(TimePoint now);
  // Holds the CPU wake-up latency request (parts_.hold_cpu_wake) while a claimed fire waits for its
  // instant or the next fire is due within CpuWakeLatency::kHoldAhead; drops it otherwise.
  void hold_cpu_wake(TimePoint now);
  // Holds (true) or drops (false) the request, when the loop has one and it is not so already.
  void set_cpu_wake(bool want);

  Options options_;
  Metrics& metrics_;
  std::string dsn_;
  std::shared_ptr<const run::HandlerRegistry> handlers_;  // shared with the production runs
  LoopParts parts_;
  // Shorthands for the parts.
  std::function<TimePoint()> clock_;
  LoopStore* store_ = nullptr;
  BookkeepingQueue* writer_ = nullptr;
  LoopRuns* runs_ = nullptr;
  EventWaiter* waiter_ = nullptr;

  schedule::Schedule schedule_;
  JobTable jobs_;
  RowParser parser_;
  ClaimLead lead_;
  Duration horizon_ = ClaimLead::kMinLead;  // how far ahead this tick claims: the lead, or more before a burst
  TimePoint claimed_until_{};               // the latest instant a claimed fire waits for
  TimePoint expected_at_{};                 // the instant whose fires were last expect()ed
  RowApplier rows_;
  RunEndings endings_;
  std::unique_ptr<HistoryPruner> pruner_;  // from the first connection on (parts_.pruner)
  WorkerQueueGauges queue_gauges_;
  Backoff backoff_;  // the one retry policy of the control connection and the loop's error path

  TimePoint process_started_{};  // a fire due before this is missed "at start-up"
  TimePoint next_resync_{}, next_heartbeat_{}, retry_at_{};
  // Runs of instances with no scheduler_instance row are looked for once a kUnregisteredEvery, not
  // at every heartbeat (the first heartbeat does): that look reads every run in flight.
  static constexpr Duration kUnregisteredEvery = std::chrono::seconds(60);
  // The heartbeat and the resync share the loop's connection with the claims. Run while a claim was
  // due they held it back, and the fires behind it: a resync of 100,000 jobs takes 25 ms, a heartbeat
  // 1-4 ms under load, against a claim lead of 5 ms (docs/decisions.md). They wait for the claim when
  // one is due within kHousekeepingRoom, and run right after it; never more than kHousekeepingSlip late.
  static constexpr Duration kHousekeepingRoom = std::chrono::milliseconds(20);
  static constexpr Duration kHousekeepingSlip = std::chrono::milliseconds(100);
  // What the last heartbeat and the last resync took: the fires due within that (and half again)
  // are claimed before the next one.
  Duration heartbeat_took_{}, resync_took_{};
  // What reading and comparing the whole table took when a notification last asked for it (a
  // statement that changed more rows than it names): the fires due within that are claimed first.
  // The rows that differ are re-read kReloadChunk at a time.
  Duration announced_took_{};
  // 1,000: smaller chunks made a bulk INSERT of 20,000 jobs take up to twice as long to schedule.
  static constexpr size_t kReloadChunk = 1000;
  // Notifications naming more jobs than this (an UPDATE notifies row by row) are re-read with the
  // claims due going first and between chunks; fewer are re-read at once (2 ms or so).
  static constexpr size_t kClaimBetweenFrom = 100;
  // How far a claim ahead of a re-read, a resync or a heartbeat reaches at most. max_instances is
  // decided at the claim from the job's runs in flight then: claimed 1 s ahead (a re-read's chunk
  // slowed by the UPDATE beside it), a 1 Hz job's fire was skipped while the run started 15 ms before
  // it had not yet ended.
  static constexpr Duration kMaxClaimAhead = std::chrono::milliseconds(400);
  // A retry the claim refused because its job changed is claimed again no sooner than this (its row
  // is re-read at once; a change committed again meanwhile is refused again, at most this often).
  static constexpr Duration kChangedRetryAfter = std::chrono::milliseconds(50);
  Duration row_took_{};  // what reading and applying one row took in the last full load
  TimePoint next_unregistered_{};
  int held_heartbeats_ = 0;  // consecutive heartbeats that found a job_info row held (store::RowsLocked)
  bool stopping_ = false;
  bool cpu_wake_held_ = false;  // parts_.hold_cpu_wake(true) was the last call
  bool started_ = false;         // the first connection of this process has been made
  bool ever_connected_ = false;
  bool failing_ = false;         // the last attempt failed: the next full recovery is worth a log line
};

}  // namespace rowsched::daemon
