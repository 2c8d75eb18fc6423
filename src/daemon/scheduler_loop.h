// The main loop of `rowsched run`: the one place that knows all the parts. It owns the control
// connection (JobStore), the in-memory Schedule, the Executor and the Writer, and moves data in one
// direction: notifications -> re-read rows -> schedule -> due fires -> claims -> executor -> writer.
// The control connection only waits for re-reads, claims and periodic upkeep; run outcomes and
// write-backs go through the Writer's own connection, so a fire never queues behind them.
//
// Thread safety: run() is called once, on one thread; executor threads only hand results back
// through a mutex-protected queue and an eventfd.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/states.h"
#include "daemon/backoff.h"
#include "daemon/commands.h"
#include "daemon/metrics.h"
#include "daemon/writer.h"
#include "run/executor.h"
#include "run/handler.h"
#include "schedule/schedule.h"
#include "store/fault.h"
#include "store/job_store.h"

namespace rowsched::daemon {

class SchedulerLoop {
 public:
  // `metrics` must outlive the loop; the loop counts into it and keeps its readiness current.
  SchedulerLoop(const Options& options, std::string dsn, Metrics& metrics);
  ~SchedulerLoop();

  // Runs until SIGTERM or SIGINT (which must be blocked in every thread before this is constructed;
  // the loop reads them through a signalfd). Returns the process exit code.
  int run();

 private:
  // A value shared by every job that has an equal one (func, owner and func_args repeat across
  // thousands of rows): reads as a const T&.
  template <typename T>
  class Shared {
   public:
    Shared() : p_(empty()) {}
    explicit Shared(std::shared_ptr<const T> p) : p_(std::move(p)) {}
    operator const T&() const { return *p_; }
    const T& get() const { return *p_; }

   private:
    static const std::shared_ptr<const T>& empty() {
      static const std::shared_ptr<const T> e = std::make_shared<const T>();
      return e;
    }
    std::shared_ptr<const T> p_;
  };
  // What the loop remembers of every row it has seen, valid or not.
  struct KnownJob {
    int64_t version = 0;
    uint64_t version_hash = 0;
    Shared<std::string> func;
    Shared<nlohmann::json> args;
    Shared<std::string> owner;
    std::optional<Duration> timeout;
    int max_instances = 1;
    int retries = 0;
    Duration retry_delay{};
    std::string queue;                  // a worker job's queue; empty for jobs rowsched runs itself
    std::optional<Duration> grace;      // misfire_grace_time (row's or --misfire-grace-time); none: always run
    JobState state = JobState::scheduled;  // as written back: scheduled, paused, finished, invalid
    std::optional<std::string> error;   // why it is invalid
  };
  // What rows repeat, remembered while a full reload applies them: parsing and checking each
  // distinct func_args and trigger_kwargs once, and sharing the results between jobs.
  struct LoadCache;
  std::unique_ptr<LoadCache> load_cache_;

