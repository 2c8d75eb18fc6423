// store::PgArray: the array literals a batch is bound with; PostgreSQL must read back exactly the
// values given, whatever characters the text holds.
#include <catch2/catch.hpp>

#include "store/pg_array.h"

using rowsched::Duration;
using rowsched::TimePoint;
using rowsched::store::PgArray;

TEST_CASE("an empty batch is the empty array", "[pg_array]") { CHECK(PgArray().str() == "{}"); }

TEST_CASE("every text element is quoted, with quotes and backslashes escaped", "[pg_array]") {
  CHECK(PgArray().add("a").add("").add("x,y {z}").str() == R"({"a","","x,y {z}"})");
  CHECK(PgArray().add(R"(say "hi" \o/)").str() == R"({"say \"hi\" \\o/"})");
  CHECK(PgArray().add("NULL").str() == R"({"NULL"})");  // the text NULL, not a null
}

TEST_CASE("absent values are NULL elements", "[pg_array]") {
  CHECK(PgArray().add(std::optional<std::string>{}).add(std::optional<TimePoint>{}).add_null().str() == "{NULL,NULL,NULL}");
}

TEST_CASE("numbers, booleans and instants are written as PostgreSQL reads them", "[pg_array]") {
  CHECK(PgArray().add(int64_t{-42}).add(int64_t{9007199254740993}).str() == "{-42,9007199254740993}");
  CHECK(PgArray().add(true).add(false).str() == "{t,f}");
  CHECK(PgArray().add(TimePoint{Duration{1711848600250000}}).str() == R"({"2024-03-31T01:30:00.25Z"})");
}
