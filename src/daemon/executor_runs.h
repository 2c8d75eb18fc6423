// The production LoopRuns: run::Executor's thread pool, whose outcomes wait in a mutex-protected
// list until the loop takes them. The first outcome of a batch calls `wake` (the event waiter's
// eventfd), so the loop wakes once per batch, not once per run.
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
  // `handlers` and whatever `wake` uses must outlive this object.
  ExecutorRuns(int threads, std::string dsn, const run::HandlerRegistry& handlers, run::Executor::Clock clock,
               std::function<void()> wake, size_t owner_connections, size_t max_owner_connections,
               Duration owner_idle_timeout);
  // Joins the executor threads (after their current runs) before the list they report into goes.
  ~ExecutorRuns() override;

  void submit(run::RunRequest request) override { executor_->submit(std::move(request)); }
  void expect(const run::RunRequest& request) override { executor_->expect(request); }
  std::vector<run::RunResult> take_finished() override;
  size_t busy() const override { return executor_->busy(); }
  bool wait_idle_until(TimePoint deadline) override { return executor_->wait_idle_until(deadline); }
  std::vector<run::RunRequest> drain_queue() override { return executor_->drain_queue(); }
  void abandon_running() override;

 private:
  std::function<void()> wake_;
  std::mutex mu_;
  std::vector<run::RunResult> finished_;
  std::unique_ptr<run::Executor> executor_;
};

}  // namespace rowsched::daemon
