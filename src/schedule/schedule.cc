// Heap entries are never erased in place: replacing or removing a job bumps its slot's generation and
// the stale entry is dropped when it reaches the top (lazy deletion keeps every operation O(log n)).
#include "schedule/schedule.h"

#include "trigger/jitter.h"

namespace rowsched::schedule {

uint32_t Schedule::find(std::string_view job_id) const {
  if (index_.empty()) return kNoSlot;
  for (size_t b = bucket_of(job_id);; b = (b + 1) & (index_.size() - 1)) {
    const uint32_t v = index_[b];
    if (v == 0) return kNoSlot;
    if (slots_[v - 1].job_id == job_id) return v - 1;
  }
}

void Schedule::index_insert(uint32_t slot) {
  if ((size_ + 1) * 4 > index_.size() * 3) index_grow();
  size_t b = bucket_of(slots_[slot].job_id);
  while (index_[b] != 0) b = (b + 1) & (index_.size() - 1);
  index_[b] = slot + 1;
  ++size_;
}

void Schedule::reserve(size_t n) {
  while (index_.size() * 3 < n * 4) index_grow();
}

void Schedule::index_grow() {
  std::vector<uint32_t> old = std::move(index_);
  index_.assign(std::max<size_t>(64, old.size() * 2), 0);
  for (const uint32_t v : old) {
    if (v == 0) continue;
    size_t b = bucket_of(slots_[v - 1].job_id);
    while (index_[b] != 0) b = (b + 1) & (index_.size() - 1);
    index_[b] = v;
  }
}

void Schedule::index_erase(uint32_t slot) {
  const size_t mask = index_.size() - 1;
  size_t hole = bucket_of(slots_[slot].job_id);
  while (index_[hole] != slot + 1) hole = (hole + 1) & mask;
  // Backward-shift deletion: move later entries of the probe run into the hole when their home
  // bucket allows, so lookups never need tombstones.
  for (size_t b = (hole + 1) & mask; index_[b] != 0; b = (b + 1) & mask) {
    const size_t home = bucket_of(slots_[index_[b] - 1].job_id);
    if (((b - home) & mask) >= ((b - hole) & mask)) {
      index_[hole] = index_[b];
      hole = b;
    }
  }
  index_[hole] = 0;
  --size_;
}

void Schedule::push(uint32_t slot, TimePoint at, bool run_now) {
  HeapEntry e{at, slot, 0, 0};
  e.generation = slots_[slot].generation;
  e.run_now = run_now ? 1 : 0;
  heap_.push(e);
}

bool Schedule::live(const HeapEntry& e) const {
  const Job& job = slots_[e.slot];
  return job.live && job.generation == e.generation && (e.run_now ? job.run_now : job.next_at) == e.at;
}

std::optional<TimePoint> Schedule::upsert(JobDefinition def) {
  uint32_t slot = find(def.job_id);
  if (slot == kNoSlot) {
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    slots_[slot].job_id = std::move(def.job_id);
    slots_[slot].live = true;
    index_insert(slot);
  }
  Job& job = slots_[slot];
  job.version = def.version;
  job.trigger = std::move(def.spec.trigger);
  const auto& g = def.spec.options.misfire_grace_time;
  job.grace = !g ? default_grace_ : *g ? **g : Duration::max();
  job.coalesce = def.spec.options.coalesce;
  job.paused = def.paused;
  job.generation = (job.generation + 1) & 0x7fffffffu;
  std::optional<TimePoint> nominal;
  if (def.paused) {
    nominal = std::nullopt;
  } else if (def.last_fire && *def.last_fire >= def.defined_at) {
    // Fired under this definition already (before a restart, or by another instance): continue
    // after that fire; a backlog since then is handled by take_due's misfire rules.
    nominal = job.trigger->next_fire_time(def.last_fire, std::max(*def.last_fire, def.defined_at));
  } else if (def.spec.options.next_run_time) {
    nominal = def.spec.options.next_run_time;
  } else {
    nominal = job.trigger->next_fire_time(std::nullopt, def.defined_at);
  }
  set_next(slot, nominal);
  // A run_right_now request that was already claimed is dropped again by the claim's conflict.
  job.run_now = def.run_now_at.value_or(kNone);
  if (def.run_now_at) push(slot, *def.run_now_at, true);
  return opt(job.next_at);
}

void Schedule::set_next(uint32_t slot, std::optional<TimePoint> nominal) {
  Job& job = slots_[slot];
  job.next_nominal = nominal.value_or(kNone);
  job.next_at = kNone;
  if (nominal) {
    job.next_at = *nominal + jitter_offset(job.job_id, *nominal, job.trigger->jitter());
    push(slot, job.next_at, false);
  }
}

void Schedule::remove(const std::string& job_id) {
  const uint32_t slot = find(job_id);
  if (slot == kNoSlot) return;
  index_erase(slot);
  Job& job = slots_[slot];
  const uint32_t generation = job.generation;
  job = Job{};
  job.generation = (generation + 1) & 0x7fffffffu;  // its heap entries are stale
  free_slots_.push_back(slot);
}

void Schedule::clear() {
  slots_.clear();
  free_slots_.clear();
  index_.clear();
  size_ = 0;
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

std::vector<DueFire> Schedule::take_due(TimePoint now, Duration ahead) {
  std::vector<DueFire> due;
  const TimePoint horizon = now + ahead;
  while (!retries_.empty() && retries_.begin()->first <= horizon) {
    auto node = retries_.extract(retries_.begin());
    const uint32_t slot = find(node.mapped().job_id);
    if (slot == kNoSlot || slots_[slot].paused) continue;  // deleted or paused meanwhile: no retry
    const Retry& r = node.mapped();
    due.push_back(DueFire{r.job_id, slots_[slot].version, r.scheduled_for, node.key(), FireKind::retry, FireDecision::run, r.attempt});
  }
  while (!heap_.empty() && heap_.top().at <= horizon) {
    const HeapEntry top = heap_.top();
    heap_.pop();
    if (!live(top)) continue;
    Job& job = slots_[top.slot];

    if (top.run_now) {
      due.push_back(DueFire{job.job_id, job.version, job.run_now, job.run_now, FireKind::run_now, FireDecision::run});
      job.run_now = kNone;
      continue;
    }

    // Every nominal instant due by now, oldest first, bounded.
    const Trigger& trigger = *job.trigger;
    const Duration jitter = trigger.jitter();
    std::vector<DueFire> backlog;
    std::optional<TimePoint> t = opt(job.next_nominal);
    while (t) {
      const TimePoint at = *t + jitter_offset(job.job_id, *t, jitter);
      if (at > horizon || static_cast<int>(backlog.size()) >= kMaxBacklog) break;
      backlog.push_back(DueFire{job.job_id, job.version, *t, at, FireKind::scheduled, FireDecision::run});
      t = trigger.next_fire_time(t, horizon);
    }
    if (t && static_cast<int>(backlog.size()) >= kMaxBacklog) {
      // A backlog longer than we enumerate (a per-second job after days of downtime): skip ahead to
      // the first fire from now on; the fires in between are not recorded one by one.
      t = trigger.next_fire_time(std::nullopt, horizon);
    }
    for (size_t i = 0; i < backlog.size(); ++i) {
      DueFire& f = backlog[i];
      if (job.coalesce && i + 1 < backlog.size()) f.decision = FireDecision::coalesced;
      else if (job.grace != Duration::max() && now - f.fire_at > job.grace) f.decision = FireDecision::missed;
      due.push_back(std::move(f));
    }
    set_next(top.slot, t);
  }
  return due;
}

std::optional<TimePoint> Schedule::next_wakeup() {
  std::optional<TimePoint> retry;
  if (!retries_.empty()) retry = retries_.begin()->first;
  // Drop stale entries so the answer is the time of a live fire.
  while (!heap_.empty()) {
    const HeapEntry& top = heap_.top();
    if (live(top)) return retry ? std::min(*retry, top.at) : top.at;
    heap_.pop();
  }
  return retry;
}

template <typename F>
void Schedule::each_due(TimePoint t, F f) const {
  for (auto it = retries_.begin(); it != retries_.end() && it->first <= t; ++it)
    if (!f(it->second.job_id)) return;
  // In a min-heap every entry due by `t` has only such ancestors: walk down from the root.
  const auto& v = heap_.entries();
  std::vector<size_t> todo;
  if (!v.empty() && v[0].at <= t) todo.push_back(0);
  while (!todo.empty()) {
    const size_t i = todo.back();
    todo.pop_back();
    if (live(v[i]) && !f(slots_[v[i].slot].job_id)) return;
    for (const size_t child : {2 * i + 1, 2 * i + 2})
      if (child < v.size() && v[child].at <= t) todo.push_back(child);
  }
}

size_t Schedule::count_due(TimePoint t, size_t limit) const {
  size_t n = 0;
  if (limit > 0) each_due(t, [&](const std::string&) { return ++n < limit; });
  return n;
}

std::vector<std::string> Schedule::jobs_due(TimePoint t, size_t limit) const {
  std::vector<std::string> ids;
  if (limit > 0)
    each_due(t, [&](const std::string& id) {
      ids.push_back(id);
      return ids.size() < limit;
    });
  return ids;
}

std::optional<TimePoint> Schedule::next_fire(const std::string& job_id) const {
  const uint32_t slot = find(job_id);
  if (slot == kNoSlot) return std::nullopt;
  return opt(slots_[slot].next_at);
}

std::optional<int64_t> Schedule::version(const std::string& job_id) const {
  const uint32_t slot = find(job_id);
  if (slot == kNoSlot) return std::nullopt;
  return slots_[slot].version;
}

}  // namespace rowsched::schedule
