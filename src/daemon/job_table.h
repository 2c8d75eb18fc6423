// The jobs the scheduler loop knows: every job_info row it has seen, valid or not, with what it
// needs to claim and run the job's fires (func, args, owner, options) and the state it last wrote
// back. The one place that counts jobs by state (for the log line of a load and the rowsched_jobs
// gauges) and that compares the table's (job_id, version) list with the known rows (resync).
//
// Thread safety: none; the loop's thread only.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/states.h"
#include "base/time.h"

namespace rowsched::daemon {

// A value shared by every job that has an equal one (func, owner and func_args repeat across
// thousands of rows): reads as a const T&.
template <typename T>
class Shared {
 public:
  Shared() : p_(empty()) {}
  explicit Shared(std::shared_ptr<const T> p) : p_(std::move(p)) {}
  operator const T&() const { return *p_; }
  const T& get() const { return *p_; }

 private:
  static const std::shared_ptr<const T>& empty() {
    static const std::shared_ptr<const T> e = std::make_shared<const T>();
    return e;
  }
  std::shared_ptr<const T> p_;
};

// What the loop remembers of one row.
struct KnownJob {
  int64_t version = 0;
  uint64_t version_hash = 0;
  Shared<std::string> func;
  Shared<nlohmann::json> args;
  Shared<std::string> owner;
  std::optional<Duration> timeout;
  int max_instances = 1;
  int retries = 0;
  Duration retry_delay{};
  std::string queue;                  // a worker job's queue; empty for jobs rowsched runs itself
  std::optional<Duration> grace;      // misfire_grace_time (row's or --misfire-grace-time); none: always run
  JobState state = JobState::scheduled;  // as written back: scheduled, paused, finished, invalid
  std::optional<std::string> error;   // why it is invalid
};

class JobTable {
 public:
  using Map = std::unordered_map<std::string, KnownJob>;

  KnownJob* find(const std::string& job_id);
  const KnownJob* find(const std::string& job_id) const;
  // The entry of `job_id`, created empty when new; `.second` is true when it was.
  std::pair<KnownJob*, bool> find_or_add(const std::string& job_id);
  void erase(const std::string& job_id) { jobs_.erase(job_id); }
  void clear() { jobs_.clear(); }
  void reserve(size_t n) { jobs_.reserve(n); }
  size_t size() const { return jobs_.size(); }
  const Map& all() const { return jobs_; }

  // How many known jobs are in each state, indexed by static_cast<size_t>(JobState).
  std::array<int, kAllJobStates.size()> count_by_state() const;
  // The row count and the wrapping sum of version hashes, as store::JobStore::version_fingerprint
  // computes them over the table: equal means nothing changed that the loop has not seen.
  std::pair<int64_t, uint64_t> fingerprint() const;
  // The jobs whose version differs between `table` (job_id, version) and the known rows: changed,
  // added or deleted without the loop seeing it.
  std::vector<std::string> differing(const std::vector<std::pair<std::string, int64_t>>& table) const;

 private:
  Map jobs_;
};

}  // namespace rowsched::daemon
