#include "daemon/event_waiter.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

namespace rowsched::daemon {

SignalWaiter::SignalWaiter() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
}

SignalWaiter::~SignalWaiter() {
  if (signal_fd_ >= 0) close(signal_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
  if (timer_fd_ >= 0) close(timer_fd_);
}

bool SignalWaiter::wait(Duration timeout, int socket) {
  pollfd fds[4] = {{signal_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}, {timer_fd_, POLLIN, 0}, {socket, POLLIN, 0}};
  const timespec ts = to_timespec(timeout);
  ppoll(fds, socket >= 0 ? 4 : 3, &ts, nullptr);
  bool signalled = false;
  if (fds[0].revents & POLLIN) {
    signalfd_siginfo info;
    if (read(signal_fd_, &info, sizeof info) == sizeof info) {
      spdlog::info("received signal {}: shutting down", info.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
      signalled = true;
    }
  }
  for (const pollfd& f : {fds[1], fds[2]}) {
    if (f.revents & POLLIN) {
      uint64_t n;
      [[maybe_unused]] auto r = read(f.fd, &n, sizeof n);
    }
  }
  return signalled;
}

void SignalWaiter::wake() {
  const uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof one);
}

void SignalWaiter::wake_after(Duration after) {
  if (after <= Duration::zero() || timer_fd_ < 0) return wake();
  itimerspec spec{};
  spec.it_value = to_timespec(after);
  timerfd_settime(timer_fd_, 0, &spec, nullptr);
}

}  // namespace rowsched::daemon
