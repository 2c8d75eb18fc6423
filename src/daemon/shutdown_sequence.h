// What `rowsched run` does between SIGTERM and exit: fires claimed ahead of their instant (at most
// ClaimLead::kMaxAhead) get to start, runs not yet started are recorded as failed ("rowsched shut
// down before this run started"), running ones get until --shutdown-timeout to finish, the queued
// bookkeeping a few more seconds to be written (one second while the writer cannot reach the
// database), and is_running is cleared unless another instance lives. A run still in its handler at
// the deadline stays `running` in job_run and the process exits without joining it.
//
// Thread safety: the loop's thread only.
#pragma once

#include <functional>

#include "base/time.h"
#include "daemon/bookkeeping_queue.h"
#include "daemon/event_waiter.h"
#include "daemon/loop_runs.h"
#include "daemon/loop_store.h"

namespace rowsched::daemon {

struct ShutdownSequence {
  LoopRuns& runs;
  BookkeepingQueue& writer;
  LoopStore& connection;  // the control connection, to deregister
  EventWaiter& waiter;
  std::function<TimePoint()> clock;
  std::function<void()> record_results;  // hands finished runs' outcomes to the writer
  Duration timeout{};                    // --shutdown-timeout
  // Called once the claimed fires' instants have passed, before the wait for running runs (the CPU
  // wake-up request is dropped there: nothing is due any more). May be empty.
  std::function<void()> claimed_instants_passed{};

  // Runs the sequence; `claimed_until`: the latest instant a claimed fire waits for. Returns the
  // exit code (0).
  int run(TimePoint claimed_until) const;
};

}  // namespace rowsched::daemon
