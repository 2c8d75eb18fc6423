#include "base/start_priority.h"

#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace rowsched::base {

namespace {

std::atomic<int> g_start_nice{0};
thread_local bool t_start_thread = false;  // enter_start_thread was called on this thread
thread_local int t_base_nice = 0;          // this start thread's nice value before it was raised
thread_local int t_start_nice = 0;         // ... and after (the same when not raised)
thread_local bool t_can_slice = false;     // sched_setattr() took this start thread's slice
thread_local bool t_short_slice = false;   // this start thread runs with kShortSliceNs now

// The slice a start thread asks for (Linux 6.12+ takes 0.1 to 100 ms for SCHED_OTHER; older kernels
// ignore it). A thread that wakes with a shorter slice than the one running on its CPU preempts it
// at once; one with the default (1-3 ms, by the number of CPUs) waits for the other's slice to end.
constexpr uint64_t kShortSliceNs = 100'000;

// The slack the kernel may add to this thread's timed waits (ppoll, nanosleep): 1 ns, the least it
// takes, or 0 for the system's default (50 us).
void set_timer_slack(unsigned long ns) { prctl(PR_SET_TIMERSLACK, ns, 0UL, 0UL, 0UL); }

int own_nice() {
  errno = 0;
  const int n = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  return errno ? 0 : n;
}

bool set_own_nice(int nice) { return setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice) == 0; }

// sched_setattr(2)'s argument, its first version (glibc 2.36 declares neither).
struct SchedAttr {
  uint32_t size = sizeof(SchedAttr);
  uint32_t sched_policy = SCHED_OTHER;
  uint64_t sched_flags = 0;
  int32_t sched_nice = 0;
  uint32_t sched_priority = 0;
  uint64_t sched_runtime = 0;  // SCHED_OTHER: the slice; 0 for the system's default
  uint64_t sched_deadline = 0;
  uint64_t sched_period = 0;
};

// Sets this thread's nice value and slice in one system call. False when the kernel refused it.
bool set_nice_and_slice(int nice, uint64_t slice_ns) {
  SchedAttr attr;
  attr.sched_nice = nice;
  attr.sched_runtime = slice_ns;
  return syscall(SYS_sched_setattr, 0, &attr, 0U) == 0;
}

// Puts this start thread at `nice`, with the short slice or the default one.
bool set_start_scheduling(int nice, bool short_slice) {
  if (!t_can_slice) return t_start_nice != t_base_nice && set_own_nice(nice);  // only a raised thread changes
  if (!set_nice_and_slice(nice, short_slice ? kShortSliceNs : 0)) return false;
  t_short_slice = short_slice;
  return true;
}

}  // namespace

std::optional<std::string> set_start_nice(int nice) {
  g_start_nice = 0;
  const int before = own_nice();
  if (nice >= before) return std::nullopt;  // already at that priority or higher
  if (!set_own_nice(nice)) return std::string(std::strerror(errno));
  set_own_nice(before);  // a higher nice value needs no privilege
  g_start_nice = nice;
  return std::nullopt;
}

int start_nice() { return g_start_nice; }

void enter_start_thread(const char* name) {
  pthread_setname_np(pthread_self(), name);
  t_start_thread = true;
  set_timer_slack(1);
  t_base_nice = t_start_nice = own_nice();
  if (const int nice = g_start_nice; nice < 0 && nice < t_base_nice && set_own_nice(nice)) t_start_nice = nice;
  t_can_slice = t_short_slice = set_nice_and_slice(t_start_nice, kShortSliceNs);
}

void set_start_slice(bool short_slice) {
  if (t_can_slice && t_short_slice != short_slice) set_start_scheduling(t_start_nice, short_slice);
}

AtDaemonPriority::AtDaemonPriority() : start_thread_(t_start_thread), short_slice_(t_short_slice) {
  if (!start_thread_) return;  // no system call on another thread
  set_timer_slack(0);
  changed_ = set_start_scheduling(t_base_nice, false);
}

AtDaemonPriority::~AtDaemonPriority() {
  if (!start_thread_) return;
  if (changed_) set_start_scheduling(t_start_nice, short_slice_);
  set_timer_slack(1);
}

}  // namespace rowsched::base
