// The allowed trigger_kwargs keys are generated from the SQL function rowsched_trigger_kwargs_keys
// (sql/definitions/10_trigger_kwargs.sql): the parser must use exactly those lists, so that its
// "allowed:" messages are the table trigger's. (tests/integration/test_sql_definitions.py compares
// both with the installed SQL.)
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "trigger/trigger_kwargs.h"
#include "trigger/trigger_kwargs_keys.h"

using namespace rowsched;

namespace {

std::string error_of(const nlohmann::json& kwargs) {
  try {
    parse_trigger_kwargs(kwargs, ParseContext{date::locate_zone("UTC"), {}});
  } catch (const TriggerError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string joined(std::vector<std::string> keys, const std::vector<std::string>& more) {
  keys.insert(keys.end(), more.begin(), more.end());
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

}  // namespace

TEST_CASE("The generated key lists hold every trigger kind, the cron fields and the job options") {
  std::vector<std::string> kinds;
  for (const auto& entry : all_trigger_kwargs_keys()) kinds.push_back(entry.kind);
  CHECK(kinds == std::vector<std::string>{"cron", "crontab", "interval", "date", "calendarinterval", "cron_fields",
                                          "job_options"});
  CHECK(trigger_kwargs_keys("date") == std::vector<std::string>{"run_date", "timezone"});
  CHECK_THROWS_AS(trigger_kwargs_keys("fortnightly"), std::logic_error);
}

TEST_CASE("An unknown key's message lists the generated keys of its trigger, then the job options") {
  const auto& options = trigger_kwargs_keys("job_options");
  for (const std::string kind : {"cron", "interval", "date", "calendarinterval"}) {
    INFO(kind);
    CHECK(error_of({{"trigger", kind}, {"zz", 1}}) == "trigger_kwargs: unknown key \"zz\" for trigger \"" + kind +
                                                          "\"; allowed: " + joined(trigger_kwargs_keys(kind), options));
  }
  CHECK(error_of({{"crontab", "* * * * *"}, {"zz", 1}}) ==
        "trigger_kwargs: unknown key \"zz\" for trigger \"cron\"; allowed: " + joined(trigger_kwargs_keys("crontab"), options));
}

TEST_CASE("Every generated cron field is refused beside a crontab") {
  for (const auto& field : trigger_kwargs_keys("cron_fields")) {
    INFO(field);
    CHECK(error_of({{"crontab", "* * * * *"}, {field, "1"}}) ==
          "trigger_kwargs: \"crontab\" cannot be combined with cron field \"" + field + "\"");
  }
}
