// The HTTP endpoint of `rowsched run --metrics-addr HOST:PORT`, on threads of its own:
//   GET /metrics  Prometheus text format 0.0.4 of the Registry
//   GET /healthz  200 "ok" while the process runs, 503 "unhealthy: ..." once it has not been ready
//                 for longer than `unhealthy_after` (a fault that retrying has not fixed)
//   GET /readyz   200 "ready" once the loop is connected and has loaded the jobs, else 503 and why
//
// Thread safety: construct and destroy on one thread; requests are served concurrently and only
// read the Registry and Readiness, which are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "daemon/metrics.h"

namespace httplib {
class Server;
}

namespace rowsched::daemon {

struct ListenAddress {
  std::string host;  // an IPv4 or IPv6 address or a host name; "0.0.0.0" for ":PORT"
  int port = 0;
};

// Parses "HOST:PORT", "[IPV6]:PORT" or ":PORT" (every interface); nullopt when malformed or the port
// is not 1-65535.
std::optional<ListenAddress> parse_listen_address(const std::string& text);

class MetricsServer {
 public:
  // Binds at once (so a taken port fails start-up) and serves from a background thread.
  // Throws std::runtime_error naming the address when it cannot listen.
  MetricsServer(const ListenAddress& address, const Metrics& metrics,
                std::chrono::duration<double> unhealthy_after = std::chrono::seconds(60));
  // Stops serving and joins the thread.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

 private:
  std::unique_ptr<httplib::Server> server_;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

}  // namespace rowsched::daemon
