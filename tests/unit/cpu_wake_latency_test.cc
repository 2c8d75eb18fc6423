// --cpu-wake-latency's request (src/daemon/cpu_wake_latency.h), against a file standing in for
// /dev/cpu_dma_latency: what is written, when the file is held open, and what a refusal does. The
// device itself is exercised by tests/integration/test_cpu_wake_latency.py.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <spdlog/spdlog.h>

#include "daemon/cpu_wake_latency.h"

using rowsched::daemon::CpuWakeLatency;
using rowsched::daemon::parse_cpu_wake_latency;
namespace fs = std::filesystem;

namespace {

std::string contents(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The open files of this process that name `p`.
int open_on(const fs::path& p) {
  int n = 0;
  for (const auto& fd : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (fs::read_symlink(fd.path(), ec) == p) ++n;
  }
  return n;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("rowsched-cwl-" + std::to_string(getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("The request is the bound as a 32-bit integer, held open while wanted and closed when not", "[cpu_wake_latency]") {
  TempDir dir;
  const fs::path device = dir.path / "cpu_dma_latency";
  std::ofstream(device).close();
  const int usec = GENERATE(0, 20, 1000000);
  {
    CpuWakeLatency request(usec, device.string());
    CHECK(!request.held());
    CHECK(open_on(device) == 0);
    request.hold(true);
    CHECK(request.held());
    CHECK(open_on(device) == 1);
    const std::string written = contents(device);
    REQUIRE(written.size() == sizeof(int32_t));
    int32_t value = -1;
    std::memcpy(&value, written.data(), sizeof value);
    CHECK(value == usec);
    request.hold(true);  // already held: nothing more written, nothing more opened
    CHECK(contents(device).size() == sizeof(int32_t));
    CHECK(open_on(device) == 1);
    request.hold(false);
    CHECK(!request.held());
    CHECK(open_on(device) == 0);
    request.hold(true);
    CHECK(open_on(device) == 1);
  }
  CHECK(open_on(device) == 0);  // dropped by the destructor
}

TEST_CASE("With the option off nothing is opened", "[cpu_wake_latency]") {
  TempDir dir;
  const fs::path device = dir.path / "cpu_dma_latency";
  std::ofstream(device).close();
  CpuWakeLatency request(std::nullopt, device.string());
  request.hold(true);
  CHECK(!request.held());
  CHECK(open_on(device) == 0);
  CHECK(contents(device).empty());
}

TEST_CASE("A refused request is said once and never asked again", "[cpu_wake_latency]") {
  TempDir dir;
  const fs::path device = dir.path / "no-such-device";
  spdlog::set_level(spdlog::level::off);
  CpuWakeLatency request(0, device.string());
  request.hold(true);
  CHECK(!request.held());
  std::ofstream(device).close();  // the device appears: a refusal is not retried at every fire
  request.hold(false);
  request.hold(true);
  spdlog::set_level(spdlog::level::info);
  CHECK(!request.held());
  CHECK(contents(device).empty());
}

TEST_CASE("The option --cpu-wake-latency takes off or whole microseconds up to a second, and names what is allowed", "[cpu_wake_latency]") {
  CHECK(parse_cpu_wake_latency("off") == std::nullopt);
  CHECK(parse_cpu_wake_latency("0") == 0);
  CHECK(parse_cpu_wake_latency("50") == 50);
  CHECK(parse_cpu_wake_latency("1000000") == 1000000);
  for (const std::string bad : {"", "-1", "1000001", "1e3", "50us", "0.5", "on", " 5", "99999999999"}) {
    INFO("\"" << bad << "\"");
    try {
      parse_cpu_wake_latency(bad);
      FAIL("accepted");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find("allowed: off, or whole microseconds from 0 to 1000000") != std::string::npos);
    }
  }
}
