// The production LoopRuns: run::Executor's thread pool, whose outcomes wait in a mutex-protected
// list until the loop takes them, kEndedGather at most: the first outcome of a batch calls `wake`
// (the event waiter's timerfd) to wake the loop kEndedGather later, unless the loop wakes by then
// anyway (for its next claim). So the loop wakes at most once per kEndedGather for outcomes, not once
// per run: at 10,000 staggered `log` fires a second it woke about 5,700 times a second, at 2,000
// about 1,000 (docs/benchmarks.md).
//
// Thread safety: submit/take_finished/drain from the loop's thread; outcomes arrive on executor
// threads.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "daemon/loop_runs.h"

namespace rowsched::daemon {

class ExecutorRuns final : public LoopRuns {
 public:
  // `handlers` and whatever `wake` uses must outlive this object. wake(after): the loop must wake
  // `after` from now at the latest.
  ExecutorRuns(int threads, std::string dsn, const run::HandlerRegistry& handlers, run::Executor::Clock clock,
               std::function<void(Duration)> wake, size_t owner_connections, size_t max_owner_connections,
               Duration owner_idle_timeout);
  // Joins the executor threads (after their current runs) before the list they report into goes.
  ~ExecutorRuns() override;

  void submit(run::RunRequest request) override { executor_->submit(std::move(request)); }
  void expect(const run::RunRequest& request) override { executor_->expect(request); }
  // Also marks the loop awake: it calls sleeping() before it sleeps again, so a run that ends
  // meanwhile need not have it woken.
  std::vector<run::RunResult> take_finished() override;
  Duration sleeping(Duration wait) override;
  size_t busy() const override { return executor_->busy(); }
  bool wait_idle_until(TimePoint deadline) override { return executor_->wait_idle_until(deadline); }
  std::vector<run::RunRequest> drain_queue() override { return executor_->drain_queue(); }
  void abandon_running() override;

  // The longest an outcome waits for the loop to take it. The writer gathers outcomes for 50 ms
  // (writer.h) before it writes them.
  static constexpr Duration kEndedGather = std::chrono::milliseconds(10);

  // Whether a run ending at `ended` has a loop that will wake at `loop_wakes_at` anyway woken
  // kEndedGather later. Pure.
  static bool wakes_loop(std::chrono::steady_clock::time_point ended, std::chrono::steady_clock::time_point loop_wakes_at) {
    return loop_wakes_at > ended + kEndedGather;
  }

 private:
  std::function<void(Duration)> wake_;
  std::mutex mu_;
  std::vector<run::RunResult> finished_;
  std::chrono::steady_clock::time_point first_ended_{};  // of finished_'s outcomes
  // When the loop wakes next, by its own deadline or by a wake_() already asked for: a time past
  // while it is awake (it takes the outcomes before it sleeps); the furthest time before it first sleeps.
  std::chrono::steady_clock::time_point loop_wakes_at_ = std::chrono::steady_clock::time_point::max();
  std::unique_ptr<run::Executor> executor_;
};

}  // namespace rowsched::daemon
