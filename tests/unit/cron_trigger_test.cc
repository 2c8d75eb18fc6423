// Specification of the APScheduler-style cron trigger (trigger_kwargs "cron"): the expression grammar,
// APScheduler's defaulting, day AND day_of_week, start/end dates and the previous/now rule, the
// messages users see for bad input, and the cases published in APScheduler 3's own test suite
// (expected values computed with APScheduler 3.9.1, the reference implementation; its suite uses
// Europe/Berlin).
#include <catch2/catch.hpp>

#include "cron_test_helpers.h"

using namespace rowsched;
using namespace rowsched::testing;
using Fires = std::vector<std::string>;

namespace {

using Field = std::pair<std::string, std::string>;

// trigger_kwargs-like field lists: fields({{"hour", "3"}, {"minute", "30"}}).
CronFields fields(std::initializer_list<Field> given) {
  CronFields f;
  for (const auto& [name, value] : given) {
    std::optional<std::string>* slot = name == "year"          ? &f.year
                                       : name == "month"       ? &f.month
                                       : name == "day"         ? &f.day
                                       : name == "week"        ? &f.week
                                       : name == "day_of_week" ? &f.day_of_week
                                       : name == "hour"        ? &f.hour
                                       : name == "minute"      ? &f.minute
                                                               : &f.second;
    *slot = value;
  }
  return f;
}

std::unique_ptr<Trigger> cron(std::initializer_list<Field> given, const std::string& zone_name = "UTC") {
  return make_cron_trigger(fields(given), in(zone_name));
}

std::string cron_error(std::initializer_list<Field> given) {
  return error_of([&] { cron(given); });
}

const std::string kBerlin = "Europe/Berlin";

}  // namespace

// --- APScheduler 3 test suite cases -------------------------------------------------------------

TEST_CASE("year='2009/2', month='1/3', day='5-13' fires on the 5th to 13th of every third month of odd years") {
  const auto t = cron({{"year", "2009/2"}, {"month", "1/3"}, {"day", "5-13"}}, kBerlin);
  CHECK(t->describe() == "cron[year='2009/2', month='1/3', day='5-13'] in Europe/Berlin");
  CHECK(fires(*t, at("2008-12-01 00:00:00", kBerlin), 1) == Fires{local("2009-01-05 00:00:00", kBerlin)});
  CHECK(fires(*t, at("2009-10-14 00:00:00", kBerlin), 1) == Fires{local("2011-01-05 00:00:00", kBerlin)});
}

TEST_CASE("year='2009', month='feb-dec', hour='8-10' starts in February at 08:00, hourly") {
  const auto t = cron({{"year", "2009"}, {"month", "feb-dec"}, {"hour", "8-10"}}, kBerlin);
  CHECK(t->describe() == "cron[year='2009', month='feb-dec', hour='8-10'] in Europe/Berlin");
  CHECK(fires(*t, at("2009-01-01 00:00:00", kBerlin), 2) ==
        Fires{local("2009-02-01 08:00:00", kBerlin), local("2009-02-01 09:00:00", kBerlin)});
}

TEST_CASE("day='last' fires on the last day of February in a leap year") {
  const auto t = cron({{"year", "2012"}, {"month", "2"}, {"day", "last"}}, kBerlin);
  CHECK(fires(*t, at("2012-02-01 00:00:00", kBerlin), 1) == Fires{local("2012-02-29 00:00:00", kBerlin)});
}

TEST_CASE("an explicit zero value is kept and shown: hour=0") {
  const auto t = cron({{"year", "2009"}, {"month", "2"}, {"hour", "0"}}, kBerlin);
  CHECK(t->describe() == "cron[year='2009', month='2', hour='0'] in Europe/Berlin");
  CHECK(fires(*t, at("2008-12-01 00:00:00", kBerlin), 1) == Fires{local("2009-02-01 00:00:00", kBerlin)});
}

TEST_CASE("a year list need not be sorted") {
  const auto t = cron({{"year", "2009,2008"}}, kBerlin);
  CHECK(t->describe() == "cron[year='2009,2008'] in Europe/Berlin");
  CHECK(fires(*t, at("2009-01-01 00:00:00", kBerlin), 1) == Fires{local("2009-01-01 00:00:00", kBerlin)});
}

TEST_CASE("with a previous fire the search starts just after it, even when now is later (missed fires are returned)") {
  const auto t = cron({{"day", "*"}}, kBerlin);
  CHECK(t->next_fire_time(at("2015-11-23 00:00:00", kBerlin), at("2015-11-26 00:00:00", kBerlin)) ==
        at("2015-11-24 00:00:00", kBerlin));
}

