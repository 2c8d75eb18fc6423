// The metric registry and its text exposition. Format reference: Prometheus "Exposition formats",
// text format 0.0.4 (HELP and TYPE lines, escaped label values, cumulative histogram buckets).
#include "daemon/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include "base/states.h"

namespace rowsched::daemon {

namespace {

// Upper bounds in seconds: from a millisecond (a fire that is on time, a change picked up at once)
// to minutes (a saturated executor, a missed notification repaired by the resync).
const std::vector<double> kLatenessBounds{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
const std::vector<double> kPickupBounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

std::string label_text(const Labels& labels, const std::pair<std::string, std::string>* extra = nullptr) {
  if (labels.empty() && !extra) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::pair<std::string, std::string>& kv) {
    if (!first) out += ',';
    first = false;
    out += kv.first + "=\"" + escape_label_value(kv.second) + '"';
  };
  for (const auto& kv : labels) add(kv);
  if (extra) add(*extra);
  return out + "}";
}

}  // namespace

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_sample_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back exactly
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();  // first bound >= v
  std::lock_guard lock(mu_);
  ++counts_[bucket];
  sum_ += v;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::lock_guard lock(mu_);
  uint64_t running = 0;
  for (uint64_t c : counts_) {
    running += c;
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_;
  return s;
}

Registry::Family& Registry::family(const std::string& name, const std::string& help, Type type) {
  auto [it, inserted] = families_.try_emplace(name, Family{type, help, {}, {}, {}});
  if (!inserted && it->second.type != type) throw std::logic_error("metric " + name + " registered twice with different types");
  return it->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Type::counter).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Type::gauge).gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                               const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Type::histogram).histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

std::string Registry::expose() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    static const char* const kTypeNames[] = {"counter", "gauge", "histogram"};
    out += "# HELP " + name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + name + " " + kTypeNames[static_cast<int>(f.type)] + "\n";
    for (const auto& [labels, c] : f.counters) out += name + label_text(labels) + " " + format_sample_value(c->value()) + "\n";
    for (const auto& [labels, g] : f.gauges) out += name + label_text(labels) + " " + format_sample_value(g->value()) + "\n";
    for (const auto& [labels, h] : f.histograms) {
      const auto s = h->snapshot();
      for (size_t i = 0; i <= s.bounds.size(); ++i) {
        const std::pair<std::string, std::string> le{"le", i < s.bounds.size() ? format_sample_value(s.bounds[i]) : "+Inf"};
        out += name + "_bucket" + label_text(labels, &le) + " " + std::to_string(s.cumulative[i]) + "\n";
      }
      out += name + "_sum" + label_text(labels) + " " + format_sample_value(s.sum) + "\n";
      out += name + "_count" + label_text(labels) + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

void Readiness::set_ready() {
  std::lock_guard lock(mu_);
  reason_.reset();
  since_.reset();
}

void Readiness::set_not_ready(std::string reason) {
  std::lock_guard lock(mu_);
  reason_ = std::move(reason);
  if (!since_) since_ = std::chrono::system_clock::now();
}

std::optional<std::chrono::system_clock::time_point> Readiness::not_ready_since() const {
  std::lock_guard lock(mu_);
  return since_;
}

std::optional<std::string> Readiness::not_ready_reason() const {
  std::lock_guard lock(mu_);
  return reason_;
}

Metrics::Metrics()
    : fire_lateness_seconds(registry.histogram(
          "rowsched_fire_lateness_seconds",
          "Seconds from a fire's scheduled time (before jitter) to the start of its run, first attempts only", kLatenessBounds)),
      change_pickup_seconds(registry.histogram(
          "rowsched_change_pickup_seconds",
          "Seconds from a definition change of a job_info row (its update_time) until this instance applied it", kPickupBounds)),
      notifications(registry.counter("rowsched_notifications_total", "job_info change notifications received")),
      reloads(registry.counter("rowsched_reloads_total", "Full reloads of job_info (on connect, reconnect and truncate)")),
      reconnects(registry.counter("rowsched_reconnects_total", "Database reconnections after a lost connection or a failed statement")),
      claim_conflicts(registry.counter("rowsched_claim_conflicts_total",
                                       "Fires this instance asked to claim that were already claimed (by another instance, or earlier)")),
      executor_queue_depth(registry.gauge("rowsched_executor_queue_depth", "Runs queued or running in the executor pool")),
      write_queue_depth(registry.gauge("rowsched_write_queue_depth",
                                       "Run outcomes and job_info write-backs queued for the writer's connection")),
      claim_lead_seconds(registry.gauge("rowsched_claim_lead_seconds",
                                        "How far ahead of their instant fires are claimed now (1.5 x the recent longest claim)")),
      up(registry.gauge("rowsched_up", "1 while the rowsched process runs")) {
  // The loop holds no pending job, so pending has no series (see RowApplier::publish_counts).
  for (JobState state : {JobState::scheduled, JobState::paused, JobState::finished, JobState::invalid}) jobs(to_sql(state));
  for (const char* outcome : {"run", "missed", "skipped"}) fires(outcome);  // "run" stands for a claimed fire
  // The outcomes a run of this instance ends with.
  for (RunStatus status : {RunStatus::succeeded, RunStatus::failed, RunStatus::timeout, RunStatus::lost}) runs(to_sql(status));
  registry.gauge("rowsched_build_info", "Always 1; the labels name the running build", {{"version", ROWSCHED_VERSION}}).set(1);
  up.set(1);
}

Gauge& Metrics::jobs(const std::string& state) {
  return registry.gauge("rowsched_jobs", "Jobs this instance knows, by state", {{"state", state}});
}

Counter& Metrics::fires(const std::string& outcome) {
  return registry.counter("rowsched_fires_total",
                          "Fires claimed by this instance, by outcome: run, missed (later than misfire_grace_time), "
                          "skipped (coalesced or max_instances reached)",
                          {{"outcome", outcome}});
}

Counter& Metrics::runs(const std::string& status) {
  return registry.counter("rowsched_runs_total", "Finished runs by status", {{"status", status}});
}

Gauge& Metrics::worker_queue(const std::string& what, const std::string& queue) {
  if (what == "live_workers")
    return registry.gauge("rowsched_worker_queue_live_workers", "Live workers serving the queue (heartbeat within 10 s)", {{"queue", queue}});
  if (what == "queued")
    return registry.gauge("rowsched_worker_queue_depth", "Worker runs queued and not yet taken by a worker", {{"queue", queue}});
  if (what == "running")
    return registry.gauge("rowsched_worker_queue_running", "Worker runs taken by a worker and not yet finished", {{"queue", queue}});
  return registry.gauge("rowsched_worker_queue_oldest_seconds", "How long the oldest queued run of the queue has waited",
                        {{"queue", queue}});
}

}  // namespace rowsched::daemon
