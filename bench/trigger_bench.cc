// Next-fire computation benchmark: ns per Trigger::next_fire_time call for a fixed set of
// representative triggers, built through rowsched::parse_trigger_kwargs exactly as the daemon builds
// them from job_info rows (parse_trigger_kwargs_text). bench/trigger_apscheduler.py measures the same set with APScheduler 3.9.
//
//   trigger_bench [--quick] [--reps N] [--min-time SECONDS] [--json]
//
// Each call advances like the scheduler does for a job that runs on time:
//   t = next_fire_time(previous = t, now = t)
// starting from 2024-01-01T00:00:00Z. When the trigger ends (date) or the sequence passes 2200 it
// starts over from the beginning (previous = none), which is part of what is measured. One
// repetition runs for at least --min-time seconds; the reported figure is the median of --reps
// repetitions. Output: one tab-separated line per trigger (name, ns/call, calls per repetition,
// min and max ns/call over the repetitions), or JSON lines with --json.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "trigger/trigger_kwargs.h"

namespace {

struct Case {
  const char* name;
  const char* kwargs;
};

// Keep in step with CASES in bench/trigger_apscheduler.py.
const Case kCases[] = {
    {"cron_every_5_min", R"({"trigger":"cron","minute":"*/5"})"},
    {"cron_daily_0330_berlin", R"({"trigger":"cron","hour":3,"minute":30,"timezone":"Europe/Berlin"})"},
    {"cron_last_fri_9_17", R"({"trigger":"cron","day":"last fri","hour":"9-17"})"},
    {"crontab_15min_workhours", R"({"crontab":"*/15 9-17 * * mon-fri"})"},
    {"interval_30s", R"({"trigger":"interval","seconds":30,"start_date":"2024-01-01 00:00:00"})"},
    {"date_once", R"({"trigger":"date","run_date":"2024-06-01 12:00:00"})"},
    {"calendarinterval_1_month", R"({"trigger":"calendarinterval","months":1})"},
};

using rowsched::Duration;
using rowsched::TimePoint;
using Clock = std::chrono::steady_clock;

TimePoint utc(int y, unsigned m, unsigned d) {
  return TimePoint{date::sys_days{date::year{y} / m / d}.time_since_epoch()};
}

struct Result {
  double median_ns, min_ns, max_ns;
  long long calls;
  std::string first;
};

Result measure(const rowsched::Trigger& trigger, TimePoint start, double min_time_s, int reps) {
  const TimePoint limit = utc(2200, 1, 1);
  std::vector<double> per_call;
  long long calls_per_rep = 0;
  std::int64_t sink = 0;
  std::optional<TimePoint> prev;
  TimePoint now = start;
  auto one = [&]() {
    auto next = trigger.next_fire_time(prev, now);
    if (!next || *next > limit) {
      prev.reset();
      now = start;
    } else {
      prev = *next;
      now = *next;
      sink += next->time_since_epoch().count();
    }
  };
  // Calibrate: how many calls take about min_time_s?
  long long n = 1000;
  for (;;) {
    const auto t0 = Clock::now();
    for (long long i = 0; i < n; ++i) one();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s >= min_time_s / 4 || n > (1LL << 40)) {
      calls_per_rep = std::max<long long>(1000, static_cast<long long>(n * (min_time_s / std::max(s, 1e-9))));
      break;
    }
    n *= 4;
  }
  for (int r = 0; r < reps; ++r) {
    prev.reset();
    now = start;
    const auto t0 = Clock::now();
    for (long long i = 0; i < calls_per_rep; ++i) one();
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    per_call.push_back(ns / static_cast<double>(calls_per_rep));
  }
  std::sort(per_call.begin(), per_call.end());
  if (sink == 42) std::puts("");  // keeps the results observable
  auto first = trigger.next_fire_time(std::nullopt, start);
  return {per_call[per_call.size() / 2], per_call.front(), per_call.back(), calls_per_rep,
          first ? rowsched::format_rfc3339(*first) : std::string("none")};
}

}  // namespace

int main(int argc, char** argv) {
  double min_time = 1.0;
  int reps = 5;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) {
      min_time = 0.2;
    } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--min-time") && i + 1 < argc) {
      min_time = std::atof(argv[++i]);
    } else if (!std::strcmp(argv[i], "--json")) {
      json = true;
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--reps N] [--min-time SECONDS] [--json]\n", argv[0]);
      return 2;
    }
  }
  rowsched::ParseContext ctx;
  ctx.default_zone = date::locate_zone("UTC");
  ctx.now = utc(2024, 1, 1);
  if (!json) std::printf("# trigger\tns_per_call\tcalls_per_rep\tmin_ns\tmax_ns\tfirst_fire\n");
  for (const auto& c : kCases) {
    try {
      auto spec = rowsched::parse_trigger_kwargs_text(std::string_view{c.kwargs}, ctx);
      const Result r = measure(*spec.trigger, ctx.now, min_time, reps);
      if (json) {
        std::printf("{\"trigger\":\"%s\",\"ns_per_call\":%.1f,\"calls_per_rep\":%lld,\"min_ns\":%.1f,\"max_ns\":%.1f,\"first_fire\":\"%s\"}\n",
                    c.name, r.median_ns, r.calls, r.min_ns, r.max_ns, r.first.c_str());
      } else {
        std::printf("%s\t%.1f\t%lld\t%.1f\t%.1f\t%s\n", c.name, r.median_ns, r.calls, r.min_ns, r.max_ns, r.first.c_str());
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", c.name, e.what());
      if (json) {
        std::printf("{\"trigger\":\"%s\",\"error\":\"see stderr\"}\n", c.name);
      } else {
        std::printf("%s\tERROR\t0\t0\t0\t-\n", c.name);
      }
    }
    std::fflush(stdout);
  }
  return 0;
}
