#include "base/start_priority.h"

#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace rowsched::base {

namespace {

std::atomic<int> g_start_nice{0};
std::atomic<int> g_daemon_nice{0};  // the nice value of the thread that called set_start_nice()
thread_local bool t_raised = false;  // this thread runs at g_start_nice (enter_start_thread)
thread_local bool t_start_thread = false;  // enter_start_thread was called on this thread

// The slack the kernel may add to this thread's timed waits (ppoll, nanosleep): 1 ns, the least it
// takes, or 0 for the system's default (50 us).
void set_timer_slack(unsigned long ns) { prctl(PR_SET_TIMERSLACK, ns, 0UL, 0UL, 0UL); }

int own_nice() {
  errno = 0;
  const int n = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  return errno ? 0 : n;
}

bool set_own_nice(int nice) { return setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice) == 0; }

}  // namespace

std::optional<std::string> set_start_nice(int nice) {
  g_start_nice = 0;
  const int before = own_nice();
  if (nice >= before) return std::nullopt;  // already at that priority or higher
  if (!set_own_nice(nice)) return std::string(std::strerror(errno));
  set_own_nice(before);  // a higher nice value needs no privilege
  g_daemon_nice = before;
  g_start_nice = nice;
  return std::nullopt;
}

int start_nice() { return g_start_nice; }

void enter_start_thread(const char* name) {
  pthread_setname_np(pthread_self(), name);
  t_start_thread = true;
  set_timer_slack(1);
  if (const int nice = g_start_nice; nice < 0 && nice < own_nice()) t_raised = set_own_nice(nice);
}

AtDaemonPriority::AtDaemonPriority() : start_thread_(t_start_thread) {
  if (!start_thread_) return;  // no system call on another thread
  set_timer_slack(0);
  if (t_raised) lowered_ = set_own_nice(g_daemon_nice);
}

AtDaemonPriority::~AtDaemonPriority() {
  if (lowered_) set_own_nice(g_start_nice);
  if (start_thread_) set_timer_slack(1);
}

}  // namespace rowsched::base
