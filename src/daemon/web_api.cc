#include "daemon/web_api.h"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "base/states.h"
#include "trigger/fire_window.h"
#include "trigger/schedule_words.h"
#include "trigger/trigger_kwargs.h"

namespace rowsched::daemon {

namespace {

using nlohmann::json;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;
constexpr int kRecentRuns = 20;
constexpr int kNextFireTimes = 10;
constexpr int kMaxTimelineRuns = 10000;
constexpr size_t kMaxUpcomingPerJob = 500;  // a job firing every second still draws as a band
constexpr auto kMaxTimelineWindow = std::chrono::hours(24 * 7);

// A parameter the caller got wrong: answered 400 with the message.
class BadParameter : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::optional<std::string> param(const WebParams& params, const std::string& name) {
  const auto it = params.find(name);
  if (it == params.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

int64_t integer_param(const WebParams& params, const std::string& name, int64_t fallback, int64_t min, int64_t max) {
  const auto text = param(params, name);
  if (!text) return fallback;
  if (text->size() > 12 || text->find_first_not_of("0123456789") != std::string::npos)
    throw BadParameter(name + ": \"" + *text + "\" is not a whole number; allowed: " + std::to_string(min) + "-" +
                       std::to_string(max));
  const int64_t value = std::stoll(*text);
  if (value < min || value > max)
    throw BadParameter(name + ": " + *text + " is out of range; allowed: " + std::to_string(min) + "-" + std::to_string(max));
  return value;
}

// 0001-01-01T00:00:00Z: PostgreSQL has no year 0, so an earlier instant is a wrong parameter, not a
// database error.
constexpr TimePoint kEarliestInstant{Duration{-62135596800000000LL}};

std::optional<TimePoint> time_param(const WebParams& params, const std::string& name) {
  const auto text = param(params, name);
  if (!text) return std::nullopt;
  const auto t = parse_timestamp(*text, date::locate_zone("UTC"));
  if (!t || *t < kEarliestInstant)
    throw BadParameter(name + ": \"" + *text + "\" is not a timestamp; allowed: RFC 3339 from year 0001, such as 2024-03-31T01:30:00Z");
  return t;
}

// Whether `text` is valid UTF-8, the only text the database takes in a parameter.
bool is_utf8(const std::string& text) {
  try {
    (void)json(text).dump();  // nlohmann's strict dump checks every sequence
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

// A parameter the database compares with stored text (a job_id).
std::optional<std::string> text_param(const WebParams& params, const std::string& name) {
  auto text = param(params, name);
  if (text && !is_utf8(*text)) throw BadParameter(name + ": not valid UTF-8; allowed: UTF-8 text, percent-encoded in the address");
  return text;
}

JobFilter job_filter(const WebParams& params) {
  JobFilter filter;
  filter.state = param(params, "state");
  if (filter.state) {
    try {
      parse_job_state(*filter.state);
    } catch (const std::invalid_argument&) {
      throw BadParameter("state: \"" + *filter.state + "\" is not a job state; allowed: pending, scheduled, paused, finished, invalid");
    }
  }
  filter.text = param(params, "q").value_or("");
  if (filter.text.size() > 200) throw BadParameter("q: longer than 200 characters");
  filter.limit = static_cast<int>(integer_param(params, "limit", kDefaultPageSize, 1, kMaxPageSize));
  filter.offset = integer_param(params, "offset", 0, 0, 1'000'000'000);
  return filter;
}

json time_json(std::optional<TimePoint> t) { return t ? json(format_rfc3339(*t)) : json(nullptr); }

json text_json(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

double seconds_between(TimePoint from, TimePoint to) {
  return std::chrono::duration<double>(to - from).count();
}

json run_json(const store::WebRun& run, bool with_output) {
  json j = {{"run_id", run.run_id},
            {"job_id", run.job_id},
            {"scheduled_for", format_rfc3339(run.scheduled_for)},
            {"instance", run.instance},
            {"attempt", run.attempt},
            {"status", run.status},
            {"started_at", time_json(run.started_at)},
            {"finished_at", time_json(run.finished_at)},
            {"lateness_seconds", run.started_at ? json(seconds_between(run.scheduled_for, *run.started_at)) : json(nullptr)},
            {"error", text_json(run.error)}};
  if (with_output) j["output"] = text_json(run.output);
  return j;
}

// The job's parsed schedule, or the reason it has none.
struct ParsedSchedule {
  std::optional<JobSpec> spec;
  std::string problem;
};

ParsedSchedule parse_schedule(const store::WebJob& job, Zone default_zone) {
  ParseContext ctx{default_zone, job.trigger_time};
  try {
    const auto kwargs = json::parse(job.trigger_kwargs, nullptr, false);
    if (kwargs.is_discarded()) return {std::nullopt, "trigger_kwargs: a number is out of range"};
    return {parse_trigger_kwargs(kwargs, ctx), ""};
  } catch (const std::exception& e) {
    return {std::nullopt, e.what()};
  }
}

// Jobs that fire: paused, finished and invalid ones have no upcoming fires.
bool fires(const store::WebJob& job) { return !job.is_paused && (job.state == to_sql(JobState::scheduled) || job.state == to_sql(JobState::pending)); }

template <typename F>
WebAnswer answering(F&& f) {
  try {
    return f();
  } catch (const BadParameter& e) {
    return {400, {{"error", e.what()}}};
  }
}

}  // namespace

WebApi::WebApi(Zone default_zone, bool hide_args, std::function<TimePoint()> clock, JobIndexCache& index)
    : default_zone_(default_zone), hide_args_(hide_args), clock_(std::move(clock)), index_(&index) {}

std::vector<store::WebJob> WebApi::page_of_jobs(store::WebReader& reader, const JobFilter& filter, int64_t& total,
                                                TimePoint& as_of) const {
  const auto index = index_->get(reader);
  const auto page = index->page(filter);
  total = page.total;
  as_of = index->taken_at();
  auto jobs = reader.jobs_by_id(page.job_ids);
  // The snapshot chose the page; within it the order is the rows' own, read just now.
  std::sort(jobs.begin(), jobs.end(), listed_before<store::WebJob>);
  return jobs;
}

json WebApi::job_json(const store::WebJob& job) const {
  json kwargs = json::parse(job.trigger_kwargs, nullptr, false);
  if (kwargs.is_discarded()) kwargs = job.trigger_kwargs;
  const auto parsed = parse_schedule(job, default_zone_);
  json args = hide_args_ ? json("hidden") : json::parse(job.func_args, nullptr, false);
  if (args.is_discarded()) args = job.func_args;
  return {{"job_id", job.job_id},
          {"owner", job.owner},
          {"func", job.func},
          {"func_args", args},
          {"description", text_json(job.description)},
          {"schedule",
           {{"as_written", kwargs},
            {"words", parsed.spec ? schedule_in_words(kwargs) : std::string()},  // no words for what does not run
            {"trigger", parsed.spec ? json(parsed.spec->trigger->describe()) : json(nullptr)}}},
          {"state", job.state},
          {"is_paused", job.is_paused},
          {"next_run_time", time_json(job.next_run_time)},
          {"last_run_time", time_json(job.last_run_time)},
          {"last_status", text_json(job.last_status)},
          {"run_count", job.run_count},
          {"failure_count", job.failure_count},
          {"last_error", text_json(job.last_error)},
          {"create_time", format_rfc3339(job.create_time)},
          {"update_time", format_rfc3339(job.update_time)},
          {"version", job.version}};
}

WebAnswer WebApi::jobs(store::WebReader& reader, const WebParams& params) const {
  return answering([&]() -> WebAnswer {
    const auto filter = job_filter(params);
    int64_t total = 0;
    TimePoint as_of{};
    json list = json::array();
    for (const auto& job : page_of_jobs(reader, filter, total, as_of)) list.push_back(job_json(job));
    return {200, {{"now", format_rfc3339(clock_())},
                  {"as_of", format_rfc3339(as_of)},
                  {"total", total},
                  {"limit", filter.limit},
                  {"offset", filter.offset},
                  {"jobs", std::move(list)}}};
  });
}

WebAnswer WebApi::job(store::WebReader& reader, const std::string& job_id) const {
  if (!is_utf8(job_id)) return {400, {{"error", "job_id: not valid UTF-8; allowed: UTF-8 text, percent-encoded in the address"}}};
  const auto job = reader.job(job_id);
  if (!job) return {404, {{"error", "no job with job_id \"" + job_id + "\""}}};
  const TimePoint now = clock_();
  json runs = json::array();
  for (const auto& run : reader.runs(job_id, std::nullopt, kRecentRuns)) runs.push_back(run_json(run, true));
  json next = json::array();
  const auto parsed = parse_schedule(*job, default_zone_);
  if (parsed.spec && fires(*job))
    for (TimePoint t : fires_between(*parsed.spec, job->job_id, now, kLatestInstant, kNextFireTimes).fires)
      next.push_back(format_rfc3339(t));
  return {200, {{"now", format_rfc3339(now)},
                {"job", job_json(*job)},
                {"runs", std::move(runs)},
                {"next_fire_times", std::move(next)},
                {"schedule_error", parsed.spec ? json(nullptr) : json(parsed.problem)}}};
}

WebAnswer WebApi::runs(store::WebReader& reader, const WebParams& params) const {
  return answering([&]() -> WebAnswer {
    const auto job = text_param(params, "job");
    const auto since = time_param(params, "since");
    const int limit = static_cast<int>(integer_param(params, "limit", 100, 1, 1000));
    json list = json::array();
    for (const auto& run : reader.runs(job, since, limit)) list.push_back(run_json(run, true));
    return {200, {{"now", format_rfc3339(clock_())}, {"runs", std::move(list)}}};
  });
}

WebAnswer WebApi::instances(store::WebReader& reader) const {
  json list = json::array();
  for (const auto& i : reader.instances())
    list.push_back({{"instance", i.instance},
                    {"pid", i.pid ? json(*i.pid) : json(nullptr)},
                    {"host", text_json(i.host)},
                    {"version", text_json(i.version)},
                    {"started_at", format_rfc3339(i.started_at)},
                    {"heartbeat_at", format_rfc3339(i.heartbeat_at)},
                    {"heartbeat_age_seconds", seconds_between(i.heartbeat_at, i.now)}});
  return {200, {{"now", format_rfc3339(clock_())}, {"instances", std::move(list)}}};
}

WebAnswer WebApi::timeline(store::WebReader& reader, const WebParams& params) const {
  return answering([&]() -> WebAnswer {
    const TimePoint now = clock_();
    const TimePoint from = time_param(params, "from").value_or(now - std::chrono::hours(1));
    const TimePoint to = time_param(params, "to").value_or(now + std::chrono::hours(1));
    if (!(from < to)) throw BadParameter("from must be before to");
    if (to - from > kMaxTimelineWindow) throw BadParameter("from..to spans more than 7 days; allowed: up to 7 days");
    int64_t total = 0;
    TimePoint as_of{};
    const auto jobs = page_of_jobs(reader, job_filter(params), total, as_of);
    std::vector<std::string> ids;
    for (const auto& job : jobs) ids.push_back(job.job_id);
    json marks = json::array();
    const auto past = reader.runs_between(ids, from, std::min(to, now), kMaxTimelineRuns);
    for (const auto& run : past) {
      if (run.attempt > 1) continue;  // a retry is part of its fire: the mark shows the first attempt
      marks.push_back({{"job_id", run.job_id},
                       {"at", format_rfc3339(run.scheduled_for)},
                       {"status", run.status},
                       {"run_id", run.run_id},
                       {"lateness_seconds", run.started_at ? json(seconds_between(run.scheduled_for, *run.started_at)) : json(nullptr)},
                       {"error", text_json(run.error)}});
    }
    bool truncated = past.size() == static_cast<size_t>(kMaxTimelineRuns);
    if (to > now) {
      for (const auto& job : jobs) {
        if (!fires(job)) continue;
        const auto parsed = parse_schedule(job, default_zone_);
        if (!parsed.spec) continue;
        const auto window = fires_between(*parsed.spec, job.job_id, std::max(from, now), to, kMaxUpcomingPerJob);
        truncated = truncated || window.truncated;
        for (TimePoint t : window.fires) marks.push_back({{"job_id", job.job_id}, {"at", format_rfc3339(t)}, {"status", "upcoming"}});
      }
    }
    return {200, {{"now", format_rfc3339(now)},
                  {"from", format_rfc3339(from)},
                  {"to", format_rfc3339(to)},
                  {"jobs", ids},
                  {"marks", std::move(marks)},
                  {"truncated", truncated}}};
  });
}

}  // namespace rowsched::daemon
