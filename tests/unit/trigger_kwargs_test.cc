// trigger_kwargs as users write them: interval, date and calendarinterval schedules, job options,
// timestamps, and the errors for everything else. (Cron and crontab have their own files.)
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "trigger/jitter.h"
#include "trigger/trigger_kwargs.h"

using namespace rowsched;
using namespace std::chrono_literals;

namespace {

Zone utc() { return date::locate_zone("UTC"); }
TimePoint at(const char* text) { return *parse_timestamp(text, utc()); }

JobSpec parse(const std::string& kwargs, TimePoint now = at("2024-01-01T00:00:00Z")) {
  return parse_trigger_kwargs_text(kwargs, ParseContext{utc(), now});
}

std::string error_of(const std::string& kwargs) {
  try {
    parse(kwargs);
  } catch (const TriggerError& e) {
    return e.what();
  }
  return "(no error)";
}

// The first `n` fires from `now`, advancing as a scheduler that runs every fire on time.
std::vector<std::string> fires(const std::string& kwargs, const char* now, int n = 4) {
  const JobSpec spec = parse(kwargs, at(now));
  std::vector<std::string> out;
  auto t = spec.trigger->next_fire_time(std::nullopt, at(now));
  while (t && static_cast<int>(out.size()) < n) {
    out.push_back(format_rfc3339(*t));
    t = spec.trigger->next_fire_time(t, *t);
  }
  return out;
}

}  // namespace

TEST_CASE("Timestamps are read in every documented form, and without an offset in the given zone") {
  const Zone berlin = date::locate_zone("Europe/Berlin");
  CHECK(format_rfc3339(*parse_timestamp("2024-03-31", utc())) == "2024-03-31T00:00:00Z");
  CHECK(format_rfc3339(*parse_timestamp("2024-03-31 12:30:00", berlin)) == "2024-03-31T10:30:00Z");
  CHECK(format_rfc3339(*parse_timestamp("2024-03-31T12:30:00.25", utc())) == "2024-03-31T12:30:00.25Z");
  CHECK(format_rfc3339(*parse_timestamp("2024-03-31T12:30:00+05:30", berlin)) == "2024-03-31T07:00:00Z");
  CHECK(format_rfc3339(*parse_timestamp("2024-03-31T12:30:00-0800", berlin)) == "2024-03-31T20:30:00Z");
  CHECK(format_rfc3339(*parse_timestamp("9999-12-31T23:59:59Z", utc())) == "9999-12-31T23:59:59Z");
  CHECK(format_rfc3339(*parse_timestamp("2024-1-5 3:4:5", utc())) == "2024-01-05T03:04:05Z");  // APScheduler accepts these
}

TEST_CASE("Timestamps that do not exist or are malformed are refused") {
  for (const char* bad : {"", "2023-02-29", "2024-13-01", "2024-01-01 24:00:00", "2024-01-01T10:00", "yesterday",
                          "2024-01-01T10:00:00+25:00", "2024-01-01T10:00:00Zjunk", "24-1-1", "2024-001-01"}) {
    INFO(bad);
    CHECK_FALSE(parse_timestamp(bad, utc()).has_value());
  }
}

TEST_CASE("A wall-clock time skipped by DST resolves with the offset before the gap; a repeated one to its first occurrence") {
  const Zone berlin = date::locate_zone("Europe/Berlin");
  CHECK(format_rfc3339(*parse_timestamp("2024-03-31 02:30:00", berlin)) == "2024-03-31T01:30:00Z");  // = 03:30 CEST
  CHECK(format_rfc3339(*parse_timestamp("2024-10-27 02:30:00", berlin)) == "2024-10-27T00:30:00Z");  // the CEST one
}

TEST_CASE("RFC 3339 output shows a fraction only when it is not zero") {
  CHECK(format_rfc3339(at("2024-03-31T01:30:00Z")) == "2024-03-31T01:30:00Z");
  CHECK(format_rfc3339(at("2024-03-31T01:30:00Z") + 1500us) == "2024-03-31T01:30:00.0015Z");
}

TEST_CASE("An interval trigger fires every interval of elapsed time from its start_date") {
  CHECK(fires(R"({"trigger":"interval","minutes":90,"start_date":"2024-01-01T00:00:00Z"})", "2024-01-01T00:00:00Z", 3) ==
        std::vector<std::string>{"2024-01-01T00:00:00Z", "2024-01-01T01:30:00Z", "2024-01-01T03:00:00Z"});
}

