// Specification of crontab strings (trigger_kwargs "crontab"): Vixie cron semantics, checked against
// python3-croniter 1.3.5 where the two agree; where croniter differs from Vixie cron the test says so.
#include <catch2/catch.hpp>

#include "cron_test_helpers.h"

using namespace rowsched;
using namespace rowsched::testing;
using Fires = std::vector<std::string>;

namespace {

std::unique_ptr<Trigger> crontab(const std::string& line, const std::string& zone_name = "UTC") {
  return make_crontab_trigger(line, in(zone_name));
}

std::string crontab_error(const std::string& line) {
  return error_of([&] { crontab(line); });
}

}  // namespace

TEST_CASE("five fields are minute, hour, day of month, month and day of week") {
  const auto t = crontab("*/5 * * * *");
  CHECK(t->describe() == "crontab['*/5 * * * *'] in UTC");
  CHECK(fires(*t, at("2024-01-01T10:07:30Z"), 3) ==
        Fires{"2024-01-01T10:10:00Z", "2024-01-01T10:15:00Z", "2024-01-01T10:20:00Z"});
  CHECK(fires(*crontab("30 9 * * mon-fri", "Europe/Berlin"), at("2024-05-03 10:00:00", "Europe/Berlin"), 2) ==
        Fires{local("2024-05-06 09:30:00", "Europe/Berlin"), local("2024-05-07 09:30:00", "Europe/Berlin")});
}

TEST_CASE("six fields put the seconds first") {
  CHECK(fires(*crontab("30 */15 * * * *"), at("2024-01-01T00:00:00Z"), 3) ==
        Fires{"2024-01-01T00:00:30Z", "2024-01-01T00:15:30Z", "2024-01-01T00:30:30Z"});
}

TEST_CASE("0 and 7 are both Sunday, and ranges may end at 7") {
  const Fires sundays{"2024-01-07T00:00:00Z", "2024-01-14T00:00:00Z"};
  CHECK(fires(*crontab("0 0 * * 0"), at("2024-01-01T00:00:00Z"), 2) == sundays);
  CHECK(fires(*crontab("0 0 * * 7"), at("2024-01-01T00:00:00Z"), 2) == sundays);
  CHECK(fires(*crontab("0 0 * * SUN"), at("2024-01-01T00:00:00Z"), 2) == sundays);
  CHECK(fires(*crontab("0 0 * * 5-7"), at("2024-01-01T00:00:00Z"), 4) ==
        Fires{"2024-01-05T00:00:00Z", "2024-01-06T00:00:00Z", "2024-01-07T00:00:00Z", "2024-01-12T00:00:00Z"});
}

TEST_CASE("when day of month and day of week are both restricted, either one matching is enough") {
  // croniter agrees: the 1st, the 15th and every Friday.
  CHECK(fires(*crontab("0 0 1,15 * 5"), at("2024-01-01T00:00:01Z"), 4) ==
        Fires{"2024-01-05T00:00:00Z", "2024-01-12T00:00:00Z", "2024-01-15T00:00:00Z", "2024-01-19T00:00:00Z"});
  // 30 February never exists, but Mondays in February do (croniter fails to find a date here).
  CHECK(fires(*crontab("0 0 30 2 mon"), at("2024-01-01T00:00:00Z"), 2) ==
        Fires{"2024-02-05T00:00:00Z", "2024-02-12T00:00:00Z"});
  // A full range is still a restriction in Vixie cron, so every day matches (croniter treats 0-6 as *).
  CHECK(fires(*crontab("0 0 13 * 0-6"), at("2024-01-01T00:00:01Z"), 2) ==
        Fires{"2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"});
}

TEST_CASE("when either day field starts with *, a day must match both") {
  CHECK(fires(*crontab("0 0 13 * *"), at("2024-01-01T00:00:00Z"), 2) ==
        Fires{"2024-01-13T00:00:00Z", "2024-02-13T00:00:00Z"});
  // Vixie cron: */2 starts with *, so odd days that are Mondays (croniter: odd days or Mondays).
  CHECK(fires(*crontab("0 0 */2 * mon"), at("2024-01-01T00:00:01Z"), 3) ==
        Fires{"2024-01-15T00:00:00Z", "2024-01-29T00:00:00Z", "2024-02-05T00:00:00Z"});
  // The 1st of the month when it is a Sunday, Wednesday or Saturday (croniter: the 1st or those days).
  CHECK(fires(*crontab("0 0 1 * */3"), at("2024-01-01T00:00:00Z"), 3) ==
        Fires{"2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z", "2024-09-01T00:00:00Z"});
}

