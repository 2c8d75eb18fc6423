#include "daemon/row_parser.h"

#include <stdexcept>

#include "run/worker_func.h"
#include "trigger/trigger.h"

namespace rowsched::daemon {

RowParser::RowParser(const run::HandlerRegistry& handlers, Zone default_zone, Duration default_grace,
                     std::optional<std::string> throw_on)
    : handlers_(handlers), default_zone_(default_zone), default_grace_(default_grace), throw_on_(std::move(throw_on)) {}

DefinitionCache::Args RowParser::parse_args(const store::JobRow& row) {
  // func_args parsed and checked once per distinct (func, func_args).
  std::string key;
  if (cache_) {
    key.reserve(row.func.size() + 1 + row.func_args.size());
    key.append(row.func).push_back('\0');
    key.append(row.func_args);
    if (auto it = cache_->args.find(key); it != cache_->args.end()) return it->second;
  }
  DefinitionCache::Args args;
  args.args = std::make_shared<const nlohmann::json>(nlohmann::json::parse(row.func_args, nullptr, false));
  args.problem = handlers_.check(row.func, *args.args);
  if (cache_ && DefinitionCache::room(cache_->args)) cache_->args.emplace(std::move(key), args);
  return args;
}

DefinitionCache::Spec RowParser::parse_spec(const store::JobRow& row) {
  // trigger_kwargs parsed once per distinct (trigger_kwargs, trigger_time): the result depends on
  // nothing else (the default zone is the daemon's), and triggers are immutable, so jobs share them.
  std::string key;
  const auto add_time = [&](std::string& k) {
    const auto t = row.trigger_time.time_since_epoch().count();
    k.push_back('\0');
    k.append(reinterpret_cast<const char*>(&t), sizeof t);
  };
  if (cache_) {
    // Most triggers do not depend on trigger_time (a cron, an interval with a start_date): one
    // entry serves every row with the same text. The others have one entry per instant too.
    key = row.trigger_kwargs;
    auto it = cache_->specs.find(key);
    if (it != cache_->specs.end() && it->second.now_used) {
      add_time(key);
      it = cache_->specs.find(key);
    }
    if (it != cache_->specs.end()) return it->second;
  }
  DefinitionCache::Spec spec;
  ParseContext ctx{default_zone_, row.trigger_time};
  try {
    const auto kwargs = nlohmann::json::parse(row.trigger_kwargs, nullptr, false);
    // jsonb is always valid JSON; what nlohmann cannot read is a number beyond a double (1e400).
    if (kwargs.is_discarded()) throw TriggerError("trigger_kwargs: a number is out of range (largest allowed about 1.8e308)");
    spec.spec = parse_trigger_kwargs(kwargs, ctx);
  } catch (const TriggerError& e) {
    spec.problem = e.what();
  }
  spec.now_used = ctx.now_used;
  if (cache_ && DefinitionCache::room(cache_->specs)) {
    if (ctx.now_used && key.size() == row.trigger_kwargs.size()) {
      // First seen: mark the text as time-dependent, and keep this parse under text and time.
      cache_->specs.emplace(key, DefinitionCache::Spec{{}, std::nullopt, true});
      add_time(key);
    }
    cache_->specs.emplace(std::move(key), spec);
  }
  return spec;
}

ParsedRow RowParser::parse(const store::JobRow& row) {
  if (throw_on_ && row.job_id == *throw_on_) throw std::length_error("test hook ROWSCHED_TEST_THROW_ON_APPLY names this job");
  ParsedRow out;
  KnownJob& k = out.job;
  k.version = row.version;
  k.version_hash = row.version_hash;
  k.func = Shared<std::string>(cache_ ? cache_->intern(row.func) : std::make_shared<const std::string>(row.func));
  k.owner = Shared<std::string>(cache_ ? cache_->intern(row.owner) : std::make_shared<const std::string>(row.owner));
  const auto args = parse_args(row);
  k.args = Shared<nlohmann::json>(args.args);
  std::optional<std::string> problem = args.problem;
  DefinitionCache::Spec spec;
  if (!problem) {
    spec = parse_spec(row);
    problem = spec.problem;
  }
  if (problem) {
    k.state = JobState::invalid;
    k.error = problem;
    return out;
  }
  const auto& o = spec.spec.options;
  k.timeout = o.timeout;
  k.max_instances = o.max_instances;
  k.retries = o.retries;
  k.retry_delay = o.retry_delay;
  k.queue = !handlers_.find(row.func) && run::is_worker_func(row.func) ? o.queue : std::string();
  k.grace = o.misfire_grace_time ? *o.misfire_grace_time : std::optional<Duration>(default_grace_);
  schedule::JobDefinition def;
  def.spec = std::move(spec.spec);
  def.job_id = row.job_id;
  def.version = row.version;
  def.defined_at = row.active_time;
  def.last_fire = row.last_fire;
  def.paused = row.is_paused;
  def.run_now_at = row.run_right_now_at;
  out.definition = std::move(def);
  return out;
}

}  // namespace rowsched::daemon
