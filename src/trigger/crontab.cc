// make_crontab_trigger: the classic crontab line as Vixie cron reads it. Five fields (minute hour day
// month weekday) or six with seconds first, names jan..dec and sun..sat, 0 and 7 both Sunday, and the
// day rule of Vixie cron: when the day-of-month or the day-of-week field starts with `*`, a day must
// match both (the `*` one allows every day it lists); when neither does, a day matches when either
// matches. Unlike croniter, `*/2` counts as starting with `*`.
//
// pg_cron's additions are read as pg_cron reads them (docs/pg-cron.md): `$` as the whole day-of-month
// field is the last day of the month, and `N seconds` / `N second` (N = 1..59, pg_cron 1.5+) is every
// N seconds of elapsed time. pg_cron anchors that interval at whenever its scheduler happened to start;
// rowsched anchors it at start_date, else at the Unix epoch, so that every instance computes the same
// fire instants (a fire's identity is its instant). `@reboot` / `@restart` have no meaning for a
// scheduler that is not part of the server and are rejected with that reason.
#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <string_view>
#include <vector>

#include "trigger/cron_expression.h"
#include "trigger/cron_trigger.h"
#include "trigger/interval_trigger.h"
#include "trigger/pattern_trigger.h"

namespace rowsched {

namespace {

struct Macro {
  std::string_view name, expansion;
};
constexpr std::array<Macro, 7> kMacros = {{{"@yearly", "0 0 1 1 *"},
                                           {"@annually", "0 0 1 1 *"},
                                           {"@monthly", "0 0 1 * *"},
                                           {"@weekly", "0 0 * * 0"},
                                           {"@daily", "0 0 * * *"},
                                           {"@midnight", "0 0 * * *"},
                                           {"@hourly", "0 * * * *"}}};
constexpr std::string_view kMacroList = "@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly";
constexpr int kMaxIntervalSeconds = 59;  // pg_cron's '[1-59] seconds'

constexpr std::array<std::string_view, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kWeekdayNames = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct FieldSpec {
  std::string_view name;
  int min, max;
  const std::string_view* names;  // names[i] is min + i; nullptr when the field has no names
  size_t name_count;
};

constexpr FieldSpec kSecond{"second", 0, 59, nullptr, 0};
constexpr FieldSpec kMinute{"minute", 0, 59, nullptr, 0};
constexpr FieldSpec kHour{"hour", 0, 23, nullptr, 0};
constexpr FieldSpec kDayOfMonth{"day-of-month", 1, 31, nullptr, 0};
constexpr FieldSpec kMonth{"month", 1, 12, kMonthNames.data(), kMonthNames.size()};
constexpr FieldSpec kDayOfWeek{"day-of-week", 0, 7, kWeekdayNames.data(), kWeekdayNames.size()};

constexpr std::string_view kWhitespace = " \t\r\n\f\v";

std::string_view trim(std::string_view s) {
  const size_t b = s.find_first_not_of(kWhitespace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kWhitespace) - b + 1);
}

std::vector<std::string_view> split_fields(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while ((i = s.find_first_not_of(kWhitespace, i)) != std::string_view::npos) {
    const size_t end = std::min(s.find_first_of(kWhitespace, i), s.size());
    out.push_back(s.substr(i, end - i));
    i = end;
  }
  return out;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

class CrontabParser {
 public:
  explicit CrontabParser(std::string_view whole) : whole_(whole) {}

  [[noreturn]] void fail(std::string_view problem) const {
    throw TriggerError("trigger_kwargs.crontab: " + quoted(whole_) + " " + std::string(problem));
  }

  // The values `text` allows in `spec` as bits (bit v = value v).
  uint64_t parse_field(const FieldSpec& spec, std::string_view text) {
    spec_ = &spec;
    field_ = text;
    uint64_t mask = 0;
    std::string_view rest = text;
    while (true) {
      const size_t comma = rest.find(',');
      item_ = rest.substr(0, comma);
      mask |= parse_item(lowercase(item_));
      if (comma == std::string_view::npos) return mask;
      rest = rest.substr(comma + 1);
    }
  }

 private:
  [[noreturn]] void fail_item(std::string_view problem) const {
    std::string where = std::string(spec_->name) + " field " + quoted(field_);
    if (item_ != field_) where += ": " + quoted(item_);
    fail(where + " " + std::string(problem));
  }

  [[noreturn]] void invalid() const {
    std::string allowed = "*, */n, a, a-b, a-b/n, a/n, lists with commas";
    if (spec_->names == kMonthNames.data()) allowed += ", names jan..dec";
    if (spec_->names == kWeekdayNames.data()) allowed += ", names sun..sat (0 and 7 are Sunday)";
    if (spec_ == &kDayOfMonth) allowed += ", $ alone (the last day of the month)";
    fail_item("is not valid; allowed: " + allowed);
  }

  std::string range_text() const { return std::to_string(spec_->min) + "-" + std::to_string(spec_->max); }

  // A number or a name of the field; numbers too long for any range come back out of range.
  long long value_of(std::string_view s) const {
    if (s.empty()) invalid();
    if (s[0] >= '0' && s[0] <= '9') {
      long long v = 0;
      for (char c : s) {
        if (c < '0' || c > '9') invalid();
        v = std::min(v * 10 + (c - '0'), 1'000'000'000LL);
      }
      return v;
    }
    for (size_t i = 0; i < spec_->name_count; ++i)
      if (spec_->names[i] == s) return spec_->min + static_cast<long long>(i);
    invalid();
  }

  uint64_t parse_item(std::string_view item) {
    const size_t slash = item.find('/');
    const std::string_view range = item.substr(0, slash);
    long long first = spec_->min, last = spec_->max, step = 1;
    if (slash != std::string_view::npos) {
      step = value_of(item.substr(slash + 1));
      if (item[slash + 1] < '0' || item[slash + 1] > '9') invalid();
      if (step == 0) fail_item("has step 0; the step must be at least 1");
    }
    if (range != "*") {
      const size_t dash = range.find('-');
      first = value_of(range.substr(0, dash));
      if (dash != std::string_view::npos) {
        last = value_of(range.substr(dash + 1));
        if (first > last) fail_item("is a reversed range; write the smaller value first");
      } else if (slash == std::string_view::npos) {
        last = first;
      }
      if (first < spec_->min || first > spec_->max || last > spec_->max) fail_item("is out of range " + range_text());
    }
    uint64_t mask = 0;
    for (long long v = first; v <= last; v += step) mask |= uint64_t{1} << v;
    return mask;
  }

  std::string_view whole_;
  const FieldSpec* spec_ = nullptr;
  std::string_view field_, item_;
};

// pg_cron's interval form: the seconds of `N seconds` or `N second` (any case, any spacing), or
// nullopt when `line` is not of that form. The range is checked by the caller, for its message.
std::optional<long long> interval_seconds(std::string_view line) {
  const std::vector<std::string_view> words = split_fields(line);
  if (words.size() != 2) return std::nullopt;
  const std::string unit = lowercase(words[1]);
  if (unit != "second" && unit != "seconds") return std::nullopt;
  if (words[0].find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  long long n = 0;
  for (char c : words[0]) n = std::min(n * 10 + (c - '0'), 1'000'000'000LL);
  return n;
}

// An IntervalTrigger that describes itself by the crontab text it was written as.
class CrontabIntervalTrigger final : public Trigger {
 public:
  CrontabIntervalTrigger(std::string description, Duration interval, const CronBounds& bounds)
      : description_(std::move(description)),
        interval_(interval, bounds.start_date.value_or(TimePoint{}), bounds.end_date, bounds.zone, bounds.jitter),
        zone_name_(bounds.zone ? bounds.zone->name() : "UTC") {}
  std::optional<TimePoint> next_fire_time(std::optional<TimePoint> previous, TimePoint now) const override {
    return interval_.next_fire_time(previous, now);
  }
  Duration jitter() const override { return interval_.jitter(); }
  std::string describe() const override { return description_ + " in " + zone_name_; }

 private:
  std::string description_;
  IntervalTrigger interval_;
  std::string zone_name_;
};

// Vixie weekdays (bit 0 and bit 7 = Sunday) as CronPattern weekdays (bit 0 = Monday).
uint8_t monday_first(uint64_t sunday_first) {
  uint8_t out = static_cast<uint8_t>((sunday_first >> 1) & 0x3F);
  if (sunday_first & 0x81) out |= 1 << 6;
  return out;
}

}  // namespace

std::unique_ptr<Trigger> make_crontab_trigger(const std::string& crontab, const CronBounds& bounds) {
  const std::string_view whole = trim(crontab);
  CrontabParser parser(whole);
  std::string_view line = whole;
  const std::string description = "crontab['" + std::string(whole) + "']";
  if (const auto seconds = interval_seconds(line)) {
    if (*seconds < 1 || *seconds > kMaxIntervalSeconds)
      parser.fail("is out of range for pg_cron's interval form; allowed: 1 to " + std::to_string(kMaxIntervalSeconds) +
                  " seconds (for longer intervals use a cron line or trigger \"interval\")");
    return std::make_unique<CrontabIntervalTrigger>(description, std::chrono::seconds(*seconds), bounds);
  }
  if (line.starts_with('@')) {
    const std::string name = lowercase(line);
    if (name == "@reboot" || name == "@restart")
      parser.fail("is not supported: rowsched does not run jobs when a server starts; allowed macros: " +
                  std::string(kMacroList));
    const auto macro = std::find_if(kMacros.begin(), kMacros.end(), [&](const Macro& m) { return m.name == name; });
    if (macro == kMacros.end()) parser.fail("is not a supported macro; allowed: " + std::string(kMacroList));
    line = macro->expansion;
  }

  const std::vector<std::string_view> fields = split_fields(line);
  if (fields.size() != 5 && fields.size() != 6)
    parser.fail("has " + std::to_string(fields.size()) +
                " fields; expected 5 (minute hour day-of-month month day-of-week), 6 (second first), a macro (" +
                std::string(kMacroList) + ") or \"N seconds\" (1-59)");
  const size_t m = fields.size() == 6 ? 1 : 0;

  CronPattern pattern;
  pattern.seconds = m == 1 ? parser.parse_field(kSecond, fields[0]) : 1;
  pattern.minutes = parser.parse_field(kMinute, fields[m]);
  pattern.hours = static_cast<uint32_t>(parser.parse_field(kHour, fields[m + 1]));
  // pg_cron: `$` alone in day-of-month is the month's last day (not combinable with other values).
  if (fields[m + 2] == "$")
    pattern.month_days.push_back(MonthDay{MonthDay::Kind::kLastDay});
  else
    pattern.days = static_cast<uint32_t>(parser.parse_field(kDayOfMonth, fields[m + 2]));
  pattern.months = static_cast<uint16_t>(parser.parse_field(kMonth, fields[m + 3]));
  pattern.weekdays = monday_first(parser.parse_field(kDayOfWeek, fields[m + 4]));
  pattern.weeks = ((uint64_t{1} << 54) - 1) & ~uint64_t{1};
  pattern.day_or_weekday = !fields[m + 2].starts_with('*') && !fields[m + 4].starts_with('*');
  pattern.follows_clock = is_wildcard_expression(fields[m + 1]);

  if (!pattern.can_match()) parser.fail("can never fire (no such day)");
  return make_pattern_trigger(std::move(pattern), bounds, description);
}

}  // namespace rowsched
