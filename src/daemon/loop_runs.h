// The runs the scheduler loop has started and not yet seen end: where it submits claimed fires and
// takes the outcomes back. The production implementation (executor_runs.h) is run::Executor's
// thread pool; the loop's unit tests use one whose runs end when the test says.
//
// Thread safety: called from the loop's thread only; implementations may finish runs on others.
#pragma once

#include <vector>

#include "base/time.h"
#include "run/executor.h"

namespace rowsched::daemon {

class LoopRuns {
 public:
  virtual ~LoopRuns() = default;

  virtual void submit(run::RunRequest request) = 0;
  // A fire of `request` comes at request.not_before and is not claimed yet (run_id 0): whatever it
  // will need (its owner's session) may be made ready ahead. Nothing runs.
  virtual void expect(const run::RunRequest& request) = 0;
  // The outcomes of the runs that ended since the last call, in the order they ended.
  virtual std::vector<run::RunResult> take_finished() = 0;
  // The loop sleeps for `wait` from now on, unless woken: returns how long it may (`wait`, or less
  // while outcomes are waiting to be taken). An implementation that wakes the loop when a run ends
  // may then leave it asleep when it wakes soon enough anyway.
  virtual Duration sleeping(Duration wait) { return wait; }
  // Runs queued or executing right now.
  virtual size_t busy() const = 0;
  // Waits until nothing is queued or running, or until `deadline`; true when idle.
  virtual bool wait_idle_until(TimePoint deadline) = 0;
  // Removes and returns what has not started yet (on shutdown, to record as not run).
  virtual std::vector<run::RunRequest> drain_queue() = 0;
  // Shutdown's deadline passed with runs still inside their handlers: those threads cannot be
  // joined, so the production implementation ends the process here (exit code 0).
  virtual void abandon_running() = 0;
};

}  // namespace rowsched::daemon
