#include "daemon/claim_batch.h"

#include <spdlog/fmt/fmt.h>

namespace rowsched::daemon {

ClaimBatch::ClaimBatch(TimePoint now, TimePoint process_started, double default_grace_seconds)
    : now_(now), process_started_(process_started), default_grace_seconds_(default_grace_seconds) {}

void ClaimBatch::add(const schedule::DueFire& f, const KnownJob* job, int own_running) {
  store::ClaimRequest c;
  c.job_id = f.job_id;
  c.scheduled_for = f.scheduled_for;
  c.attempt = f.attempt;
  c.status = to_sql(RunStatus::running);
  c.run_now = f.kind == schedule::FireKind::run_now;
  c.own_running = own_running;
  c.version = f.version;  // the row the fire was decided under: the claim refuses it under another
  if (job) {
    c.max_instances = job->max_instances;
    if (!job->queue.empty()) {
      // A worker job: queued for its workers, who may take it from its (jittered) instant on and
      // must by the end of its misfire_grace_time.
      c.queue = job->queue;
      if (f.fire_at > now_) c.not_before = f.fire_at;
      if (job->grace) c.take_by = f.fire_at + *job->grace;
    }
  }
  start_at_[{f.job_id, f.scheduled_for, f.attempt}] = f.fire_at;
  if (f.decision == schedule::FireDecision::missed) {
    c.status = to_sql(RunStatus::missed);
    c.note = fmt::format("missed: {:.1f} s late{}, misfire_grace_time is {:g} s", std::chrono::duration<double>(now_ - f.fire_at).count(),
                         f.scheduled_for < process_started_ ? " at start-up" : "",
                         !job || !job->grace ? default_grace_seconds_ : std::chrono::duration<double>(*job->grace).count());
    missed_notes_.emplace(std::pair{f.job_id, f.scheduled_for}, c.note);
  } else if (f.decision == schedule::FireDecision::coalesced) {
    c.status = to_sql(RunStatus::skipped);
    c.note = "coalesced: a later fire of the same backlog ran instead";
  }
  requests_.push_back(std::move(c));
}

std::optional<TimePoint> ClaimBatch::start_at(const store::Claim& c) const {
  const auto it = start_at_.find({c.job_id, c.scheduled_for, c.attempt});
  return it == start_at_.end() ? std::nullopt : std::optional<TimePoint>(it->second);
}

std::optional<std::string> ClaimBatch::missed_note(const store::Claim& c) const {
  const auto it = missed_notes_.find({c.job_id, c.scheduled_for});
  return it == missed_notes_.end() ? std::nullopt : std::optional<std::string>(it->second);
}

}  // namespace rowsched::daemon
