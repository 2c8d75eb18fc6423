// The in-memory schedule: every active job with its next fire, a min-heap by fire time and a map by
// job_id. Pure logic with time passed in: it never touches the database or reads the clock, so every
// decision (what is due, what is late beyond its misfire grace, what coalesces) is unit-tested with a
// fake clock.
//
// Thread safety: none; owned by the daemon's scheduler loop.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include "trigger/trigger_kwargs.h"

namespace rowsched::schedule {

// One job as the schedule needs it, built from a job_info row. upsert() keeps only what later
// decisions need (about 100 bytes a job, the trigger shared), not the definition itself.
struct JobDefinition {
  std::string job_id;
  int64_t version = 0;
  JobSpec spec;
  // When the job last became schedulable (job_info.active_time: its trigger_kwargs were set, or it
  // was resumed): fires claimed since then are continued from; a job with none starts from here.
  TimePoint defined_at{};
  // The nominal instant of the newest fire already claimed in job_run, if any.
  std::optional<TimePoint> last_fire;
  // Paused jobs keep no scheduled fires (a run_right_now request still runs once).
  bool paused = false;
  // run_right_now was set: one immediate run, identified by this instant (job_info.run_right_now_at,
  // stamped when the flag was set), so every instance claims the same fire.
  std::optional<TimePoint> run_now_at;
};

enum class FireKind { scheduled, run_now, retry };
// run: start it. missed: later than misfire_grace_time, recorded as `missed`. coalesced: one of a
// backlog that coalesce folded into its newest fire, recorded as `skipped`.
enum class FireDecision { run, missed, coalesced };

// A fire that is due: claim it in job_run, then run it or record why it did not run.
struct DueFire {
  std::string job_id;
  int64_t version = 0;
  TimePoint scheduled_for;  // the nominal instant: the fire's identity in job_run
  TimePoint fire_at;        // scheduled_for plus jitter: when it should start
  FireKind kind = FireKind::scheduled;
  FireDecision decision = FireDecision::run;
  int attempt = 1;          // > 1 for retries of a failed run
};

class Schedule {
 public:
  // `default_misfire_grace` applies to jobs whose trigger_kwargs do not set misfire_grace_time.
  explicit Schedule(Duration default_misfire_grace) : default_grace_(default_misfire_grace) {}

  // Adds a job or replaces the one with the same job_id. Returns its next fire (jittered), or
  // nullopt when the trigger will never fire again (the row is then `finished`).
  std::optional<TimePoint> upsert(JobDefinition def);

  // Schedules attempt `attempt` of the fire (job_id, scheduled_for) at `at`: a retry of a failed run.
  // Dropped if the job is removed before then.
  void schedule_retry(const std::string& job_id, TimePoint scheduled_for, int attempt, TimePoint at);

  // The delay before attempt `attempt` (>= 2): retry_delay doubled per earlier retry, at most
  // kMaxRetryDelay.
  static Duration retry_delay(Duration base, int attempt);
  static constexpr Duration kMaxRetryDelay = std::chrono::hours{1};

  // Removes a job (deleted, paused or invalid). Unknown ids are ignored.
  void remove(const std::string& job_id);
  void clear();
  // Room for `n` jobs without regrowing (a hint before a full load).
  void reserve(size_t n);

  // Takes every fire due at `now` and advances each job to its next fire. Late fires are decided by
  // the job's misfire_grace_time (missed when later than it) and coalesce (a backlog runs once, for
  // its newest instant, the others reported as coalesced; or each instant on its own), at most
  // kMaxBacklog instants per job; retries due are included. With `ahead`, fires due up to `now +
  // ahead` are taken too (to be claimed before their instant and started at it); whether a fire is
  // late is still judged at `now`.
  std::vector<DueFire> take_due(TimePoint now, Duration ahead = Duration::zero());

  // When the next fire is due, if any job is scheduled.
  std::optional<TimePoint> next_wakeup();
  // How many jobs and retries have a fire due at or before `t` (counting stops at `limit`): the size
  // of the next claim when `t` is the next wake-up.
  size_t count_due(TimePoint t, size_t limit) const;
  // The job_ids of the fires count_due counts, up to `limit` (a job with a retry and a fire due may
  // come twice), in no particular order.
  std::vector<std::string> jobs_due(TimePoint t, size_t limit) const;

  // The job's next fire (jittered), or nullopt if unknown or finished.
  std::optional<TimePoint> next_fire(const std::string& job_id) const;
  // The version the schedule holds for a job, if it holds it.
  std::optional<int64_t> version(const std::string& job_id) const;
  size_t size() const { return size_; }

  // Most fires one job can produce in one take_due when coalesce is off.
  static constexpr int kMaxBacklog = 1000;

 private:
  static constexpr TimePoint kNone = TimePoint::min();
  static std::optional<TimePoint> opt(TimePoint t) { return t == kNone ? std::nullopt : std::optional<TimePoint>(t); }
  // A job in its slot: only what take_due needs after upsert (the definition's times and options are
  // resolved into these). Slots are reused after remove(); `generation` tells a slot's live heap
  // entries from those of an earlier occupant or definition.
  struct Job {
    std::string job_id;
    int64_t version = 0;
    std::shared_ptr<const Trigger> trigger;  // shared by jobs with the same trigger_kwargs
    Duration grace{};                        // Duration::max() when unlimited
    TimePoint next_nominal = kNone;
    TimePoint next_at = kNone;  // next_nominal + jitter
    TimePoint run_now = kNone;  // a run_right_now request not yet taken
    uint32_t generation = 0;
    bool coalesce = true;
    bool paused = false;
    bool live = false;
  };

  // 16 bytes: the instant, the job's slot and the slot's generation when pushed.
  struct HeapEntry {
    TimePoint at;
    uint32_t slot;
    uint32_t generation : 31;
    uint32_t run_now : 1;  // the entry of a run_right_now request, not of the trigger
    bool operator>(const HeapEntry& o) const { return at > o.at; }
  };

  // job_id -> slot: open addressing with linear probing over slot numbers (+1; 0 is empty); the key
  // is the slot's own job_id, so the id is stored once.
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  uint32_t find(std::string_view job_id) const;
  void index_insert(uint32_t slot);
  void index_erase(uint32_t slot);
  void index_grow();
  size_t bucket_of(std::string_view job_id) const { return std::hash<std::string_view>{}(job_id) & (index_.size() - 1); }

  void push(uint32_t slot, TimePoint at, bool run_now);
  void set_next(uint32_t slot, std::optional<TimePoint> nominal);
  bool live(const HeapEntry& e) const;
  // Calls `f(job_id)` for each fire due at or before `t` (retries first), until it returns false.
  template <typename F>
  void each_due(TimePoint t, F f) const;

  Duration default_grace_;
  std::deque<Job> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> index_;
  size_t size_ = 0;
  // A min-heap whose entries can also be walked (count_due).
  struct Heap : std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<>> {
    const std::vector<HeapEntry>& entries() const { return c; }
  };
  Heap heap_;
  struct Retry {
    std::string job_id;
    TimePoint scheduled_for;
    int attempt;
  };
  std::multimap<TimePoint, Retry> retries_;
};

}  // namespace rowsched::schedule
