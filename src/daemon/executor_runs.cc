#include "daemon/executor_runs.h"

#include <cstdlib>

#include <spdlog/spdlog.h>

namespace rowsched::daemon {

ExecutorRuns::ExecutorRuns(int threads, std::string dsn, const run::HandlerRegistry& handlers, run::Executor::Clock clock,
                           std::function<void()> wake, size_t owner_connections,
                           size_t max_owner_connections, Duration owner_idle_timeout)
    : wake_(std::move(wake)) {
  executor_ = std::make_unique<run::Executor>(
      threads, std::move(dsn), handlers, std::move(clock),
      [this](run::RunResult r) {
        bool first;
        {
          std::lock_guard lock(mu_);
          first = finished_.empty();
          finished_.push_back(std::move(r));
        }
        // One wake-up per batch: the loop takes every finished run when it wakes.
        if (first) wake_();
      },
      owner_connections, max_owner_connections, owner_idle_timeout);
}

ExecutorRuns::~ExecutorRuns() { executor_.reset(); }

std::vector<run::RunResult> ExecutorRuns::take_finished() {
  std::vector<run::RunResult> out;
  std::lock_guard lock(mu_);
  out.swap(finished_);
  return out;
}

void ExecutorRuns::abandon_running() {
  spdlog::shutdown();
  std::_Exit(0);  // the executor threads cannot be joined while a handler is still inside a run
}

}  // namespace rowsched::daemon
