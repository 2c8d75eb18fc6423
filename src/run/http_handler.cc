// The `http` handler: one request per fire, a transfer of the shared curl multi loop
// (run/curl_multi_loop.h), restricted to http/https and to the hosts of --allow-http. Redirects are followed here rather than by libcurl, so that every
// hop is checked against the allowlist before a connection is made.
#include "run/http_handler.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <set>

#include "run/bounded_capture.h"
#include "run/curl_multi_loop.h"
#include "run/executor.h"

namespace rowsched::run {

namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The overall bound of a request whose job has no timeout and whose func_args set none: long enough
// for any sane endpoint, short enough that a server that never answers does not hold a worker forever.
constexpr auto kDefaultTimeout = std::chrono::seconds(300);
constexpr auto kConnectTimeout = std::chrono::seconds(10);
constexpr int kMaxRedirects = 5;
const std::set<std::string> kMethods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
const std::set<std::string> kOptionKeys = {"method", "headers", "body", "timeout"};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string joined(const std::set<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// One allowlist entry: a host (or "*.suffix", or "*") and an optional port.
struct HostPattern {
  std::string host;
  std::optional<int> port;
};

std::optional<HostPattern> parse_host_pattern(const std::string& text, std::string& problem) {
  HostPattern p;
  std::string rest = text;
  if (text.find("://") != std::string::npos || text.find('/') != std::string::npos) {
    problem = "write a host or host:port, not a URL";
    return std::nullopt;
  }
  std::string port_text;
  if (!rest.empty() && rest.front() == '[') {  // [IPv6] or [IPv6]:port
    const size_t close = rest.find(']');
    if (close == std::string::npos) {
      problem = "an IPv6 address needs its closing ]";
      return std::nullopt;
    }
    p.host = rest.substr(0, close + 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') {
        problem = "only :port may follow ]";
        return std::nullopt;
      }
      port_text = rest.substr(close + 2);
      if (port_text.empty()) {
        problem = "the port after : is missing";
        return std::nullopt;
      }
    }
  } else {
    const size_t colon = rest.rfind(':');
    p.host = rest.substr(0, colon);
    if (colon != std::string::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) {
        problem = "the port after : is missing";
        return std::nullopt;
      }
    }
  }
  p.host = lower(p.host);
  if (!p.host.empty() && p.host.back() == '.') p.host.pop_back();
  if (p.host.empty()) {
    problem = "the host is empty";
    return std::nullopt;
  }
  if (p.host != "*" && p.host.find('*', p.host.rfind("*.") == 0 ? 1 : 0) != std::string::npos) {
    problem = "\"*\" is allowed only as a whole leading label (\"*.example.com\") or alone (any host)";
    return std::nullopt;
  }
  if (!port_text.empty()) {
    if (port_text.size() > 5 || !std::all_of(port_text.begin(), port_text.end(), ::isdigit) || std::stoi(port_text) < 1 ||
        std::stoi(port_text) > 65535) {
      problem = "the port must be a number from 1 to 65535";
      return std::nullopt;
    }
    p.port = std::stoi(port_text);
  }
  return p;
}

bool host_matches(const HostPattern& p, const std::string& host, int port) {
  if (p.port && *p.port != port) return false;
  if (p.host == "*") return true;
  if (p.host.rfind("*.", 0) == 0) {
    const std::string suffix = p.host.substr(1);  // ".example.com"
    return host.size() > suffix.size() && host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  return host == p.host;
}

// A URL as libcurl parses it: the scheme, host and port that it will connect to.
struct ParsedUrl {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> handle{nullptr, &curl_url_cleanup};
  std::string text, scheme, host;
  int port = 0;
};

std::string url_part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* value = nullptr;
  if (curl_url_get(u, part, &value, flags) != CURLUE_OK || !value) return "";
  std::string out(value);
  curl_free(value);
  return out;
}

