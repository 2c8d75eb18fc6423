#include "trigger/schedule_words.h"

#include <array>
#include <cctype>
#include <optional>
#include <sstream>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace rowsched {

namespace {

using nlohmann::json;

// A field value as written ("*/5", "mon-fri", 30), or nullopt when absent or of another type.
std::optional<std::string> field(const json& kwargs, const char* key) {
  const auto it = kwargs.find(key);
  if (it == kwargs.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<long long>());
  return std::nullopt;
}

bool is_number(const std::string& s) {
  return !s.empty() && s.size() <= 4 && s.find_first_not_of("0123456789") == std::string::npos;
}

// "*/5" -> 5; nullopt for anything else.
std::optional<int> step_of(const std::string& s) {
  if (s.rfind("*/", 0) != 0 || !is_number(s.substr(2))) return std::nullopt;
  return std::stoi(s.substr(2));
}

std::string two_digits(const std::string& s) { return s.size() == 1 ? "0" + s : s; }

std::string every(long long n, const std::string& unit) {
  return n == 1 ? "every " + unit : "every " + std::to_string(n) + " " + unit + "s";
}

struct CronFields {
  std::string second, minute, hour, day, month, day_of_week;
};

// The words of a cron schedule with every field known (wildcards as "*").
std::string cron_words(const CronFields& f) {
  if (f.month != "*") return "";
  const bool any_day = f.day == "*" && f.day_of_week == "*";
  if (f.second != "0") {
    if (!any_day || f.minute != "*" || f.hour != "*") return "";
    if (f.second == "*") return "every second";
    if (auto n = step_of(f.second)) return every(*n, "second");
    return "";
  }
  if (f.hour == "*" && any_day) {
    if (f.minute == "*") return "every minute";
    if (auto n = step_of(f.minute)) return every(*n, "minute");
    if (f.minute == "0") return "every hour";
    if (is_number(f.minute)) return "every hour at minute " + f.minute;
    return "";
  }
  if (auto n = step_of(f.hour); n && any_day && is_number(f.minute))
    return every(*n, "hour") + (f.minute == "0" ? "" : " at minute " + f.minute);
  if (!is_number(f.hour) || !is_number(f.minute)) return "";
  const std::string at = " at " + two_digits(f.hour) + ":" + two_digits(f.minute);
  if (any_day) return "every day" + at;
  // Weekday numbers differ between the forms (crontab: 0 = Sunday; APScheduler: 0 = Monday): only
  // names are put in words.
  if (f.day == "*") return f.day_of_week.find_first_of("0123456789") == std::string::npos ? "every " + f.day_of_week + at : "";
  if (f.day_of_week == "*" && (f.day == "$" || f.day == "last")) return "on the last day of every month" + at;  // pg_cron, APScheduler
  if (f.day_of_week == "*") return "on day " + f.day + " of every month" + at;
  return "";
}

// APScheduler's cron keys, most significant first. Fields below the most significant one given
// default to their minimum, the others to "*" (week and day_of_week always to "*").
std::string apscheduler_cron_words(const json& kwargs) {
  if (field(kwargs, "year") || field(kwargs, "week")) return "";
  constexpr std::array<const char*, 6> keys = {"month", "day", "day_of_week", "hour", "minute", "second"};
  for (const char* key : keys) {
    const auto it = kwargs.find(key);
    if (it != kwargs.end() && !it->is_null() && !field(kwargs, key)) return "";  // neither text nor a whole number
  }
  std::array<std::string, 6> values;
  bool more_significant_given = false;
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto given = field(kwargs, keys[i]);
    const bool always_wild = i == 2;
    values[i] = given ? *given : (more_significant_given && !always_wild ? (i <= 1 ? "1" : "0") : "*");
    if (given) more_significant_given = true;
  }
  if (!more_significant_given) values = {"*", "*", "*", "*", "*", "*"};  // every second
  return cron_words({values[5], values[4], values[3], values[1], values[0], values[2]});
}

