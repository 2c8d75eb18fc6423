// How rowsched logs: to stderr, either as text for a terminal or journald
// (`2024-03-31T01:30:00.000+0000 info  message`) or as one JSON object per line for log shippers
// (`{"time":"2024-03-31T01:30:00.000Z","level":"info","message":"..."}`).
//
// Secrets: callers pass every DSN through store::redact_dsn before logging it.
#pragma once

#include <memory>
#include <string>

#include <spdlog/formatter.h>

namespace rowsched::daemon {

// Installs the default logger. `level`: trace, debug, info, warn, error. `format`: text or json.
void set_up_logging(const std::string& level, const std::string& format);

// The spdlog formatter of --log-format json: time (RFC 3339 UTC, milliseconds), level, message; the
// message is escaped as a JSON string (invalid UTF-8 replaced by U+FFFD), so every line parses.
class JsonLineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace rowsched::daemon
