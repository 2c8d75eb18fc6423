// In-memory stand-ins for the parts a SchedulerLoop runs on (loop_store.h, loop_runs.h,
// bookkeeping_queue.h, event_waiter.h), sharing one fake clock: the loop's unit tests drive the
// real loop with them, with no database, no threads and no sleeps. Waiting advances the clock.
#pragma once

#include <map>
#include <set>
#include <tuple>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/scheduler_loop.h"

namespace rowsched::daemon::testing {

struct FakeClock {
  TimePoint now = TimePoint{} + std::chrono::hours(24 * 365 * 56);  // 2026
  TimePoint operator()() const { return now; }
};

// job_info as a map, and what the loop asked of it.
class FakeStore final : public LoopStore {
 public:
  explicit FakeStore(FakeClock& clock) : clock_(clock) {}

  int refuse_connects = 0;             // the next this many connects fail
  int lose_on_claim = 0;               // the next this many claims find the connection lost
  std::vector<TimePoint> connect_attempts;
  std::map<std::string, store::JobRow> table;
  std::vector<store::Notification> pending;  // delivered by the next drain
  std::vector<store::ClaimRequest> claimed;
  std::vector<TimePoint> claimed_at;  // the instant of each claim statement
  std::vector<store::ClaimRequest> refused;  // fires sent to a claim for a job no longer in `table`
  std::vector<store::ClaimRequest> changed;  // fires sent under another version than the table's
  std::vector<TimePoint> claimed_fire_at;  // the instant of the claim statement that won each of `claimed`
  Duration claim_takes_per_fire{};    // how far a claim moves the fake clock, per fire
  bool cleared_is_running = false, deregistered = false;

  void connect() override {
    connect_attempts.push_back(clock_.now);
    if (refuse_connects > 0) {
      --refuse_connects;
      throw std::runtime_error("connection refused");
    }
    connected_ = true;
  }
  void disconnect() noexcept override { connected_ = false; }
  bool connected() const override { return connected_; }
  int socket() const override { return -1; }
  std::string role() const override { return "tester"; }
  std::optional<std::vector<std::string>> applied_migrations() override { return std::nullopt; }

  std::optional<TimePoint> delivered_at;  // when the loop last drained notifications that were pending
  std::vector<store::Notification> drain_notifications() override {
    if (!pending.empty()) delivered_at = clock_.now;
    return std::exchange(pending, {});
  }
  size_t load_all(const std::function<void(store::JobRow&&)>& sink, const std::function<void(size_t)>&) override {
    clock_.now += load_takes_per_row * static_cast<int64_t>(table.size());
    for (auto row : table) sink(std::move(row.second));
    return table.size();
  }
  Duration load_takes_per_row{};  // how far reading rows (all of them, or by id) moves the fake clock, per row
  std::vector<store::JobRow> load(const std::vector<std::string>& job_ids) override {
    clock_.now += load_takes_per_row * static_cast<int64_t>(job_ids.size());
    std::vector<store::JobRow> rows;
    for (const auto& id : job_ids)
      if (auto it = table.find(id); it != table.end()) rows.push_back(it->second);
    return rows;
  }
  Duration fingerprint_takes{};  // how far a resync's fingerprint moves the fake clock
  size_t fingerprints = 0;
  std::pair<int64_t, uint64_t> version_fingerprint() override {
    ++fingerprints;
    clock_.now += fingerprint_takes;
    uint64_t sum = 0;
    for (const auto& [_, r] : table) sum += r.version_hash;
    return {static_cast<int64_t>(table.size()), sum};
  }
  Duration versions_take{};  // how far reading every (job_id, version) moves the fake clock
  std::vector<std::pair<std::string, int64_t>> versions() override {
    clock_.now += versions_take;
    std::vector<std::pair<std::string, int64_t>> out;
    for (const auto& [id, r] : table) out.emplace_back(id, r.version);
    return out;
  }

  std::vector<store::Claim> claim(const std::vector<store::ClaimRequest>& fires) override {
    std::vector<store::Claim> won;
    if (lose_on_claim > 0) {
      --lose_on_claim;
      connected_ = false;
      throw store::ConnectionLost("server closed the connection unexpectedly");
    }
    claimed_at.push_back(clock_.now);
    clock_.now += claim_takes_per_fire * static_cast<int64_t>(fires.size());
    for (const auto& f : fires) {
      // As the claim's join with job_info: a fire of a job no longer in the table is not claimed.
      if (!table.count(f.job_id)) {
        refused.push_back(f);
        continue;
      }
      // ... and one asked under another version of the row than the table's comes back as changed.
      if (f.version && *f.version != table[f.job_id].version) {
        changed.push_back(f);
        won.push_back({0, f.job_id, f.scheduled_for, f.attempt, store::kChanged});
        continue;
      }
      // As job_run's unique (job_id, scheduled_for, attempt): a fire claimed before is not won again.
      if (!claimed_keys_.insert({f.job_id, f.scheduled_for, f.attempt}).second) continue;
      claimed.push_back(f);
      claimed_fire_at.push_back(claimed_at.back());
      won.push_back({next_run_id_++, f.job_id, f.scheduled_for, f.attempt, f.status});
      // As the reader's last_fire (the newest claimed fire of the schedule), for the next load.
      if (auto it = table.find(f.job_id); it != table.end() && !f.run_now)
        it->second.last_fire = std::max(it->second.last_fire.value_or(f.scheduled_for), f.scheduled_for);
    }
    return won;
  }

