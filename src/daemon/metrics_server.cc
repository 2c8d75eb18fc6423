// cpp-httplib behind MetricsServer. Two worker threads are plenty for a scraper and a health probe.
#include "daemon/metrics_server.h"

#include <cerrno>
#include <cstring>

#include <httplib.h>

namespace rowsched::daemon {

std::optional<ListenAddress> parse_listen_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = text.substr(0, colon);
  const std::string port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string::npos) return std::nullopt;  // IPv6 needs brackets
  if (host.empty()) host = "0.0.0.0";
  if (port_text.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const int port = std::stoi(port_text);
  if (port < 1 || port > 65535) return std::nullopt;
  return ListenAddress{host, port};
}

MetricsServer::MetricsServer(const ListenAddress& address, const Metrics& metrics, std::chrono::duration<double> unhealthy_after)
    : server_(std::make_unique<httplib::Server>()) {
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };  // httplib owns and deletes it
  server_->Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.registry.expose(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/healthz", [&metrics, unhealthy_after](const httplib::Request&, httplib::Response& res) {
    const auto since = metrics.readiness.not_ready_since();
    const auto reason = metrics.readiness.not_ready_reason();
    if (since && reason && std::chrono::system_clock::now() - *since > unhealthy_after) {
      // Not ready for longer than the threshold: a supervisor should restart or alert.
      res.status = 503;
      res.set_content("unhealthy: not ready for " +
                          std::to_string(static_cast<long long>(
                              std::chrono::duration<double>(std::chrono::system_clock::now() - *since).count())) +
                          " s: " + *reason + "\n",
                      "text/plain");
      return;
    }
    res.set_content("ok\n", "text/plain");
  });
  server_->Get("/readyz", [&metrics](const httplib::Request&, httplib::Response& res) {
    if (const auto reason = metrics.readiness.not_ready_reason()) {
      res.status = 503;
      res.set_content("not ready: " + *reason + "\n", "text/plain");
    } else {
      res.set_content("ready\n", "text/plain");
    }
  });
  if (address.host.find(':') != std::string::npos) server_->set_address_family(AF_INET6);
  errno = 0;
  if (!server_->bind_to_port(address.host, address.port)) {
    const int err = errno;
    throw std::runtime_error("--metrics-addr: cannot listen on " + address.host + ":" + std::to_string(address.port) +
                             (err ? std::string(": ") + std::strerror(err) : std::string()));
  }
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    finished_ = true;
  });
}

MetricsServer::~MetricsServer() {
  // httplib's stop() does nothing until the listening loop has started: wait for it first.
  while (!finished_ && !server_->is_running()) std::this_thread::yield();
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace rowsched::daemon
