// --cpu-wake-latency: while runs are due soon, a PM QoS request that idle CPUs wake within a bound.
//
// On a virtual machine (and on a bare-metal CPU in a deep C-state) an idle CPU halts, and waking it
// for a timer takes the hypervisor's (or the hardware's) time: on the bench machine a thread sleeping
// to an instant woke up to 2 ms late at the p99 when the CPUs were idle, and that, not the daemon,
// was the tail of 1,000 staggered `sql` jobs (docs/benchmarks.md). Linux lets a process ask for a
// bound on that wake-up latency by holding /dev/cpu_dma_latency open with the bound written in it
// (the kernel's PM QoS; what tuned's latency-performance profile does for a whole host); the CPUs'
// idle governor then skips every idle state slower to leave than the bound, and 0 keeps idle CPUs
// polling. The request lasts while the file stays open.
//
// It costs what polling costs (an idle CPU does not sleep, so it draws power, or its host's CPU time
// on a virtual machine), so it is off unless the operator asks for it, and held only while a run is
// due within CpuWakeLatency::kHoldAhead. Writing the file needs root or a group given write access
// to it (docs/operations.md). Thread safety: one thread (the scheduler loop's) calls hold().
#pragma once

#include <optional>
#include <string>

#include "base/time.h"

namespace rowsched::daemon {

class CpuWakeLatency {
 public:
  // A request to be held would be one of `usec` microseconds (nullopt: --cpu-wake-latency off,
  // hold() does nothing), through `device`.
  explicit CpuWakeLatency(std::optional<int> usec, std::string device = "/dev/cpu_dma_latency");
  ~CpuWakeLatency();
  CpuWakeLatency(const CpuWakeLatency&) = delete;
  CpuWakeLatency& operator=(const CpuWakeLatency&) = delete;

  // The request is held while runs are due within this much time.
  static constexpr Duration kHoldAhead = std::chrono::seconds(1);

  // Holds the request (`want`) or drops it. When the device refuses it, says once what to grant and
  // never asks again: runs start as they would without the option.
  void hold(bool want);
  bool held() const { return fd_ >= 0; }

 private:
  std::optional<int> usec_;
  std::string device_;
  int fd_ = -1;
  bool refused_ = false;
  bool said_held_ = false;
};

// Parses --cpu-wake-latency: "off", or a whole number of microseconds from 0 to kMaxCpuWakeLatencyUsec.
// nullopt for "off"; throws std::invalid_argument naming what is allowed for anything else.
std::optional<int> parse_cpu_wake_latency(const std::string& text);
constexpr int kMaxCpuWakeLatencyUsec = 1000000;

}  // namespace rowsched::daemon