  TimePoint now() const;
  void connect_with_backoff();
  void full_reload();
  void reload(const std::vector<std::string>& job_ids);
  // `skip_unchanged`: queue no write-back when the row already holds what it would write (no
  // write-back of the job may be pending).
  void apply_row(const store::JobRow& row, bool skip_unchanged);
  // apply_row, except that whatever it throws marks this row invalid with the reason: one bad row
  // never takes the loop down (only the database's errors reconnect).
  void apply_row_or_mark_invalid(const store::JobRow& row, bool skip_unchanged);
  void forget(const std::string& job_id);
  // Applies the notifications that have arrived; true when there were any.
  bool apply_notifications();
  void fire_due();
  void record_results();
  // Compares (job_id, version) with the table and re-reads what differs. `announced`: a notification
  // said a statement changed more rows than it names (else this is the periodic repair).
  void resync(bool announced = false);
  void heartbeat();
  // Ends the worker runs nobody will end and retries the ones that ended badly (sql/010_workers.sql).
  void sweep_worker_runs();
  // Sets the worker-queue gauges from the worker_queue_status view.
  void report_worker_queues();
  void prune_history();
  // Schedules the next attempt of a failed or lost run when the job asks for retries.
  void retry_if_asked(const std::string& job_id, TimePoint scheduled_for, int attempt);
  void shutdown();
  // The error path of every database failure of the loop: logs one line per backoff step, says why
  // in /readyz, drops the connection and waits the backoff (a signal ends the wait at once).
  void back_off_after(const std::exception& e, const std::string& context);
  // Waits `d` unless SIGTERM/SIGINT comes first.
  void sleep_unless_signalled(Duration d);
  // Takes a pending SIGTERM/SIGINT without waiting (for paths that do not reach wait_for_events).
  void check_signal();
  // Throws store::SchemaNotCurrent when the schema lacks a migration this binary embeds.
  void check_schema();
  store::FaultContext fault_context() const;
  // Queues the write-back of a known job's state and next fire.
  void write_back(const std::string& job_id);
  // The same for the job's entry `k` and its next fire as the schedule holds it (nullopt unless scheduled).
  void write_back(const std::string& job_id, const KnownJob& k, std::optional<TimePoint> next);
  void wait_for_events(Duration timeout);
  // Sets the rowsched_jobs gauges from known_.
  void count_jobs_by_state();

  Options options_;
  Metrics& metrics_;
  std::string dsn_;
  std::string host_;  // this machine's name, for scheduler_instance
  std::string instance_;
  int signal_fd_ = -1;
  int wake_fd_ = -1;
  bool stopping_ = false;
  bool started_ = false;  // the first connection of this process has been made

  store::JobStore store_;
  schedule::Schedule schedule_;
  run::HandlerRegistry handlers_;
  std::unique_ptr<run::Executor> executor_;
  std::unique_ptr<Writer> writer_;
  Zone default_zone_;

  std::unordered_map<std::string, KnownJob> known_;

  std::mutex results_mu_;
  std::vector<run::RunResult> results_;

  // Runs this instance has claimed and not yet seen end, per job (for max_instances: job_run may
  // still say running for an ended run whose outcome the writer has not written).
  std::unordered_map<std::string, int> running_by_job_;
  // Fires are claimed this far ahead of their instant, so that the claim's round trip is not
  // lateness: 1.5 x the recent longest claim (decaying), from kMinLead to kMaxLead.
  static constexpr Duration kMinLead = std::chrono::milliseconds(5), kMaxLead = std::chrono::milliseconds(100);
  Duration lead_ = kMinLead, claim_cost_{};
  // The claim's cost per fire in large claims (measured; 50 us to start with, about what 1,000 fires
  // at once cost on the bench machine), and this tick's lead: lead_, or longer before a burst.
  Duration per_fire_claim_ = std::chrono::microseconds(50);
  Duration horizon_ = kMinLead;
  TimePoint claimed_until_{};  // the latest instant a claimed fire waits for

  std::set<std::string> reported_queues_;  // queues with worker-queue gauges, zeroed when they vanish
  TimePoint next_resync_{}, next_heartbeat_{}, next_prune_{};
  int reconnect_attempt_ = 0;
  TimePoint process_started_{};  // a fire due before this is missed "at start-up"
  // The one retry policy of the control connection and the loop's error path (backoff.h).
  Backoff backoff_;
  bool failing_ = false;  // the last attempt failed: the next full recovery is worth a log line
  // How many job_run rows a pruning pass may delete: grows while passes delete all they may (a
  // backlog), shrinks back when they do not.
  int64_t prune_batch_ = kMinPruneBatch;
  // Batches from 1,000 rows up to 20,000 (a pass holds the control connection: it must stay short),
  // and passes every 0.5 s while behind: up to 40,000 rows a second.
  static constexpr int64_t kMinPruneBatch = 1000, kMaxPruneBatch = 20000;
  static constexpr Duration kPruneBehindInterval = std::chrono::milliseconds(500);
  // Test hook: applying this job_id's row throws ($ROWSCHED_TEST_THROW_ON_APPLY, read at start-up).
  std::optional<std::string> throw_on_apply_;
  bool ever_connected_ = false;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace rowsched::daemon
