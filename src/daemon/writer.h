// The bookkeeping writer: a thread with its own database connection that writes run outcomes into
// job_run and the daemon's columns (next_run_time, state, counters, ...) back into job_info, so that
// the scheduler loop's connection only ever waits for claims and re-reads. Whatever is queued while
// a batch is being written goes into the next batch: the busier the daemon, the larger the batches.
// A batch is also gathered for kGather after its first item (a statement's fixed cost is most of
// what it costs PostgreSQL at a few runs per call), and, when it holds run outcomes, for up to
// kMaxHold while `busy` says runs are starting in numbers (the burst's runs get the CPUs first);
// hurry() and flush() end the wait, and a full batch does not wait. A batch of write-backs alone is
// not held: a burst's claim queues it ahead of the burst's instant, and held kMaxHold from then it
// was written at that instant, on the CPUs the burst's runs needed.
//
// Writes are applied in the order they were queued. On a lost connection the batch is kept and the
// writer reconnects with backoff; a batch that fails three times for another reason is dropped with
// an error in the log (its runs stay `running` until this instance stops heart-beating or restarts).
// Every failure waits the shared backoff policy (backoff.h) and logs one line.
//
// Thread safety: every public method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "daemon/backoff.h"
#include "daemon/bookkeeping_queue.h"
#include "store/job_store.h"

namespace rowsched::daemon {

class Writer final : public BookkeepingQueue {
 public:
  // `clock` gives the instants the backoff measures a fault's duration with.
  // `busy`, when given, is asked (from the writer's thread, without its lock) whether to hold a batch back.
  Writer(std::string dsn, std::string schema, std::string instance, std::function<TimePoint()> clock,
         std::function<bool()> busy = {});
  // Stops the thread; what has not been written by then is dropped (call flush() first).
  ~Writer() override;
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void update(store::JobStateUpdate u) override;
  void record(store::RunRecord r) override;
  // Clears run_right_now on (job_id, run_right_now_at) once that request has been claimed.
  void run_now_served(std::string job_id, TimePoint at) override;
  void fire_outcome(store::FireOutcome o) override;

  void hurry() override;
  // Waits until everything queued before the call has been written (or dropped), or until
  // `deadline`; true when it has.
  bool flush(TimePoint deadline) override;
  // Items queued and not yet written.
  size_t queued() const override;
  // The last attempt to write failed (the database is unreachable or refuses): a flush would wait
  // for the backoff, so shutdown gives it only a short while.
  bool failing() const override;

  // Most items of each kind written by one statement.
  static constexpr size_t kBatch = 2000;
  // How long a batch gathers after its first item, and how long at most while `busy` holds it back.
  static constexpr std::chrono::milliseconds kGather{50}, kMaxHold{250};
  // How much longer a batch begun `age` ago gathers: zero = write it now. `outcomes`: the batch holds
  // run outcomes (only such a batch is held while busy). `busy` (may be empty) is asked only past
  // kGather, and only for such a batch. Pure.
  static Duration gather_left(Duration age, bool hurried, bool outcomes, const std::function<bool()>& busy);
  // Once this many items have been written since the last time, the heap is trimmed when the queue
  // next drains (malloc_trim): a start-up write-back of a million rows leaves hundreds of MB free.
  static constexpr size_t kTrimAfter = 50000;

 private:
  void work();
  // Waits (with `lock` held on entry and exit) until the batch that starts with the oldest queued item
  // should be written: kGather after that item, longer while busy_, at once when hurried.
  void gather(std::unique_lock<std::mutex>& lock);
  size_t queued_locked() const { return updates_.size() + runs_.size() + run_now_.size() + fire_outcomes_.size(); }
  template <typename T>
  void queue(std::deque<T>& to, T item);

  const std::string dsn_;
  const std::string schema_;
  const std::function<TimePoint()> clock_;
  const std::function<bool()> busy_;
  store::JobStore store_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<store::JobStateUpdate> updates_;
  std::deque<store::RunRecord> runs_;
  std::deque<std::pair<std::string, TimePoint>> run_now_;
  std::deque<store::FireOutcome> fire_outcomes_;
  uint64_t queued_total_ = 0, written_total_ = 0;  // items ever queued / written or dropped
  bool stopping_ = false;
  bool failing_ = false;
  int hurry_ = 0;                                       // hurry() and flush() calls not yet served
  std::chrono::steady_clock::time_point batch_began_;  // when the oldest queued item came

  std::thread thread_;
};

}  // namespace rowsched::daemon
