// make_cron_trigger: APScheduler's CronTrigger constructor. Each given field is parsed; absent fields
// default as APScheduler defaults them (more significant than the least significant given field: `*`;
// less significant: their minimum; week and day_of_week: always `*`), and a combination of fields
// that matches no day at all is rejected rather than left to never fire.
#include "trigger/cron_trigger.h"

#include <array>

#include "trigger/cron_expression.h"
#include "trigger/pattern_trigger.h"

namespace rowsched {

namespace {

constexpr std::array<CronField, 8> kFields = {CronField::kYear, CronField::kMonth,     CronField::kDay,
                                              CronField::kWeek, CronField::kDayOfWeek, CronField::kHour,
                                              CronField::kMinute, CronField::kSecond};
constexpr std::array<std::string_view, 8> kDefaults = {"*", "1", "1", "*", "*", "0", "0", "0"};

// The day-level fields in the order a reader names a date ("31 February").
constexpr std::array<size_t, 5> kDateFieldsForMessages = {2, 1, 0, 3, 4};

}  // namespace

std::unique_ptr<Trigger> make_cron_trigger(const CronFields& fields, const CronBounds& bounds) {
  const std::array<const std::optional<std::string>*, 8> given = {
      &fields.year, &fields.month, &fields.day, &fields.week, &fields.day_of_week, &fields.hour, &fields.minute, &fields.second};
  int least_significant_given = -1;
  for (size_t i = 0; i < given.size(); ++i)
    if (given[i]->has_value()) least_significant_given = static_cast<int>(i);

  CronPattern pattern;
  std::string description;
  bool hour_follows_clock = false;
  for (size_t i = 0; i < kFields.size(); ++i) {
    const bool defaulted_to_minimum = least_significant_given >= 0 && static_cast<int>(i) > least_significant_given;
    const std::string_view text = given[i]->has_value() ? std::string_view(**given[i])
                                  : defaulted_to_minimum ? kDefaults[i]
                                                         : std::string_view("*");
    const std::string normalized = parse_cron_field(kFields[i], text, pattern);
    if (kFields[i] == CronField::kHour) hour_follows_clock = is_wildcard_expression(text);
    if (given[i]->has_value()) {
      if (!description.empty()) description += ", ";
      description += std::string(cron_field_name(kFields[i])) + "='" + normalized + "'";
    }
  }
  pattern.follows_clock = hour_follows_clock;

  if (!pattern.can_match()) {
    std::string named;
    int count = 0;
    for (size_t i : kDateFieldsForMessages) {
      if (!given[i]->has_value()) continue;
      if (!named.empty()) named += ", ";
      named += std::string(cron_field_name(kFields[i])) + "=" + quoted(**given[i]);
      ++count;
    }
    throw TriggerError("trigger_kwargs: cron field" + std::string(count == 1 ? " " : "s ") + named +
                       " can never fire (no such day)");
  }
  return make_pattern_trigger(std::move(pattern), bounds, "cron[" + description + "]");
}

}  // namespace rowsched
