// How the scheduler loop sleeps: until its next deadline, a notification on the control
// connection's socket, a finished run (wake_after()), or SIGTERM/SIGINT, whichever comes
// first. The production waiter (SignalWaiter) reads the signals through a signalfd and the wake-ups
// through an eventfd and a timerfd, all waited on with ppoll (nanosecond timeout: a fire is not
// rounded up to the next millisecond). Tests substitute a waiter that advances a fake clock instead
// of sleeping.
//
// Thread safety: wait() from the loop's thread; SignalWaiter::wake_after() from any thread.
#pragma once

#include "base/time.h"

namespace rowsched::daemon {

class EventWaiter {
 public:
  virtual ~EventWaiter() = default;
  // Waits at most `timeout` (zero: only looks) for one of the events above, `socket` the control
  // connection's (-1: none). True when SIGTERM or SIGINT arrived.
  virtual bool wait(Duration timeout, int socket) = 0;
};

class SignalWaiter final : public EventWaiter {
 public:
  // SIGTERM and SIGINT must be blocked in every thread before this is constructed.
  SignalWaiter();
  ~SignalWaiter() override;
  SignalWaiter(const SignalWaiter&) = delete;
  SignalWaiter& operator=(const SignalWaiter&) = delete;

  bool wait(Duration timeout, int socket) override;
  // Ends the wait() in progress `after` from now (a timerfd), or the next one that lasts so long;
  // replaces an earlier wake_after() not yet due. `after` zero: at once (wake()).
  void wake_after(Duration after);

 private:
  // Ends a wait() in progress, or the next one (the eventfd).
  void wake();

  int signal_fd_ = -1;
  int wake_fd_ = -1;
  int timer_fd_ = -1;
};

}  // namespace rowsched::daemon