TEST_CASE("with a previous fire after now the search starts at now") {
  const auto t = cron({{"day", "*"}}, kBerlin);
  CHECK(t->next_fire_time(at("2015-11-23 00:00:00", kBerlin), at("2015-11-22 00:00:00", kBerlin)) ==
        at("2015-11-22 00:00:00", kBerlin));
}

TEST_CASE("a previous fire equal to now is not fired again") {
  const auto t = cron({{"day", "*"}}, kBerlin);
  CHECK(t->next_fire_time(at("2016-04-25 00:00:00", kBerlin), at("2016-04-25 00:00:00", kBerlin)) ==
        at("2016-04-26 00:00:00", kBerlin));
}

TEST_CASE("day and day_of_week must both match") {
  const auto t = cron({{"year", "2009"}, {"month", "1"}, {"day", "6-10"}, {"day_of_week", "2-4"}}, kBerlin);
  CHECK(fires(*t, at("2009-01-01 00:00:00", kBerlin), 1) == Fires{local("2009-01-07 00:00:00", kBerlin)});
}

TEST_CASE("day and day_of_week that never coincide are rejected") {
  CHECK(cron_error({{"year", "2009"}, {"month", "1"}, {"day", "6-10"}, {"day_of_week", "0,6"}}) ==
        "trigger_kwargs: cron fields day=\"6-10\", month=\"1\", year=\"2009\", day_of_week=\"0,6\" can never fire "
        "(no such day)");
}

TEST_CASE("day='4th wed' fires on the fourth Wednesday") {
  const auto t = cron({{"year", "2009"}, {"month", "1"}, {"day", "4th wed"}}, kBerlin);
  CHECK(fires(*t, at("2009-01-01 00:00:00", kBerlin), 1) == Fires{local("2009-01-28 00:00:00", kBerlin)});
}

TEST_CASE("week is the ISO week") {
  const auto feb = cron({{"year", "2009"}, {"month", "2"}, {"week", "8"}}, kBerlin);
  CHECK(fires(*feb, at("2009-01-01 00:00:00", kBerlin), 1) == Fires{local("2009-02-16 00:00:00", kBerlin)});
  const auto wednesday = cron({{"year", "2009"}, {"week", "15"}, {"day_of_week", "2"}}, kBerlin);
  CHECK(fires(*wednesday, at("2009-01-01 00:00:00", kBerlin), 1) == Fires{local("2009-04-08 00:00:00", kBerlin)});
}

TEST_CASE("a day list rolls over into the next year") {
  const auto t = cron({{"day", "6,8"}}, kBerlin);
  CHECK(fires(*t, at("2009-12-31 00:00:00", kBerlin), 1) == Fires{local("2010-01-06 00:00:00", kBerlin)});
}

TEST_CASE("an hour range already past today continues tomorrow") {
  const auto t = cron({{"hour", "5-6"}}, kBerlin);
  CHECK(fires(*t, at("2009-09-25 07:00:00", kBerlin), 1) == Fires{local("2009-09-26 05:00:00", kBerlin)});
}

TEST_CASE("an unrecognised year expression is an error") {
  CHECK(cron_error({{"year", "2009-fault"}}) ==
        "trigger_kwargs.year: \"2009-fault\" is not a valid expression; allowed: *, */n, a, a-b, a-b/n, a/n, lists "
        "with commas");
}

// --- Defaulting ---------------------------------------------------------------------------------

TEST_CASE("fields less significant than the last given one default to their minimum") {
  CHECK(fires(*cron({{"hour", "3"}}), at("2024-05-01T10:00:00Z"), 2) ==
        Fires{"2024-05-02T03:00:00Z", "2024-05-03T03:00:00Z"});
  CHECK(fires(*cron({{"month", "6"}}), at("2024-05-01T10:00:00Z"), 2) ==
        Fires{"2024-06-01T00:00:00Z", "2025-06-01T00:00:00Z"});
}

TEST_CASE("fields more significant than the last given one default to every value") {
  CHECK(fires(*cron({{"minute", "7"}}), at("2024-05-01T10:00:00Z"), 2) ==
        Fires{"2024-05-01T10:07:00Z", "2024-05-01T11:07:00Z"});
  CHECK(fires(*cron({{"year", "2030"}, {"hour", "5"}}), at("2024-05-01T10:00:00Z"), 2) ==
        Fires{"2030-01-01T05:00:00Z", "2030-01-02T05:00:00Z"});
}