TEST_CASE("An interval trigger started in the past fires at the next multiple of its interval (APScheduler)") {
  // APScheduler's test_interval: start 2009-08-04 00:00:02, interval 1 s ... here 10 s from 00:00:02.
  CHECK(fires(R"({"trigger":"interval","seconds":10,"start_date":"2009-08-04 00:00:02Z"})", "2009-08-04T00:00:15Z", 2) ==
        std::vector<std::string>{"2009-08-04T00:00:22Z", "2009-08-04T00:00:32Z"});
}

TEST_CASE("An interval trigger without start_date starts one interval after the definition took effect") {
  CHECK(fires(R"({"trigger":"interval","hours":1})", "2024-05-05T10:20:30Z", 2) ==
        std::vector<std::string>{"2024-05-05T11:20:30Z", "2024-05-05T12:20:30Z"});
}

TEST_CASE("An interval is elapsed time: an hourly job runs every 3600 s straight through a DST change") {
  CHECK(fires(R"({"trigger":"interval","hours":1,"start_date":"2024-03-31 01:00:00","timezone":"Europe/Berlin"})",
              "2024-03-31T00:00:00Z", 3) ==
        std::vector<std::string>{"2024-03-31T00:00:00Z", "2024-03-31T01:00:00Z", "2024-03-31T02:00:00Z"});
}

TEST_CASE("An interval trigger stops after its end_date, inclusively") {
  CHECK(fires(R"({"trigger":"interval","days":1,"start_date":"2024-01-01Z","end_date":"2024-01-03Z"})", "2024-01-01T00:00:00Z") ==
        std::vector<std::string>{"2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"});
}

TEST_CASE("A date trigger fires once at run_date, and without run_date once at once (APScheduler's add_job default)") {
  CHECK(fires(R"({"trigger":"date","run_date":"2024-06-01 12:00:00","timezone":"Asia/Shanghai"})", "2024-01-01T00:00:00Z") ==
        std::vector<std::string>{"2024-06-01T04:00:00Z"});
  CHECK(fires(R"({})", "2024-02-02T02:02:02Z") == std::vector<std::string>{"2024-02-02T02:02:02Z"});
  CHECK(fires(R"({"run_date":"2030-01-01"})", "2024-02-02T02:02:02Z") == std::vector<std::string>{"2030-01-01T00:00:00Z"});
}

TEST_CASE("A calendarinterval trigger keeps the day of month and skips months without it") {
  CHECK(fires(R"({"trigger":"calendarinterval","months":1,"hour":9,"start_date":"2024-01-31"})", "2024-01-01T00:00:00Z") ==
        std::vector<std::string>{"2024-01-31T09:00:00Z", "2024-03-31T09:00:00Z", "2024-05-31T09:00:00Z", "2024-07-31T09:00:00Z"});
  CHECK(fires(R"({"trigger":"calendarinterval","years":1,"start_date":"2024-02-29"})", "2024-01-01T00:00:00Z", 2) ==
        std::vector<std::string>{"2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z"});
}

TEST_CASE("A calendarinterval trigger fires at the same wall-clock time on both sides of DST, never skipping a day") {
  CHECK(fires(R"({"trigger":"calendarinterval","days":1,"hour":2,"minute":30,"timezone":"Europe/Berlin","start_date":"2024-03-30"})",
              "2024-01-01T00:00:00Z", 3) ==
        std::vector<std::string>{"2024-03-30T01:30:00Z", "2024-03-31T01:30:00Z" /* 02:30 does not exist: 03:30 CEST */,
                                 "2024-04-01T00:30:00Z"});
  CHECK(fires(R"({"trigger":"calendarinterval","days":1,"hour":2,"minute":30,"timezone":"Europe/Berlin","start_date":"2024-10-26"})",
              "2024-01-01T00:00:00Z", 3) ==
        std::vector<std::string>{"2024-10-26T00:30:00Z", "2024-10-27T00:30:00Z" /* the first 02:30 */, "2024-10-28T01:30:00Z"});
}

TEST_CASE("A calendarinterval trigger started long ago finds its next fire without walking every day") {
  CHECK(fires(R"({"trigger":"calendarinterval","weeks":2,"hour":6,"start_date":"1970-01-01"})", "2024-01-01T00:00:00Z", 1) ==
        std::vector<std::string>{"2024-01-04T06:00:00Z"});
}

