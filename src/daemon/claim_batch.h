// The claim of one tick's due fires: one store::ClaimRequest per fire, built from the fire and what
// the loop knows of its job (max_instances, its worker queue and grace, the runs of it this instance
// has not seen end), with the note a missed fire records ("missed: 2.3 s late, misfire_grace_time is
// 1 s"). Afterwards it answers, for each claim won, when its run may start and what its note was.
//
// Pure: no clock (the tick's instant is passed in), no I/O.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/job_table.h"
#include "schedule/schedule.h"
#include "store/job_store.h"

namespace rowsched::daemon {

class ClaimBatch {
 public:
  // `process_started`: a fire due before it is missed "at start-up"; `default_grace_seconds`: the
  // --misfire-grace-time a job without its own grace is missed by.
  ClaimBatch(TimePoint now, TimePoint process_started, double default_grace_seconds);

  // `job`: nullptr when the loop no longer knows the fire's job. `own_running`: runs of the job this
  // instance claimed and has not seen end.
  void add(const schedule::DueFire& fire, const KnownJob* job, int own_running);

  const std::vector<store::ClaimRequest>& requests() const { return requests_; }
  // When the run of claim `c` may start: its fire's jittered instant (nullopt if not in the batch).
  std::optional<TimePoint> start_at(const store::Claim& c) const;
  // The note of claim `c` when its request was a missed fire.
  std::optional<std::string> missed_note(const store::Claim& c) const;

 private:
  TimePoint now_, process_started_;
  double default_grace_seconds_;
  std::vector<store::ClaimRequest> requests_;
  std::map<std::tuple<std::string, TimePoint, int>, TimePoint> start_at_;  // by (job, scheduled_for, attempt)
  std::map<std::pair<std::string, TimePoint>, std::string> missed_notes_;  // by (job, scheduled_for)
};

}  // namespace rowsched::daemon