TEST_CASE("week and day_of_week default to every value even after a given field") {
  CHECK(fires(*cron({{"day", "5"}}), at("2024-05-01T10:00:00Z"), 2) ==
        Fires{"2024-05-05T00:00:00Z", "2024-06-05T00:00:00Z"});
}

TEST_CASE("a cron trigger with no fields fires every second") {
  const auto t = cron({});
  CHECK(t->describe() == "cron[] in UTC");
  CHECK(fires(*t, at("2024-05-01T10:00:00.25Z"), 2) == Fires{"2024-05-01T10:00:01Z", "2024-05-01T10:00:02Z"});
}

// --- Expression forms ---------------------------------------------------------------------------

TEST_CASE("steps count from the field's minimum or from the range start") {
  CHECK(fires(*cron({{"minute", "*/15"}}), at("2024-05-03 10:07:30", kBerlin), 3) ==
        Fires{local("2024-05-03 10:15:00", kBerlin), local("2024-05-03 10:30:00", kBerlin),
              local("2024-05-03 10:45:00", kBerlin)});
  CHECK(fires(*cron({{"minute", "5/20"}}), at("2024-05-03T10:07:30Z"), 3) ==
        Fires{"2024-05-03T10:25:00Z", "2024-05-03T10:45:00Z", "2024-05-03T11:05:00Z"});
  CHECK(fires(*cron({{"hour", "9-17/4"}}), at("2024-05-03T10:00:00Z"), 3) ==
        Fires{"2024-05-03T13:00:00Z", "2024-05-03T17:00:00Z", "2024-05-04T09:00:00Z"});
  CHECK(fires(*cron({{"day", "*/10"}}), at("2024-02-02T00:00:00Z"), 3) ==
        Fires{"2024-02-11T00:00:00Z", "2024-02-21T00:00:00Z", "2024-03-01T00:00:00Z"});
}

TEST_CASE("a start time with a fraction of a second rounds up to the next whole second") {
  CHECK(fires(*cron({{"second", "*/20"}}), at("2024-05-03 10:07:30.000001", kBerlin), 2) ==
        Fires{local("2024-05-03 10:07:40", kBerlin), local("2024-05-03 10:08:00", kBerlin)});
}

TEST_CASE("month and weekday names are case-insensitive and shown in lower case") {
  const auto t = cron({{"month", "JAN-Mar"}, {"day_of_week", "Mon-FRI"}, {"hour", "05"}});
  CHECK(t->describe() == "cron[month='jan-mar', day_of_week='mon-fri', hour='5'] in UTC");
  CHECK(fires(*t, at("2024-03-29T06:00:00Z"), 2) == Fires{"2025-01-01T05:00:00Z", "2025-01-02T05:00:00Z"});
}

TEST_CASE("weekdays count from 0 = Monday") {
  CHECK(fires(*cron({{"day_of_week", "0"}, {"hour", "9"}}), at("2024-05-01T00:00:00Z"), 1) == Fires{"2024-05-06T09:00:00Z"});
  CHECK(fires(*cron({{"day_of_week", "6"}, {"hour", "9"}}), at("2024-05-01T00:00:00Z"), 1) == Fires{"2024-05-05T09:00:00Z"});
}

TEST_CASE("positional days: last weekday, nth weekday, last day, in a list") {
  CHECK(fires(*cron({{"day", "last sun"}, {"hour", "3"}}, kBerlin), at("2024-01-01 00:00:00", kBerlin), 3) ==
        Fires{local("2024-01-28 03:00:00", kBerlin), local("2024-02-25 03:00:00", kBerlin),
              local("2024-03-31 03:00:00", kBerlin)});
  const auto t = cron({{"month", "*/3"}, {"day", "2nd FRI, last"}}, kBerlin);
  CHECK(t->describe() == "cron[month='*/3', day='2nd fri,last'] in Europe/Berlin");
  CHECK(fires(*t, at("2024-01-01 00:00:00", kBerlin), 4) ==
        Fires{local("2024-01-12 00:00:00", kBerlin), local("2024-01-31 00:00:00", kBerlin),
              local("2024-04-12 00:00:00", kBerlin), local("2024-04-30 00:00:00", kBerlin)});
  CHECK(fires(*cron({{"day", "5th fri"}}), at("2024-01-01T00:00:00Z"), 2) ==
        Fires{"2024-03-29T00:00:00Z", "2024-05-31T00:00:00Z"});
}

