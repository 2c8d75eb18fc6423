#include "daemon/writer.h"

#include <malloc.h>

#include <algorithm>
#include <random>
#include <set>
#include <type_traits>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "store/dsn.h"
#include "store/fault.h"
#include "store/pg_error.h"

namespace rowsched::daemon {

namespace {
// Moves at most `n` items from the front of `from` into a vector.
template <typename T>
std::vector<T> take_front(std::deque<T>& from, size_t n) {
  const size_t k = std::min(n, from.size());
  std::vector<T> out(std::make_move_iterator(from.begin()), std::make_move_iterator(from.begin() + static_cast<std::ptrdiff_t>(k)));
  from.erase(from.begin(), from.begin() + static_cast<std::ptrdiff_t>(k));
  return out;
}

// Puts `items` back at the front of `to`, in their order.
template <typename T>
void put_back(std::deque<T>& to, std::vector<T>& items) {
  to.insert(to.begin(), std::make_move_iterator(items.begin()), std::make_move_iterator(items.end()));
}
}  // namespace

Writer::Writer(std::string dsn, std::string schema, std::string instance, std::function<TimePoint()> clock,
               std::function<bool()> busy)
    : dsn_(dsn), schema_(schema), clock_(std::move(clock)), busy_(std::move(busy)), store_(std::move(dsn), std::move(schema), std::move(instance), "writer"), thread_([this] { work(); }) {}

Writer::~Writer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

void Writer::update(store::JobStateUpdate u) { queue(updates_, std::move(u)); }

void Writer::record(store::RunRecord r) { queue(runs_, std::move(r)); }

void Writer::run_now_served(std::string job_id, TimePoint at) { queue(run_now_, std::make_pair(std::move(job_id), at)); }

void Writer::fire_outcome(store::FireOutcome o) { queue(fire_outcomes_, std::move(o)); }

template <typename T>
void Writer::queue(std::deque<T>& to, T item) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    // The writer waits for a first item, then gathers the batch: only the first and a full batch wake it.
    const size_t before = queued_locked();
    if (before == 0) batch_began_ = std::chrono::steady_clock::now();
    wake = before == 0 || before + 1 == kBatch;
    to.push_back(std::move(item));
    ++queued_total_;
  }
  if (wake) work_cv_.notify_one();
}

void Writer::hurry() {
  {
    std::lock_guard lock(mu_);
    ++hurry_;
  }
  work_cv_.notify_one();
}

Duration Writer::gather_left(Duration age, bool hurried, bool outcomes, const std::function<bool()>& busy) {
  if (hurried) return Duration::zero();
  if (age < kGather) return kGather - age;
  if (!outcomes || age >= kMaxHold || !busy || !busy()) return Duration::zero();
  return std::min<Duration>(std::chrono::milliseconds(5), kMaxHold - age);
}

void Writer::gather(std::unique_lock<std::mutex>& lock) {
  const auto write_now = [&] { return stopping_ || hurry_ > 0 || queued_locked() >= kBatch; };
  const auto began = batch_began_;
  // busy_ takes the executor's lock: never with ours held.
  const std::function<bool()> busy = busy_ ? [&] {
    lock.unlock();
    const bool b = busy_();
    lock.lock();
    return b;
  } : std::function<bool()>{};
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    const Duration left = gather_left(std::chrono::duration_cast<Duration>(now - began), write_now(), !runs_.empty(), busy);
    if (left <= Duration::zero() || write_now()) return;
    work_cv_.wait_until(lock, now + left, write_now);
  }
}

bool Writer::failing() const {
  std::lock_guard lock(mu_);
  return failing_;
}

size_t Writer::queued() const {
  std::lock_guard lock(mu_);
  return queued_locked();
}

bool Writer::flush(TimePoint deadline) {
  std::unique_lock lock(mu_);
  const uint64_t target = queued_total_;
  ++hurry_;
  work_cv_.notify_one();
  const auto until = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      deadline.time_since_epoch()));
  return done_cv_.wait_until(lock, until, [&] { return written_total_ >= target; });
}

