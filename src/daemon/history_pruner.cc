#include "daemon/history_pruner.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "daemon/backoff.h"
#include "store/dsn.h"
#include "store/fault.h"
#include "store/pg_error.h"

namespace rowsched::daemon {

std::vector<std::string> HistoryCounts::counted(const store::JobStore::NewRuns& rows) {
  // The run_ids started over (TRUNCATE ... RESTART IDENTITY): the statement read every row.
  if (known_ && rows.newest < newest_) forget();
  const auto add = [&](const std::string& job_id, int64_t n) {
    if ((rows_[job_id] += n) > per_job_) over_.insert(job_id);
  };
  for (const auto& [job_id, n] : rows.counts) add(job_id, n);
  std::unordered_set<int64_t> seen;
  for (const auto& [job_id, run_id] : rows.single) {
    if (!seen_.count(run_id)) add(job_id, 1);
    if (run_id > rows.newest - kMargin) seen.insert(run_id);
  }
  seen_ = std::move(seen);
  known_ = true;
  newest_ = rows.newest;
  return {over_.begin(), over_.end()};
}

void HistoryCounts::ranked(const std::vector<std::pair<std::string, int64_t>>& left) {
  for (const auto& [job_id, n] : left) {
    rows_[job_id] = n;
    // Runs in flight count: once they end, the next pass ranks them in among the finished.
    if (n <= per_job_) over_.erase(job_id);
  }
}

void HistoryCounts::forget() {
  known_ = false;
  newest_ = 0;
  rows_.clear();
  over_.clear();
  seen_.clear();
}

HistoryPruner::HistoryPruner(std::string dsn, std::string schema, std::string instance, Duration max_age, int per_job,
                             Duration interval, Metrics& metrics)
    : dsn_(dsn),
      schema_(schema),
      max_age_(max_age),
      per_job_(per_job),
      interval_(interval),
      metrics_(metrics),
      counts_(per_job),
      store_(std::move(dsn), std::move(schema), std::move(instance), "pruner"),
      thread_([this] { work(); }) {}

HistoryPruner::~HistoryPruner() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    stop_asked_ = true;
    if (!connecting_) store_.cancel();  // a pass under way ends now, rolled back
  }
  cv_.notify_all();
  thread_.join();
}

Duration HistoryPruner::next_pass(int64_t deleted, int64_t& batch, Duration interval) {
  // A pass that deleted all it was allowed to left rows behind: the next one comes sooner and larger,
  // so that pruning keeps up with any insert rate; once it does, batches shrink back.
  const bool behind = deleted >= batch;
  if (behind) batch = std::min(batch * 2, kMaxBatch);
  else if (deleted < batch / 4) batch = std::max(batch / 2, kMinBatch);
  return behind ? std::min(kBehindInterval, interval) : interval;
}

int64_t HistoryPruner::pass() {
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> ranking;
  const auto r = store_.prune_history(max_age_, per_job_, static_cast<int>(batch_), counts_.new_range(),
                                      [&](const store::JobStore::NewRuns& rows) {
                                        // A stop asked between two statements: do not start the next.
                                        if (stop_asked_) throw std::runtime_error("stopping");
                                        ranking = counts_.counted(rows);
                                        return ranking;
                                      });
  if (r.skipped) return 0;
  const bool behind = r.deleted >= batch_;
  // A pass cut short by its batch may have left rows beyond a job's limit: those jobs stay counted high.
  if (!behind) counts_.ranked(r.left);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.registry.counter("rowsched_history_pruned_rows_total", "job_run rows deleted by history pruning")
      .inc(static_cast<double>(r.deleted));
  metrics_.registry.gauge("rowsched_history_prune_behind", "1 when the last pruning pass deleted a full batch: more rows wait")
      .set(behind ? 1.0 : 0.0);
  metrics_.registry.gauge("rowsched_history_prune_seconds", "How long the last pruning pass took").set(took);
  metrics_.registry.gauge("rowsched_history_prune_ranked_jobs", "Jobs the last pruning pass ranked against --history-per-job")
      .set(static_cast<double>(ranking.size()));
  if (r.deleted > 0)
    spdlog::info("pruned {} old job_run rows in {} ms ({} jobs ranked){}", r.deleted, static_cast<int64_t>(took * 1000),
                 ranking.size(), behind ? "; more wait" : "");
  return r.deleted;
}

void HistoryPruner::work() {
  Backoff backoff;
  bool failed_last = false;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    Duration wait{};
    lock.unlock();
    try {
      if (!store_.connected()) {
        // Without the lock, so that a stop does not wait for it; the stop leaves the connection
        // alone meanwhile, and finds the thread stopping once it is made.
        {
          std::lock_guard guard(mu_);
          if (stopping_) break;
          connecting_ = true;
        }
        struct Connected {
          HistoryPruner& p;
          ~Connected() {
            std::lock_guard guard(p.mu_);
            p.connecting_ = false;
          }
        } connected{*this};
        store_.connect(/*listen=*/false);
      }
      if (stop_asked_) break;
      const int64_t deleted = pass();
      wait = next_pass(deleted, batch_, interval_);
      metrics_.registry.gauge("rowsched_history_prune_batch_rows", "Rows the next pruning pass may delete")
          .set(static_cast<double>(batch_));
      if (failed_last) spdlog::info("history pruning works again after {} failed passes", backoff.failures());
      failed_last = false;
      backoff.succeeded(std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()));
    } catch (const std::exception& e) {
      std::lock_guard stopping(mu_);
      if (stopping_) break;  // the cancel at shutdown
      const std::string what = store_.connected() ? "history pruning failed: " + store::describe_fault(e, {dsn_, schema_, store_.role()})
                                                  : "history pruning cannot connect to " + store::redact_dsn(dsn_) + ": " +
                                                        store::describe_fault(e, {dsn_, schema_, ""});
      const auto step = backoff.failed(what, std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()));
      spdlog::warn("{}", step.log_line);
      failed_last = true;
      store_.disconnect();
      wait = step.wait;
    }
    lock.lock();
    cv_.wait_for(lock, wait, [&] { return stopping_; });
  }
}

}  // namespace rowsched::daemon
