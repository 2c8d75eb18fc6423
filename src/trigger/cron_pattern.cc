// The cron search. Wall-clock candidates are found on civil fields (year, month, day, time of day)
// with bit masks, so a call costs a handful of mask operations however far away the next fire is;
// the daylight-saving rules then map wall-clock candidates to instants one zone period at a time.
#include "trigger/cron_pattern.h"

#include <algorithm>
#include <bit>

namespace rowsched {

namespace {

using Secs = std::chrono::seconds;
using Days = date::days;

// No zone's offset or daylight-saving shift comes near a day; two days is a safe bound for "close to
// a transition" and for how far a wall-clock reading and its instant can be apart.
constexpr Secs kTwoDays{2 * 86400};
// A zone has two periods a year; this covers every year up to 9999 with room to spare.
constexpr int kMaxZonePeriods = 40000;

// Bits of `mask` at position `from` or above.
constexpr uint64_t bits_from(uint64_t mask, unsigned from) { return from >= 64 ? 0 : mask & (~uint64_t{0} << from); }

// The lowest set bit at or above `from`, or -1.
constexpr int next_bit(uint64_t mask, unsigned from) {
  const uint64_t m = bits_from(mask, from);
  return m == 0 ? -1 : std::countr_zero(m);
}

// Days 1..n of a month as a mask.
constexpr uint32_t month_bits(unsigned n) { return static_cast<uint32_t>(((uint64_t{1} << (n + 1)) - 1) & ~uint64_t{1}); }

// 0 = Monday ... 6 = Sunday.
unsigned weekday_of(date::sys_days day) { return date::weekday{day}.iso_encoding() - 1; }

unsigned iso_week_of(date::sys_days day) {
  const date::sys_days thursday = day + Days{3 - static_cast<int>(weekday_of(day))};
  const date::year iso_year = date::year_month_day{thursday}.year();
  return static_cast<unsigned>((thursday - date::sys_days{iso_year / 1 / 1}).count() / 7 + 1);
}

bool year_allowed(const std::vector<YearRange>& years, int y) {
  if (years.empty()) return true;
  return std::any_of(years.begin(), years.end(), [y](const YearRange& r) {
    return y >= r.first && y <= r.last && (y - r.first) % r.step == 0;
  });
}

// The smallest allowed year after `y`, or nullopt.
std::optional<int> next_year_after(const std::vector<YearRange>& years, int y) {
  if (years.empty()) return y + 1 <= kLastCronYear ? std::optional<int>(y + 1) : std::nullopt;
  std::optional<int> best;
  for (const YearRange& r : years) {
    int candidate = r.first;
    if (y + 1 > r.first) candidate = r.first + ((y + 1 - r.first + r.step - 1) / r.step) * r.step;
    if (candidate <= r.last && (!best || candidate < *best)) best = candidate;
  }
  return best;
}

struct Civil {
  int y;
  unsigned m, d;
  bool operator==(const Civil&) const = default;
};

// The matching days of month `m` of year `y` as a mask.
uint32_t day_mask(const CronPattern& p, int y, unsigned m) {
  const date::year_month ym{date::year{y}, date::month{m}};
  const unsigned length = static_cast<unsigned>(date::year_month_day_last{ym / date::last}.day());
  const date::sys_days first{ym / 1};
  const unsigned first_weekday = weekday_of(first);
  const uint32_t valid = month_bits(length);

  uint32_t by_day = p.days & valid;
  for (const MonthDay& md : p.month_days) {
    if (md.kind == MonthDay::Kind::kLastDay) {
      by_day |= uint32_t{1} << length;
      continue;
    }
    const unsigned first_hit = (static_cast<unsigned>(md.weekday) + 7 - first_weekday) % 7 + 1;
    const unsigned target =
        md.kind == MonthDay::Kind::kNthWeekday ? first_hit + 7 * (md.nth - 1) : first_hit + (length - first_hit) / 7 * 7;
    if (target <= length) by_day |= uint32_t{1} << target;
  }

  uint32_t by_weekday = 0;
  for (unsigned wd = 0; wd < 7; ++wd) {
    if (!(p.weekdays >> wd & 1)) continue;
    for (unsigned d = (wd + 7 - first_weekday) % 7 + 1; d <= length; d += 7) by_weekday |= uint32_t{1} << d;
  }

  uint32_t mask = p.day_or_weekday ? (by_day | by_weekday) : (by_day & by_weekday);
  constexpr uint64_t kAllWeeks = ((uint64_t{1} << 54) - 1) & ~uint64_t{1};
  if (mask != 0 && (p.weeks & kAllWeeks) != kAllWeeks) {
    uint32_t in_weeks = 0;
    for (unsigned d = 1; d <= length;) {
      const date::sys_days day = first + Days{d - 1};
      const unsigned sunday = std::min(length, d + 6 - weekday_of(day));
      if (p.weeks >> iso_week_of(day) & 1) in_weeks |= month_bits(sunday) & ~month_bits(d - 1);
      d = sunday + 1;
    }
    mask &= in_weeks;
  }
  return mask;
}

// The first matching day at or after (y, m, d); d may be past the month's end.
std::optional<Civil> next_day(const CronPattern& p, Civil from) {
  int y = from.y;
  unsigned m = from.m, d = from.d;
  while (y <= kLastCronYear) {
    if (!year_allowed(p.years, y)) {
      const std::optional<int> next = next_year_after(p.years, y);
      if (!next) return std::nullopt;
      y = *next;
      m = 1;
      d = 1;
      continue;
    }
    for (int month = next_bit(p.months, m); month >= 0; month = next_bit(p.months, month + 1)) {
      const uint32_t candidates = static_cast<uint32_t>(bits_from(day_mask(p, y, month), month == static_cast<int>(m) ? d : 1));
      if (candidates != 0) return Civil{y, static_cast<unsigned>(month), static_cast<unsigned>(std::countr_zero(candidates))};
    }
    ++y;
    m = 1;
    d = 1;
  }
  return std::nullopt;
}

// The first matching second of the day at or after `from` (0..86399), or nullopt.
std::optional<int> next_time_of_day(const CronPattern& p, int from) {
  const int h = from / 3600, mi = from / 60 % 60, s = from % 60;
  if (p.hours >> h & 1) {
    if (p.minutes >> mi & 1) {
      if (const int sec = next_bit(p.seconds, s); sec >= 0) return h * 3600 + mi * 60 + sec;
    }
    if (const int minute = next_bit(p.minutes, mi + 1); minute >= 0) return h * 3600 + minute * 60 + std::countr_zero(p.seconds);
  }
  if (const int hour = next_bit(p.hours, h + 1); hour >= 0)
    return hour * 3600 + std::countr_zero(p.minutes) * 60 + std::countr_zero(p.seconds);
  return std::nullopt;
}

LocalSeconds local_of(SysSeconds instant, Secs offset) { return LocalSeconds{instant.time_since_epoch() + offset}; }
SysSeconds instant_of(LocalSeconds local, Secs offset) { return SysSeconds{local.time_since_epoch() - offset}; }
SysSeconds same_digits(LocalSeconds local) { return SysSeconds{local.time_since_epoch()}; }

}  // namespace

std::optional<LocalSeconds> CronPattern::next_match(LocalSeconds from) const {
  const LocalSeconds earliest{date::local_days{date::year{kFirstCronYear} / 1 / 1}};
  from = std::max(from, earliest);
  const date::local_days day = date::floor<Days>(from);
  const date::year_month_day ymd{day};
  if (static_cast<int>(ymd.year()) > kLastCronYear) return std::nullopt;
  const Civil today{static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day())};