namespace {
// One batch of what the writer writes, in queue order.
struct Batch {
  std::vector<store::RunRecord> runs;
  std::vector<store::JobStateUpdate> updates;
  std::vector<std::pair<std::string, TimePoint>> run_now;
  std::vector<store::FireOutcome> fire_outcomes;

  size_t size() const { return runs.size() + updates.size() + run_now.size() + fire_outcomes.size(); }

  std::vector<std::string> job_ids() const {
    std::set<std::string> ids;
    for (const auto& r : runs) ids.insert(r.job_id);
    for (const auto& u : updates) ids.insert(u.job_id);
    for (const auto& [id, at] : run_now) ids.insert(id);
    for (const auto& o : fire_outcomes) ids.insert(o.job_id);
    return {ids.begin(), ids.end()};
  }

  // Moves the items of the jobs in `held` into the returned batch, keeping both in order.
  Batch take(const std::set<std::string>& held) {
    Batch out;
    const auto move_held = [&](auto& from, auto& to, auto id_of) {
      std::remove_reference_t<decltype(from)> kept;
      kept.reserve(from.size());
      for (auto& item : from) (held.count(id_of(item)) ? to : kept).push_back(std::move(item));
      from = std::move(kept);
    };
    move_held(runs, out.runs, [](const auto& r) { return r.job_id; });
    move_held(updates, out.updates, [](const auto& u) { return u.job_id; });
    move_held(run_now, out.run_now, [](const auto& p) { return p.first; });
    move_held(fire_outcomes, out.fire_outcomes, [](const auto& o) { return o.job_id; });
    return out;
  }

  // Appends `other`'s items (each job's items are all in one of the two batches, so each job's order holds).
  void append(Batch&& other) {
    const auto move_all = [](auto& from, auto& to) {
      to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
    };
    move_all(other.runs, runs);
    move_all(other.updates, updates);
    move_all(other.run_now, run_now);
    move_all(other.fire_outcomes, fire_outcomes);
  }

  // A job queued twice in one batch (re-read, then fired) gets only its newest state: one UPDATE ...
  // FROM with two source rows for the same target would apply an arbitrary one.
  std::vector<store::JobStateUpdate> newest_updates() const {
    std::vector<store::JobStateUpdate> newest;
    newest.reserve(updates.size());
    std::unordered_set<std::string> seen;
    for (auto it = updates.rbegin(); it != updates.rend(); ++it)
      if (seen.insert(it->job_id).second) newest.push_back(*it);
    return newest;
  }
};
}  // namespace

