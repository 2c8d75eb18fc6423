// One parser per expression form, tried in turn on each comma-separated item, as APScheduler's
// expression classes are; each turns its item into bits of the field's mask.
#include "trigger/cron_expression.h"

#include <array>
#include <cctype>
#include <optional>

#include <nlohmann/json.hpp>

#include "trigger/trigger.h"

namespace rowsched {

namespace {

constexpr std::array<std::string_view, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kWeekdayNames = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
constexpr std::array<std::string_view, 6> kPositions = {"1st", "2nd", "3rd", "4th", "5th", "last"};

// Numbers longer than this are out of every range; capping them keeps the arithmetic exact.
constexpr size_t kMaxDigits = 9;

struct Limits {
  int min, max;
};

Limits limits_of(CronField field) {
  switch (field) {
    case CronField::kYear: return {kFirstCronYear, kLastCronYear};
    case CronField::kMonth: return {1, 12};
    case CronField::kDay: return {1, 31};
    case CronField::kWeek: return {1, 53};
    case CronField::kDayOfWeek: return {0, 6};
    case CronField::kHour: return {0, 23};
    case CronField::kMinute:
    case CronField::kSecond: return {0, 59};
  }
  return {0, 0};
}

std::string allowed_forms(CronField field) {
  std::string out = "*, */n, a, a-b, a-b/n, a/n, lists with commas";
  if (field == CronField::kMonth) out += ", names jan..dec";
  if (field == CronField::kDayOfWeek) out += ", names mon..sun";
  if (field == CronField::kDay) out += ", last, 1st..5th <weekday>, last <weekday> (weekdays mon..sun)";
  return out;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s, std::string_view chars) {
  const size_t b = s.find_first_not_of(chars);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(chars) - b + 1);
}

bool is_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// A digit string as a number; absurdly long ones become a value outside every range.
long long number_of(std::string_view digits) {
  const std::string_view significant = trim(digits, "0").empty() ? "0" : digits.substr(digits.find_first_not_of('0'));
  if (significant.size() > kMaxDigits) return 1'000'000'000'000LL;
  long long v = 0;
  for (char c : significant) v = v * 10 + (c - '0');
  return v;
}

template <size_t N>
std::optional<int> index_of(const std::array<std::string_view, N>& names, std::string_view name) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == name) return static_cast<int>(i);
  return std::nullopt;
}

// What one item allows, before it is merged into the field.
struct Item {
  long long first = 0, last = 0, step = 1;
  std::optional<MonthDay> month_day;
  std::string text;  // as APScheduler prints it
};

class FieldParser {
 public:
  FieldParser(CronField field, std::string_view whole) : field_(field), whole_(whole), limits_(limits_of(field)) {}

  Item parse(std::string_view raw) {
    raw_ = raw;
    const std::string item = lowercase(raw);
    if (item == "*" || item.starts_with("*/")) return parse_all(item);
    if (field_ == CronField::kDay && item.find_first_of("abcdefghijklmnopqrstuvwxyz") != std::string::npos)
      return parse_month_day(item);
    if (!item.empty() && item[0] >= '0' && item[0] <= '9') return parse_range(item);
    if (field_ == CronField::kDay) return parse_month_day(item);
    if (field_ == CronField::kMonth) return parse_names(item, kMonthNames, 1);
    if (field_ == CronField::kDayOfWeek) return parse_names(item, kWeekdayNames, 0);
    invalid();
  }

  [[noreturn]] void fail(std::string_view problem) const {
    std::string message = "trigger_kwargs." + std::string(cron_field_name(field_)) + ": " + quoted(whole_);
    if (raw_ != trim(whole_, " \t\r\n\f\v")) message += ": " + quoted(raw_);
    throw TriggerError(message + " " + std::string(problem));
  }

  [[noreturn]] void invalid() const {
    if (trim(whole_, " \t\r\n\f\v").empty()) fail("is empty; allowed: " + allowed_forms(field_));
    fail("is not a valid expression; allowed: " + allowed_forms(field_));
  }

 private:
  std::string range_text() const { return std::to_string(limits_.min) + "-" + std::to_string(limits_.max); }

  long long step_of(std::string_view digits) const {
    if (!is_digits(digits)) invalid();
    const long long step = number_of(digits);
    if (step == 0) fail("has step 0; the step must be at least 1");
    return step;
  }

  Item parse_all(std::string_view item) {
    Item out{limits_.min, limits_.max, 1, std::nullopt, "*"};
    if (item.size() > 1) {
      out.step = step_of(item.substr(2));
      if (out.step > limits_.max - limits_.min)
        fail("has a step larger than the range it steps through (" + range_text() + ")");
      out.text = "*/" + std::to_string(out.step);
    }
    return out;
  }

