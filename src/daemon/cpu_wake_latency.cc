#include "daemon/cpu_wake_latency.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include <spdlog/spdlog.h>

namespace rowsched::daemon {

CpuWakeLatency::CpuWakeLatency(std::optional<int> usec, std::string device) : usec_(usec), device_(std::move(device)) {}

CpuWakeLatency::~CpuWakeLatency() { hold(false); }

void CpuWakeLatency::hold(bool want) {
  if (!usec_ || want == held() || refused_) return;
  if (!want) {
    close(fd_);  // the kernel drops the request with the last reference to the open file
    fd_ = -1;
    return;
  }
  const int fd = open(device_.c_str(), O_WRONLY | O_CLOEXEC);
  // The device takes the bound as a 32-bit integer in the machine's order (or as hexadecimal text).
  const int32_t value = *usec_;
  if (fd < 0 || write(fd, &value, sizeof value) != static_cast<ssize_t>(sizeof value)) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) close(fd);
    refused_ = true;
    spdlog::warn("--cpu-wake-latency {}: cannot hold a CPU wake-up latency request in {} ({}); idle CPUs keep "
                 "the system's idle states, and runs start as without the option. Run rowsched as root, or give "
                 "its user write access to {} (a udev rule: KERNEL==\"cpu_dma_latency\", GROUP=\"rowsched\", "
                 "MODE=\"0660\"), or leave the option off (docs/operations.md)",
                 *usec_, device_, why, device_);
    return;
  }
  fd_ = fd;
  if (!said_held_) {
    said_held_ = true;
    spdlog::info("idle CPUs are asked to wake within {} us while a run is due within {} s (--cpu-wake-latency; {})",
                 *usec_, std::chrono::duration_cast<std::chrono::seconds>(kHoldAhead).count(), device_);
  }
}

std::optional<int> parse_cpu_wake_latency(const std::string& text) {
  if (text == "off") return std::nullopt;
  const auto refuse = [&] {
    return std::invalid_argument("--cpu-wake-latency \"" + text + "\": allowed: off, or whole microseconds from 0 to " +
                                 std::to_string(kMaxCpuWakeLatencyUsec) + " (0: idle CPUs poll)");
  };
  if (text.empty() || text.size() > 7 || text.find_first_not_of("0123456789") != std::string::npos) throw refuse();
  const int usec = std::stoi(text);
  if (usec > kMaxCpuWakeLatencyUsec) throw refuse();
  return usec;
}

}  // namespace rowsched::daemon
