// The in-memory schedule: every active job with its next fire, a min-heap by fire time and a map by
// job_id. Pure logic with time passed in: it never touches the database or reads the clock, so every
// decision (what is due, what is late beyond its misfire grace, what coalesces) is unit-tested with a
// fake clock.
//
// Thread safety: none; owned by the daemon's scheduler loop.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "trigger/trigger_kwargs.h"

namespace rowsched::schedule {

// One job as the schedule needs it, built from a job_info row.
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

  // Takes every fire due at `now` and advances each job to its next fire. Late fires are decided by
  // the job's misfire_grace_time (missed when later than it) and coalesce (a backlog runs once, for
  // its newest instant, the others reported as coalesced; or each instant on its own), at most
  // kMaxBacklog instants per job; retries due are included.
  std::vector<DueFire> take_due(TimePoint now);

  // When the next fire is due, if any job is scheduled.
  std::optional<TimePoint> next_wakeup();

  // The job's next fire (jittered), or nullopt if unknown or finished.
  std::optional<TimePoint> next_fire(const std::string& job_id) const;
  // The version the schedule holds for a job, if it holds it.
  std::optional<int64_t> version(const std::string& job_id) const;
  size_t size() const { return jobs_.size(); }

  // Most fires one job can produce in one take_due when coalesce is off.
  static constexpr int kMaxBacklog = 1000;

 private:
  struct Job {
    JobDefinition def;
    std::optional<TimePoint> next_nominal;
    std::optional<TimePoint> next_at;  // next_nominal + jitter
    uint64_t generation = 0;           // matches the job's live heap entry
    std::optional<TimePoint> run_now;  // a run_right_now request not yet taken
  };
  struct HeapEntry {
    TimePoint at;
    uint64_t generation;
    std::string job_id;
    bool run_now = false;  // the entry of a run_right_now request, not of the trigger
    bool operator>(const HeapEntry& o) const { return at > o.at; }
  };

  void push(Job& job);
  void set_next(Job& job, std::optional<TimePoint> nominal);
  Duration grace_of(const Job& job) const;  // Duration::max() when unlimited

  Duration default_grace_;
  std::map<std::string, Job, std::less<>> jobs_;
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<>> heap_;
  struct Retry {
    std::string job_id;
    TimePoint scheduled_for;
    int attempt;
  };
  std::multimap<TimePoint, Retry> retries_;
  uint64_t next_generation_ = 1;
};

}  // namespace rowsched::schedule
