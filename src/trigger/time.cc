// Time zones through Howard Hinnant's date/tz over the OS tz database; timestamp parsing by hand so
// that the accepted grammar is exactly the one documented in docs/schedules.md.
#include "trigger/time.h"

#include <cstdio>
#include <stdexcept>

namespace rowsched {

std::optional<Zone> find_zone(std::string_view name) {
  if (name.empty() || name.size() > 64) return std::nullopt;
  try {
    return date::locate_zone(name);
  } catch (const std::runtime_error&) {
    return std::nullopt;
  }
}

std::vector<TimePoint> instants_of(LocalTime local, Zone zone) {
  const date::local_info info = zone->get_info(date::floor<std::chrono::seconds>(local));
  const auto as_instant = [&](const date::sys_info& si) {
    return TimePoint{local.time_since_epoch() - std::chrono::duration_cast<Duration>(si.offset)};
  };
  switch (info.result) {
    case date::local_info::unique:
      return {as_instant(info.first)};
    case date::local_info::ambiguous:
      return {as_instant(info.first), as_instant(info.second)};
    default:
      return {};
  }
}

TimePoint resolve_local(LocalTime local, Zone zone) {
  const date::local_info info = zone->get_info(date::floor<std::chrono::seconds>(local));
  // For a skipped time `first` is the period before the gap; for a repeated time it is the earlier
  // occurrence. Either way the offset of `first` gives the instant our DST rules ask for.
  return TimePoint{local.time_since_epoch() - std::chrono::duration_cast<Duration>(info.first.offset)};
}

LocalTime to_local(TimePoint instant, Zone zone) {
  const date::sys_info info = zone->get_info(instant);
  return LocalTime{instant.time_since_epoch() + std::chrono::duration_cast<Duration>(info.offset)};
}

namespace {

// A tiny cursor over the timestamp text; each reader consumes exactly the digits it asks for.
struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool done() const { return i == s.size(); }
  bool peek(char c) const { return i < s.size() && s[i] == c; }
  bool digits(int n, int& out) {
    if (i + n > s.size()) return false;
    out = 0;
    for (int k = 0; k < n; ++k) {
      char c = s[i + k];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    i += n;
    return true;
  }
  // One or two digits, as APScheduler's timestamp pattern accepts for every field but the year.
  bool one_or_two(int& out) {
    if (!digits(1, out)) return false;
    int more;
    if (digits(1, more)) out = out * 10 + more;
    return true;
  }
  bool lit(char c) {
    if (!peek(c)) return false;
    ++i;
    return true;
  }
};

}  // namespace

std::optional<TimePoint> parse_timestamp(std::string_view text, Zone zone) {
  Cursor c{text};
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!c.digits(4, y) || !c.lit('-') || !c.one_or_two(mo) || !c.lit('-') || !c.one_or_two(d)) return std::nullopt;
  const date::year_month_day ymd{date::year{y}, date::month(mo), date::day(d)};
  if (!ymd.ok()) return std::nullopt;
  Duration frac{0};
  if (c.peek(' ') || c.peek('T') || c.peek('t')) {
    ++c.i;
    if (!c.one_or_two(h) || !c.lit(':') || !c.one_or_two(mi) || !c.lit(':') || !c.one_or_two(sec)) return std::nullopt;
    if (h > 23 || mi > 59 || sec > 59) return std::nullopt;
    if (c.lit('.')) {
      int n = 0;
      int64_t micros = 0;
      while (!c.done() && c.s[c.i] >= '0' && c.s[c.i] <= '9') {
        if (n < 6) micros = micros * 10 + (c.s[c.i] - '0');
        ++n;
        ++c.i;
      }
      if (n == 0 || n > 9) return std::nullopt;
      for (int k = n; k < 6; ++k) micros *= 10;
      frac = Duration{micros};
    }
  }
  const LocalTime local = LocalTime{date::local_days{ymd}.time_since_epoch()} + std::chrono::hours{h} +
                          std::chrono::minutes{mi} + std::chrono::seconds{sec} + frac;
  if (c.done()) return resolve_local(local, zone);
  if (c.lit('Z') || c.lit('z')) {
    if (!c.done()) return std::nullopt;
    return TimePoint{local.time_since_epoch()};
  }
  int sign = c.lit('+') ? 1 : (c.lit('-') ? -1 : 0);
  if (sign == 0) return std::nullopt;
  int oh, om;
  if (!c.digits(2, oh)) return std::nullopt;
  c.lit(':');
  if (!c.digits(2, om) || !c.done() || oh > 23 || om > 59) return std::nullopt;
  const Duration offset = std::chrono::hours{oh} + std::chrono::minutes{om};
  return TimePoint{local.time_since_epoch() - sign * offset};
}

}  // namespace rowsched
