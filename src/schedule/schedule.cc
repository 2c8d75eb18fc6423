// Heap entries are never erased in place: replacing or removing a job bumps its generation and the
// stale entry is dropped when it reaches the top (lazy deletion keeps every operation O(log n)).
#include "schedule/schedule.h"

#include "trigger/jitter.h"

namespace rowsched::schedule {

std::optional<TimePoint> Schedule::upsert(JobDefinition def) {
  Job& job = jobs_[def.job_id];
  job.def = std::move(def);
  job.generation = next_generation_++;
  const JobDefinition& d = job.def;
  std::optional<TimePoint> nominal;
  if (d.paused) {
    nominal = std::nullopt;
  } else if (d.last_fire && *d.last_fire >= d.defined_at) {
    // Fired under this definition already (before a restart, or by another instance): continue
    // after that fire; a backlog since then is handled by take_due's misfire rules.
    nominal = d.spec.trigger->next_fire_time(d.last_fire, std::max(*d.last_fire, d.defined_at));
  } else if (d.spec.options.next_run_time) {
    nominal = d.spec.options.next_run_time;
  } else {
    nominal = d.spec.trigger->next_fire_time(std::nullopt, d.defined_at);
  }
  set_next(job, nominal);
  // A run_right_now request that was already claimed is dropped again by the claim's conflict.
  job.run_now = d.run_now_at;
  if (job.run_now) heap_.push(HeapEntry{*job.run_now, job.generation, d.job_id, true});
  return job.next_at;
}

void Schedule::set_next(Job& job, std::optional<TimePoint> nominal) {
  job.next_nominal = nominal;
  job.next_at.reset();
  if (nominal) {
    job.next_at = *nominal + jitter_offset(job.def.job_id, *nominal, job.def.spec.trigger->jitter());
    heap_.push(HeapEntry{*job.next_at, job.generation, job.def.job_id, false});
  }
}

void Schedule::remove(const std::string& job_id) { jobs_.erase(job_id); }

void Schedule::clear() {
  jobs_.clear();
  heap_ = {};
  retries_.clear();
}

void Schedule::schedule_retry(const std::string& job_id, TimePoint scheduled_for, int attempt, TimePoint at) {
  retries_.emplace(at, Retry{job_id, scheduled_for, attempt});
}

Duration Schedule::retry_delay(Duration base, int attempt) {
  Duration d = base;
  for (int i = 2; i < attempt && d < kMaxRetryDelay; ++i) d *= 2;
  return std::min(d, Duration{kMaxRetryDelay});
}

Duration Schedule::grace_of(const Job& job) const {
  const auto& g = job.def.spec.options.misfire_grace_time;
  if (!g) return default_grace_;
  return *g ? **g : Duration::max();
}

std::vector<DueFire> Schedule::take_due(TimePoint now) {
  std::vector<DueFire> due;
  while (!retries_.empty() && retries_.begin()->first <= now) {
    auto node = retries_.extract(retries_.begin());
    auto it = jobs_.find(node.mapped().job_id);
    if (it == jobs_.end() || it->second.def.paused) continue;  // deleted or paused meanwhile: no retry
    const Retry& r = node.mapped();
    due.push_back(DueFire{r.job_id, it->second.def.version, r.scheduled_for, node.key(), FireKind::retry, FireDecision::run, r.attempt});
  }
  while (!heap_.empty() && heap_.top().at <= now) {
    HeapEntry top = heap_.top();
    heap_.pop();
    auto it = jobs_.find(top.job_id);
    if (it == jobs_.end() || it->second.generation != top.generation) continue;
    Job& job = it->second;
    const JobDefinition& d = job.def;

    if (top.run_now) {
      if (!job.run_now || *job.run_now != top.at) continue;
      due.push_back(DueFire{d.job_id, d.version, *job.run_now, *job.run_now, FireKind::run_now, FireDecision::run});
      job.run_now.reset();
      continue;
    }
    if (!job.next_at || *job.next_at != top.at) continue;

    // Every nominal instant due by now, oldest first, bounded.
    const Trigger& trigger = *d.spec.trigger;
    const Duration jitter = trigger.jitter();
    std::vector<DueFire> backlog;
    std::optional<TimePoint> t = job.next_nominal;
    while (t) {
      const TimePoint at = *t + jitter_offset(d.job_id, *t, jitter);
      if (at > now || static_cast<int>(backlog.size()) >= kMaxBacklog) break;
      backlog.push_back(DueFire{d.job_id, d.version, *t, at, FireKind::scheduled, FireDecision::run});
      t = trigger.next_fire_time(t, now);
    }
    if (t && static_cast<int>(backlog.size()) >= kMaxBacklog) {
      // A backlog longer than we enumerate (a per-second job after days of downtime): skip ahead to
      // the first fire from now on; the fires in between are not recorded one by one.
      t = trigger.next_fire_time(std::nullopt, now);
    }
    const Duration grace = grace_of(job);
    for (size_t i = 0; i < backlog.size(); ++i) {
      DueFire& f = backlog[i];
      if (d.spec.options.coalesce && i + 1 < backlog.size()) f.decision = FireDecision::coalesced;
      else if (grace != Duration::max() && now - f.fire_at > grace) f.decision = FireDecision::missed;
      due.push_back(std::move(f));
    }
    set_next(job, t);
  }
  return due;
}

std::optional<TimePoint> Schedule::next_wakeup() {
  std::optional<TimePoint> retry;
  if (!retries_.empty()) retry = retries_.begin()->first;
  // Drop stale entries so the answer is the time of a live fire.
  while (!heap_.empty()) {
    const HeapEntry& top = heap_.top();
    auto it = jobs_.find(top.job_id);
    const bool live = it != jobs_.end() && it->second.generation == top.generation &&
                      (top.run_now ? it->second.run_now == top.at : it->second.next_at == top.at);
    if (live) return retry ? std::min(*retry, top.at) : top.at;
    heap_.pop();
  }
  return retry;
}

std::optional<TimePoint> Schedule::next_fire(const std::string& job_id) const {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second.next_at;
}

std::optional<int64_t> Schedule::version(const std::string& job_id) const {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second.def.version;
}

}  // namespace rowsched::schedule
