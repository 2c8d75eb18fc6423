// The schedule's decisions, with time passed in: no clock, no sleeps, no database.
#include <algorithm>
#include <catch2/catch.hpp>

#include "schedule/schedule.h"
#include "trigger/trigger_kwargs.h"

using namespace rowsched;
using namespace rowsched::schedule;
using namespace std::chrono_literals;

namespace {

TimePoint at(const char* text) { return *parse_timestamp(text, date::locate_zone("UTC")); }

JobDefinition job(const std::string& id, const std::string& kwargs, TimePoint defined_at, int64_t version = 1) {
  JobDefinition d;
  d.job_id = id;
  d.version = version;
  d.defined_at = defined_at;
  d.spec = parse_trigger_kwargs_text(kwargs, ParseContext{date::locate_zone("UTC"), defined_at});
  return d;
}

std::vector<TimePoint> instants(const std::vector<DueFire>& fires) {
  std::vector<TimePoint> out;
  for (const auto& f : fires) out.push_back(f.scheduled_for);
  return out;
}

}  // namespace

TEST_CASE("A job is due at its first fire and not a microsecond before") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  REQUIRE(s.upsert(job("a", R"({"trigger":"interval","seconds":10})", t0)) == t0 + 10s);
  CHECK(s.take_due(t0 + 10s - 1us).empty());
  CHECK(s.next_wakeup() == t0 + 10s);
  const auto due = s.take_due(t0 + 10s);
  REQUIRE(due.size() == 1);
  CHECK(due[0].job_id == "a");
  CHECK(due[0].scheduled_for == t0 + 10s);
  CHECK(due[0].decision == FireDecision::run);
  CHECK(due[0].attempt == 1);
}

TEST_CASE("Taking fires ahead returns those due within the horizon, with their own instants, judged on time") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  s.upsert(job("a", R"({"trigger":"interval","seconds":10,"misfire_grace_time":1,"coalesce":false})", t0));
  s.upsert(job("b", R"({"trigger":"interval","seconds":11})", t0));
  CHECK(s.take_due(t0 + 10s - 6ms, 5ms).empty());
  const auto due = s.take_due(t0 + 10s - 5ms, 5ms);
  REQUIRE(due.size() == 1);
  CHECK(due[0].job_id == "a");
  CHECK(due[0].scheduled_for == t0 + 10s);
  CHECK(due[0].fire_at == t0 + 10s);  // the executor waits for this instant
  CHECK(due[0].decision == FireDecision::run);
  CHECK(s.next_fire("a") == t0 + 20s);
  // A backlog taken with a horizon: the fire more than misfire_grace_time late at `now` is missed,
  // the one ahead of `now` runs.
  std::vector<DueFire> a_fires;
  for (const auto& f : s.take_due(t0 + 30s - 200ms, 1s))
    if (f.job_id == "a") a_fires.push_back(f);
  REQUIRE(a_fires.size() == 2);
  CHECK(a_fires[0].scheduled_for == t0 + 20s);
  CHECK(a_fires[0].decision == FireDecision::missed);
  CHECK(a_fires[1].scheduled_for == t0 + 30s);
  CHECK(a_fires[1].decision == FireDecision::run);
  CHECK(s.next_fire("a") == t0 + 40s);
}

TEST_CASE("count_due counts the live fires due by an instant, which is the size of the next claim") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:01Z");
  const TimePoint burst = at("2024-05-01T10:00:10Z");
  for (int i = 0; i < 50; ++i) s.upsert(job("burst-" + std::to_string(i), R"({"trigger":"cron","second":"*/10"})", t0));
  for (int i = 0; i < 7; ++i) s.upsert(job("later-" + std::to_string(i), R"({"trigger":"interval","seconds":15})", t0));
  s.upsert(job("gone", R"({"trigger":"cron","second":"*/10"})", t0));
  s.remove("gone");  // its heap entry stays behind, dead: not counted
  CHECK(s.next_wakeup() == burst);
  CHECK(s.count_due(burst - 1us, 1000) == 0);
  CHECK(s.count_due(burst, 1000) == 50);
  CHECK(s.count_due(t0 + 15s, 1000) == 57);
  CHECK(s.count_due(t0 + 15s, 20) == 20);
  CHECK(s.take_due(burst).size() == 50);
  CHECK(s.count_due(t0 + 15s, 1000) == 7);
}