// The parsed URL, or why it cannot be requested (scheme, syntax, host not allowed).
std::optional<ParsedUrl> parse_url(const std::string& text, const std::vector<std::string>& patterns, std::string& problem) {
  ParsedUrl u;
  u.text = text;
  u.handle.reset(curl_url());
  if (!u.handle) throw std::bad_alloc();
  if (const CURLUcode rc = curl_url_set(u.handle.get(), CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME); rc != CURLUE_OK) {
    problem = "\"" + text + "\" is not a URL: " + curl_url_strerror(rc);
    return std::nullopt;
  }
  u.scheme = lower(url_part(u.handle.get(), CURLUPART_SCHEME));
  if (u.scheme != "http" && u.scheme != "https") {
    problem = "\"" + text + "\": the scheme must be http or https, got \"" + u.scheme + "\"";
    return std::nullopt;
  }
  u.host = lower(url_part(u.handle.get(), CURLUPART_HOST));
  if (!u.host.empty() && u.host.back() == '.') u.host.pop_back();
  const std::string port = url_part(u.handle.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  u.port = port.empty() ? 0 : std::stoi(port);
  if (u.host.empty()) {
    problem = "\"" + text + "\" has no host";
    return std::nullopt;
  }
  if (patterns.empty()) {
    problem = "func \"http\" is not enabled on this rowsched: it was started without --allow-http. To request \"" + text +
              "\", start rowsched with --allow-http " + u.host;
    return std::nullopt;
  }
  if (!http_host_allowed(u.host, u.port, patterns)) {
    std::string allowed;
    for (const auto& p : patterns) allowed += (allowed.empty() ? "" : ", ") + p;
    problem = "host \"" + u.host + ":" + std::to_string(u.port) + "\" of \"" + text + "\" is not allowed by --allow-http (allowed: " +
              allowed + "); to allow it, start rowsched with --allow-http " + u.host;
    return std::nullopt;
  }
  return u;
}

std::optional<std::string> check_options(const nlohmann::json& o) {
  if (!o.is_object()) return "func_args[1] must be an object of request options {method, headers, body, timeout}, got " + std::string(o.type_name());
  for (const auto& [key, value] : o.items()) {
    if (!kOptionKeys.count(key)) return "func_args[1]: unknown key \"" + key + "\"; allowed: " + joined(kOptionKeys);
    if (key == "method") {
      if (!value.is_string() || !kMethods.count(value.get<std::string>()))
        return "func_args[1].method: " + value.dump() + " is not a method; allowed: " + joined(kMethods);
    } else if (key == "headers") {
      if (!value.is_object()) return "func_args[1].headers must be an object of header names to string values";
      for (const auto& [name, v] : value.items()) {
        const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
          return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
        });
        if (!token) return "func_args[1].headers: \"" + name + "\" is not a valid header name";
        if (!v.is_string()) return "func_args[1].headers[\"" + name + "\"] must be a string, got " + std::string(v.type_name());
        if (v.get<std::string>().find_first_of("\r\n") != std::string::npos)
          return "func_args[1].headers[\"" + name + "\"] must not contain a line break";
      }
    } else if (key == "timeout") {
      if (!value.is_number() || value.get<double>() <= 0 || value.get<double>() > 86400)
        return "func_args[1].timeout: " + value.dump() + " is out of range; allowed: seconds, a number above 0 and at most 86400";
    }
    // body: any JSON value; a string is sent as it is, anything else as JSON.
  }
  return std::nullopt;
}

using HeaderList = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* capture = static_cast<BoundedCapture*>(user);
  capture->append(std::string_view(data, size * count));
  return capture->full() ? 0 : size * count;  // 0 aborts the transfer: the rest would not be kept anyway
}

struct Response {
  long status = 0;
  std::string redirect;  // the absolute Location of a 3xx response
  BoundedCapture body{Executor::kMaxCapture - 64};
  CURLcode code = CURLE_OK;
  std::string error;
};

