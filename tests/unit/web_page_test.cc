// Specification of the pure parts of the web page (docs/web.md): the schedule in words, the fires
// of a job in a window (the timeline's upcoming marks, a job's next 10 fire times), the --web-addr
// forms, reading the token file and comparing tokens.
#include <cstdio>
#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "daemon/web_job_index.h"
#include "daemon/web_options.h"
#include "daemon/web_server.h"
#include "trigger/fire_window.h"
#include "trigger/schedule_words.h"
#include "trigger/trigger_kwargs.h"

using namespace rowsched;
using nlohmann::json;

namespace {

std::string words(const char* kwargs) { return schedule_in_words(json::parse(kwargs)); }

TimePoint at(const char* text) { return *parse_timestamp(text, date::locate_zone("UTC")); }

std::vector<std::string> fires(const char* kwargs, const char* now, const char* to, size_t max, bool* truncated = nullptr) {
  ParseContext ctx{date::locate_zone("UTC"), at(now)};
  const auto spec = parse_trigger_kwargs(json::parse(kwargs), ctx);
  const auto window = fires_between(spec, "job", at(now), at(to), max);
  if (truncated) *truncated = window.truncated;
  std::vector<std::string> out;
  for (auto t : window.fires) out.push_back(format_rfc3339(t));
  return out;
}

}  // namespace

TEST_CASE("Common schedules are said in words") {
  CHECK(words(R"({"trigger": "interval", "minutes": 5})") == "every 5 minutes");
  CHECK(words(R"({"trigger": "interval", "hours": 1})") == "every hour");
  CHECK(words(R"({"trigger": "interval", "hours": 1, "minutes": 30})") == "every 1 hour 30 minutes");
  CHECK(words(R"({"trigger": "cron", "minute": "*/5"})") == "every 5 minutes");
  CHECK(words(R"({"trigger": "cron", "hour": 3, "minute": 30})") == "every day at 03:30");
  CHECK(words(R"({"trigger": "cron", "hour": 3})") == "every day at 03:00");
  CHECK(words(R"({"trigger": "cron", "day_of_week": "mon-fri", "hour": 9})") == "every mon-fri at 09:00");
  CHECK(words(R"({"trigger": "cron", "day": 1, "hour": 6, "minute": 0, "timezone": "Europe/Berlin"})") ==
        "on day 1 of every month at 06:00 (Europe/Berlin)");
  CHECK(words(R"({"crontab": "*/10 * * * *"})") == "every 10 minutes");
  CHECK(words(R"({"crontab": "30 2 * * *"})") == "every day at 02:30");
  CHECK(words(R"({"crontab": "@hourly"})") == "every hour");
  CHECK(words(R"({"crontab": "0 23 $ * *"})") == "on the last day of every month at 23:00");
  CHECK(words(R"({"crontab": "0 9 * * mon"})") == "every mon at 09:00");
  CHECK(words(R"({"trigger": "cron", "day": "last", "hour": 23})") == "on the last day of every month at 23:00");
  CHECK(words(R"({"trigger": "date", "run_date": "2030-01-01 12:00"})") == "once, at 2030-01-01 12:00");
  CHECK(words(R"({"trigger": "calendarinterval", "months": 1, "hour": 4})") == "every month at 04:00");
  CHECK(words(R"({"trigger": "cron", "second": "*/10"})") == "every 10 seconds");
}

TEST_CASE("Schedules without plain words give an empty text rather than a wrong one") {
  CHECK(words(R"({"trigger": "cron", "month": "jan", "hour": 3})").empty());
  CHECK(words(R"({"crontab": "0 3 1 * mon"})").empty());  // Vixie cron: day 1 OR Mondays
  CHECK(words(R"({"crontab": "0 9 * * 1"})").empty());  // Monday in crontab, Tuesday in APScheduler
  CHECK(words(R"({"trigger": "cron", "day_of_week": 0, "hour": 9})").empty());
  CHECK(words(R"({"trigger": "cron", "year": 2030})").empty());
  CHECK(words(R"([1, 2])").empty());
  CHECK(words(R"({"trigger": "cron", "minute": 1.5})").empty());
}

TEST_CASE("The fires of a window start at now and end at its end") {
  CHECK(fires(R"({"trigger": "cron", "minute": "*/15"})", "2026-01-01T10:05:00Z", "2026-01-01T11:00:00Z", 100) ==
        std::vector<std::string>{"2026-01-01T10:15:00Z", "2026-01-01T10:30:00Z", "2026-01-01T10:45:00Z", "2026-01-01T11:00:00Z"});
}

TEST_CASE("A window with more fires than allowed says it was cut short") {
  bool truncated = false;
  CHECK(fires(R"({"trigger": "interval", "seconds": 1})", "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z", 10, &truncated).size() == 10);
  CHECK(truncated);
}

TEST_CASE("A job's next_run_time option is its first fire while it is ahead") {
  CHECK(fires(R"({"trigger": "interval", "hours": 1, "next_run_time": "2026-01-01T10:20:00Z", "start_date": "2026-01-01T00:00:00Z"})",
              "2026-01-01T10:00:00Z", "2026-01-01T12:00:00Z", 10) ==
        std::vector<std::string>{"2026-01-01T10:20:00Z", "2026-01-01T11:20:00Z"});  // intervals step from the previous fire
}

