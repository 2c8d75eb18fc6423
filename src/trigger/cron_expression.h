// APScheduler 3 cron field expressions: the grammar of one field's text (`*`, `*/n`, `a`, `a-b`,
// `a-b/n`, `a/n`, comma lists, month and weekday names, and in `day` also `last`, `1st`..`5th <weekday>`
// and `last <weekday>`), with APScheduler's validation (step 0, steps wider than their range, reversed
// ranges and values out of range are errors). Text APScheduler silently half-reads, such as a step
// after month names ("jan-jun/2" means jan-jun there) or trailing characters ("jan1", "lastx"), is an
// error here instead of a silently different schedule.
#pragma once

#include <string>
#include <string_view>

#include "trigger/cron_pattern.h"

namespace rowsched {

// The APScheduler cron fields, most significant first (APScheduler's FIELD_NAMES order).
enum class CronField { kYear, kMonth, kDay, kWeek, kDayOfWeek, kHour, kMinute, kSecond };

// "year", "month", "day", "week", "day_of_week", "hour", "minute", "second".
std::string_view cron_field_name(CronField field);

// Parses `text` as the expression of `field` and stores the values it allows into the matching member
// of `pattern` (replacing what was there). Returns the expression as APScheduler prints it
// ("*/5", "mon-fri", "1st mon,15"), for describe(). Throws TriggerError naming `trigger_kwargs.<field>`.
std::string parse_cron_field(CronField field, std::string_view text, CronPattern& pattern);

// True when `text` (already valid) is `*`, `*/n`, or a list of those: a wildcard or step hour field.
bool is_wildcard_expression(std::string_view text);

// `text` as a JSON string for messages ("25", with quotes), shortened when it is very long.
std::string quoted(std::string_view text);

}  // namespace rowsched