  std::optional<Civil> found = next_day(*this, today);
  if (!found) return std::nullopt;
  if (*found == today) {
    if (const std::optional<int> t = next_time_of_day(*this, static_cast<int>((from - day).count()))) return day + Secs{*t};
    found = next_day(*this, Civil{today.y, today.m, today.d + 1});
    if (!found) return std::nullopt;
  }
  const date::local_days match_day{date::year{found->y} / date::month{found->m} / date::day{found->d}};
  return match_day + Secs{*next_time_of_day(*this, 0)};
}

bool CronPattern::can_match() const {
  return next_day(*this, Civil{kFirstCronYear, 1, 1}).has_value();
}

std::optional<SysSeconds> CronPattern::next_fire(SysSeconds from, Zone zone) const {
  if (follows_clock) {
    // Every instant whose wall-clock reading matches fires. Within one zone period the reading is the
    // instant plus a constant offset, so search the period's readings, then the next period's.
    SysSeconds s = from;
    for (int period = 0; period < kMaxZonePeriods; ++period) {
      const date::sys_info info = zone->get_info(s);
      const std::optional<LocalSeconds> match = next_match(local_of(s, info.offset));
      if (!match) return std::nullopt;
      const SysSeconds at = instant_of(*match, info.offset);
      if (at < info.end) return at;
      // Later instants read either earlier than s's reading (only just after clocks went back, so
      // within two days of s) or at or after `match` (so no earlier than two days before it).
      SysSeconds next = info.end;
      if (next >= s + kTwoDays) next = std::max(next, same_digits(*match) - kTwoDays);
      s = next;
    }
    return std::nullopt;
  }

  // A fixed-time job fires once for every matching wall-clock time, at resolve_local's instant: a
  // skipped time at the offset before the gap, a repeated time at its first occurrence.
  const date::sys_info info = zone->get_info(from);
  LocalSeconds search_from = local_of(from, info.offset);
  std::optional<SysSeconds> from_gap;
  if (from - info.begin < kTwoDays) {
    const date::sys_info before = zone->get_info(info.begin - Secs{1});
    const Secs shift = info.offset - before.offset;
    if (shift > Secs{0} && from < info.begin + shift) {
      // Clocks went forward less than `shift` ago: the skipped readings from `from` on fire now.
      const LocalSeconds gap_end = local_of(info.begin, info.offset);
      if (const auto m = next_match(local_of(from, before.offset)); m && *m < gap_end) from_gap = instant_of(*m, before.offset);
    } else if (shift < Secs{0} && from < info.begin - shift) {
      // `from` is the second occurrence of a repeated reading; those fired at their first.
      search_from = local_of(info.begin, before.offset);
    }
  }

  const std::optional<LocalSeconds> match = next_match(search_from);
  if (!match) return from_gap;
  SysSeconds at;
  if (*match < local_of(info.end, info.offset)) {
    at = instant_of(*match, info.offset);
  } else {
    const date::local_info li = zone->get_info(*match);
    at = instant_of(*match, li.first.offset);
    if (li.result == date::local_info::nonexistent) {
      // Readings just after the gap map to the same instants as the skipped ones, and may come first.
      if (const auto after = next_match(local_of(li.second.begin, li.second.offset))) {
        at = std::min(at, instant_of(*after, zone->get_info(*after).first.offset));
      }
    }
  }
  return from_gap ? std::min(at, *from_gap) : at;
}

}  // namespace rowsched