TEST_CASE("jobs_due names the live jobs due by an instant, retries too, up to a limit") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:01Z");
  const TimePoint next = at("2024-05-01T10:00:10Z");
  for (const char* id : {"a", "b", "c"}) s.upsert(job(id, R"({"trigger":"cron","second":"*/10"})", t0));
  s.upsert(job("later", R"({"trigger":"interval","seconds":15})", t0));
  s.upsert(job("gone", R"({"trigger":"cron","second":"*/10"})", t0));
  s.remove("gone");
  s.schedule_retry("later", t0, 2, next - 1s);
  auto ids = s.jobs_due(next, 100);
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<std::string>{"a", "b", "c", "later"});
  CHECK(s.jobs_due(next, 2).size() == 2);
  CHECK(s.jobs_due(next - 2s, 100).empty());
  CHECK(s.jobs_due(next, 0).empty());
}

TEST_CASE("After a fire the job advances to its next fire") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  s.upsert(job("a", R"({"trigger":"interval","seconds":10})", t0));
  s.take_due(t0 + 10s);
  CHECK(s.next_fire("a") == t0 + 20s);
  CHECK(s.take_due(t0 + 15s).empty());
}

TEST_CASE("A fire later than misfire_grace_time is reported missed, and the job goes on") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  s.upsert(job("a", R"({"trigger":"interval","seconds":60})", t0));
  const auto due = s.take_due(t0 + 60s + 1500ms);
  REQUIRE(due.size() == 1);
  CHECK(due[0].decision == FireDecision::missed);
  CHECK(s.next_fire("a") == t0 + 120s);
}

TEST_CASE("A fire within misfire_grace_time still runs") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  s.upsert(job("a", R"({"trigger":"interval","seconds":60,"misfire_grace_time":30})", t0));
  const auto due = s.take_due(t0 + 60s + 29s);
  REQUIRE(due.size() == 1);
  CHECK(due[0].decision == FireDecision::run);
}

TEST_CASE("misfire_grace_time null runs a fire however late") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  s.upsert(job("a", R"({"trigger":"date","run_date":"2024-05-01T10:00:05Z","misfire_grace_time":null})", t0));
  const auto due = s.take_due(t0 + 24h * 300);
  REQUIRE(due.size() == 1);
  CHECK(due[0].decision == FireDecision::run);
  CHECK_FALSE(s.next_fire("a").has_value());
}

TEST_CASE("With coalesce a backlog runs once, for its newest instant, and the rest is reported coalesced") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  s.upsert(job("a", R"({"trigger":"interval","seconds":10})", t0));
  const auto due = s.take_due(t0 + 50s);
  REQUIRE(instants(due) == std::vector<TimePoint>{t0 + 10s, t0 + 20s, t0 + 30s, t0 + 40s, t0 + 50s});
  for (size_t i = 0; i + 1 < due.size(); ++i) CHECK(due[i].decision == FireDecision::coalesced);
  CHECK(due.back().decision == FireDecision::run);
  CHECK(s.next_fire("a") == t0 + 60s);
}

TEST_CASE("Without coalesce each instant of a backlog is decided on its own lateness") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  s.upsert(job("a", R"({"trigger":"interval","seconds":10,"coalesce":false,"misfire_grace_time":25})", t0));
  const auto due = s.take_due(t0 + 50s);
  REQUIRE(due.size() == 5);
  CHECK(due[0].decision == FireDecision::missed);  // 40 s late
  CHECK(due[1].decision == FireDecision::missed);  // 30 s late
  CHECK(due[2].decision == FireDecision::run);     // 20 s late
  CHECK(due[3].decision == FireDecision::run);
  CHECK(due[4].decision == FireDecision::run);
}

TEST_CASE("A backlog longer than the schedule enumerates skips ahead to the next fire from now") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  s.upsert(job("a", R"({"trigger":"interval","seconds":1})", t0));
  const TimePoint later = t0 + 24h + 500ms;
  const auto due = s.take_due(later);
  CHECK(due.size() == static_cast<size_t>(Schedule::kMaxBacklog));
  REQUIRE(s.next_fire("a").has_value());
  CHECK(*s.next_fire("a") >= later);
  CHECK(*s.next_fire("a") <= later + 1s);
}

TEST_CASE("The next_run_time option sets the first fire, then the trigger takes over") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  s.upsert(job("a", R"({"trigger":"interval","hours":1,"next_run_time":"now"})", t0));
  CHECK(s.next_fire("a") == t0);
  s.take_due(t0);
  CHECK(s.next_fire("a") == t0 + 1h);
}

