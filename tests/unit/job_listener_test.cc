// store::parse_notification: what the job_info triggers' payloads announce to the scheduler loop.
#include <catch2/catch.hpp>

#include "store/job_listener.h"

using rowsched::store::parse_notification;

TEST_CASE("a payload naming one job announces that job, and the old id of a rename", "[listener]") {
  const auto n = parse_notification(R"({"schema":"public","op":"update","job_id":"b","old_job_id":"a","version":3})", "public");
  REQUIRE(n.size() == 1);
  CHECK(n[0].op == "update");
  CHECK(n[0].job_id == "b");
  CHECK(n[0].old_job_id == "a");
  CHECK_FALSE(n[0].many);
}

TEST_CASE("a payload listing job ids announces each of them", "[listener]") {
  const auto n = parse_notification(R"({"schema":"public","op":"insert","job_ids":["a","b",7,"c"]})", "public");
  REQUIRE(n.size() == 3);
  CHECK(n[0].job_id == "a");
  CHECK(n[2].job_id == "c");
  CHECK(n[1].op == "insert");
}

TEST_CASE("a payload with only a row count asks for the whole table to be compared", "[listener]") {
  const auto n = parse_notification(R"({"schema":"public","op":"delete","count":20000})", "public");
  REQUIRE(n.size() == 1);
  CHECK(n[0].many);
  CHECK(n[0].job_id.empty());
}

TEST_CASE("payloads of another schema, and payloads that are not JSON objects, announce nothing", "[listener]") {
  CHECK(parse_notification(R"({"schema":"other","op":"insert","job_id":"a"})", "public").empty());
  CHECK(parse_notification("not json", "public").empty());
  CHECK(parse_notification("[1,2]", "public").empty());
}
