#include "daemon/row_applier.h"

#include <malloc.h>

#include <array>
#include <set>
#include <string_view>

#include <spdlog/spdlog.h>

namespace rowsched::daemon {

using std::chrono::milliseconds;

RowApplier::RowApplier(JobTable& jobs, schedule::Schedule& schedule, RowParser& parser, BookkeepingQueue& writer, Metrics& metrics,
                       std::function<TimePoint()> clock)
    : jobs_(jobs), schedule_(schedule), parser_(parser), writer_(writer), metrics_(metrics), clock_(std::move(clock)) {}

void RowApplier::full_reload(LoopStore& store, const std::function<bool()>& interrupted) {
  const TimePoint started = clock_();
  schedule_.clear();
  jobs_.clear();
  // A write-back of the previous connection's state still queued may differ from the row: then
  // every row is written as before.
  const bool skip_unchanged = writer_.queued() == 0;
  size_t n = 0;
  {
    const auto batch = parser_.begin_batch(true);
    size_t seen = 0;
    n = store.load_all(
        [&](store::JobRow&& row) {
          apply(row, skip_unchanged);
          // A large table takes seconds to load: a signal must not wait for the end.
          if (++seen % 4096 == 0 && interrupted()) throw ReloadInterrupted{};
        },
        [&](size_t estimate) {
          jobs_.reserve(estimate);
          schedule_.reserve(estimate);
        });
  }
  metrics_.reloads.inc();
  publish_counts();
  const auto by_state = jobs_.count_by_state();
  const auto count = [&](JobState s) { return by_state[static_cast<size_t>(s)]; };
  spdlog::info("loaded {} jobs in {} ms: {} scheduled, {} paused, {} finished, {} invalid", n, (clock_() - started) / milliseconds(1),
               count(JobState::scheduled), count(JobState::paused), count(JobState::finished), count(JobState::invalid));
  for (const auto& [id, k] : jobs_.all())
    if (k.state == JobState::invalid) spdlog::warn("job {} is invalid: {}", id, k.error.value_or(""));
  // The load's transient memory (rows, parse trees, the cursor's chunks) goes back to the system.
  malloc_trim(0);
}

void RowApplier::reload(LoopStore& store, const std::vector<std::string>& job_ids) {
  if (job_ids.empty()) return;
  const auto rows = store.load(job_ids);
  const bool skip_unchanged = writer_.queued() == 0;
  // Many rows at once (a bulk INSERT or UPDATE): share parses between them as a full load does.
  const auto batch = parser_.begin_batch(rows.size() >= 100);
  // A bulk statement's rows get one line per call (up to 1,000 rows) rather than one each: an UPDATE of
  // every job logged 50,000 lines. Invalid rows are always named.
  const bool log_each = rows.size() < kSummarizeFrom && spdlog::should_log(spdlog::level::info);
  size_t added = 0;
  std::array<size_t, kAllJobStates.size()> by_state{};
  std::set<std::string_view> present;
  for (const auto& row : rows) {
    present.insert(row.job_id);
    const KnownJob* old = jobs_.find(row.job_id);
    const bool is_new = old == nullptr;
    if (is_new || old->version != row.version)  // a change, not a repeated hint
      metrics_.change_pickup_seconds.observe(std::max(0.0, std::chrono::duration<double>(clock_() - row.update_time).count()));
    // A row at a newer version than the loop knew (a user's change) needs no write-back of what it
    // already says even while write-backs are queued: those carry the older version, and the
    // bookkeeping applies a write-back only at the row's own version. An UPDATE of every job's
    // description wrote all 50,000 rows back while fires kept the writer's queue from emptying.
    apply(row, skip_unchanged || (!is_new && old->version != row.version));
    const KnownJob& k = *jobs_.find(row.job_id);
    const char* what = is_new ? "added" : "changed";
    added += is_new;
    ++by_state[static_cast<size_t>(k.state)];
    if (k.state == JobState::invalid)
      spdlog::warn("job {} {} (version {}): invalid: {}", row.job_id, what, row.version, k.error.value_or(""));
    else if (log_each)
      spdlog::info("job {} {} (version {}): {}{}", row.job_id, what, row.version, to_sql(k.state),
                   schedule_.next_fire(row.job_id) ? ", next run " + format_rfc3339(*schedule_.next_fire(row.job_id)) : "");
  }
  size_t deleted = 0;
  for (const auto& id : job_ids) {
    if (present.count(id) == 0 && jobs_.find(id)) {
      schedule_.remove(id);
      jobs_.erase(id);
      ++deleted;
      if (log_each) spdlog::info("job {} deleted: unscheduled", id);
    }
  }
  if (!log_each && spdlog::should_log(spdlog::level::info))
    spdlog::info("re-read {} job_info rows: {} added, {} changed ({} scheduled, {} paused, {} finished, {} invalid), {} deleted",
                 job_ids.size(), added, rows.size() - added, by_state[static_cast<size_t>(JobState::scheduled)],
                 by_state[static_cast<size_t>(JobState::paused)], by_state[static_cast<size_t>(JobState::finished)],
                 by_state[static_cast<size_t>(JobState::invalid)], deleted);
  publish_counts();
}

void RowApplier::publish_counts() {
  const auto by_state = jobs_.count_by_state();
  // The loop never holds a pending job (it writes every row it sees back as one of the other four),
  // and the metrics have no pending series.
  for (JobState s : kAllJobStates)
    if (s != JobState::pending) metrics_.jobs(to_sql(s)).set(by_state[static_cast<size_t>(s)]);
}

void RowApplier::apply(const store::JobRow& row, bool skip_unchanged) {
  // The schedule holds only jobs the table holds: only a job seen before can have an entry to drop.
  if (jobs_.find(row.job_id)) schedule_.remove(row.job_id);
  ParsedRow parsed;
  try {
    parsed = parser_.parse(row);
  } catch (const std::exception& e) {
    parsed = {};
    parsed.job.version = row.version;
    parsed.job.version_hash = row.version_hash;
    parsed.job.state = JobState::invalid;
    parsed.job.error = std::string("rowsched could not apply this row: ") + e.what();
    skip_unchanged = false;
  }
  KnownJob& k = parsed.job;
  std::optional<TimePoint> next;
  if (parsed.definition) {
    next = schedule_.upsert(std::move(*parsed.definition));
    k.state = row.is_paused ? JobState::paused : (next ? JobState::scheduled : JobState::finished);
  }
  const bool scheduled = k.state == JobState::scheduled;
  // The row already holds what write_back would write (a restart with nothing changed): the UPDATE
  // would skip it too, so it is not queued.
  const bool unchanged = skip_unchanged && row.state == to_sql(k.state) && row.is_running == scheduled &&
                         row.next_run_time == (scheduled ? next : std::nullopt) &&
                         (k.state != JobState::invalid || row.last_error == k.error);
  KnownJob& stored = *jobs_.find_or_add(row.job_id).first = std::move(k);
  if (!unchanged) write_back(row.job_id, stored, scheduled ? next : std::nullopt);
}

void RowApplier::write_back(const std::string& job_id, const KnownJob& k, std::optional<TimePoint> next) {
  store::JobStateUpdate u;
  u.job_id = job_id;
  u.version = k.version;
  u.state = to_sql(k.state);
  u.last_error = k.error;
  u.next_run_time = next;
  u.is_running = k.state == JobState::scheduled;
  writer_.update(std::move(u));
}

}  // namespace rowsched::daemon