  Item parse_range(std::string_view item) {
    const size_t slash = item.find('/');
    const std::string_view range = item.substr(0, slash);
    const size_t dash = range.find('-');
    const std::string_view first_text = range.substr(0, dash);
    const std::optional<std::string_view> last_text =
        dash == std::string_view::npos ? std::nullopt : std::optional(range.substr(dash + 1));
    if (!is_digits(first_text) || (last_text && !is_digits(*last_text))) invalid();

    Item out;
    out.first = number_of(first_text);
    out.last = last_text ? number_of(*last_text) : out.first;
    const bool has_step = slash != std::string_view::npos;
    if (has_step) out.step = step_of(item.substr(slash + 1));
    if (last_text && out.first > out.last) fail("is a reversed range; write the smaller value first");
    if (out.first < limits_.min || out.last > limits_.max || (!has_step && out.first > limits_.max))
      fail("is out of range " + range_text());
    if (has_step) {
      // APScheduler measures the span to `last`, or to the field's maximum when there is no `last`
      // (and, by its own quirk, when `last` is 0).
      const long long end = last_text && out.last != 0 ? out.last : limits_.max;
      if (out.first > limits_.max) fail("is out of range " + range_text());
      if (out.step > end - out.first)
        fail("has a step larger than the range it steps through (" + std::to_string(out.first) + "-" +
             std::to_string(end) + ")");
      if (!last_text) out.last = limits_.max;
    }
    out.text = std::to_string(out.first);
    if (last_text && out.last != out.first) out.text += "-" + std::to_string(out.last);
    if (has_step) out.text += "/" + std::to_string(out.step);
    return out;
  }

  template <size_t N>
  Item parse_names(std::string_view item, const std::array<std::string_view, N>& names, int base) {
    const size_t slash = item.find('/');
    const std::string_view range = item.substr(0, slash);
    const size_t dash = range.find('-');
    const std::optional<int> first = index_of(names, range.substr(0, dash));
    const std::optional<int> last = dash == std::string_view::npos ? first : index_of(names, range.substr(dash + 1));
    if (!first || !last) invalid();
    if (slash != std::string_view::npos)
      fail("has a step after names, which APScheduler ignores; write the range with numbers to step through it");
    if (*first > *last) fail("is a reversed range; write the smaller value first");
    Item out{*first + base, *last + base, 1, std::nullopt, std::string(names[*first])};
    if (*last != *first) out.text += "-" + std::string(names[*last]);
    return out;
  }

  Item parse_month_day(std::string_view item) {
    if (item == "last") return Item{0, -1, 1, MonthDay{MonthDay::Kind::kLastDay, 0, 0}, "last"};
    const size_t space = item.find(' ');
    if (space == std::string_view::npos) invalid();
    const std::optional<int> position = index_of(kPositions, item.substr(0, space));
    const std::optional<int> weekday = index_of(kWeekdayNames, trim(item.substr(space), " "));
    if (!position || !weekday) invalid();
    MonthDay md = *position == 5 ? MonthDay{MonthDay::Kind::kLastWeekday, 0, *weekday}
                                 : MonthDay{MonthDay::Kind::kNthWeekday, *position + 1, *weekday};
    return Item{0, -1, 1, md, std::string(kPositions[*position]) + " " + std::string(kWeekdayNames[*weekday])};
  }

  CronField field_;
  std::string_view whole_;
  std::string_view raw_;
  Limits limits_;
};

}  // namespace

std::string_view cron_field_name(CronField field) {
  switch (field) {
    case CronField::kYear: return "year";
    case CronField::kMonth: return "month";
    case CronField::kDay: return "day";
    case CronField::kWeek: return "week";
    case CronField::kDayOfWeek: return "day_of_week";
    case CronField::kHour: return "hour";
    case CronField::kMinute: return "minute";
    case CronField::kSecond: return "second";
  }
  return "";
}

std::string quoted(std::string_view text) {
  constexpr size_t kMaxShown = 120;
  std::string shown(text.substr(0, kMaxShown));
  if (text.size() > kMaxShown) shown += "...";
  return nlohmann::json(shown).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool is_wildcard_expression(std::string_view text) {
  std::string_view rest = trim(text, " \t\r\n\f\v");
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma), " ");
    if (item != "*" && !(item.starts_with("*/") && is_digits(item.substr(2)))) return false;
    if (comma == std::string_view::npos) return true;
    rest = rest.substr(comma + 1);
  }
}

std::string parse_cron_field(CronField field, std::string_view text, CronPattern& pattern) {
  FieldParser parser(field, text);
  uint64_t mask = 0;
  std::vector<YearRange> years;
  std::vector<MonthDay> month_days;
  std::string normalized;

  std::string_view rest = trim(text, " \t\r\n\f\v");
  while (true) {
    const size_t comma = rest.find(',');
    const Item item = parser.parse(trim(rest.substr(0, comma), " "));
    if (!normalized.empty()) normalized += ',';
    normalized += item.text;
    if (item.month_day) {
      month_days.push_back(*item.month_day);
    } else if (field == CronField::kYear) {
      years.push_back(YearRange{static_cast<int>(item.first), static_cast<int>(item.last), static_cast<int>(item.step)});
    } else {
      for (long long v = item.first; v <= item.last; v += item.step) mask |= uint64_t{1} << v;
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }

  switch (field) {
    case CronField::kYear:
      // One range over every year is "every year", which the search treats as the fast case.
      if (years.size() == 1 && years[0].first == kFirstCronYear && years[0].last == kLastCronYear && years[0].step == 1)
        years.clear();
      pattern.years = std::move(years);
      break;
    case CronField::kMonth: pattern.months = static_cast<uint16_t>(mask); break;
    case CronField::kDay:
      pattern.days = static_cast<uint32_t>(mask);
      pattern.month_days = std::move(month_days);
      break;
    case CronField::kWeek: pattern.weeks = mask; break;
    case CronField::kDayOfWeek: pattern.weekdays = static_cast<uint8_t>(mask); break;
    case CronField::kHour: pattern.hours = static_cast<uint32_t>(mask); break;
    case CronField::kMinute: pattern.minutes = mask; break;
    case CronField::kSecond: pattern.seconds = mask; break;
  }
  return normalized;
}

}  // namespace rowsched