TEST_CASE("ISO week 1 can begin in December and week 53 exists only in some years") {
  CHECK(fires(*cron({{"week", "1"}, {"day_of_week", "mon"}}, kBerlin), at("2024-06-01 00:00:00", kBerlin), 3) ==
        Fires{local("2024-12-30 00:00:00", kBerlin), local("2025-12-29 00:00:00", kBerlin),
              local("2027-01-04 00:00:00", kBerlin)});
  CHECK(fires(*cron({{"week", "53"}}, kBerlin), at("2024-06-01 00:00:00", kBerlin), 2) ==
        Fires{local("2026-12-28 00:00:00", kBerlin), local("2026-12-29 00:00:00", kBerlin)});
}

TEST_CASE("the leap day fires every four years, skipping 2100") {
  const auto t = cron({{"month", "2"}, {"day", "29"}});
  CHECK(fires(*t, at("2024-03-01T00:00:00Z"), 3) ==
        Fires{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"});
  CHECK(fires(*t, at("2096-03-01T00:00:00Z"), 2) == Fires{"2104-02-29T00:00:00Z", "2108-02-29T00:00:00Z"});
}

TEST_CASE("APScheduler's quirk '0-0/5' (a range ending at 0 steps to the maximum) is accepted as it is there") {
  const auto t = cron({{"hour", "0-0/5"}});
  CHECK(t->describe() == "cron[hour='0/5'] in UTC");
  CHECK(fires(*t, at("2024-05-01T01:00:00Z"), 1) == Fires{"2024-05-02T00:00:00Z"});
}

TEST_CASE("spaces around commas and around the whole value are allowed") {
  CHECK(cron({{"minute", " 5 , 10 "}})->describe() == "cron[minute='5,10'] in UTC");
  CHECK(cron({{"day", "1st  mon"}})->describe() == "cron[day='1st mon'] in UTC");
}

// --- Bounds -------------------------------------------------------------------------------------

TEST_CASE("start_date is the earliest fire and end_date the latest, both inclusive") {
  CronBounds b = in("UTC");
  b.start_date = at("2024-05-01T10:00:00Z");
  b.end_date = at("2024-05-01T12:00:00Z");
  const auto t = make_cron_trigger(fields({{"minute", "0"}}), b);
  CHECK(fires(*t, at("2024-01-01T00:00:00Z"), 4) ==
        Fires{"2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z", "none"});
  CHECK(t->next_fire_time(std::nullopt, at("2024-05-02T00:00:00Z")) == std::nullopt);
}

TEST_CASE("jitter is reported from the bounds and does not move the nominal fire") {
  CronBounds b = in("UTC");
  b.jitter = std::chrono::seconds{30};
  const auto t = make_cron_trigger(fields({{"minute", "0"}}), b);
  CHECK(t->jitter() == std::chrono::seconds{30});
  CHECK(fires(*t, at("2024-05-01T10:30:00Z"), 1) == Fires{"2024-05-01T11:00:00Z"});
}

TEST_CASE("the last possible fire is at the end of year 9999, after which there is none") {
  const auto t = cron({{"year", "9999"}, {"month", "12"}, {"day", "31"}, {"hour", "23"}, {"minute", "59"}, {"second", "59"}});
  CHECK(fires(*t, at("2024-01-01T00:00:00Z"), 2) == Fires{"9999-12-31T23:59:59Z", "none"});
  const auto every_day = cron({{"hour", "12"}});
  CHECK(every_day->next_fire_time(std::nullopt, at("9999-12-31T12:00:01Z")) == std::nullopt);
  CHECK(every_day->next_fire_time(at("9999-12-31T12:00:00Z"), at("9999-12-31T12:00:00Z")) == std::nullopt);
  CHECK(every_day->next_fire_time(std::nullopt, TimePoint::max()) == std::nullopt);
}

TEST_CASE("a schedule whose years are all past simply has no next fire") {
  CHECK(cron({{"year", "2000"}})->next_fire_time(std::nullopt, at("2024-01-01T00:00:00Z")) == std::nullopt);
}

TEST_CASE("times before 1970 search from 1970") {
  CHECK(fires(*cron({{"hour", "1"}}), TimePoint::min(), 1) == Fires{"1970-01-01T01:00:00Z"});
}

// --- Errors -------------------------------------------------------------------------------------

TEST_CASE("a value out of range names the field, the value and the range") {
  CHECK(cron_error({{"hour", "25"}}) == "trigger_kwargs.hour: \"25\" is out of range 0-23");
  CHECK(cron_error({{"year", "1969"}}) == "trigger_kwargs.year: \"1969\" is out of range 1970-9999");
  CHECK(cron_error({{"year", "10000-10001"}}) == "trigger_kwargs.year: \"10000-10001\" is out of range 1970-9999");
  CHECK(cron_error({{"day", "0"}}) == "trigger_kwargs.day: \"0\" is out of range 1-31");
  CHECK(cron_error({{"week", "54"}}) == "trigger_kwargs.week: \"54\" is out of range 1-53");
  CHECK(cron_error({{"day_of_week", "7"}}) == "trigger_kwargs.day_of_week: \"7\" is out of range 0-6");
  CHECK(cron_error({{"minute", "50-60"}}) == "trigger_kwargs.minute: \"50-60\" is out of range 0-59");
}

TEST_CASE("a bad item in a list is quoted after the whole value") {
  CHECK(cron_error({{"hour", "1,25"}}) == "trigger_kwargs.hour: \"1,25\": \"25\" is out of range 0-23");
}

TEST_CASE("an expression that is not in the grammar lists what is allowed") {
  CHECK(cron_error({{"day_of_week", "fo"}}) ==
        "trigger_kwargs.day_of_week: \"fo\" is not a valid expression; allowed: *, */n, a, a-b, a-b/n, a/n, lists "
        "with commas, names mon..sun");
  CHECK(cron_error({{"month", "foo"}}) ==
        "trigger_kwargs.month: \"foo\" is not a valid expression; allowed: *, */n, a, a-b, a-b/n, a/n, lists with "
        "commas, names jan..dec");
  CHECK(cron_error({{"day", "6th mon"}}) ==
        "trigger_kwargs.day: \"6th mon\" is not a valid expression; allowed: *, */n, a, a-b, a-b/n, a/n, lists with "
        "commas, last, 1st..5th <weekday>, last <weekday> (weekdays mon..sun)");
}

TEST_CASE("an empty expression is an error") {
  CHECK(cron_error({{"hour", ""}}) ==
        "trigger_kwargs.hour: \"\" is empty; allowed: *, */n, a, a-b, a-b/n, a/n, lists with commas");
  CHECK(cron_error({{"hour", "  "}}).starts_with("trigger_kwargs.hour: \"  \" is empty"));
  CHECK(cron_error({{"hour", "1,,2"}}).starts_with("trigger_kwargs.hour: \"1,,2\": \"\" is not a valid expression"));
  CHECK(cron_error({{"hour", "1,"}}).starts_with("trigger_kwargs.hour: \"1,\": \"\" is not a valid expression"));
}

TEST_CASE("a step of 0 is an error") {
  CHECK(cron_error({{"minute", "*/0"}}) == "trigger_kwargs.minute: \"*/0\" has step 0; the step must be at least 1");
  CHECK(cron_error({{"minute", "1-5/0"}}) == "trigger_kwargs.minute: \"1-5/0\" has step 0; the step must be at least 1");
}

TEST_CASE("a step wider than its range is an error, as in APScheduler") {
  CHECK(cron_error({{"hour", "*/24"}}) ==
        "trigger_kwargs.hour: \"*/24\" has a step larger than the range it steps through (0-23)");
  CHECK(cron_error({{"hour", "5-10/6"}}) ==
        "trigger_kwargs.hour: \"5-10/6\" has a step larger than the range it steps through (5-10)");
  CHECK(cron_error({{"minute", "59/1"}}) ==
        "trigger_kwargs.minute: \"59/1\" has a step larger than the range it steps through (59-59)");
  CHECK(cron_error({{"day_of_week", "*/7"}}).starts_with("trigger_kwargs.day_of_week: \"*/7\" has a step larger"));
}

TEST_CASE("a reversed range is an error, with numbers and with names") {
  CHECK(cron_error({{"hour", "10-5"}}) ==
        "trigger_kwargs.hour: \"10-5\" is a reversed range; write the smaller value first");
  CHECK(cron_error({{"day_of_week", "fri-mon"}}) ==
        "trigger_kwargs.day_of_week: \"fri-mon\" is a reversed range; write the smaller value first");
  CHECK(cron_error({{"month", "dec-jan"}}) ==
        "trigger_kwargs.month: \"dec-jan\" is a reversed range; write the smaller value first");
}

TEST_CASE("text APScheduler would half-read is rejected instead of scheduling something else") {
  CHECK(cron_error({{"month", "jan-jun/2"}}) ==
        "trigger_kwargs.month: \"jan-jun/2\" has a step after names, which APScheduler ignores; write the range with "
        "numbers to step through it");
  CHECK(cron_error({{"month", "jan1"}}).starts_with("trigger_kwargs.month: \"jan1\" is not a valid expression"));
  CHECK(cron_error({{"day", "lastx"}}).starts_with("trigger_kwargs.day: \"lastx\" is not a valid expression"));
  CHECK(cron_error({{"day", "1st mon x"}}).starts_with("trigger_kwargs.day: \"1st mon x\" is not a valid expression"));
  CHECK(cron_error({{"hour", "3\t"}}) == "no error");  // surrounding whitespace is trimmed, as APScheduler strips it
}

TEST_CASE("fields that can never match a day are rejected") {
  CHECK(cron_error({{"month", "2"}, {"day", "31"}}) ==
        "trigger_kwargs: cron fields day=\"31\", month=\"2\" can never fire (no such day)");
  CHECK(cron_error({{"month", "feb"}, {"day", "30"}}) ==
        "trigger_kwargs: cron fields day=\"30\", month=\"feb\" can never fire (no such day)");
  CHECK(cron_error({{"month", "4,6,9,11"}, {"day", "31"}}).ends_with("can never fire (no such day)"));
  CHECK(cron_error({{"year", "2021"}, {"month", "2"}, {"day", "5th mon"}}).ends_with("can never fire (no such day)"));
  CHECK(cron_error({{"year", "2025"}, {"week", "53"}}) ==
        "trigger_kwargs: cron fields year=\"2025\", week=\"53\" can never fire (no such day)");
  CHECK(cron_error({{"year", "2016"}, {"month", "2"}, {"day", "5th mon"}}) == "no error");
  CHECK(cron_error({{"month", "2"}, {"day", "29"}}) == "no error");
}

TEST_CASE("hostile input gives an error quickly and never crashes or hangs") {
  CHECK(cron_error({{"hour", "99999999999999999999"}}) ==
        "trigger_kwargs.hour: \"99999999999999999999\" is out of range 0-23");
  CHECK(cron_error({{"minute", "1-99999999/3"}}) == "trigger_kwargs.minute: \"1-99999999/3\" is out of range 0-59");
  CHECK(cron_error({{"minute", "*/99999999999999999999"}}).find("has a step larger") != std::string::npos);
  CHECK(cron_error({{"year", "2000-99999999999/1"}}).find("is out of range 1970-9999") != std::string::npos);
  for (const char* bad : {"(1-2)", "1-2-3", "--", "1//2", "*/", "/5", "*-5", "**", "1-", "-1", "*/-1", "1.5", "0x10",
                          "\xef\xbc\x95", "5 6", "\"", "\\", "%s%n", "mon", "last"}) {
    INFO(bad);
    CHECK(cron_error({{"hour", bad}}).starts_with("trigger_kwargs.hour: "));
  }
  const std::string long_garbage(10000, '(');
  const std::string message = cron_error({{"minute", long_garbage}});
  CHECK(message.starts_with("trigger_kwargs.minute: \"((((("));
  CHECK(message.size() < 400);

  std::string long_list = "0";
  while (long_list.size() < 10000) long_list += ",1";
  const auto t = cron({{"minute", long_list}});
  CHECK(fires(*t, at("2024-01-01T00:00:30Z"), 2) == Fires{"2024-01-01T00:01:00Z", "2024-01-01T01:00:00Z"});

  std::string long_years = "9999";
  while (long_years.size() < 10000) long_years += ",9998";
  CHECK(fires(*cron({{"year", long_years}, {"month", "12"}, {"day", "31"}}), at("2024-01-01T00:00:00Z"), 3) ==
        Fires{"9998-12-31T00:00:00Z", "9999-12-31T00:00:00Z", "none"});
}

TEST_CASE("a rare schedule is found without stepping through every day") {
  // Monday 29 February: only in leap years whose February starts on a Monday.
  const auto t = cron({{"month", "2"}, {"day", "29"}, {"day_of_week", "mon"}});
  CHECK(fires(*t, at("2024-01-01T00:00:00Z"), 3) ==
        Fires{"2044-02-29T00:00:00Z", "2072-02-29T00:00:00Z", "2112-02-29T00:00:00Z"});
}
