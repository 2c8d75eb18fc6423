#include "daemon/run_endings.h"

#include <spdlog/spdlog.h>

namespace rowsched::daemon {

using std::chrono::milliseconds;

RunEndings::RunEndings(const JobTable& jobs, schedule::Schedule& schedule, BookkeepingQueue& writer, Metrics& metrics,
                       std::function<TimePoint()> clock)
    : jobs_(jobs), schedule_(schedule), writer_(writer), metrics_(metrics), clock_(std::move(clock)) {}

int RunEndings::running(const std::string& job_id) const {
  const auto it = running_.find(job_id);
  return it == running_.end() ? 0 : it->second;
}

void RunEndings::finished(std::vector<run::RunResult> results) {
  for (auto& r : results) {
    const auto ms = (r.finished_at - r.started_at) / milliseconds(1);
    metrics_.runs(r.status).inc();
    if (r.request.attempt == 1)  // a retry's scheduled_for is its fire's, so its delay is not lateness
      metrics_.fire_lateness_seconds.observe(std::max(0.0, std::chrono::duration<double>(r.started_at - r.request.scheduled_for).count()));
    if (r.status == to_sql(RunStatus::succeeded))
      spdlog::info("job {}: run {} succeeded in {} ms", r.request.job_id, r.request.run_id, ms);
    else
      spdlog::warn("job {}: run {} {} after {} ms: {}", r.request.job_id, r.request.run_id, r.status, ms, r.error);
    if (auto it = running_.find(r.request.job_id); it != running_.end() && --it->second <= 0) running_.erase(it);
    if (r.status != to_sql(RunStatus::succeeded)) retry_if_asked(r.request.job_id, r.request.scheduled_for, r.request.attempt);
    writer_.record({r.request.run_id, r.request.job_id, r.status, r.started_at, r.finished_at, std::move(r.output), std::move(r.error)});
  }
}

void RunEndings::lost(const std::vector<store::LostRun>& runs) {
  for (const auto& lost : runs) {
    spdlog::warn("job {}: run for {} (attempt {}) marked lost: its instance stopped heart-beating", lost.job_id,
                 format_rfc3339(lost.scheduled_for), lost.attempt);
    metrics_.runs(to_sql(RunStatus::lost)).inc();
    retry_if_asked(lost.job_id, lost.scheduled_for, lost.attempt);
  }
}

void RunEndings::worker_runs_ended(const std::vector<store::EndedWorkerRun>& runs) {
  for (const auto& ended : runs) {
    spdlog::warn("job {}: worker run for {} (attempt {}, queue \"{}\") {}: {}", ended.job_id, format_rfc3339(ended.scheduled_for),
                 ended.attempt, ended.queue, ended.status, ended.error.substr(0, 500));
    if (ended.status != to_sql(RunStatus::missed)) retry_if_asked(ended.job_id, ended.scheduled_for, ended.attempt);
  }
}

void RunEndings::retry_if_asked(const std::string& job_id, TimePoint scheduled_for, int attempt) {
  const KnownJob* k = jobs_.find(job_id);
  if (!k || attempt > k->retries) return;
  const TimePoint at = clock_() + schedule::Schedule::retry_delay(k->retry_delay, attempt + 1);
  schedule_.schedule_retry(job_id, scheduled_for, attempt + 1, at);
  spdlog::info("job {}: attempt {} of the fire for {} at {}", job_id, attempt + 1, format_rfc3339(scheduled_for), format_rfc3339(at));
}

}  // namespace rowsched::daemon