std::string crontab_words(std::string line) {
  static const std::array<std::pair<std::string_view, std::string_view>, 7> macros = {{{"@yearly", "every year on 1 January at 00:00"},
                                                                                        {"@annually", "every year on 1 January at 00:00"},
                                                                                        {"@monthly", "on day 1 of every month at 00:00"},
                                                                                        {"@weekly", "every Sunday at 00:00"},
                                                                                        {"@daily", "every day at 00:00"},
                                                                                        {"@midnight", "every day at 00:00"},
                                                                                        {"@hourly", "every hour"}}};
  for (auto [name, words] : macros)
    if (line == name) return std::string(words);
  std::istringstream in(line);
  std::vector<std::string> parts;
  for (std::string p; in >> p;) parts.push_back(p);
  if (parts.size() == 5) parts.insert(parts.begin(), "0");
  if (parts.size() != 6) return "";
  // Vixie cron: a day field that is not "*" while the other is restricted means either day; say
  // nothing rather than something subtly wrong.
  if (parts[3] != "*" && parts[5] != "*") return "";
  return cron_words({parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]});
}

std::string interval_words(const json& kwargs) {
  constexpr std::array<const char*, 5> units = {"week", "day", "hour", "minute", "second"};
  std::string out;
  for (const char* unit : units) {
    const auto it = kwargs.find(std::string(unit) + "s");
    if (it == kwargs.end() || !it->is_number()) continue;
    const double value = it->get<double>();
    if (value == 0) continue;
    std::ostringstream number;
    number << value;
    out += (out.empty() ? "" : " ") + number.str() + " " + unit + (value == 1 ? "" : "s");
  }
  if (out.empty()) return "";
  // "every 1 hour" reads better as "every hour".
  for (const char* unit : units)
    if (out == "1 " + std::string(unit)) return std::string("every ") + unit;
  return "every " + out;
}

std::string calendar_interval_words(const json& kwargs) {
  constexpr std::array<const char*, 4> units = {"year", "month", "week", "day"};
  std::string out;
  for (const char* unit : units) {
    const auto it = kwargs.find(std::string(unit) + "s");
    if (it == kwargs.end() || !it->is_number_integer() || it->get<long long>() == 0) continue;
    if (!out.empty()) return "";
    out = every(it->get<long long>(), unit);
  }
  if (out.empty()) return "";
  const auto hour = field(kwargs, "hour").value_or("0"), minute = field(kwargs, "minute").value_or("0");
  if (!is_number(hour) || !is_number(minute)) return out;
  return out + " at " + two_digits(hour) + ":" + two_digits(minute);
}

std::string with_zone(const std::string& words, const json& kwargs) {
  if (words.empty()) return words;
  const auto zone = kwargs.find("timezone");
  return zone != kwargs.end() && zone->is_string() ? words + " (" + zone->get<std::string>() + ")" : words;
}

}  // namespace

std::string schedule_in_words(const json& kwargs) {
  if (!kwargs.is_object()) return "";
  const auto trigger = field(kwargs, "trigger");
  const auto crontab = kwargs.find("crontab");
  if (crontab != kwargs.end() && crontab->is_string() && (!trigger || *trigger == "cron"))
    return with_zone(crontab_words(crontab->get<std::string>()), kwargs);
  if (!trigger) return "";
  if (*trigger == "cron") return with_zone(apscheduler_cron_words(kwargs), kwargs);
  if (*trigger == "interval") return interval_words(kwargs);
  if (*trigger == "calendarinterval") return with_zone(calendar_interval_words(kwargs), kwargs);
  if (*trigger == "date") {
    const auto run_date = field(kwargs, "run_date");
    return run_date ? with_zone("once, at " + *run_date, kwargs) : "once";
  }
  return "";
}

}  // namespace rowsched
