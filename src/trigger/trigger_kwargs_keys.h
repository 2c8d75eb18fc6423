// The allowed trigger_kwargs keys, by kind, as the SQL function rowsched_trigger_kwargs_keys(kind)
// (sql/definitions/10_trigger_kwargs.sql) lists them: the definition is generated from that SQL at
// build time (cmake/trigger_kwargs_keys.cmake), so the daemon and the table trigger cannot disagree.
// To add a key, add it to the SQL function and take it in trigger_kwargs.cc.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rowsched {

struct TriggerKwargsKeys {
  std::string kind;               // "cron", "crontab", "interval", "date", "calendarinterval",
                                  // "cron_fields" or "job_options"
  std::vector<std::string> keys;  // in the SQL's order (the order an "allowed:" message lists them)
};

// Every kind, in the SQL's order (generated).
const std::vector<TriggerKwargsKeys>& all_trigger_kwargs_keys();

// The keys of one kind; throws std::logic_error for a kind the SQL does not list.
const std::vector<std::string>& trigger_kwargs_keys(std::string_view kind);

}  // namespace rowsched