class HttpHandler final : public Handler {
 public:
  explicit HttpHandler(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {}

  std::optional<std::string> validate(const nlohmann::json& args) const override {
    if (!args.is_array() || args.empty() || args.size() > 2 || !args[0].is_string())
      return "func_args must be [url] or [url, {method, headers, body, timeout}]";
    std::string problem;
    if (!parse_url(args[0].get<std::string>(), patterns_, problem)) return "func_args[0]: " + problem;
    if (args.size() == 2) return check_options(args[1]);
    return std::nullopt;
  }

  // The transfer goes to the shared curl multi loop (run/curl_multi_loop.h): no thread waits on it.
  bool start(const RunRequest& req, Done done) const override {
    if (auto problem = validate(req.args)) {
      done(RunOutcome{false, false, "", *problem});
      return true;
    }
    const nlohmann::json options = req.args.size() > 1 ? req.args[1] : nlohmann::json::object();
    auto t = std::make_shared<Transfer>();
    t->done = std::move(done);
    t->not_before = req.not_before;

    // The budget is the shorter of the job's timeout and the request's own.
    t->budget = kDefaultTimeout;
    t->budget_source = "the default http timeout";
    if (options.contains("timeout")) {
      t->budget = from_seconds(options["timeout"].get<double>());
      t->budget_source = "func_args[1].timeout";
    }
    if (req.timeout && *req.timeout <= t->budget) {
      t->budget = *req.timeout;
      t->budget_source = "the job's timeout";
    }
    const Duration wait = std::max(Duration::zero(), req.not_before - std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()));
    t->deadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(wait + t->budget);

    t->method = options.value("method", options.contains("body") ? "POST" : "GET");
    if (options.contains("body") && !options["body"].is_null())
      t->body = options["body"].is_string() ? options["body"].get<std::string>() : options["body"].dump();
    auto add_header = [&](const std::string& line) {
      curl_slist* grown = curl_slist_append(t->headers.get(), line.c_str());
      if (!grown) throw std::bad_alloc();
      t->headers.release();
      t->headers.reset(grown);
    };
    bool has_content_type = false;
    const nlohmann::json user_headers = options.value("headers", nlohmann::json::object());
    for (const auto& [name, value] : user_headers.items()) {
      add_header(name + ": " + value.get<std::string>());
      has_content_type = has_content_type || lower(name) == "content-type";
    }
    if (t->body && !options["body"].is_string() && !has_content_type) add_header("Content-Type: application/json");
    add_header("X-Rowsched-Job-Id: " + req.job_id);
    add_header("X-Rowsched-Run-Id: " + std::to_string(req.run_id));
    add_header("X-Rowsched-Scheduled-For: " + format_rfc3339(req.scheduled_for));
    add_header("Expect:");  // no 100-continue round trip before a body

    std::string problem;
    t->url = parse_url(req.args[0].get<std::string>(), patterns_, problem);
    launch(t);
    return true;
  }

  // The same transfer, waited for on the calling thread.
  RunOutcome run(const RunRequest& req, WorkerContext&) const override { return run_started(req); }

 private:
  // One fire's request across its redirects.
  struct Transfer {
    Done done;
    TimePoint not_before{};
    Duration budget{};
    std::string budget_source;
    SteadyClock::time_point deadline{};
    std::string method;
    std::optional<std::string> body;
    HeaderList headers{nullptr, &curl_slist_free_all};
    std::optional<ParsedUrl> url;
    int hop = 0;
    Response response;
    char error[CURL_ERROR_SIZE] = {0};
  };

