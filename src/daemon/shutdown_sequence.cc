#include "daemon/shutdown_sequence.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "base/states.h"
#include "daemon/claim_lead.h"
#include "store/pg_error.h"

namespace rowsched::daemon {

int ShutdownSequence::run(TimePoint claimed_until) const {
  // Fires claimed ahead of their instant (at most kMaxAhead) were promised to us: let them start.
  for (const TimePoint until = std::min(claimed_until, clock() + ClaimLead::kMaxAhead); clock() < until;)
    waiter.wait(until - clock(), -1);
  if (claimed_instants_passed) claimed_instants_passed();
  const TimePoint deadline = clock() + timeout;
  const size_t busy = runs.busy();
  const auto never_started = runs.drain_queue();
  if (busy > 0) spdlog::info("waiting up to {} s for {} running jobs", std::chrono::duration<double>(timeout).count(), busy - never_started.size());
  const bool idle = runs.wait_idle_until(deadline);
  record_results();
  for (const auto& req : never_started)
    writer.record({req.run_id, req.job_id, to_sql(RunStatus::failed), clock(), clock(), "", "rowsched shut down before this run started"});
  // The outcomes and write-backs still queued: at least a few seconds for them, even past the deadline;
  // but only one while the writer cannot reach the database (an outage must not hold up the exit).
  const TimePoint flush_by = writer.failing() ? clock() + std::chrono::seconds(1) : std::max(deadline, clock() + std::chrono::seconds(5));
  if (!writer.flush(flush_by)) spdlog::warn("shutdown: {} run results and write-backs could not be written in time", writer.queued());
  try {
    if (!connection.connected()) connection.connect();
    connection.clear_is_running_if_last(std::chrono::seconds(5));
    connection.deregister();
  } catch (const std::exception& e) {
    spdlog::warn("shutdown: could not record the final state: {}", store::format_pg_error(e));
  }
  if (!idle) {
    spdlog::warn("shutdown deadline passed with jobs still running; they stay 'running' in job_run");
    runs.abandon_running();
  } else {
    spdlog::info("rowsched stopped");
  }
  return 0;
}

}  // namespace rowsched::daemon
