// Specification of cron triggers across daylight-saving changes (cron_trigger.h, docs/schedules.md):
// a fixed-time job fires exactly once on every local day (a skipped time at the offset before the
// gap, a repeated time at its first occurrence); a job whose hour field is `*` or `*/n` follows the
// clock (nothing in a skipped hour, both passes of a repeated hour). Zones: Europe/Berlin,
// America/New_York, Australia/Lord_Howe (30-minute shift), Australia/Sydney and America/Santiago
// (southern hemisphere, Santiago changes at midnight). docs/schedules.md lists where this
// differs from APScheduler 3.9.
#include <catch2/catch.hpp>

#include "cron_test_helpers.h"

using namespace rowsched;
using namespace rowsched::testing;
using Fires = std::vector<std::string>;

namespace {

std::unique_ptr<Trigger> daily(const std::string& hour, const std::string& minute, const std::string& zone_name) {
  CronFields f;
  f.hour = hour;
  f.minute = minute;
  return make_cron_trigger(f, in(zone_name));
}

std::unique_ptr<Trigger> half_hourly(const std::string& zone_name) {
  CronFields f;
  f.hour = "*";
  f.minute = "0,30";
  return make_cron_trigger(f, in(zone_name));
}

int fires_on_local_day(const Trigger& t, const std::string& day, const std::string& zone_name) {
  const auto counts = fires_per_local_day(t, at(day + "T00:00:00Z") - std::chrono::hours{36},
                                          at(day + "T00:00:00Z") + std::chrono::hours{60}, zone_name);
  const auto it = counts.find(day);
  return it == counts.end() ? 0 : it->second;
}

}  // namespace

// --- Europe/Berlin: 2024-03-31 02:00 -> 03:00, 2024-10-27 03:00 -> 02:00 ----------------------

TEST_CASE("Berlin: 02:30 daily fires at 03:30 summer time on the spring-forward day") {
  CHECK(fires(*daily("2", "30", "Europe/Berlin"), at("2024-03-30T12:00:00Z"), 3) ==
        Fires{"2024-03-31T01:30:00Z", "2024-04-01T00:30:00Z", "2024-04-02T00:30:00Z"});
}

TEST_CASE("Berlin: 02:30 daily fires once, at the first 02:30, on the fall-back day") {
  CHECK(fires(*daily("2", "30", "Europe/Berlin"), at("2024-10-26T12:00:00Z"), 3) ==
        Fires{"2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z", "2024-10-29T01:30:00Z"});
}

TEST_CASE("Berlin: a fixed-time job looked at during the second 02:xx waits for the next day") {
  CHECK(fires(*daily("2", "30", "Europe/Berlin"), at("2024-10-27T01:15:00Z"), 1) == Fires{"2024-10-28T01:30:00Z"});
}

TEST_CASE("Berlin: a fixed-time job looked at just after the gap still fires the skipped time") {
  CHECK(fires(*daily("2", "30", "Europe/Berlin"), at("2024-03-31T01:10:00Z"), 1) == Fires{"2024-03-31T01:30:00Z"});
}

TEST_CASE("Berlin: skipped times and the real times they land on fire once, in time order") {
  // 02:15 and 02:45 do not exist; they fire at 03:15 and 03:45, which the hour range also names.
  CHECK(fires(*daily("2-3", "15,45", "Europe/Berlin"), at("2024-03-31T00:00:00Z"), 4) ==
        Fires{"2024-03-31T01:15:00Z", "2024-03-31T01:45:00Z", "2024-04-01T00:15:00Z", "2024-04-01T00:45:00Z"});
  CHECK(fires(*daily("2-3", "15,45", "Europe/Berlin"), at("2024-03-31T01:20:00Z"), 1) == Fires{"2024-03-31T01:45:00Z"});
}

