// store::parse_utc_timestamp: the text PostgreSQL prints for a timestamptz (TimeZone UTC, DateStyle
// ISO) becomes the exact instant, and anything else is refused with the text quoted.
#include <catch2/catch.hpp>

#include "store/timestamp_text.h"

using rowsched::Duration;
using rowsched::TimePoint;
using rowsched::store::parse_utc_timestamp;

namespace {
TimePoint at_micros(long long us) { return TimePoint{Duration{us}}; }
}  // namespace

TEST_CASE("a whole-second timestamp is read as that instant", "[timestamp]") {
  CHECK(parse_utc_timestamp("1970-01-01 00:00:00+00") == at_micros(0));
  CHECK(parse_utc_timestamp("2024-03-31 01:30:00+00") == at_micros(1711848600LL * 1000000));
}

TEST_CASE("a fraction of one to six digits is read exactly to the microsecond", "[timestamp]") {
  CHECK(parse_utc_timestamp("2024-03-31 01:30:00.25+00") == at_micros(1711848600LL * 1000000 + 250000));
  CHECK(parse_utc_timestamp("2024-03-31 01:30:00.000001+00") == at_micros(1711848600LL * 1000000 + 1));
  CHECK(parse_utc_timestamp("1969-12-31 23:59:59.999999+00") == at_micros(-1));
}

TEST_CASE("leap days, five-digit years and years before 1 are read", "[timestamp]") {
  CHECK(parse_utc_timestamp("2024-02-29 00:00:00+00") == at_micros(1709164800LL * 1000000));
  CHECK(parse_utc_timestamp("9999-12-31 23:59:59.999999+00") == rowsched::kLatestInstant);
  CHECK(parse_utc_timestamp("10000-01-01 00:00:00+00") == at_micros(253402300800LL * 1000000));
  // 1 BC is year 0 of the proleptic Gregorian calendar: one leap year before 0001-01-01.
  CHECK(parse_utc_timestamp("0001-01-01 00:00:00+00 BC") == at_micros((-62135596800LL - 366 * 86400) * 1000000));
}

TEST_CASE("text that is not a UTC ISO timestamp is refused with the text quoted", "[timestamp]") {
  for (const char* bad : {"", "2024-03-31", "2024-03-31 01:30:00", "2024-03-31 01:30:00+01", "2024-03-31T01:30:00+00",
                          "2024-03-31 01:30:00.+00", "2024-03-31 01:30:00.1234567+00", "24-03-31 01:30:00+00",
                          "2024-03-31 01:30:00+00 AD"}) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_utc_timestamp(bad), Catch::Contains("unexpected timestamp from PostgreSQL: ") &&
                                                    Catch::Contains(bad));
  }
}
