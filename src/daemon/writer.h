// The bookkeeping writer: a thread with its own database connection that writes run outcomes into
// job_run and the daemon's columns (next_run_time, state, counters, ...) back into job_info, so that
// the scheduler loop's connection only ever waits for claims and re-reads. Whatever is queued while
// a batch is being written goes into the next batch: the busier the daemon, the larger the batches.
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
  Writer(std::string dsn, std::string schema, std::string instance, std::function<TimePoint()> clock);
  // Stops the thread; what has not been written by then is dropped (call flush() first).
  ~Writer() override;
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void update(store::JobStateUpdate u) override;
  void record(store::RunRecord r) override;
  // Clears run_right_now on (job_id, run_right_now_at) once that request has been claimed.
  void run_now_served(std::string job_id, TimePoint at) override;

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
  // Once this many items have been written since the last time, the heap is trimmed when the queue
  // next drains (malloc_trim): a start-up write-back of a million rows leaves hundreds of MB free.
  static constexpr size_t kTrimAfter = 50000;

 private:
  void work();

  const std::string dsn_;
  const std::string schema_;
  const std::function<TimePoint()> clock_;
  store::JobStore store_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<store::JobStateUpdate> updates_;
  std::deque<store::RunRecord> runs_;
  std::deque<std::pair<std::string, TimePoint>> run_now_;
  uint64_t queued_total_ = 0, written_total_ = 0;  // items ever queued / written or dropped
  bool stopping_ = false;
  bool failing_ = false;
  std::thread thread_;
};

}  // namespace rowsched::daemon
