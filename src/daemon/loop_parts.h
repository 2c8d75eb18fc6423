// The parts a SchedulerLoop runs on, and the production set of them: the control connection
// (ControlConnection), the bookkeeping writer (Writer), the executor pool (ExecutorRuns), signals
// and wake-ups through a signalfd and an eventfd (SignalWaiter), the system clock. Tests build
// their own set from fakes (tests/unit/loop_fakes.h).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/time.h"
#include "daemon/bookkeeping_queue.h"
#include "daemon/commands.h"
#include "daemon/event_waiter.h"
#include "daemon/history_pruner.h"
#include "daemon/loop_runs.h"
#include "daemon/loop_store.h"
#include "run/handler.h"

namespace rowsched::daemon {

struct LoopParts {
  std::unique_ptr<LoopStore> store{};
  std::unique_ptr<BookkeepingQueue> writer{};
  std::unique_ptr<LoopRuns> runs{};
  std::unique_ptr<EventWaiter> waiter{};
  std::function<TimePoint()> clock{};  // every instant the loop uses
  std::string host{};      // this machine's name, for scheduler_instance
  std::string instance{};  // this instance's name
  std::function<double()> jitter{};  // the backoff's random source in [0, 1); empty: random
  std::optional<std::string> throw_on_apply{};  // test hook: applying this job_id's row throws
  // Starts pruning job_run (history_pruner.h: a thread and a connection of its own); empty: none.
  std::function<std::unique_ptr<HistoryPruner>(Metrics&)> pruner{};
  // Holds (true) or drops (false) the CPU wake-up latency request (cpu_wake_latency.h); empty: none.
  std::function<void(bool)> hold_cpu_wake{};
};

// The production parts of `rowsched run`: instance named by --instance or <hostname>-<pid>, the
// test hook from $ROWSCHED_TEST_THROW_ON_APPLY. `handlers` must outlive the parts. SIGTERM and
// SIGINT must be blocked in every thread before this is called.
LoopParts production_loop_parts(const Options& options, const std::string& dsn, const run::HandlerRegistry& handlers);

}  // namespace rowsched::daemon
