// cpp-httplib behind WebServer. Two worker threads: the page asks for a few small answers every few
// seconds, and the daemon's own threads matter more than a browser's.
#include "daemon/web_server.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "daemon/web_assets.h"
#include "store/job_store.h"
#include "store/web_reader.h"

namespace rowsched::daemon {

namespace {

constexpr int kWorkerThreads = 2;

std::string_view content_type(std::string_view path) {
  auto ends_with = [&](std::string_view suffix) {
    return path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  return "text/plain; charset=utf-8";
}

const WebAsset* find_asset(std::string_view path) {
  for (const auto& asset : embedded_web_assets())
    if (asset.path == path) return &asset;
  return nullptr;
}

void send_json(httplib::Response& res, const WebAnswer& answer) {
  res.status = answer.status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(answer.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

WebParams params_of(const httplib::Request& req) {
  WebParams out;
  for (const auto& [name, value] : req.params) out.emplace(name, value);  // the first of repeated names
  return out;
}

constexpr std::string_view kTokenCookie = "rowsched_token";

// The token of a request: from `Authorization: Bearer`, `?token=`, or the cookie set when the page
// was opened with `?token=` (so that the browser's own requests for the page's files carry it).
std::optional<std::string> presented_token(const httplib::Request& req) {
  const std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() > kBearer.size() && header.compare(0, kBearer.size(), kBearer) == 0) return header.substr(kBearer.size());
  if (req.has_param("token")) return req.get_param_value("token");
  const std::string cookies = req.get_header_value("Cookie");
  for (size_t start = 0; start < cookies.size();) {
    size_t end = cookies.find(';', start);
    if (end == std::string::npos) end = cookies.size();
    std::string_view cookie(cookies.data() + start, end - start);
    while (!cookie.empty() && cookie.front() == ' ') cookie.remove_prefix(1);
    if (cookie.size() > kTokenCookie.size() && cookie.substr(0, kTokenCookie.size()) == kTokenCookie &&
        cookie[kTokenCookie.size()] == '=')
      return std::string(cookie.substr(kTokenCookie.size() + 1));
    start = end + 1;
  }
  return std::nullopt;
}

// The page's threads yield the CPU to the scheduler's: on a busy machine a burst of requests then
// delays a page, not a fire. A thread may always lower its own priority; the call is idempotent.
void yield_to_the_scheduler() { setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10); }

}  // namespace

bool tokens_equal(std::string_view presented, std::string_view expected) {
  const size_t n = std::max(presented.size(), expected.size());
  unsigned char difference = presented.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char a = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    const unsigned char b = i < expected.size() ? static_cast<unsigned char>(expected[i]) : 0;
    difference |= a ^ b;
  }
  return difference == 0;
}

bool host_is_this_page(std::string_view host_header, std::string_view listen_host) {
  if (host_header.empty()) return true;  // HTTP/1.0 without Host: not a browser
  std::string host;
  if (host_header.front() == '[') {
    const size_t close = host_header.find(']');
    if (close == std::string_view::npos) return false;
    host = host_header.substr(1, close - 1);
  } else {
    host = host_header.substr(0, host_header.find(':'));
  }
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  if (host.empty()) return false;
  in6_addr address{};
  if (inet_pton(AF_INET, host.c_str(), &address) == 1 || inet_pton(AF_INET6, host.c_str(), &address) == 1) return true;
  if (host == "localhost") return true;
  std::string listening(listen_host);
  std::transform(listening.begin(), listening.end(), listening.begin(), [](unsigned char c) { return std::tolower(c); });
  return host == listening;
}

WebServer::WebServer(WebServerConfig config, std::function<TimePoint()> clock)
    : config_(std::move(config)),
      job_index_(clock),
      api_(config_.default_zone, config_.hide_args, clock, job_index_),
      server_(std::make_unique<httplib::Server>()) {
  server_->new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };  // httplib owns and deletes it

  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    yield_to_the_scheduler();
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:");
    res.set_header("Referrer-Policy", "no-referrer");
    if (!config_.token) {
      const std::string host = req.get_header_value("Host");
      if (host_is_this_page(host, config_.address.host)) return httplib::Server::HandlerResponse::Unhandled;
      res.status = 403;
      res.set_content("Host \"" + host + "\" is not an address of this page; allowed without --web-token-file: an IP "
                      "address, localhost or " + config_.address.host + "\n",
                      "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    }
    const auto token = presented_token(req);
    if (token && tokens_equal(*token, *config_.token)) {
      // HttpOnly: scripts never read it; SameSite=Strict: other sites' pages cannot send it.
      if (req.has_param("token"))
        res.set_header("Set-Cookie", std::string(kTokenCookie) + "=" + *token + "; Path=/; HttpOnly; SameSite=Strict");
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.status = 401;
    res.set_header("WWW-Authenticate", "Bearer realm=\"rowsched\"");
    res.set_content(token ? "wrong token\n" : "a token is required: open the page as /?token=TOKEN, or send Authorization: Bearer TOKEN\n",
                    "text/plain; charset=utf-8");
    return httplib::Server::HandlerResponse::Handled;
  });

  // Each API answer borrows a connection; database trouble is an answer too, never a crash. An idle
  // connection that broke meanwhile (a server restart, an idle timeout) is replaced once, silently.
  auto api = [this](std::function<WebAnswer(store::WebReader&, const httplib::Request&)> answer) {
    return [this, answer = std::move(answer)](const httplib::Request& req, httplib::Response& res) {
      auto serve = [&](std::unique_ptr<store::WebReader> reader) {
        send_json(res, answer(*reader, req));
        give_back(std::move(reader));
      };
      try {
        if (auto idle = take_idle_reader()) {
          try {
            serve(std::move(idle));
            return;
          } catch (const store::ConnectionLost&) {
            drop_idle_readers();  // they are likely broken the same way
          }
        }
        serve(std::make_unique<store::WebReader>(config_.dsn, config_.schema));
      } catch (const store::ConnectionLost& e) {
        send_json(res, {503, {{"error", std::string("database unavailable: ") + e.what()}}});
      } catch (const std::exception& e) {
        send_json(res, {500, {{"error", e.what()}}});
      }
    };
  };
  server_->Get("/api/jobs", api([this](store::WebReader& r, const httplib::Request& req) { return api_.jobs(r, params_of(req)); }));
  server_->Get(R"(/api/jobs/(.+))", api([this](store::WebReader& r, const httplib::Request& req) { return api_.job(r, req.matches[1].str()); }));
  server_->Get("/api/runs", api([this](store::WebReader& r, const httplib::Request& req) { return api_.runs(r, params_of(req)); }));
  server_->Get("/api/instances", api([this](store::WebReader& r, const httplib::Request&) { return api_.instances(r); }));
  server_->Get("/api/timeline", api([this](store::WebReader& r, const httplib::Request& req) { return api_.timeline(r, params_of(req)); }));
  server_->Get(R"(/api/.*)", [](const httplib::Request& req, httplib::Response& res) {
    send_json(res, {404, {{"error", "no endpoint " + req.path + "; allowed: /api/jobs, /api/jobs/<id>, /api/runs, /api/instances, /api/timeline"}}});
  });

  // The page: its files by name; `/` and the job pages `/job/<id>` are the one HTML document.
  server_->Get(R"(/|/job/.*|/[A-Za-z0-9_.-]+)", [](const httplib::Request& req, httplib::Response& res) {
    const bool document = req.path == "/" || req.path.rfind("/job/", 0) == 0;
    const WebAsset* asset = find_asset(document ? "/index.html" : req.path);
    if (!asset) {
      res.status = 404;
      res.set_content("not found\n", "text/plain");
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_content(std::string(asset->text), std::string(content_type(asset->path)).c_str());
  });

  if (config_.address.host.find(':') != std::string::npos) server_->set_address_family(AF_INET6);
  errno = 0;
  if (!server_->bind_to_port(config_.address.host, config_.address.port)) {
    const int err = errno;
    throw std::runtime_error("--web-addr: cannot listen on " + config_.address.host + ":" + std::to_string(config_.address.port) +
                             (err ? std::string(": ") + std::strerror(err) : std::string()));
  }
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    finished_ = true;
  });
  index_refresher_ = std::thread([this] {
    yield_to_the_scheduler();
    std::unique_ptr<store::WebReader> reader;
    while (job_index_.wait_until_wanted()) {
      try {
        if (!reader) reader = std::make_unique<store::WebReader>(config_.dsn, config_.schema);
        job_index_.refresh(*reader);
      } catch (const std::exception& e) {
        reader.reset();  // the next request that finds the snapshot old asks again
        spdlog::warn("web page: cannot refresh the jobs list: {}", e.what());
      }
    }
  });
}

WebServer::~WebServer() {
  // httplib's stop() does nothing until the listening loop has started: wait for it first.
  while (!finished_ && !server_->is_running()) std::this_thread::yield();
  server_->stop();
  if (thread_.joinable()) thread_.join();
  job_index_.stop();
  if (index_refresher_.joinable()) index_refresher_.join();
}

std::unique_ptr<store::WebReader> WebServer::take_idle_reader() {
  std::lock_guard lock(pool_mutex_);
  if (idle_readers_.empty()) return nullptr;
  auto reader = std::move(idle_readers_.back());
  idle_readers_.pop_back();
  return reader;
}

void WebServer::drop_idle_readers() {
  std::lock_guard lock(pool_mutex_);
  idle_readers_.clear();
}

void WebServer::give_back(std::unique_ptr<store::WebReader> reader) {
  std::lock_guard lock(pool_mutex_);
  if (idle_readers_.size() < kWorkerThreads) idle_readers_.push_back(std::move(reader));
}

}  // namespace rowsched::daemon