TEST_CASE("A job that already fired under its definition continues after that fire (restart, other instance)") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  auto d = job("a", R"({"trigger":"interval","seconds":10,"start_date":"2024-05-01T10:00:00Z"})", t0);
  d.last_fire = t0 + 40s;
  CHECK(s.upsert(d) == t0 + 50s);
}

TEST_CASE("Fires claimed under an older definition do not shift a changed job's schedule") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  auto d = job("a", R"({"trigger":"interval","seconds":10})", t0 + 100s, 2);
  d.last_fire = t0 + 40s;
  CHECK(s.upsert(d) == t0 + 110s);
}

TEST_CASE("A paused job has no fires, but a run-now request runs it once") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  auto d = job("a", R"({"trigger":"interval","seconds":10})", t0);
  d.paused = true;
  d.run_now_at = t0;
  CHECK_FALSE(s.upsert(d).has_value());
  auto due = s.take_due(t0 + 1h);
  REQUIRE(due.size() == 1);
  CHECK(due[0].kind == FireKind::run_now);
  CHECK(due[0].scheduled_for == t0);
  CHECK(s.take_due(t0 + 2h).empty());
  CHECK_FALSE(s.next_wakeup().has_value());
}

TEST_CASE("A removed job never fires, and a replaced job fires only on its new schedule") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  s.upsert(job("gone", R"({"trigger":"interval","seconds":10})", t0));
  s.upsert(job("moved", R"({"trigger":"interval","seconds":10})", t0));
  s.remove("gone");
  s.upsert(job("moved", R"({"trigger":"interval","seconds":30})", t0, 2));
  CHECK(s.next_wakeup() == t0 + 30s);
  const auto due = s.take_due(t0 + 30s);
  REQUIRE(due.size() == 1);
  CHECK(due[0].job_id == "moved");
  CHECK(due[0].version == 2);
  CHECK(s.version("moved") == 2);
  CHECK_FALSE(s.version("gone").has_value());
}

TEST_CASE("A date job is finished once it has fired") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  s.upsert(job("once", R"({"trigger":"date","run_date":"2024-05-01T10:00:01Z"})", t0));
  CHECK(s.take_due(t0 + 1s).size() == 1);
  CHECK_FALSE(s.next_fire("once").has_value());
  CHECK_FALSE(s.next_wakeup().has_value());
}

TEST_CASE("Jitter delays a fire by the same amount on every instance, within its bound") {
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  const char* kwargs = R"({"trigger":"interval","minutes":1,"jitter":20})";
  Schedule one(1s), two(1s);
  const auto a = one.upsert(job("j", kwargs, t0));
  const auto b = two.upsert(job("j", kwargs, t0));
  REQUIRE(a.has_value());
  CHECK(a == b);
  CHECK(*a >= t0 + 60s);
  CHECK(*a <= t0 + 80s);
  const auto due = one.take_due(*a);
  REQUIRE(due.size() == 1);
  CHECK(due[0].scheduled_for == t0 + 60s);  // the identity of the fire stays the nominal instant
  CHECK(due[0].fire_at == *a);
}

TEST_CASE("A retry is due at its time with its attempt number, for the same scheduled instant") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  s.upsert(job("a", R"({"trigger":"interval","hours":1,"retries":2})", t0));
  s.schedule_retry("a", t0, 2, t0 + 10s);
  CHECK(s.next_wakeup() == t0 + 10s);
  CHECK(s.take_due(t0 + 9s).empty());
  const auto due = s.take_due(t0 + 10s);
  REQUIRE(due.size() == 1);
  CHECK(due[0].kind == FireKind::retry);
  CHECK(due[0].attempt == 2);
  CHECK(due[0].scheduled_for == t0);
}

TEST_CASE("A retry of a job that was removed meanwhile is dropped") {
  Schedule s(1s);
  const TimePoint t0 = at("2024-05-01T10:00:00Z");
  s.upsert(job("a", R"({"trigger":"interval","hours":1})", t0));
  s.schedule_retry("a", t0, 2, t0 + 10s);
  s.remove("a");
  CHECK(s.take_due(t0 + 1h).empty());
}

TEST_CASE("Retry delays double per attempt and stop growing at one hour") {
  CHECK(Schedule::retry_delay(10s, 2) == 10s);
  CHECK(Schedule::retry_delay(10s, 3) == 20s);
  CHECK(Schedule::retry_delay(10s, 4) == 40s);
  CHECK(Schedule::retry_delay(10s, 60) == 1h);
}