TEST_CASE("Job options are read with their APScheduler meanings and defaults") {
  const JobOptions defaults = parse(R"({"trigger":"interval","seconds":5})").options;
  CHECK_FALSE(defaults.misfire_grace_time.has_value());
  CHECK(defaults.coalesce);
  CHECK(defaults.max_instances == 1);
  CHECK(defaults.retries == 0);
  const JobOptions o = parse(R"({"trigger":"interval","seconds":5,"misfire_grace_time":1000,"coalesce":false,
    "max_instances":3,"next_run_time":"now","timeout":2.5,"retries":4,"retry_delay":0.5})", at("2024-03-03T03:03:03Z")).options;
  CHECK(o.misfire_grace_time == std::optional<std::optional<Duration>>{Duration{1000s}});
  CHECK_FALSE(o.coalesce);
  CHECK(o.max_instances == 3);
  CHECK(o.next_run_time == at("2024-03-03T03:03:03Z"));
  CHECK(o.timeout == Duration{2500ms});
  CHECK(o.retries == 4);
  CHECK(o.retry_delay == Duration{500ms});
  const JobOptions unlimited = parse(R"({"trigger":"interval","seconds":5,"misfire_grace_time":null})").options;
  REQUIRE(unlimited.misfire_grace_time.has_value());
  CHECK_FALSE(unlimited.misfire_grace_time->has_value());
}

TEST_CASE("The seed blog's rows parse unchanged") {
  CHECK_NOTHROW(parse(R"({"trigger":"interval","seconds":5,"misfire_grace_time":1000})"));
  CHECK_NOTHROW(parse(R"({"trigger":"cron","hour":"8","minute":"30","next_run_time":"2019-09-12 11:00:00"})"));
  CHECK_NOTHROW(parse(R"({"trigger":"date","run_date":"2019-09-12 11:00:00"})"));
}

TEST_CASE("Every invalid value is refused with the key, the value and what is allowed") {
  CHECK(error_of(R"({"trigger":"interval","minuts":5})") ==
        "trigger_kwargs: unknown key \"minuts\" for trigger \"interval\"; allowed: weeks, days, hours, minutes, seconds, "
        "start_date, end_date, timezone, jitter, misfire_grace_time, coalesce, max_instances, next_run_time, timeout, "
        "retries, retry_delay, queue");
  CHECK(error_of(R"({"trigger":"crn"})") == "trigger_kwargs: unknown trigger \"crn\"; allowed: cron, interval, date, calendarinterval");
  CHECK(error_of(R"({"trigger":5})") == "trigger_kwargs.trigger: 5 is not a trigger name; allowed: cron, interval, date, calendarinterval");
  CHECK(error_of(R"([1,2])") == "trigger_kwargs: must be a JSON object, got array");
  CHECK(error_of(R"({"trigger":"interval","seconds":0})") ==
        "trigger_kwargs: an interval trigger needs a positive interval; give weeks, days, hours, minutes or seconds");
  CHECK(error_of(R"({"trigger":"interval","seconds":-1})") ==
        "trigger_kwargs.seconds: -1 is out of range; allowed: a number of seconds from 0 to 3162240000");
  CHECK(error_of(R"({"trigger":"interval","seconds":"5"})") ==
        "trigger_kwargs.seconds: \"5\" is a string; allowed: a number of seconds from 0 to 3162240000");
  CHECK(error_of(R"({"trigger":"date","run_date":"2024-02-30"})") ==
        "trigger_kwargs.run_date: \"2024-02-30\" is not a valid timestamp; allowed: YYYY-MM-DD[ HH:MM:SS[.ffffff]][Z|+HH:MM|-HH:MM]");
  CHECK(error_of(R"({"trigger":"date","timezone":"Mars/Olympus"})") ==
        "trigger_kwargs.timezone: \"Mars/Olympus\" is not a known IANA time zone; allowed: a name from the tz database such as \"UTC\" or \"Europe/Berlin\"");
  CHECK(error_of(R"({"trigger":"date","coalesce":"yes"})") == "trigger_kwargs.coalesce: \"yes\" is a string; allowed: true or false");
  CHECK(error_of(R"({"trigger":"date","max_instances":0})") ==
        "trigger_kwargs.max_instances: 0 is out of range; allowed: an integer from 1 to 10000");
  CHECK(error_of(R"({"trigger":"date","max_instances":1.5})") ==
        "trigger_kwargs.max_instances: 1.5 is a number; allowed: an integer from 1 to 10000");
  CHECK(error_of(R"({"trigger":"date","next_run_time":"soon"})") ==
        "trigger_kwargs.next_run_time: \"soon\" is not a valid first run time; allowed: \"now\" or YYYY-MM-DD[ HH:MM:SS[.ffffff]][Z|+HH:MM|-HH:MM]");
  CHECK(error_of(R"({"trigger":"calendarinterval","hour":9})") ==
        "trigger_kwargs: a calendarinterval trigger needs a positive step; give years, months, weeks or days");
  CHECK(error_of(R"({"trigger":"calendarinterval","days":1,"hour":24})") ==
        "trigger_kwargs.hour: 24 is out of range; allowed: an integer from 0 to 23");
  CHECK(error_of(R"({"crontab":"0 * * * *","hour":"1"})") == "trigger_kwargs: \"crontab\" cannot be combined with cron field \"hour\"");
}

