// One thread that starts and watches every program of the `exec` handler: posix_spawn in a process
// group of its own, output read from two pipes with poll(), the exit seen through a pidfd (and
// waitpid(WNOHANG) at least every 50 ms where pidfds do not exist), the timeout ending the group with
// SIGTERM and, 2 s later, SIGKILL. So a thousand programs due at one instant are a thousand children
// watched by one thread, not a thousand executor threads each blocked in poll().
//
// Thread safety: spawn() may be called from any thread; `done` runs on the loop's thread and must not
// block.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/time.h"

namespace rowsched::run {

// A program to start: argv[0] is its absolute path; no shell, no PATH lookup.
struct ChildSpawn {
  std::vector<std::string> argv, env;
  std::string cwd = "/";
  std::optional<Duration> timeout;
  TimePoint not_before{};
  size_t stdout_limit = 0, stderr_limit = 0;  // bytes kept of each (BoundedCapture)
};

// How it ended.
struct ChildExit {
  std::optional<std::string> spawn_error;  // it could not be started (errno text)
  int status = 0;                          // waitpid's status
  bool timed_out = false, killed = false;  // SIGTERM at the timeout; SIGKILL after the grace
  std::string stdout_text, stderr_text;
  bool stderr_empty = true;
};

class ChildProcessLoop {
 public:
  using Done = std::function<void(ChildExit)>;
  static constexpr auto kTermGrace = std::chrono::seconds(2);

  ChildProcessLoop();
  // Kills what is still running (SIGKILL to each group) and joins the thread; `done` is not called.
  ~ChildProcessLoop();
  ChildProcessLoop(const ChildProcessLoop&) = delete;
  ChildProcessLoop& operator=(const ChildProcessLoop&) = delete;

  void spawn(ChildSpawn spawn, Done done);

  // The loop shared by every exec handler of this process, started on first use.
  static ChildProcessLoop& shared();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rowsched::run
