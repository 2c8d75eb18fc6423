// Typed reads of trigger_kwargs values with the messages users see in last_error and on stderr.
#include "trigger/kwargs_reader.h"

#include <algorithm>
#include <cmath>

namespace rowsched {

namespace {

const char* json_type_name(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::object: return "an object";
    default: return "a number";
  }
}

// Values are quoted as JSON so that "25" (a string) and 25 (a number) read differently; long values
// are cut so one hostile row cannot fill a log.
std::string render(const nlohmann::json& v) {
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

}  // namespace

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

void KwargsReader::fail(std::string_view key, const nlohmann::json& value, std::string_view problem) {
  throw TriggerError("trigger_kwargs." + std::string(key) + ": " + render(value) + " " + std::string(problem));
}

const nlohmann::json* KwargsReader::take(std::string_view key) {
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &*it;
}

std::optional<std::string> KwargsReader::take_string(std::string_view key) {
  const nlohmann::json* v = take(key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_string()) fail(key, *v, std::string("is ") + json_type_name(*v) + "; allowed: a string");
  return v->get<std::string>();
}

std::optional<std::string> KwargsReader::take_expression(std::string_view key) {
  const nlohmann::json* v = take(key);
  if (!v || v->is_null()) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number_integer()) return std::to_string(v->get<long long>());
  if (v->is_number_unsigned()) return std::to_string(v->get<unsigned long long>());
  fail(key, *v, std::string("is ") + json_type_name(*v) + "; allowed: a cron expression string such as \"*/5\" or an integer");
}

std::optional<std::optional<Duration>> KwargsReader::take_seconds(std::string_view key, bool allow_null, Duration max) {
  const nlohmann::json* v = take(key);
  if (!v) return std::nullopt;
  const std::string allowed = "allowed: a number of seconds from 0 to " + format_seconds(max) + (allow_null ? " or null" : "");
  if (v->is_null()) {
    if (allow_null) return std::optional<Duration>{};
    return std::nullopt;
  }
  if (!v->is_number()) fail(key, *v, std::string("is ") + json_type_name(*v) + "; " + allowed);
  const double s = v->get<double>();
  if (!std::isfinite(s) || s < 0 || s > std::chrono::duration<double>(max).count()) fail(key, *v, "is out of range; " + allowed);
  return std::optional<Duration>{Duration{static_cast<int64_t>(std::llround(s * 1e6))}};
}

std::optional<long long> KwargsReader::take_integer(std::string_view key, long long min, long long max) {
  const nlohmann::json* v = take(key);
  if (!v || v->is_null()) return std::nullopt;
  const std::string allowed = "allowed: an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && d >= static_cast<double>(min) && d <= static_cast<double>(max))
      return static_cast<long long>(d);
  }
  if (!v->is_number_integer() && !v->is_number_unsigned()) fail(key, *v, std::string("is ") + json_type_name(*v) + "; " + allowed);
  if (v->is_number_unsigned() && v->get<unsigned long long>() > static_cast<unsigned long long>(max))
    fail(key, *v, "is out of range; " + allowed);
  const long long n = v->get<long long>();
  if (n < min || n > max) fail(key, *v, "is out of range; " + allowed);
  return n;
}

std::optional<bool> KwargsReader::take_bool(std::string_view key) {
  const nlohmann::json* v = take(key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_boolean()) fail(key, *v, std::string("is ") + json_type_name(*v) + "; allowed: true or false");
  return v->get<bool>();
}

std::optional<TimePoint> KwargsReader::take_timestamp(std::string_view key, Zone zone) {
  const nlohmann::json* v = take(key);
  if (!v || v->is_null()) return std::nullopt;
  static constexpr std::string_view allowed = "allowed: YYYY-MM-DD[ HH:MM:SS[.ffffff]][Z|+HH:MM|-HH:MM]";
  if (!v->is_string()) fail(key, *v, std::string("is ") + json_type_name(*v) + "; " + std::string(allowed));
  auto t = parse_timestamp(v->get<std::string>(), zone);
  if (!t) fail(key, *v, "is not a valid timestamp; " + std::string(allowed));
  return t;
}

std::optional<Zone> KwargsReader::take_zone(std::string_view key) {
  const nlohmann::json* v = take(key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_string()) fail(key, *v, std::string("is ") + json_type_name(*v) + "; allowed: an IANA time zone name such as \"UTC\" or \"Europe/Berlin\"");
  auto z = find_zone(v->get<std::string>());
  if (!z) fail(key, *v, "is not a known IANA time zone; allowed: a name from the tz database such as \"UTC\" or \"Europe/Berlin\"");
  return z;
}

void KwargsReader::reject_unknown(std::string_view trigger_name, const std::vector<std::string>& allowed) const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (it.key() != "trigger" && std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      throw TriggerError("trigger_kwargs: unknown key " + nlohmann::json(it.key()).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                         " for trigger \"" + std::string(trigger_name) + "\"; allowed: " + join(allowed));
    }
  }
}

}  // namespace rowsched