TEST_CASE("Hostile input gives errors, never a crash or a hang") {
  CHECK(error_of("").rfind("trigger_kwargs: not valid JSON", 0) == 0);
  CHECK(error_of("{").rfind("trigger_kwargs: not valid JSON", 0) == 0);
  CHECK(error_of(R"({"trigger":"interval","seconds":1e400})").rfind("trigger_kwargs: not valid JSON", 0) == 0);
  CHECK(error_of(R"({"trigger":"interval","seconds":1e300})") ==
        "trigger_kwargs.seconds: 1e+300 is out of range; allowed: a number of seconds from 0 to 3162240000");
  CHECK(error_of(std::string(100000, '[') + std::string(100000, ']')) == "trigger_kwargs: must be a JSON object, got array");
  const std::string huge_key = "{\"" + std::string(1 << 20, 'k') + "\": 1}";
  const std::string message = error_of(huge_key);
  CHECK(message.rfind("trigger_kwargs: unknown key", 0) == 0);
  CHECK(message.size() < (1 << 20) + 400);
  CHECK(error_of(R"({"trigger":"date","run_date":{"nested":[1,2,{"deep":true}]}})") ==
        "trigger_kwargs.run_date: {\"nested\":[1,2,{\"deep\":true}]} is an object; allowed: YYYY-MM-DD[ HH:MM:SS[.ffffff]][Z|+HH:MM|-HH:MM]");
  CHECK(fires(R"({"trigger":"interval","weeks":1,"start_date":"9999-12-24Z"})", "9999-12-20T00:00:00Z") ==
        std::vector<std::string>{"9999-12-24T00:00:00Z", "9999-12-31T00:00:00Z"});  // nothing after year 9999
}

TEST_CASE("Jitter is a deterministic delay within its bound that differs between jobs and fires") {
  const TimePoint t = at("2024-01-01T00:00:00Z");
  CHECK(jitter_offset("a", t, 0s) == 0s);
  CHECK(jitter_offset("a", t, 30s) == jitter_offset("a", t, 30s));
  int distinct = 0;
  for (int i = 0; i < 100; ++i) {
    const Duration d = jitter_offset("job-" + std::to_string(i), t, 30s);
    CHECK(d >= 0s);
    CHECK(d <= 30s);
    if (d != jitter_offset("job-0", t, 30s)) ++distinct;
  }
  CHECK(distinct > 90);
}

TEST_CASE("A parse says whether it depended on the instant the definition took effect") {
  // The start-up load shares one parse between rows with the same trigger_kwargs only when this is
  // false: rows that differ in that instant must then get the same schedule from either parse.
  const auto uses_now = [](const std::string& kwargs) {
    ParseContext ctx{utc(), at("2024-01-01T00:00:00Z")};
    parse_trigger_kwargs_text(kwargs, ctx);
    return ctx.now_used;
  };
  CHECK_FALSE(uses_now(R"({"trigger":"cron","minute":"*/5"})"));
  CHECK_FALSE(uses_now(R"({"crontab":"0 3 * * *"})"));
  CHECK_FALSE(uses_now(R"({"trigger":"interval","hours":1,"start_date":"2024-01-01"})"));
  CHECK_FALSE(uses_now(R"({"trigger":"date","run_date":"2024-02-01"})"));
  CHECK_FALSE(uses_now(R"({"trigger":"calendarinterval","months":1,"start_date":"2024-01-01"})"));
  CHECK(uses_now(R"({"trigger":"interval","hours":1})"));
  CHECK(uses_now(R"({"trigger":"date"})"));
  CHECK(uses_now(R"({"trigger":"calendarinterval","months":1})"));
  CHECK(uses_now(R"({"trigger":"cron","minute":"*/5","next_run_time":"now"})"));
  // And the parses that said false really give the same schedule for another instant.
  for (const char* k : {R"({"trigger":"cron","minute":"*/5"})", R"({"trigger":"interval","hours":1,"start_date":"2024-01-01"})"}) {
    const auto a = parse(k, at("2024-01-01T00:00:00Z")), b = parse(k, at("2024-03-07T12:34:56Z"));
    const TimePoint t = at("2024-05-01T10:02:00Z");
    CHECK(a.trigger->next_fire_time(std::nullopt, t) == b.trigger->next_fire_time(std::nullopt, t));
    CHECK(a.options == b.options);
  }
}
