// The jobs list of the web page, sorted and filtered in memory: sorting 100,000 rows of job_info by
// next_run_time is a sequential scan and a sort in PostgreSQL (tens to hundreds of milliseconds on a
// busy machine) — an index on next_run_time would make it cheap, but would also cost every fire's
// write-back its HOT update. So the web server keeps a narrow snapshot of every job (id, state, next
// run, the text a filter searches), answers a page from it in a few milliseconds, and then reads
// that page's rows fresh by id.
//
// JobIndex is one immutable snapshot. JobIndexCache hands out the current one and decides when a
// new one is read: younger than 2 s it is used as is; up to 30 s old it is used while a new one is
// read in the background; older (or none yet), the request reads a new one itself. So a page that
// refreshes itself never waits for the full read, and one opened after a long pause is not stale.
//
// Thread safety: JobIndex is immutable; JobIndexCache is safe to use from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/web_reader.h"

namespace rowsched::daemon {

struct JobFilter {
  std::optional<std::string> state;  // one of pending, scheduled, paused, finished, invalid
  std::string text;                  // a substring of job_id, owner, func or description, ASCII letters in any case
  int limit = 50;
  int64_t offset = 0;
};

// The order of the jobs list, for any row with next_run_time and job_id (a JobIndexRow, a WebJob): by
// next run, jobs without one last, then by job_id.
template <typename Row>
bool listed_before(const Row& a, const Row& b) {
  if (a.next_run_time.has_value() != b.next_run_time.has_value()) return a.next_run_time.has_value();
  if (a.next_run_time && *a.next_run_time != *b.next_run_time) return *a.next_run_time < *b.next_run_time;
  return a.job_id < b.job_id;
}

class JobIndex {
 public:
  JobIndex(std::vector<store::JobIndexRow> rows, TimePoint taken_at);

  struct Page {
    int64_t total = 0;                 // jobs matching the filter
    std::vector<std::string> job_ids;  // [offset, offset + limit) of them, by next run (none last), then job_id
  };
  Page page(const JobFilter& filter) const;
  TimePoint taken_at() const { return taken_at_; }

 private:
  std::vector<store::JobIndexRow> rows_;  // sorted as pages are; text lower-cased
  TimePoint taken_at_;
};

class JobIndexCache {
 public:
  explicit JobIndexCache(std::function<TimePoint()> clock);

  // The snapshot to answer from, reading a new one with `reader` when there is none or it is too old.
  std::shared_ptr<const JobIndex> get(store::WebReader& reader);

  // For the background thread: blocks until a new snapshot is wanted (returns true) or stop() was
  // called (returns false).
  bool wait_until_wanted();
  // Reads a new snapshot with `reader` and makes it current.
  void refresh(store::WebReader& reader);
  void stop();

 private:
  std::function<TimePoint()> clock_;
  std::mutex mutex_;
  std::condition_variable wanted_changed_;
  std::shared_ptr<const JobIndex> current_;
  bool wanted_ = false;
  bool stopping_ = false;
};

}  // namespace rowsched::daemon