TEST_CASE("month names, a/n steps and steps wider than the field are accepted") {
  CHECK(fires(*crontab("0 0 1 JAN-mar *"), at("2024-01-01T00:00:01Z"), 3) ==
        Fires{"2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z", "2025-01-01T00:00:00Z"});
  CHECK(fires(*crontab("5/20 * * * *"), at("2024-01-01T00:00:00Z"), 4) ==
        Fires{"2024-01-01T00:05:00Z", "2024-01-01T00:25:00Z", "2024-01-01T00:45:00Z", "2024-01-01T01:05:00Z"});
  CHECK(fires(*crontab("*/100 * * * *"), at("2024-01-01T00:00:01Z"), 2) ==
        Fires{"2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z"});
  CHECK(fires(*crontab("0 0 1 jan-dec/5 *"), at("2024-01-01T00:00:01Z"), 3) ==
        Fires{"2024-06-01T00:00:00Z", "2024-11-01T00:00:00Z", "2025-01-01T00:00:00Z"});
}

TEST_CASE("macros stand for their classic crontab lines") {
  const TimePoint from = at("2024-05-15T10:30:00Z");
  CHECK(fires(*crontab("@yearly"), from, 1) == Fires{"2025-01-01T00:00:00Z"});
  CHECK(fires(*crontab("@annually"), from, 1) == Fires{"2025-01-01T00:00:00Z"});
  CHECK(fires(*crontab("@monthly"), from, 1) == Fires{"2024-06-01T00:00:00Z"});
  CHECK(fires(*crontab("@weekly"), from, 1) == Fires{"2024-05-19T00:00:00Z"});
  CHECK(fires(*crontab("@daily"), from, 1) == Fires{"2024-05-16T00:00:00Z"});
  CHECK(fires(*crontab("@midnight"), from, 1) == Fires{"2024-05-16T00:00:00Z"});
  CHECK(fires(*crontab("@hourly"), from, 1) == Fires{"2024-05-15T11:00:00Z"});
  CHECK(fires(*crontab(" @Daily "), from, 1) == Fires{"2024-05-16T00:00:00Z"});
  CHECK(crontab("@hourly")->describe() == "crontab['@hourly'] in UTC");
}

TEST_CASE("fields may be separated by any run of spaces and tabs") {
  CHECK(fires(*crontab("  0\t 12  * *\t*  "), at("2024-01-01T00:00:00Z"), 1) == Fires{"2024-01-01T12:00:00Z"});
}

TEST_CASE("a value out of range names the crontab, the field and the range") {
  CHECK(crontab_error("61 * * * *") == "trigger_kwargs.crontab: \"61 * * * *\" minute field \"61\" is out of range 0-59");
  CHECK(crontab_error("0 24 * * *") == "trigger_kwargs.crontab: \"0 24 * * *\" hour field \"24\" is out of range 0-23");
  CHECK(crontab_error("0 0 0 * *") ==
        "trigger_kwargs.crontab: \"0 0 0 * *\" day-of-month field \"0\" is out of range 1-31");
  CHECK(crontab_error("0 0 * 13 *") == "trigger_kwargs.crontab: \"0 0 * 13 *\" month field \"13\" is out of range 1-12");
  CHECK(crontab_error("0 0 * * 8") ==
        "trigger_kwargs.crontab: \"0 0 * * 8\" day-of-week field \"8\" is out of range 0-7");
  CHECK(crontab_error("60 * * * * *") ==
        "trigger_kwargs.crontab: \"60 * * * * *\" second field \"60\" is out of range 0-59");
  CHECK(crontab_error("1,61 * * * *") ==
        "trigger_kwargs.crontab: \"1,61 * * * *\" minute field \"1,61\": \"61\" is out of range 0-59");
}

