#include "store/timestamp_text.h"

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace rowsched::store {

namespace {
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}
}  // namespace

TimePoint parse_utc_timestamp(const char* s) {
  const char* const text = s;
  auto fail = [&]() -> TimePoint { throw std::runtime_error(std::string("unexpected timestamp from PostgreSQL: ") + text); };
  auto digits = [&](int n, int64_t& out) {
    out = 0;
    for (int i = 0; i < n; ++i, ++s) {
      if (*s < '0' || *s > '9') return false;
      out = out * 10 + (*s - '0');
    }
    return true;
  };
  int64_t year = 0;
  int ny = 0;
  for (; *s >= '0' && *s <= '9'; ++s, ++ny) year = year * 10 + (*s - '0');
  int64_t month, day, hour, minute, second;
  if (ny < 4 || *s++ != '-' || !digits(2, month) || *s++ != '-' || !digits(2, day) || *s++ != ' ' || !digits(2, hour) ||
      *s++ != ':' || !digits(2, minute) || *s++ != ':' || !digits(2, second))
    return fail();
  int64_t micros = 0;
  if (*s == '.') {
    ++s;
    int n = 0;
    for (; *s >= '0' && *s <= '9'; ++s, ++n) {
      if (n >= 6) return fail();
      micros = micros * 10 + (*s - '0');
    }
    if (n == 0) return fail();
    for (; n < 6; ++n) micros *= 10;
  }
  if (s[0] != '+' || s[1] != '0' || s[2] != '0') return fail();
  s += 3;
  if (std::strcmp(s, " BC") == 0) year = 1 - year;
  else if (*s != '\0') return fail();
  const int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return TimePoint{Duration{((days * 86400 + hour * 3600 + minute * 60 + second) * 1000000) + micros}};
}

}  // namespace rowsched::store
