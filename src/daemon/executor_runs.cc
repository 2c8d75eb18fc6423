#include "daemon/executor_runs.h"

#include <algorithm>
#include <cstdlib>

#include <spdlog/spdlog.h>

namespace rowsched::daemon {

ExecutorRuns::ExecutorRuns(int threads, std::string dsn, const run::HandlerRegistry& handlers, run::Executor::Clock clock,
                           std::function<void(Duration)> wake, size_t owner_connections,
                           size_t max_owner_connections, Duration owner_idle_timeout)
    : wake_(std::move(wake)) {
  executor_ = std::make_unique<run::Executor>(
      threads, std::move(dsn), handlers, std::move(clock),
      [this](run::RunResult r) {
        bool wake_loop = false;
        {
          std::lock_guard lock(mu_);
          if (finished_.empty()) {
            // One wake-up per batch at most: the loop takes every finished run when it wakes.
            first_ended_ = std::chrono::steady_clock::now();
            wake_loop = wakes_loop(first_ended_, loop_wakes_at_);
            if (wake_loop) loop_wakes_at_ = first_ended_ + kEndedGather;
          }
          finished_.push_back(std::move(r));
        }
        if (wake_loop) wake_(kEndedGather);
      },
      owner_connections, max_owner_connections, owner_idle_timeout);
}

ExecutorRuns::~ExecutorRuns() { executor_.reset(); }

std::vector<run::RunResult> ExecutorRuns::take_finished() {
  std::vector<run::RunResult> out;
  std::lock_guard lock(mu_);
  out.swap(finished_);
  loop_wakes_at_ = std::chrono::steady_clock::time_point::min();
  return out;
}

Duration ExecutorRuns::sleeping(Duration wait) {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  // A day stands for longer: the sum must not overflow.
  auto until = now + std::clamp<Duration>(wait, Duration::zero(), std::chrono::hours(24));
  if (!finished_.empty()) until = std::min(until, first_ended_ + kEndedGather);
  loop_wakes_at_ = until;
  return std::max(Duration::zero(), std::chrono::duration_cast<Duration>(until - now));
}

void ExecutorRuns::abandon_running() {
  spdlog::shutdown();
  std::_Exit(0);  // the executor threads cannot be joined while a handler is still inside a run
}

}  // namespace rowsched::daemon
