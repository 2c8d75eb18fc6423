// The `http` handler: func_args is [url] or [url, {method, headers, body, timeout}], one request
// through libcurl to a host allowed by an --allow-http pattern. The status code and the response
// body (up to run::Executor::kMaxCapture) are recorded; anything but 2xx is a failure; redirects are
// followed only to allowed hosts; a transfer past its timeout is aborted (docs/handlers.md).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "run/handler.h"

namespace rowsched::run {

// Why `patterns` (the --allow-http values) cannot be used, or nullopt.
std::optional<std::string> check_http_patterns(const std::vector<std::string>& patterns);

// True when `host` (lower case, IPv6 literals in brackets) with `port` matches one of `patterns`:
// "host" (any port), "host:port", "*.example.com" (any name below example.com, not example.com).
bool http_host_allowed(const std::string& host, int port, const std::vector<std::string>& patterns);

// The http handler allowing `patterns`. Throws HandlerSetupError for a malformed pattern.
std::shared_ptr<const Handler> make_http_handler(std::vector<std::string> patterns);

}  // namespace rowsched::run