TEST_CASE("Berlin: hour='*' follows the clock: 23 hours of fires in spring, 25 in autumn") {
  const auto t = half_hourly("Europe/Berlin");
  CHECK(fires_on_local_day(*t, "2024-03-30", "Europe/Berlin") == 48);
  CHECK(fires_on_local_day(*t, "2024-03-31", "Europe/Berlin") == 46);
  CHECK(fires_on_local_day(*t, "2024-10-27", "Europe/Berlin") == 50);
  CHECK(fires(*t, at("2024-03-31T00:00:00Z"), 4) ==
        Fires{"2024-03-31T00:00:00Z", "2024-03-31T00:30:00Z", "2024-03-31T01:00:00Z", "2024-03-31T01:30:00Z"});
  CHECK(fires(*t, at("2024-10-26T23:00:00Z"), 8) ==
        Fires{"2024-10-26T23:00:00Z", "2024-10-26T23:30:00Z", "2024-10-27T00:00:00Z", "2024-10-27T00:30:00Z",
              "2024-10-27T01:00:00Z", "2024-10-27T01:30:00Z", "2024-10-27T02:00:00Z", "2024-10-27T02:30:00Z"});
}

TEST_CASE("Berlin: elapsed time between clock-following fires never jumps on a DST day") {
  const auto t = half_hourly("Europe/Berlin");
  const auto counts = fires_per_local_day(*t, at("2024-10-26T00:00:00Z"), at("2024-10-28T00:00:00Z"), "UTC");
  CHECK(counts == std::map<std::string, int>{{"2024-10-26", 48}, {"2024-10-27", 48}});
}

TEST_CASE("Berlin: a step hour fires in both passes of a repeated hour") {
  CronFields f;
  f.hour = "*/2";
  f.minute = "30";
  CHECK(fires(*make_cron_trigger(f, in("Europe/Berlin")), at("2024-10-27T00:00:00Z"), 3) ==
        Fires{"2024-10-27T00:30:00Z", "2024-10-27T01:30:00Z", "2024-10-27T03:30:00Z"});
  CronFields every_20;
  every_20.minute = "*/20";  // hour defaults to '*'
  CHECK(fires(*make_cron_trigger(every_20, in("Europe/Berlin")), at("2024-10-27T00:30:00Z"), 5) ==
        Fires{"2024-10-27T00:40:00Z", "2024-10-27T01:00:00Z", "2024-10-27T01:20:00Z", "2024-10-27T01:40:00Z",
              "2024-10-27T02:00:00Z"});
}

TEST_CASE("Berlin: crontab follows the same rules") {
  CHECK(fires(*make_crontab_trigger("30 2 * * *", in("Europe/Berlin")), at("2024-10-26T12:00:00Z"), 2) ==
        Fires{"2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"});
  CHECK(fires(*make_crontab_trigger("30 2 * * *", in("Europe/Berlin")), at("2024-03-30T12:00:00Z"), 1) ==
        Fires{"2024-03-31T01:30:00Z"});
  const auto clock = make_crontab_trigger("0,30 * * * *", in("Europe/Berlin"));
  CHECK(fires_on_local_day(*clock, "2024-03-31", "Europe/Berlin") == 46);
  CHECK(fires_on_local_day(*clock, "2024-10-27", "Europe/Berlin") == 50);
}

// --- America/New_York: 2024-03-10 02:00 -> 03:00, 2024-11-03 02:00 -> 01:00 ------------------

TEST_CASE("New York: 02:30 daily fires at 03:30 EDT on the spring-forward day") {
  CHECK(fires(*daily("2", "30", "America/New_York"), at("2024-03-09T12:00:00Z"), 3) ==
        Fires{"2024-03-10T07:30:00Z", "2024-03-11T06:30:00Z", "2024-03-12T06:30:00Z"});
}

TEST_CASE("New York: 01:30 daily fires once, at 01:30 EDT, on the fall-back day") {
  CHECK(fires(*daily("1", "30", "America/New_York"), at("2024-11-02T12:00:00Z"), 3) ==
        Fires{"2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z", "2024-11-05T06:30:00Z"});
}

TEST_CASE("New York: hour='*' follows the clock") {
  const auto t = half_hourly("America/New_York");
  CHECK(fires_on_local_day(*t, "2024-03-10", "America/New_York") == 46);
  CHECK(fires_on_local_day(*t, "2024-11-03", "America/New_York") == 50);
  CHECK(fires(*t, at("2024-11-03T05:00:00Z"), 4) ==
        Fires{"2024-11-03T05:00:00Z", "2024-11-03T05:30:00Z", "2024-11-03T06:00:00Z", "2024-11-03T06:30:00Z"});
}

// --- Australia/Lord_Howe: 2024-04-07 02:00 -> 01:30, 2024-10-06 02:00 -> 02:30 ---------------