TEST_CASE("a wrong number of fields says what is expected") {
  CHECK(crontab_error("* * *") ==
        "trigger_kwargs.crontab: \"* * *\" has 3 fields; expected 5 (minute hour day-of-month month day-of-week), 6 "
        "(second first), a macro (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly) or \"N seconds\" "
        "(1-59)");
  CHECK(crontab_error("").starts_with("trigger_kwargs.crontab: \"\" has 0 fields; expected 5"));
  CHECK(crontab_error("* * * * * * *").starts_with("trigger_kwargs.crontab: \"* * * * * * *\" has 7 fields"));
}

TEST_CASE("an unknown macro lists the supported ones") {
  CHECK(crontab_error("@fortnightly") ==
        "trigger_kwargs.crontab: \"@fortnightly\" is not a supported macro; allowed: @yearly, @annually, @monthly, "
        "@weekly, @daily, @midnight, @hourly");
}

TEST_CASE("pg_cron's @reboot is rejected with the reason, since rowsched is not part of the server") {
  CHECK(crontab_error("@reboot") ==
        "trigger_kwargs.crontab: \"@reboot\" is not supported: rowsched does not run jobs when a server starts; "
        "allowed macros: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly");
  CHECK(crontab_error("@Restart").starts_with("trigger_kwargs.crontab: \"@Restart\" is not supported"));
}

TEST_CASE("pg_cron's $ in day of month is the last day of every month") {
  CHECK(fires(*crontab("0 12 $ * *"), at("2024-01-15T00:00:00Z"), 4) ==
        Fires{"2024-01-31T12:00:00Z", "2024-02-29T12:00:00Z", "2024-03-31T12:00:00Z", "2024-04-30T12:00:00Z"});
  CHECK(fires(*crontab("30 23 $ feb *"), at("2023-01-01T00:00:00Z"), 2) ==
        Fires{"2023-02-28T23:30:00Z", "2024-02-29T23:30:00Z"});
  CHECK(crontab("0 0 $ * *")->describe() == "crontab['0 0 $ * *'] in UTC");
}

TEST_CASE("with $ and a restricted day of week, either one matching is enough, as in pg_cron") {
  // pg_cron sets neither DOM_STAR nor DOW_STAR here, so it ORs the two: Mondays and the last day.
  CHECK(fires(*crontab("0 0 $ * mon"), at("2024-01-23T00:00:01Z"), 3) ==
        Fires{"2024-01-29T00:00:00Z", "2024-01-31T00:00:00Z", "2024-02-05T00:00:00Z"});
}

TEST_CASE("$ must stand alone in day of month and the error says so") {
  CHECK(crontab_error("0 0 1,$ * *") ==
        "trigger_kwargs.crontab: \"0 0 1,$ * *\" day-of-month field \"1,$\": \"$\" is not valid; allowed: *, */n, a, "
        "a-b, a-b/n, a/n, lists with commas, $ alone (the last day of the month)");
  CHECK(crontab_error("$ * * * *").starts_with("trigger_kwargs.crontab: \"$ * * * *\" minute field \"$\" is not valid"));
}

TEST_CASE("pg_cron's 'N seconds' fires every N seconds of elapsed time, counted from the Unix epoch") {
  CHECK(fires(*crontab("30 seconds"), at("2024-01-01T00:00:10Z"), 3) ==
        Fires{"2024-01-01T00:00:30Z", "2024-01-01T00:01:00Z", "2024-01-01T00:01:30Z"});
  // 7 does not divide a minute: still every 7 s (pg_cron's meaning), not :00 :07 ... :56 :00.
  // 2024-01-01T00:00:00Z is 1704067200 s after the epoch, 1704067200 mod 7 = 3.
  CHECK(fires(*crontab("7 seconds"), at("2024-01-01T00:00:00Z"), 3) ==
        Fires{"2024-01-01T00:00:04Z", "2024-01-01T00:00:11Z", "2024-01-01T00:00:18Z"});
  CHECK(fires(*crontab(" 1  SECOND "), at("2024-01-01T00:00:00.5Z"), 2) ==
        Fires{"2024-01-01T00:00:01Z", "2024-01-01T00:00:02Z"});
  CHECK(crontab("59 seconds")->describe() == "crontab['59 seconds'] in UTC");
}

