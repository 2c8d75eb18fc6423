// The priority of the threads that start runs at their instant: the executor's threads, the owner
// pipelines' thread, and the loops that spawn `exec` children and send `http` requests.
//
// A thread asleep until a run's instant is woken by the kernel's timer, then waits for a CPU. On a
// machine whose CPUs PostgreSQL keeps busy (the runs' own statements, the claims, the bookkeeping),
// a thread of ordinary priority got one 0.5-2.5 ms after its instant, now and then: the slowest 1% of
// 1,000 staggered `sql` jobs (docs/benchmarks.md). A lower nice value gives those threads the CPU at
// once; they use little of it (a few percent of one CPU at 1,000 runs a second).
//
// Linux keeps a nice value per thread, so only these threads are raised; the rest of the daemon (the
// claims, the bookkeeping, the web page) keeps the process's priority. Raising needs CAP_SYS_NICE or
// an RLIMIT_NICE that allows it (systemd: LimitNICE=); without either the threads keep the process's
// priority and runs start as before.
#pragma once

#include <optional>
#include <string>

namespace rowsched::base {

// Sets the nice value (-20..0; 0 leaves the priority as it is) the threads that start runs take from
// now on. Tries it on the calling thread first and puts that thread back: when the system refuses,
// the threads keep the process's priority and the refusal is returned (for the caller to report).
// A process already at a lower nice value than `nice` keeps its own.
std::optional<std::string> set_start_nice(int nice);

// The nice value set_start_nice() settled on (0 before it is called, or after a refusal).
int start_nice();

// Called by a thread that starts runs, first thing: names it (`name`, at most 15 characters, shown by
// `top -H` and `ps -L`), gives it start_nice(), a slice of 0.1 ms and a timer slack of 1 ns. Each
// takes a part of the wait between the thread's timer and its first instruction (docs/benchmarks.md):
// - the slack: the kernel may wake a thread of ordinary priority up to 50 us (the default) after the
//   time it asked for, to gather wake-ups;
// - the slice (Linux 6.12+, no privilege needed): a thread that wakes with a shorter slice than the
//   one running on its CPU preempts it at once; with the default slice (1-3 ms) even a nice -10
//   thread waited for a PostgreSQL backend's slice to end, up to 3 ms on the bench machine.
void enter_start_thread(const char* name);

// A start thread that waits for results as well as for instants (the owner pipelines' thread) asks
// for the default slice while a burst's runs are in flight, and for the short one otherwise. Woken
// by each result of a burst, a thread with the short slice preempted the backends running the rest
// of it: the 1,000-run burst drained 11% slower (docs/benchmarks.md). No system call when nothing
// changes; nothing on a thread that could not take the short slice.
void set_start_slice(bool short_slice);

// While alive, the calling start thread runs at the daemon's own priority, slice and timer slack:
// around what is not the start itself. A handler's work (a plugin's) does not take the CPUs from
// PostgreSQL (a quick handler's, a log line, is shorter than the switch and runs without it), and a
// child spawned meanwhile inherits the daemon's scheduling, not the start thread's (a child takes
// its thread's). Nothing on a thread that is not a start thread. One sched_setattr(2) each way (nice
// value and slice together) and a prctl(2): about 1.6 us.
class AtDaemonPriority {
 public:
  AtDaemonPriority();
  ~AtDaemonPriority();
  AtDaemonPriority(const AtDaemonPriority&) = delete;
  AtDaemonPriority& operator=(const AtDaemonPriority&) = delete;

 private:
  bool start_thread_;
  bool short_slice_;  // the slice the thread had, and gets back
  bool changed_ = false;
};

}  // namespace rowsched::base