TEST_CASE("Lord Howe: 02:15 daily fires at 02:45 on the day the clock skips half an hour") {
  CHECK(fires(*daily("2", "15", "Australia/Lord_Howe"), at("2024-10-04T12:00:00Z"), 3) ==
        Fires{"2024-10-04T15:45:00Z", "2024-10-05T15:45:00Z", "2024-10-06T15:15:00Z"});
}

TEST_CASE("Lord Howe: 01:45 daily fires once, at the first 01:45, when the clock repeats half an hour") {
  CHECK(fires(*daily("1", "45", "Australia/Lord_Howe"), at("2024-04-05T12:00:00Z"), 3) ==
        Fires{"2024-04-05T14:45:00Z", "2024-04-06T14:45:00Z", "2024-04-07T15:15:00Z"});
}

TEST_CASE("Lord Howe: hour='*' loses one half-hour reading in spring and repeats one in autumn") {
  const auto t = half_hourly("Australia/Lord_Howe");
  CHECK(fires_on_local_day(*t, "2024-10-06", "Australia/Lord_Howe") == 47);
  CHECK(fires_on_local_day(*t, "2024-04-07", "Australia/Lord_Howe") == 49);
  CHECK(fires(*t, at("2024-04-06T14:00:00Z"), 4) ==
        Fires{"2024-04-06T14:00:00Z", "2024-04-06T14:30:00Z", "2024-04-06T15:00:00Z", "2024-04-06T15:30:00Z"});
}

// --- Australia/Sydney: 2024-04-07 03:00 -> 02:00, 2024-10-06 02:00 -> 03:00 ------------------

TEST_CASE("Sydney: 02:30 daily fires once on both transition days") {
  CHECK(fires(*daily("2", "30", "Australia/Sydney"), at("2024-10-05T12:00:00Z"), 2) ==
        Fires{"2024-10-05T16:30:00Z", "2024-10-06T15:30:00Z"});
  CHECK(fires(*daily("2", "30", "Australia/Sydney"), at("2024-04-06T12:00:00Z"), 2) ==
        Fires{"2024-04-06T15:30:00Z", "2024-04-07T16:30:00Z"});
  const auto t = half_hourly("Australia/Sydney");
  CHECK(fires_on_local_day(*t, "2024-10-06", "Australia/Sydney") == 46);
  CHECK(fires_on_local_day(*t, "2024-04-07", "Australia/Sydney") == 50);
}

// --- America/Santiago: 2024-04-07 00:00 -> 04-06 23:00, 2024-09-08 00:00 -> 01:00 -------------

TEST_CASE("Santiago: a job at 00:30 fires at 01:30 when midnight is skipped") {
  CHECK(fires(*daily("0", "30", "America/Santiago"), at("2024-09-07T12:00:00Z"), 2) ==
        Fires{"2024-09-08T04:30:00Z", "2024-09-09T03:30:00Z"});
}

TEST_CASE("Santiago: a job at 23:30 fires once when the last hour of the day repeats") {
  CHECK(fires(*daily("23", "30", "America/Santiago"), at("2024-04-06T12:00:00Z"), 2) ==
        Fires{"2024-04-07T02:30:00Z", "2024-04-08T03:30:00Z"});
  const auto t = half_hourly("America/Santiago");
  CHECK(fires_on_local_day(*t, "2024-09-08", "America/Santiago") == 46);
  CHECK(fires_on_local_day(*t, "2024-04-06", "America/Santiago") == 50);
}

// --- The rule as a whole ------------------------------------------------------------------------

TEST_CASE("a fixed-time job fires exactly once on every local day of a year, in every zone") {
  for (const std::string zone_name :
       {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Australia/Sydney", "America/Santiago", "UTC"}) {
    for (const std::string hour : {"0", "1", "2", "3", "23"}) {
      for (const std::string minute : {"0", "15", "30", "45"}) {
        INFO(zone_name << " " << hour << ":" << minute);
        const auto t = daily(hour, minute, zone_name);
        const auto counts =
            fires_per_local_day(*t, at("2024-01-01 00:00:00", zone_name), at("2025-01-01 00:00:00", zone_name), zone_name);
        CHECK(counts.size() == 366);
        CHECK(std::all_of(counts.begin(), counts.end(), [](const auto& day) { return day.second == 1; }));
      }
    }
  }
}