void Writer::work() {
  Backoff backoff;
  bool failed_last = false;  // the previous attempt failed: a success is worth a line
  // One log line per failure, worded by the backoff ("still failing (N times): ...").
  const auto fail = [&](const std::string& error) {
    const auto step = backoff.failed(error, clock_());
    spdlog::warn("{}", step.log_line);
    return step.wait;
  };
  int failures = 0;  // consecutive failures of the current batch (not counting lost connections)
  // A batch that finds job_info rows held by another transaction (store::RowsLocked): the items of the
  // jobs whose rows are held are kept back and written again soon, never dropped for it however long
  // that transaction lasts; the rest of the batch is written at once.
  Backoff locked({std::chrono::milliseconds(50), std::chrono::milliseconds(200), std::chrono::seconds(30)});
  int locked_waits = 0;  // consecutive batches that found rows held
  size_t written_since_trim = 0;
  std::unique_lock lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stopping_ || queued_locked() > 0; });
    gather(lock);
    if (stopping_) return;
    hurry_ = 0;  // this batch takes what the hurried callers wait for
    Batch batch{take_front(runs_, kBatch), take_front(updates_, kBatch), take_front(run_now_, kBatch),
                take_front(fire_outcomes_, kBatch)};
    lock.unlock();

    const auto write = [&](const Batch& b) { store_.write_bookkeeping(b.runs, b.newest_updates(), b.run_now, b.fire_outcomes); };
    Batch held;  // kept back: their job_info rows are held by another transaction
    size_t written = 0;  // items written (or dropped)
    bool lost = false;
    Duration wait{};
    try {
      if (!store_.connected()) store_.connect(/*listen=*/false, /*writer=*/true);
      try {
        write(batch);
      } catch (const store::RowsLocked&) {
        held = batch.take(store_.held_jobs(batch.job_ids()));
        if (batch.size() > 0) write(batch);
        const auto step = locked.failed("job_info rows held by another transaction", clock_());
        wait = step.wait;
        // A user's transaction can hold rows for minutes: a line at the first wait and every 20th.
        if (++locked_waits == 1 || locked_waits % 20 == 0)
          spdlog::warn("writer: the job_info rows of {} jobs are held by another transaction (an UPDATE or DELETE of job_info "
                       "not yet committed; {} times in a row); keeping their {} run results and write-backs, writing them "
                       "again in {} ms; wrote the other {}",
                       held.job_ids().size(), locked_waits, held.size(), wait / std::chrono::milliseconds(1), batch.size());
      }
      written = batch.size();
      if (held.size() == 0) {
        if (locked_waits > 0) spdlog::info("writer: the held job_info rows were released; wrote their items after {} waits", locked_waits);
        else if (failed_last) spdlog::info("writer: reconnected to the database after {} failed attempts", backoff.failures());
        locked.succeeded(clock_());
        locked_waits = 0;
      }
      backoff.succeeded(clock_());
      failures = 0;
    } catch (const store::RowsLocked&) {
      // Another row was taken between finding the held ones and writing the rest: all goes back, and is
      // never dropped for it.
      wait = locked.failed("job_info rows held by another transaction", clock_()).wait;
    } catch (const store::ConnectionLost& e) {
      lost = true;
      // The counts stay out of the text, so that a repeating outage reads as one error "still failing".
      wait = fail("writer: database connection lost, keeping the queued results and write-backs to retry: " +
                  store::format_pg_error(e));
    } catch (const std::exception& e) {
      if (!store_.connected()) {
        lost = true;
        wait = fail("writer: cannot connect to " + store::redact_dsn(dsn_) + ": " + store::describe_fault(e, {dsn_, schema_, ""}));
      } else if (++failures >= 3) {
        spdlog::error("writer: dropping {} run results and {} write-backs after 3 failed attempts: {}", batch.runs.size(),
                      batch.newest_updates().size(), store::describe_fault(e, {dsn_, schema_, store_.role()}));
        written = batch.size();  // dropped: counted as done so that flush() does not wait for them
        failures = 0;
      } else {
        wait = fail("writer: writing run results and write-backs failed: " + store::describe_fault(e, {dsn_, schema_, store_.role()}));
      }
    }
    // What was not written goes back to the front of the queue: the held jobs' items after a partial
    // write, everything after a failure.
    if (written == 0) batch.append(std::move(held));
    Batch& back = written > 0 ? held : batch;
    lock.lock();
    failing_ = back.size() > 0;
    failed_last = failing_;
    if (written > 0) {
      written_total_ += written;
      done_cv_.notify_all();
      written_since_trim += written;
    }
    if (back.size() == 0) {
      if (written_since_trim >= kTrimAfter && queued_locked() == 0) {
        // A large backlog (the write-back after loading a big table) has drained: give the memory its
        // queue and its statements held back to the system rather than keep it as free heap.
        written_since_trim = 0;
        lock.unlock();
        batch = {};
        malloc_trim(0);
        lock.lock();
      }
      continue;
    }
    put_back(runs_, back.runs);
    put_back(updates_, back.updates);
    put_back(run_now_, back.run_now);
    put_back(fire_outcomes_, back.fire_outcomes);
    if (lost) store_.disconnect();
    work_cv_.wait_for(lock, wait, [&] { return stopping_; });
  }
}

}  // namespace rowsched::daemon