  // Starts the transfer's next hop, or ends it when its budget is spent.
  void launch(const std::shared_ptr<Transfer>& t) const {
    const auto left = std::chrono::duration_cast<milliseconds>(t->deadline - SteadyClock::now());
    if (left <= milliseconds(0)) return t->done(timed_out(t->budget, t->budget_source, ""));
    t->response = Response{};
    t->error[0] = 0;
    CURL* easy = configure(*t->url, t->method, t->body, t->headers.get(), left, t->response, t->error);
    CurlMultiLoop::shared().add(easy, t->hop == 0 ? t->not_before : TimePoint{}, [this, t](CURL* c, CURLcode code) {
      Response& r = t->response;
      r.code = code;
      r.error = t->error[0] ? t->error : curl_easy_strerror(code);
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
      char* location = nullptr;
      if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location) r.redirect = location;
      if (auto outcome = finished(*t)) t->done(std::move(*outcome));
      else launch(t);
    });
  }

  // The outcome of the hop that just ended, or nullopt when a redirect is to be followed.
  std::optional<RunOutcome> finished(Transfer& t) const {
    Response& r = t.response;
    // A timeout before the budget is spent is the connect timeout: the server is unreachable.
    if (r.code == CURLE_OPERATION_TIMEDOUT && SteadyClock::now() + milliseconds(50) >= t.deadline)
      return timed_out(t.budget, t.budget_source, r.body.text());
    if (r.code != CURLE_OK && !(r.code == CURLE_WRITE_ERROR && r.body.full()))
      return RunOutcome{false, false, "", t.method + " " + t.url->text + " failed: " + r.error};
    if (r.status >= 300 && r.status < 400 && !r.redirect.empty()) {
      if (t.hop == kMaxRedirects)
        return RunOutcome{false, false, "", "more than " + std::to_string(kMaxRedirects) + " redirects, the last to " + r.redirect};
      std::string problem;
      auto next = parse_url(r.redirect, patterns_, problem);
      if (!next)
        return RunOutcome{false, false, "HTTP " + std::to_string(r.status) + "\n" + r.body.text(),
                          "HTTP " + std::to_string(r.status) + " redirect not followed: " + problem};
      // Browsers' rule, which curl follows too: 301/302/303 turn into GET, 307/308 repeat the request.
      if (r.status <= 303 && t.method != "HEAD") {
        t.method = "GET";
        t.body.reset();
      }
      t.url = std::move(next);
      ++t.hop;
      return std::nullopt;
    }
    RunOutcome out;
    out.output = "HTTP " + std::to_string(r.status) + (r.body.empty() ? "" : "\n" + r.body.text());
    if (r.status < 200 || r.status >= 300) {
      out.ok = false;
      out.error = "HTTP " + std::to_string(r.status) + " from " + t.method + " " + t.url->text + " (only 2xx is success)";
    }
    return out;
  }

  static RunOutcome timed_out(Duration budget, const std::string& source, std::string partial) {
    return RunOutcome{false, true, std::move(partial),
                      "timed out after " + format_seconds(budget) + " s (" + source + "): the transfer was aborted"};
  }

  // A new easy handle for one hop, writing into `r` and `error` (which outlive it).
  static CURL* configure(const ParsedUrl& url, const std::string& method, const std::optional<std::string>& body,
                         curl_slist* headers, milliseconds left, Response& r, char* error) {
    CURL* c = curl_easy_init();
    if (!c) throw std::runtime_error("curl_easy_init failed");
    curl_easy_setopt(c, CURLOPT_CURLU, url.handle.get());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");  // the allowlist names the hosts rowsched connects to: no proxy from the environment
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, left.count())));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::max<int64_t>(1, std::min<int64_t>(left.count(), milliseconds(kConnectTimeout).count()))));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "rowsched/" ROWSCHED_VERSION);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    if (method == "HEAD") {
      curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (method != "GET" || body) {
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
      if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
        curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body->c_str());
      }
    }
    return c;
  }

  std::vector<std::string> patterns_;
};

}  // namespace

std::optional<std::string> check_http_patterns(const std::vector<std::string>& patterns) {
  for (const auto& p : patterns) {
    std::string problem;
    if (!parse_host_pattern(p, problem))
      return "--allow-http \"" + p + "\": " + problem + "; write a host, host:port or *.example.com";
  }
  return std::nullopt;
}

bool http_host_allowed(const std::string& host, int port, const std::vector<std::string>& patterns) {
  for (const auto& text : patterns) {
    std::string problem;
    if (auto p = parse_host_pattern(text, problem); p && host_matches(*p, host, port)) return true;
  }
  return false;
}

std::shared_ptr<const Handler> make_http_handler(std::vector<std::string> patterns) {
  if (auto problem = check_http_patterns(patterns)) throw HandlerSetupError(*problem);
  // Called at start-up before any executor thread exists (libcurl wants its global set-up done early).
  if (const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK)
    throw HandlerSetupError(std::string("libcurl cannot be initialised: ") + curl_easy_strerror(rc));
  return std::make_shared<HttpHandler>(std::move(patterns));
}

}  // namespace rowsched::run
