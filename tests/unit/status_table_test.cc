// The table of `rowsched status`: what an operator reads in a terminal.
#include <catch2/catch.hpp>

#include <sstream>

#include "daemon/status_table.h"

using rowsched::Duration;
using rowsched::TimePoint;
using rowsched::daemon::cut_to_width;
using rowsched::daemon::display_width;
using rowsched::daemon::format_status_table;
using rowsched::daemon::format_table_time;
using rowsched::store::JobStatus;

namespace {

TimePoint at(int y, unsigned m, unsigned d, int hh, int mm, int ss = 0) {
  using namespace std::chrono;
  return time_point_cast<Duration>(date::sys_days{date::year{y} / date::month{m} / date::day{d}} + hours{hh} + minutes{mm} +
                                   seconds{ss});
}

rowsched::Zone zone(const char* name) { return *rowsched::find_zone(name); }

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

JobStatus job(std::string id, std::string state, std::optional<TimePoint> next, std::optional<TimePoint> last = std::nullopt,
              std::optional<std::string> last_status = std::nullopt, int64_t runs = 0, int64_t failures = 0) {
  JobStatus j;
  j.job_id = std::move(id);
  j.state = std::move(state);
  j.next_run_time = next;
  j.last_run_time = last;
  j.last_status = std::move(last_status);
  j.run_count = runs;
  j.failure_count = failures;
  return j;
}

}  // namespace

TEST_CASE("the table has a header, one line per job and a count", "[status]") {
  const auto out = lines(format_status_table(
      {job("nightly", "scheduled", at(2024, 3, 31, 1, 30), at(2024, 3, 30, 1, 30), "succeeded", 12, 1)}, zone("UTC")));
  REQUIRE(out.size() == 4);
  CHECK(out[0] == "JOB      STATE      NEXT RUN                     LAST RUN                     LAST STATUS  RUNS  FAILURES");
  CHECK(out[1] == "nightly  scheduled  Sun 2024-03-31 01:30:00 UTC  Sat 2024-03-30 01:30:00 UTC  succeeded      12         1");
  CHECK(out[2] == "");
  CHECK(out[3] == "1 job listed.");
}

TEST_CASE("jobs are sorted by next run, those without a next run last, ties by job id", "[status]") {
  const auto out = lines(format_status_table({job("z-done", "finished", std::nullopt), job("b-later", "scheduled", at(2030, 1, 2, 0, 0)),
                                              job("a-paused", "paused", std::nullopt), job("c-soon", "scheduled", at(2030, 1, 1, 0, 0)),
                                              job("a-soon", "scheduled", at(2030, 1, 1, 0, 0))},
                                             zone("UTC")));
  REQUIRE(out.size() == 8);
  CHECK(out[1].rfind("a-soon ", 0) == 0);
  CHECK(out[2].rfind("c-soon ", 0) == 0);
  CHECK(out[3].rfind("b-later ", 0) == 0);
  CHECK(out[4].rfind("a-paused ", 0) == 0);
  CHECK(out[5].rfind("z-done ", 0) == 0);
  CHECK(out[7] == "5 jobs listed.");
}

TEST_CASE("what never happened is shown as a dash", "[status]") {
  const auto out = lines(format_status_table({job("fresh", "paused", std::nullopt)}, zone("UTC")));
  CHECK(out[1] == "fresh  paused  -         -         -               0         0");
}

TEST_CASE("times are shown in the requested time zone with its abbreviation, daylight saving included", "[status]") {
  CHECK(format_table_time(at(2024, 3, 31, 1, 30), zone("Europe/Berlin")) == "Sun 2024-03-31 03:30:00 CEST");
  CHECK(format_table_time(at(2024, 3, 31, 0, 30), zone("Europe/Berlin")) == "Sun 2024-03-31 01:30:00 CET");
  CHECK(format_table_time(at(2024, 3, 31, 1, 30, 59) + Duration{999999}, zone("UTC")) == "Sun 2024-03-31 01:30:59 UTC");
}

TEST_CASE("a long job id is cut with an ellipsis and the columns still line up", "[status]") {
  const std::string long_id(100, 'x');
  const auto out = lines(format_status_table({job(long_id, "scheduled", at(2030, 1, 1, 0, 0)), job("short", "invalid", std::nullopt)},
                                             zone("UTC"), 20));
  CHECK(out[1].rfind(std::string(19, 'x') + "…  scheduled", 0) == 0);
  CHECK(out[2].rfind("short" + std::string(15, ' ') + "  invalid", 0) == 0);
  CHECK(display_width(out[0]) == display_width(out[1]));
}

TEST_CASE("widths count characters, not bytes, so non-ASCII job ids line up", "[status]") {
  CHECK(display_width("Größe") == 5);
  CHECK(cut_to_width("Größenprüfung", 5) == "Größ…");
  CHECK(cut_to_width("Größe", 5) == "Größe");
  const auto out = lines(format_status_table({job("täglich", "paused", std::nullopt), job("daily", "paused", std::nullopt)}, zone("UTC")));
  CHECK(display_width(out[1]) == display_width(out[2]));
}

TEST_CASE("invalid jobs are followed by why they are invalid", "[status]") {
  auto broken = job("broken", "invalid", std::nullopt);
  broken.last_error = "trigger_kwargs.minute: \"61\" is out of range;\nallowed: 0-59";
  const auto out = lines(format_status_table({broken}, zone("UTC")));
  REQUIRE(out.size() == 5);
  CHECK(out[4] == "invalid: broken: trigger_kwargs.minute: \"61\" is out of range; allowed: 0-59");
}

TEST_CASE("an empty job_info gives the header and zero jobs", "[status]") {
  const auto out = lines(format_status_table({}, zone("UTC")));
  REQUIRE(out.size() == 3);
  CHECK(out[0] == "JOB  STATE  NEXT RUN  LAST RUN  LAST STATUS  RUNS  FAILURES");
  CHECK(out[2] == "0 jobs listed.");
}
