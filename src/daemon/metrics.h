// What `rowsched run` counts about itself, and the Prometheus text exposition (format 0.0.4) that
// /metrics serves. A Registry holds metric families (counters, gauges, histograms with fixed
// buckets), each with children per label set; Metrics names rowsched's own instruments over one
// Registry, so the scheduler loop increments fields instead of looking names up. Readiness is what
// /readyz answers: whether the loop is connected and has loaded the jobs, and if not, why.
//
// Thread safety: everything here may be used from any thread. Instruments are lock-free atomics
// (histograms take a short lock per observation); registering and exposing take the registry's
// lock. References returned by the registry stay valid for the registry's lifetime.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rowsched::daemon {

// Label name and value pairs, in the order they are printed.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A value that only goes up.
class Counter {
 public:
  void inc(double by = 1.0) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that is set, and may go up and down.
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double by = 1.0) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted into fixed buckets by upper bound (`le`), plus their sum and count.
class Histogram {
 public:
  // REQUIRES: `bounds` strictly increasing; +Inf is implicit and must not be given.
  explicit Histogram(std::vector<double> bounds);

  void observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // one per bound, then one for +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last is (largest bound, +Inf)
  double sum_ = 0;
};

class Registry {
 public:
  // The child of family `name` with `labels`, created on first use (with `help` for the family).
  // Throws std::logic_error when `name` is already registered with another type.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                       const Labels& labels = {});

  // Every family in name order, children in label order, as Prometheus text format 0.0.4.
  std::string expose() const;

 private:
  enum class Type { counter, gauge, histogram };
  struct Family {
    Type type;
    std::string help;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  Family& family(const std::string& name, const std::string& help, Type type);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// A label value or HELP text escaped for the text format: backslash, newline (and, for label
// values, the double quote) are backslash-escaped.
std::string escape_label_value(const std::string& value);
std::string escape_help(const std::string& help);
// A sample value as the text format writes it: integers without a fraction, +Inf, -Inf, NaN.
std::string format_sample_value(double v);

// /readyz: ready once the loop is connected and has loaded every job; otherwise the reason.
class Readiness {
 public:
  void set_ready();
  void set_not_ready(std::string reason);
  // nullopt when ready, else why not.
  std::optional<std::string> not_ready_reason() const;
  // When the current not-ready period began (the process start, or the last time it was ready);
  // nullopt when ready. /healthz turns unhealthy once this lies longer ago than --unhealthy-after.
  std::optional<std::chrono::system_clock::time_point> not_ready_since() const;

 private:
  mutable std::mutex mu_;
  std::optional<std::string> reason_{"starting"};
  std::optional<std::chrono::system_clock::time_point> since_{std::chrono::system_clock::now()};
};

// rowsched's instruments (docs/operations.md lists them with their meaning).
struct Metrics {
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The gauge of jobs in `state`: scheduled, paused, finished, invalid.
  Gauge& jobs(const std::string& state);
  // Fires this instance claimed, by `outcome`: run, missed, skipped.
  Counter& fires(const std::string& outcome);
  // Finished runs by `status`: succeeded, failed, timeout (and lost, for runs of dead instances).
  Counter& runs(const std::string& status);
  // Worker queues (sql/010_workers.sql), by `queue`: live workers, runs queued and running, and the
  // age of the oldest queued run in seconds (0 when none waits).
  Gauge& worker_queue(const std::string& what, const std::string& queue);

  Registry registry;
  Readiness readiness;

  Histogram& fire_lateness_seconds;
  Histogram& change_pickup_seconds;
  Counter& notifications;
  Counter& reloads;
  Counter& reconnects;
  Counter& claim_conflicts;
  Gauge& executor_queue_depth;
  Gauge& write_queue_depth;
  Gauge& claim_lead_seconds;
  Gauge& up;
};

}  // namespace rowsched::daemon
