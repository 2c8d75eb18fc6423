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
#include <vector>

#include "daemon/commands.h"
#include "daemon/metrics.h"
#include "daemon/writer.h"
#include "run/executor.h"
#include "run/handler.h"
#include "schedule/schedule.h"
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
  // What the loop remembers of every row it has seen, valid or not.
  struct KnownJob {
    int64_t version = 0;
    uint64_t version_hash = 0;
    std::string func;
    nlohmann::json args;
    std::string owner;
    std::optional<Duration> timeout;
    int max_instances = 1;
    int retries = 0;
    Duration retry_delay{};
    std::string state;                  // as written back: scheduled, paused, finished, invalid
    std::optional<std::string> error;   // why it is invalid
  };

  TimePoint now() const;
  void connect_with_backoff();
  void full_reload();
  void reload(const std::vector<std::string>& job_ids);
  void apply_row(const store::JobRow& row);
  void forget(const std::string& job_id);
  // Applies the notifications that have arrived; true when there were any.
  bool apply_notifications();
  void fire_due();
  void record_results();
  void resync();
  void heartbeat();
  void prune_history();
  // Schedules the next attempt of a failed or lost run when the job asks for retries.
  void retry_if_asked(const std::string& job_id, TimePoint scheduled_for, int attempt);
  void shutdown();
  // Queues the write-back of a known job's state and next fire.
  void write_back(const std::string& job_id);
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

  std::map<std::string, KnownJob> known_;

  std::mutex results_mu_;
  std::vector<run::RunResult> results_;

  TimePoint next_resync_{}, next_heartbeat_{}, next_prune_{};
  int reconnect_attempt_ = 0;
  bool ever_connected_ = false;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace rowsched::daemon
