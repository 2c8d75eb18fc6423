// Printing of instants and durations; date/date.h does the calendar arithmetic (no tz database).
#include "base/time.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <date/date.h>

namespace rowsched {

std::string format_rfc3339(TimePoint instant) {
  const auto day = date::floor<date::days>(instant);
  const date::year_month_day ymd{day};
  const date::hh_mm_ss<Duration> tod{instant - day};
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                        static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                        static_cast<int>(tod.seconds().count()));
  std::string out(buf, n);
  if (auto us = tod.subseconds().count(); us != 0) {
    char f[8];
    std::snprintf(f, sizeof f, "%06lld", static_cast<long long>(us));
    std::string fs(f);
    while (!fs.empty() && fs.back() == '0') fs.pop_back();
    out += '.' + fs;
  }
  return out + 'Z';
}

std::string format_seconds(Duration d) {
  const long long us = d.count();
  std::string out = std::to_string(us / 1000000);
  if (long long rest = std::llabs(us % 1000000); rest != 0) {
    char f[8];
    std::snprintf(f, sizeof f, "%06lld", rest);
    std::string fs(f);
    while (fs.back() == '0') fs.pop_back();
    if (us < 0 && us / 1000000 == 0) out = "-0";
    out += '.' + fs;
  }
  return out;
}

Duration from_seconds(double s) { return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s)); }

timespec to_timespec(Duration d) {
  d = std::max(d, Duration::zero());
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(d);
  return timespec{static_cast<time_t>(secs.count()),
                  static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(d - secs).count())};
}

}  // namespace rowsched
