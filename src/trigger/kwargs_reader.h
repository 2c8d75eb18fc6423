// Reads typed values out of a trigger_kwargs object, one key at a time, and builds the exact error
// messages users see.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "trigger/trigger.h"

namespace rowsched {

class KwargsReader {
 public:
  explicit KwargsReader(const nlohmann::json& object) : object_(object) {}

  // The raw value of `key`, or nullptr when the key is absent.
  const nlohmann::json* take(std::string_view key);

  // A string value (null and absent both give nullopt).
  std::optional<std::string> take_string(std::string_view key);

  // A cron field expression: a string, or an integer that APScheduler also accepts (`"hour": 3`).
  std::optional<std::string> take_expression(std::string_view key);

  // A non-negative number of seconds (integer or fraction); `allow_null` lets a JSON null through as
  // an engaged outer optional holding nullopt.
  std::optional<std::optional<Duration>> take_seconds(std::string_view key, bool allow_null, Duration max);

  // An integer in [min, max].
  std::optional<long long> take_integer(std::string_view key, long long min, long long max);

  std::optional<bool> take_bool(std::string_view key);

  // A timestamp in the documented forms; a value without offset is wall-clock time in `zone`.
  std::optional<TimePoint> take_timestamp(std::string_view key, Zone zone);

  // An IANA time zone name.
  std::optional<Zone> take_zone(std::string_view key);

  // Throws for the first key (in name order) that is neither "trigger" nor in `allowed`, listing
  // `allowed`: a typo must not silently schedule something else.
  void reject_unknown(std::string_view trigger_name, const std::vector<std::string>& allowed) const;

  // `trigger_kwargs.<key>: <value as JSON> <problem>`.
  [[noreturn]] static void fail(std::string_view key, const nlohmann::json& value, std::string_view problem);

 private:
  const nlohmann::json& object_;
};

// Joins names with ", " for "allowed: ..." lists.
std::string join(const std::vector<std::string>& names);

}  // namespace rowsched
