// Where the scheduler loop hands what must be written down but not waited for: run outcomes, the
// write-back of each job's state and next fire, served run_right_now requests, the last status of
// fires that did not run. The loop's own connection writes no job_info row: a row a user's
// transaction holds would hold up its claims (and deadlock with a bulk UPDATE). The production
// implementation is the Writer (writer.h: a thread with its own connection); the loop's unit tests
// use an in-memory one.
//
// Thread safety: the implementations' own (Writer: any thread).
#pragma once

#include <string>

#include "base/time.h"
#include "store/job_store.h"

namespace rowsched::daemon {

class BookkeepingQueue {
 public:
  virtual ~BookkeepingQueue() = default;

  virtual void update(store::JobStateUpdate u) = 0;
  virtual void record(store::RunRecord r) = 0;
  // Clears run_right_now on (job_id, run_right_now_at) once that request has been claimed.
  virtual void run_now_served(std::string job_id, TimePoint at) = 0;
  // What the job's row says happened to its last fire, recorded without a run (missed, skipped).
  virtual void fire_outcome(store::FireOutcome o) = 0;
  // Waits until everything queued before the call has been written (or dropped), or until
  // `deadline`; true when it has.
  virtual bool flush(TimePoint deadline) = 0;
  // Something a user is waiting to see is queued (the write-back of a change they committed): write
  // it now rather than gather more into the batch.
  virtual void hurry() {}
  // Items queued and not yet written.
  virtual size_t queued() const = 0;
  // The last attempt to write failed: a flush would wait for the backoff.
  virtual bool failing() const = 0;
};

}  // namespace rowsched::daemon