TEST_CASE("A date job that has fired has no fires left") {
  CHECK(fires(R"({"trigger": "date", "run_date": "2026-01-01T09:00:00Z"})", "2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z", 10).empty());
}

TEST_CASE("A bare web port binds to the loopback interface only") {
  CHECK(daemon::parse_web_address("8080")->host == "127.0.0.1");
  CHECK(daemon::parse_web_address(":8080")->host == "127.0.0.1");
  CHECK(daemon::parse_web_address("0.0.0.0:8080")->host == "0.0.0.0");
  CHECK(daemon::parse_web_address("[::1]:8080")->host == "::1");
  CHECK(daemon::parse_web_address("8080")->port == 8080);
  CHECK_FALSE(daemon::parse_web_address("localhost"));
  CHECK_FALSE(daemon::parse_web_address("70000"));
  CHECK_FALSE(daemon::parse_web_address(""));
}

TEST_CASE("Tokens match only when equal byte for byte") {
  CHECK(daemon::tokens_equal("s3cret", "s3cret"));
  CHECK_FALSE(daemon::tokens_equal("s3cret", "s3cre"));
  CHECK_FALSE(daemon::tokens_equal("s3cre", "s3cret"));
  CHECK_FALSE(daemon::tokens_equal("s3creT", "s3cret"));
  CHECK_FALSE(daemon::tokens_equal("", "s3cret"));
}

TEST_CASE("Without a token only a Host naming an IP address, localhost or the listening host is this page") {
  CHECK(daemon::host_is_this_page("127.0.0.1:8080", "127.0.0.1"));
  CHECK(daemon::host_is_this_page("[::1]:8080", "127.0.0.1"));
  CHECK(daemon::host_is_this_page("LocalHost:8080", "127.0.0.1"));
  CHECK(daemon::host_is_this_page("10.0.0.7", "0.0.0.0"));
  CHECK(daemon::host_is_this_page("Jobs.Example:8080", "jobs.example"));
  CHECK(daemon::host_is_this_page("", "127.0.0.1"));
  CHECK_FALSE(daemon::host_is_this_page("attacker.example:8080", "127.0.0.1"));
  CHECK_FALSE(daemon::host_is_this_page("localhost.attacker.example", "127.0.0.1"));
  CHECK_FALSE(daemon::host_is_this_page("[::1", "127.0.0.1"));
  CHECK_FALSE(daemon::host_is_this_page(":8080", "127.0.0.1"));
}

TEST_CASE("The token file is read without its surrounding white space and never quoted in errors") {
  const std::string path = "web_page_test_token.txt";
  {
    std::ofstream(path) << "  s3cret-token\n";
  }
  CHECK(daemon::read_web_token(path) == "s3cret-token");
  {
    std::ofstream(path) << "two words\n";
  }
  try {
    daemon::read_web_token(path);
    FAIL("a token with white space was accepted");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("white space") != std::string::npos);
    CHECK(std::string(e.what()).find("two") == std::string::npos);
  }
  {
    std::ofstream(path) << "sec;ret\n";  // a cookie value would end at the `;`
  }
  CHECK_THROWS_WITH(daemon::read_web_token(path), Catch::Contains("a cookie cannot carry"));
  {
    std::ofstream(path) << "\n\n";
  }
  CHECK_THROWS_WITH(daemon::read_web_token(path), Catch::Contains("empty"));
  std::remove(path.c_str());
  CHECK_THROWS_WITH(daemon::read_web_token(path), Catch::Contains("cannot read"));
}

TEST_CASE("The jobs list is sorted by next run, jobs without one last, and paged with the matching total") {
  const TimePoint t = at("2026-01-01T10:00:00Z");
  daemon::JobIndex index({{"c", "scheduled", t + std::chrono::seconds(5), "c\nalice\nlog\nNightly Backup"},
                          {"a", "paused", std::nullopt, "a\nbob\nsql\n"},
                          {"b", "scheduled", t + std::chrono::seconds(1), "b\nalice\nsql\n"},
                          {"d", "scheduled", t + std::chrono::seconds(1), "d\nbob\nlog\n"},
                          {"e", "invalid", std::nullopt, "e\nbob\nlog\n"}},
                         t);
  auto ids = [&](daemon::JobFilter filter) {
    const auto page = index.page(filter);
    std::string out = std::to_string(page.total) + ":";
    for (const auto& id : page.job_ids) out += id;
    return out;
  };
  CHECK(ids({}) == "5:bdcae");
  CHECK(ids({std::nullopt, "", 2, 0}) == "5:bd");
  CHECK(ids({std::nullopt, "", 2, 4}) == "5:e");
  CHECK(ids({std::nullopt, "", 2, 10}) == "5:");
  CHECK(ids({std::string("scheduled"), "", 50, 0}) == "3:bdc");
  CHECK(ids({std::nullopt, "BACKUP", 50, 0}) == "1:c");   // the description, in any case
  CHECK(ids({std::nullopt, "alice", 50, 0}) == "2:bc");   // the owner
  CHECK(ids({std::string("paused"), "sql", 50, 0}) == "1:a");
  CHECK(ids({std::nullopt, "%", 50, 0}) == "0:");         // no wildcards
}
