// Dispatches on `trigger` (or `crontab`), reads each trigger's own keys, then the job options, then
// rejects whatever key is left. The key lists are trigger_kwargs_keys(), generated from the SQL that
// the table trigger checks with (sql/definitions/10_trigger_kwargs.sql), so the two cannot disagree.
#include "trigger/trigger_kwargs.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "trigger/calendar_interval_trigger.h"
#include "trigger/cron_trigger.h"
#include "trigger/date_trigger.h"
#include "trigger/interval_trigger.h"
#include "trigger/kwargs_reader.h"
#include "trigger/trigger_kwargs_keys.h"

namespace rowsched {

namespace {

using std::chrono::hours;

constexpr Duration kMaxSeconds = std::chrono::duration_cast<Duration>(hours{24 * 366 * 100});  // a century

std::vector<std::string> with_job_options(std::vector<std::string> keys) {
  const auto& options = trigger_kwargs_keys("job_options");
  keys.insert(keys.end(), options.begin(), options.end());
  return keys;
}

Duration take_jitter(KwargsReader& r) {
  auto j = r.take_seconds("jitter", true, kMaxSeconds);
  return j && *j ? **j : Duration::zero();
}

CronBounds take_bounds(KwargsReader& r, Zone zone) {
  CronBounds b;
  b.zone = zone;
  b.start_date = r.take_timestamp("start_date", zone);
  b.end_date = r.take_timestamp("end_date", zone);
  b.jitter = take_jitter(r);
  return b;
}

std::unique_ptr<Trigger> parse_cron(KwargsReader& r, Zone zone) {
  CronFields f;
  f.year = r.take_expression("year");
  f.month = r.take_expression("month");
  f.day = r.take_expression("day");
  f.week = r.take_expression("week");
  f.day_of_week = r.take_expression("day_of_week");
  f.hour = r.take_expression("hour");
  f.minute = r.take_expression("minute");
  f.second = r.take_expression("second");
  return make_cron_trigger(f, take_bounds(r, zone));
}

std::unique_ptr<Trigger> parse_interval(KwargsReader& r, Zone zone, const ParseContext& ctx) {
  Duration interval{0};
  const std::pair<const char*, int64_t> units[] = {
      {"weeks", 604800}, {"days", 86400}, {"hours", 3600}, {"minutes", 60}, {"seconds", 1}};
  for (auto [key, secs] : units) {
    auto v = r.take_seconds(key, false, Duration{kMaxSeconds.count() / secs});
    if (v && *v) interval += Duration{(*v)->count() * secs};
  }
  if (interval <= Duration::zero())
    throw TriggerError("trigger_kwargs: an interval trigger needs a positive interval; give weeks, days, hours, minutes or seconds");
  auto start = r.take_timestamp("start_date", zone);
  auto end = r.take_timestamp("end_date", zone);
  // APScheduler's default start is "now + interval" at add_job time; ours is the same instant measured
  // from when the definition took effect, so every instance and every restart agrees.
  return std::make_unique<IntervalTrigger>(interval, start ? *start : ctx.anchor() + interval, end, zone, take_jitter(r));
}

std::unique_ptr<Trigger> parse_date(KwargsReader& r, Zone zone, const ParseContext& ctx) {
  // As APScheduler: no run_date means "run once, now".
  const auto run_date = r.take_timestamp("run_date", zone);
  return std::make_unique<DateTrigger>(run_date ? *run_date : ctx.anchor(), zone);
}

std::unique_ptr<Trigger> parse_calendar_interval(KwargsReader& r, Zone zone, const ParseContext& ctx) {
  CalendarStep step;
  const int max_step = 9999 * 12;
  step.years = static_cast<int>(r.take_integer("years", 0, 9999).value_or(0));
  step.months = static_cast<int>(r.take_integer("months", 0, max_step).value_or(0));
  step.weeks = static_cast<int>(r.take_integer("weeks", 0, 9999 * 53).value_or(0));
  step.days = static_cast<int>(r.take_integer("days", 0, 9999 * 366).value_or(0));
  if (step.years + step.months + step.weeks + step.days == 0)
    throw TriggerError("trigger_kwargs: a calendarinterval trigger needs a positive step; give years, months, weeks or days");
  const auto hour = r.take_integer("hour", 0, 23).value_or(0);
  const auto minute = r.take_integer("minute", 0, 59).value_or(0);
  const auto second = r.take_integer("second", 0, 59).value_or(0);
  const auto local_date = [&](TimePoint t) { return date::year_month_day{date::floor<date::days>(to_local(t, zone))}; };
  auto start = r.take_timestamp("start_date", zone);
  auto end = r.take_timestamp("end_date", zone);
  std::optional<date::year_month_day> end_date;
  if (end) end_date = local_date(*end);
  return std::make_unique<CalendarIntervalTrigger>(step, std::chrono::seconds{hour * 3600 + minute * 60 + second},
                                                   local_date(start ? *start : ctx.anchor()), end_date, zone);
}

JobOptions parse_job_options(KwargsReader& r, Zone zone, const ParseContext& ctx) {
  JobOptions o;
  o.misfire_grace_time = r.take_seconds("misfire_grace_time", true, kMaxSeconds);
  o.coalesce = r.take_bool("coalesce").value_or(true);
  o.max_instances = static_cast<int>(r.take_integer("max_instances", 1, 10000).value_or(1));
  if (const nlohmann::json* v = r.take("next_run_time"); v && v->is_string() && v->get<std::string>() == "now") {
    o.next_run_time = ctx.anchor();
  } else if (v && !v->is_null()) {
    if (!v->is_string() || !parse_timestamp(v->get<std::string>(), zone))
      KwargsReader::fail("next_run_time", *v, "is not a valid first run time; allowed: \"now\" or YYYY-MM-DD[ HH:MM:SS[.ffffff]][Z|+HH:MM|-HH:MM]");
    o.next_run_time = parse_timestamp(v->get<std::string>(), zone);
  }
  if (auto t = r.take_seconds("timeout", true, kMaxSeconds); t && *t) {
    if (**t <= Duration::zero()) KwargsReader::fail("timeout", 0, "is out of range; allowed: a positive number of seconds or null");
    o.timeout = **t;
  }
  o.retries = static_cast<int>(r.take_integer("retries", 0, 1000).value_or(0));
  if (auto d = r.take_seconds("retry_delay", false, kMaxSeconds); d && *d) o.retry_delay = **d;
  if (const nlohmann::json* q = r.take("queue")) {
    constexpr std::string_view kAllowed = "allowed: a queue name, a string of 1 to 100 characters";
    if (!q->is_string()) {
      const std::string kind = q->is_null() ? "null" : (q->is_array() || q->is_object() ? "an " : "a ") + std::string(q->type_name());
      KwargsReader::fail("queue", *q, "is " + kind + "; " + std::string(kAllowed));
    }
    const auto& name = q->get_ref<const std::string&>();
    // Characters, as char_length in the SQL check counts them (UTF-8 continuation bytes do not count).
    const auto chars = std::count_if(name.begin(), name.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
    if (chars < 1 || chars > 100) KwargsReader::fail("queue", *q, "is out of range; " + std::string(kAllowed));
    o.queue = name;
  }
  return o;
}

}  // namespace

JobSpec parse_trigger_kwargs(const nlohmann::json& kwargs, const ParseContext& ctx) {
  if (!kwargs.is_object())
    throw TriggerError(std::string("trigger_kwargs: must be a JSON object, got ") + kwargs.type_name());
  KwargsReader r(kwargs);
  std::string type;
  if (const nlohmann::json* t = r.take("trigger"); t && !t->is_null()) {
    if (!t->is_string()) KwargsReader::fail("trigger", *t, "is not a trigger name; allowed: cron, interval, date, calendarinterval");
    type = t->get<std::string>();
  } else {
    // APScheduler's add_job without a trigger means a date trigger (run once, at run_date or now).
    type = kwargs.contains("crontab") ? "cron" : "date";
  }
  const bool crontab = type == "cron" && kwargs.contains("crontab");
  std::vector<std::string> allowed;
  if (crontab) {
    allowed = trigger_kwargs_keys("crontab");
  } else if (type == "cron" || type == "interval" || type == "date" || type == "calendarinterval") {
    allowed = trigger_kwargs_keys(type);
  } else {
    throw TriggerError("trigger_kwargs: unknown trigger " + nlohmann::json(type).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                       "; allowed: cron, interval, date, calendarinterval");
  }
  if (crontab) {
    for (const std::string& field : trigger_kwargs_keys("cron_fields")) {
      if (kwargs.contains(field))
        throw TriggerError("trigger_kwargs: \"crontab\" cannot be combined with cron field \"" + field + "\"");
    }
  }
  r.reject_unknown(type, with_job_options(allowed));
  const Zone zone = r.take_zone("timezone").value_or(ctx.default_zone);

  JobSpec spec;
  if (crontab) {
    spec.trigger = make_crontab_trigger(r.take_string("crontab").value_or(""), take_bounds(r, zone));
  } else if (type == "cron") {
    spec.trigger = parse_cron(r, zone);
  } else if (type == "interval") {
    spec.trigger = parse_interval(r, zone, ctx);
  } else if (type == "date") {
    spec.trigger = parse_date(r, zone, ctx);
  } else {
    spec.trigger = parse_calendar_interval(r, zone, ctx);
  }
  spec.options = parse_job_options(r, zone, ctx);
  return spec;
}

JobSpec parse_trigger_kwargs_text(std::string_view json_text, const ParseContext& ctx) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text.begin(), json_text.end());
  } catch (const nlohmann::json::exception& e) {  // syntax errors, and numbers beyond a double (1e400)
    throw TriggerError(std::string("trigger_kwargs: not valid JSON: ") + e.what());
  }
  return parse_trigger_kwargs(j, ctx);
}

}  // namespace rowsched
