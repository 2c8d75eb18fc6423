#include "base/start_priority.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace rowsched::base {

namespace {

std::atomic<int> g_start_nice{0};
std::atomic<int> g_daemon_nice{0};  // the nice value of the thread that called set_start_nice()

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
  if (const int nice = g_start_nice; nice < 0 && nice < own_nice()) set_own_nice(nice);
}

AtDaemonPriority::AtDaemonPriority() {
  const int nice = g_start_nice;
  if (nice < 0 && own_nice() == nice) lowered_ = set_own_nice(g_daemon_nice);
}

AtDaemonPriority::~AtDaemonPriority() {
  if (lowered_) set_own_nice(g_start_nice);
}

}  // namespace rowsched::base
