// The web page of `rowsched run --web-addr HOST:PORT` (docs/web.md): the page itself at `/` (its
// files embedded at build time) and the JSON endpoints of WebApi under /api/, on threads and
// database connections of its own — never the scheduler loop's — so a page can make no fire late.
//
// Read-only. With a token, every request (the page's files too) must carry it, as
// `Authorization: Bearer TOKEN`, `?token=TOKEN` or the cookie set for a page opened with `?token=`;
// it is compared in constant time and never logged. Without a token, a request whose Host header names
// neither an IP address, localhost nor the listening host is refused (403): a web site whose name was
// rebound to 127.0.0.1 (DNS rebinding) could otherwise read the page from a visitor's browser.
//
// Thread safety: construct and destroy on one thread; requests are served concurrently, each with a
// database connection of its own taken from a small pool (at most two idle), and one more thread with
// its own connection re-reads the jobs list snapshot (web_job_index.h) in the background.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "daemon/metrics_server.h"
#include "daemon/web_api.h"
#include "daemon/web_job_index.h"

namespace httplib {
class Server;
}

namespace rowsched::daemon {

struct WebServerConfig {
  ListenAddress address;
  std::string dsn;
  std::string schema = "public";
  std::optional<std::string> token;  // required on every request when set
  bool hide_args = false;
  Zone default_zone = nullptr;
};

// Compares a presented token with the expected one in time that depends only on their lengths'
// maximum, not on where they first differ.
bool tokens_equal(std::string_view presented, std::string_view expected);

// Whether a Host header (`name`, `name:port`, `[v6]:port`; empty when absent) names this page for a
// browser without a token: an IP address, `localhost`, or `listen_host` (the --web-addr host).
bool host_is_this_page(std::string_view host_header, std::string_view listen_host);

class WebServer {
 public:
  // Binds at once (a taken port fails start-up) and serves from background threads. Connects to the
  // database lazily, per request, so a database that is down shows as 503 rather than stopping the
  // daemon. Throws std::runtime_error naming the address when it cannot listen.
  WebServer(WebServerConfig config, std::function<TimePoint()> clock);
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

 private:
  // The pool of idle connections: a request takes one (or opens a new one when there is none) and
  // gives it back when it was answered; a connection that failed is not given back.
  std::unique_ptr<store::WebReader> take_idle_reader();
  void give_back(std::unique_ptr<store::WebReader> reader);
  void drop_idle_readers();

  WebServerConfig config_;
  JobIndexCache job_index_;
  WebApi api_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<store::WebReader>> idle_readers_;
  std::unique_ptr<httplib::Server> server_;
  std::atomic<bool> finished_{false};
  std::thread thread_;
  std::thread index_refresher_;  // reads new JobIndex snapshots in the background, on its own connection
};

}  // namespace rowsched::daemon