  Duration heartbeat_takes{};          // how far a heartbeat moves the fake clock
  std::vector<TimePoint> heartbeat_at;  // the instant each heartbeat started
  void heartbeat(int, const std::string&) override {
    heartbeat_at.push_back(clock_.now);
    clock_.now += heartbeat_takes;
  }
  std::vector<store::LostRun> mark_lost_runs(Duration, bool) override { return {}; }
  int64_t mark_own_runs_lost() override { return 0; }
  std::vector<store::EndedWorkerRun> sweep_worker_runs(Duration) override { return {}; }
  std::vector<store::WorkerQueue> worker_queues() override { return {}; }

  void clear_is_running_if_last(Duration) override { cleared_is_running = true; }
  void deregister() override { deregistered = true; }

 private:
  FakeClock& clock_;
  bool connected_ = false;
  int64_t next_run_id_ = 1;
  std::set<std::tuple<std::string, TimePoint, int>> claimed_keys_;
};

// What the loop queued for the writer, kept in order.
class FakeBookkeeping final : public BookkeepingQueue {
 public:
  std::vector<store::JobStateUpdate> updates;
  std::vector<store::RunRecord> records;

  void update(store::JobStateUpdate u) override { updates.push_back(std::move(u)); }
  void record(store::RunRecord r) override { records.push_back(std::move(r)); }
  size_t hurried = 0;  // hurry() calls

  std::vector<std::pair<std::string, TimePoint>> served;  // run_now_served() calls
  void run_now_served(std::string job_id, TimePoint at) override { served.emplace_back(std::move(job_id), at); }
  std::vector<store::FireOutcome> fire_outcomes;
  void fire_outcome(store::FireOutcome o) override { fire_outcomes.push_back(std::move(o)); }
  void hurry() override { ++hurried; }
  bool flush(TimePoint) override { return true; }
  size_t queued_items = 0;  // what queued() says: items the writer has not written yet
  size_t queued() const override { return queued_items; }
  bool failing() const override { return false; }

  // The newest write-back of `job_id`, if any.
  std::optional<store::JobStateUpdate> last_update(const std::string& job_id) const {
    for (auto it = updates.rbegin(); it != updates.rend(); ++it)
      if (it->job_id == job_id) return *it;
    return std::nullopt;
  }
};

// `threads` runs at a time, each taking `run_takes` of fake time; the rest wait in a queue.
class FakeRuns final : public LoopRuns {
 public:
  explicit FakeRuns(FakeClock& clock) : clock_(clock) {}

  size_t threads = 4;
  Duration run_takes = std::chrono::milliseconds(10);
  std::set<std::string> failing_jobs;  // their runs fail
  std::vector<run::RunRequest> submitted;
  std::vector<run::RunRequest> expected;  // expect() calls, in order
  bool abandoned = false;

  std::vector<TimePoint> expected_when;  // and when each came
  void expect(const run::RunRequest& request) override {
    expected.push_back(request);
    expected_when.push_back(clock_.now);
  }

  void submit(run::RunRequest request) override {
    submitted.push_back(request);
    queue_.push_back(std::move(request));
    start_queued(clock_.now);
  }
  std::vector<run::RunResult> take_finished() override {
    std::vector<run::RunResult> out;
    end_until(clock_.now, out);
    return out;
  }
  size_t busy() const override { return running_.size() + queue_.size(); }
  bool wait_idle_until(TimePoint deadline) override {
    std::vector<run::RunResult> done;
    end_until(deadline, done);
    for (auto& r : done) {
      clock_.now = std::max(clock_.now, r.finished_at);
      ended_.push_back(std::move(r));
    }
    return busy() == 0;
  }
  std::vector<run::RunRequest> drain_queue() override { return std::exchange(queue_, {}); }
  void abandon_running() override { abandoned = true; }

 private:
  struct Running {
    run::RunRequest request;
    TimePoint started, ends;
  };
  void start_queued(TimePoint at) {
    while (running_.size() < threads && !queue_.empty()) {
      running_.push_back({queue_.front(), at, at + run_takes});
      queue_.erase(queue_.begin());
    }
  }
  // Ends every run due by `t` (in order), starting queued ones as threads free up.
  void end_until(TimePoint t, std::vector<run::RunResult>& out) {
    for (auto& r : ended_) out.push_back(std::move(r));
    ended_.clear();
    while (!running_.empty()) {
      auto first = std::min_element(running_.begin(), running_.end(), [](auto& a, auto& b) { return a.ends < b.ends; });
      if (first->ends > t) break;
      const bool fails = failing_jobs.count(first->request.job_id) > 0;
      out.push_back({first->request, to_sql(fails ? RunStatus::failed : RunStatus::succeeded), first->started, first->ends, "",
                     fails ? "it failed" : ""});
      const TimePoint freed = first->ends;
      running_.erase(first);
      start_queued(freed);
    }
  }
  FakeClock& clock_;
  std::vector<run::RunRequest> queue_;
  std::vector<Running> running_;
  std::vector<run::RunResult> ended_;
};

// Waiting moves the fake clock by the whole timeout; SIGTERM "arrives" at `signal_at`. After
// kMaxWaits waits it signals too, so that a loop that never waits cannot hang its test.
class FakeWaiter final : public EventWaiter {
 public:
  explicit FakeWaiter(FakeClock& clock) : clock_(clock) {}
  static constexpr int kMaxWaits = 20000;
  std::optional<TimePoint> signal_at;
  int waits = 0;

  bool wait(Duration timeout, int) override {
    ++waits;
    if (signal_at && clock_.now + timeout >= *signal_at && clock_.now < *signal_at) {
      clock_.now = *signal_at;
      return true;
    }
    clock_.now += timeout;
    return waits >= kMaxWaits || (signal_at && clock_.now >= *signal_at);
  }

 private:
  FakeClock& clock_;
};

}  // namespace rowsched::daemon::testing