TEST_CASE("'N seconds' counts from start_date when the row gives one") {
  CronBounds bounds = in("UTC");
  bounds.start_date = at("2024-01-01T00:00:05Z");
  CHECK(fires(*make_crontab_trigger("20 seconds", bounds), at("2024-01-01T00:00:06Z"), 2) ==
        Fires{"2024-01-01T00:00:25Z", "2024-01-01T00:00:45Z"});
}

TEST_CASE("'N seconds' outside 1-59 is an error naming pg_cron's range") {
  const std::string expected_tail =
      " is out of range for pg_cron's interval form; allowed: 1 to 59 seconds (for longer intervals use a cron line "
      "or trigger \"interval\")";
  CHECK(crontab_error("0 seconds") == "trigger_kwargs.crontab: \"0 seconds\"" + expected_tail);
  CHECK(crontab_error("60 seconds") == "trigger_kwargs.crontab: \"60 seconds\"" + expected_tail);
  CHECK(crontab_error("99999999999999999999 seconds").ends_with(expected_tail));
  CHECK(crontab_error("5 minutes").starts_with("trigger_kwargs.crontab: \"5 minutes\" has 2 fields"));
  CHECK(crontab_error("-5 seconds").starts_with("trigger_kwargs.crontab: \"-5 seconds\" has 2 fields"));
}

TEST_CASE("steps of 0, reversed ranges and unknown forms are errors") {
  CHECK(crontab_error("*/0 * * * *") ==
        "trigger_kwargs.crontab: \"*/0 * * * *\" minute field \"*/0\" has step 0; the step must be at least 1");
  CHECK(crontab_error("0 10-5 * * *") ==
        "trigger_kwargs.crontab: \"0 10-5 * * *\" hour field \"10-5\" is a reversed range; write the smaller value "
        "first");
  CHECK(crontab_error("0 0 * * sat-mon").ends_with("is a reversed range; write the smaller value first"));
  CHECK(crontab_error("0 0 L * *") ==
        "trigger_kwargs.crontab: \"0 0 L * *\" day-of-month field \"L\" is not valid; allowed: *, */n, a, a-b, "
        "a-b/n, a/n, lists with commas, $ alone (the last day of the month)");
  CHECK(crontab_error("0 0 * * fo") ==
        "trigger_kwargs.crontab: \"0 0 * * fo\" day-of-week field \"fo\" is not valid; allowed: *, */n, a, a-b, "
        "a-b/n, a/n, lists with commas, names sun..sat (0 and 7 are Sunday)");
  for (const char* bad : {"0 0 ? * *", "0 0 * jan/2x *", "*/mon * * * *", "1,,2 * * * *", "- * * * *", "*-5 * * * *",
                          "0 0 1W * *", "0 0 * * 5#3", "(1) * * * *"}) {
    INFO(bad);
    CHECK(crontab_error(bad).starts_with("trigger_kwargs.crontab: "));
  }
}

TEST_CASE("a crontab that names no existing day is rejected") {
  CHECK(crontab_error("0 0 31 2 *") == "trigger_kwargs.crontab: \"0 0 31 2 *\" can never fire (no such day)");
  CHECK(crontab_error("0 0 30,31 feb *").ends_with("can never fire (no such day)"));
}

TEST_CASE("hostile crontab strings give errors, never crashes or hangs") {
  CHECK(crontab_error("99999999999999999999 * * * *").ends_with("is out of range 0-59"));
  CHECK(crontab_error("1-99999999/3 * * * *").ends_with("is out of range 0-59"));
  const std::string long_line(10000, '*');
  const std::string message = crontab_error(long_line);
  CHECK(message.starts_with("trigger_kwargs.crontab: \"*****"));
  CHECK(message.size() < 400);
  std::string long_list = "0";
  while (long_list.size() < 10000) long_list += ",0";
  CHECK(fires(*crontab(long_list + " 0 * * *"), at("2024-01-01T00:00:01Z"), 1) == Fires{"2024-01-02T00:00:00Z"});
  CHECK(fires(*crontab("*/99999999999 * * * *"), at("2024-01-01T00:00:01Z"), 1) == Fires{"2024-01-01T01:00:00Z"});
}
