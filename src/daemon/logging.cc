#include "daemon/logging.h"

#include <date/date.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

namespace rowsched::daemon {

namespace {
const char* level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}
// The level as --log-level names it ("warn", not spdlog's "warning"), padded to 5 characters.
class LevelNameFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string name = level_name(msg.level);
    if (name.size() < 5) name.resize(5, ' ');
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<LevelNameFlag>(); }
};
}  // namespace

void JsonLineFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  nlohmann::ordered_json line;
  line["time"] = date::format("%FT%TZ", std::chrono::floor<std::chrono::milliseconds>(msg.time));
  line["level"] = level_name(msg.level);
  line["message"] = std::string(msg.payload.data(), msg.payload.size());
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  dest.append(text.data(), text.data() + text.size());
}

std::unique_ptr<spdlog::formatter> JsonLineFormatter::clone() const { return std::make_unique<JsonLineFormatter>(); }

void set_up_logging(const std::string& level, const std::string& format) {
  if (format == "json") {
    auto logger = spdlog::stderr_logger_mt("rowsched");  // no colour codes inside JSON
    logger->set_formatter(std::make_unique<JsonLineFormatter>());
    spdlog::set_default_logger(logger);
  } else {
    spdlog::set_default_logger(spdlog::stderr_color_mt("rowsched"));
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<LevelNameFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%*%$ %v");
    spdlog::set_formatter(std::move(formatter));
  }
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace rowsched::daemon
