// The metric registry and its Prometheus text exposition (format 0.0.4), as a scraper reads it.
#include <catch2/catch.hpp>

#include <limits>

#include "daemon/metrics.h"

using namespace rowsched::daemon;

namespace {
bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("a counter is exposed with HELP and TYPE lines and its labels", "[metrics]") {
  Registry r;
  r.counter("demo_fires_total", "Fires by outcome", {{"outcome", "run"}}).inc();
  r.counter("demo_fires_total", "Fires by outcome", {{"outcome", "run"}}).inc(2);
  r.counter("demo_fires_total", "Fires by outcome", {{"outcome", "missed"}});
  CHECK(r.expose() ==
        "# HELP demo_fires_total Fires by outcome\n"
        "# TYPE demo_fires_total counter\n"
        "demo_fires_total{outcome=\"missed\"} 0\n"
        "demo_fires_total{outcome=\"run\"} 3\n");
}

TEST_CASE("a gauge without labels is written bare and may go down", "[metrics]") {
  Registry r;
  Gauge& g = r.gauge("demo_depth", "Queue depth");
  g.set(5);
  g.inc(-2);
  CHECK(r.expose() == "# HELP demo_depth Queue depth\n# TYPE demo_depth gauge\ndemo_depth 3\n");
}

TEST_CASE("label values escape backslash, double quote and newline; HELP escapes backslash and newline", "[metrics]") {
  Registry r;
  r.gauge("demo_info", "a \\ help\nline", {{"path", "C:\\jobs\n\"x\""}}).set(1);
  const std::string text = r.expose();
  CHECK(contains(text, "# HELP demo_info a \\\\ help\\nline\n"));
  CHECK(contains(text, "demo_info{path=\"C:\\\\jobs\\n\\\"x\\\"\"} 1\n"));
}

TEST_CASE("a histogram has cumulative buckets ending in +Inf, a sum and a count", "[metrics]") {
  Registry r;
  Histogram& h = r.histogram("demo_seconds", "Lateness", {0.25, 1, 10});
  for (double v : {0.125, 0.25, 0.5, 5.0, 50.0}) h.observe(v);
  CHECK(r.expose() ==
        "# HELP demo_seconds Lateness\n"
        "# TYPE demo_seconds histogram\n"
        "demo_seconds_bucket{le=\"0.25\"} 2\n"  // an observation equal to a bound is counted in it
        "demo_seconds_bucket{le=\"1\"} 3\n"
        "demo_seconds_bucket{le=\"10\"} 4\n"
        "demo_seconds_bucket{le=\"+Inf\"} 5\n"
        "demo_seconds_sum 55.875\n"
        "demo_seconds_count 5\n");
}

TEST_CASE("a family registered again under another type is a programming error", "[metrics]") {
  Registry r;
  r.counter("demo_x", "x");
  CHECK_THROWS_AS(r.gauge("demo_x", "x"), std::logic_error);
}

TEST_CASE("sample values are written as the text format reads them", "[metrics]") {
  CHECK(format_sample_value(3) == "3");
  CHECK(format_sample_value(0.25) == "0.25");
  CHECK(format_sample_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_sample_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_sample_value(std::numeric_limits<double>::quiet_NaN()) == "NaN");
}

TEST_CASE("rowsched's metrics exist from the start, at zero, so rates and alerts work before the first event", "[metrics]") {
  Metrics m;
  const std::string text = m.registry.expose();
  for (const char* line : {"rowsched_jobs{state=\"scheduled\"} 0", "rowsched_jobs{state=\"invalid\"} 0",
                           "rowsched_fires_total{outcome=\"missed\"} 0", "rowsched_runs_total{status=\"failed\"} 0",
                           "rowsched_fire_lateness_seconds_count 0", "rowsched_change_pickup_seconds_bucket{le=\"+Inf\"} 0",
                           "rowsched_notifications_total 0", "rowsched_reloads_total 0", "rowsched_reconnects_total 0",
                           "rowsched_claim_conflicts_total 0", "rowsched_executor_queue_depth 0", "rowsched_write_queue_depth 0", "rowsched_claim_lead_seconds 0", "rowsched_up 1"})
    CHECK(contains(text, std::string(line) + "\n"));
  CHECK(contains(text, "rowsched_build_info{version=\"" ROWSCHED_VERSION "\"} 1\n"));
}

TEST_CASE("readiness starts not ready and says why", "[metrics]") {
  Readiness r;
  CHECK(r.not_ready_reason() == "starting");
  r.set_ready();
  CHECK_FALSE(r.not_ready_reason());
  r.set_not_ready("database connection lost");
  CHECK(r.not_ready_reason() == "database connection lost");
}
