// The built-in handlers: `sql` (a statement with bound parameters, as the row's owner), `log` (a
// line in rowsched's log) and `notify` (pg_notify, to wake a worker written in any language).
// `exec` and `http` live in their own files.
#include <spdlog/spdlog.h>

#include "run/exec_handler.h"
#include "run/handler.h"
#include "run/http_handler.h"
#include "store/owner_pipelines.h"
#include "store/sql_session.h"

namespace rowsched::run {

namespace {

std::string text_of(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// func_args[1..] as the statement's parameters: strings as they are, null as NULL, the rest as JSON.
std::vector<std::optional<std::string>> params_of(const RunRequest& req) {
  std::vector<std::optional<std::string>> params;
  for (size_t i = 1; i < req.args.size(); ++i) {
    if (req.args[i].is_null()) params.emplace_back(std::nullopt);
    else params.emplace_back(text_of(req.args[i]));
  }
  return params;
}

class SqlHandler final : public Handler {
 public:
  std::optional<std::string> validate(const nlohmann::json& args) const override {
    if (!args.is_array() || args.empty() || !args[0].is_string() || args[0].get<std::string>().empty())
      return "func_args[0] must be the SQL statement to run, a non-empty string (then values for $1, $2, ...)";
    return std::nullopt;
  }
  std::optional<OwnerCall> owner_call(const RunRequest& req) const override {
    OwnerCall call{req.args[0].get<std::string>(), params_of(req), std::nullopt};
    if (store::OwnerPipelines::can_pipeline(call.statement) ||
        (call.params.empty() && store::OwnerPipelines::can_run_simple(call.statement)))
      return call;
    return std::nullopt;  // COPY, or several statements with parameters: a blocking session
  }
  RunOutcome run(const RunRequest& req, WorkerContext& ctx) const override {
    RunOutcome out;
    try {
      out.output = ctx.sql().execute_as(req.owner, req.args[0].get<std::string>(), params_of(req), req.timeout);
    } catch (const store::StatementTimeout& e) {
      out.ok = false;
      out.timed_out = true;
      out.error = e.what();
    }
    return out;
  }
};

class LogHandler final : public Handler {
 public:
  std::optional<std::string> validate(const nlohmann::json& args) const override {
    if (!args.is_array()) return "func_args must be an array of values to log";
    return std::nullopt;
  }
  RunOutcome run(const RunRequest& req, WorkerContext&) const override {
    std::string line;
    for (const auto& a : req.args) line += (line.empty() ? "" : " ") + text_of(a);
    spdlog::info("job {}: {}", req.job_id, line);
    return RunOutcome{true, false, line, ""};
  }
  bool quick() const override { return true; }
};

class NotifyHandler final : public Handler {
 public:
  std::optional<std::string> validate(const nlohmann::json& args) const override {
    if (!args.is_array() || args.empty() || args.size() > 2 || !args[0].is_string() || args[0].get<std::string>().empty())
      return "func_args must be [channel] or [channel, payload]: channel a non-empty string, payload any JSON value";
    if (args[0].get<std::string>().size() > 63) return "func_args[0]: a channel name is at most 63 bytes";
    return std::nullopt;
  }
  std::optional<OwnerCall> owner_call(const RunRequest& req) const override {
    const std::string text = payload_of(req);
    return OwnerCall{"SELECT pg_notify($1, $2)", {req.args[0].get<std::string>(), text}, text};
  }
  RunOutcome run(const RunRequest& req, WorkerContext& ctx) const override {
    const std::string text = payload_of(req);
    ctx.sql().notify_as(req.owner, req.args[0].get<std::string>(), text);
    return RunOutcome{true, false, text, ""};
  }

 private:
  // The default payload tells the worker which fire woke it.
  static std::string payload_of(const RunRequest& req) {
    return text_of(req.args.size() > 1 ? req.args[1]
                                       : nlohmann::json{{"job_id", req.job_id},
                                                        {"scheduled_for", format_rfc3339(req.scheduled_for)},
                                                        {"run_id", req.run_id}});
  }
};

}  // namespace

HandlerRegistry HandlerRegistry::with_builtins(const HandlerConfig& config) {
  HandlerRegistry r;
  r.add("sql", std::make_shared<SqlHandler>());
  r.add("log", std::make_shared<LogHandler>());
  r.add("notify", std::make_shared<NotifyHandler>());
  r.add("exec", make_exec_handler(config.allow_exec, config.exec_cwd));
  r.add("http", make_http_handler(config.allow_http));
  return r;
}

}  // namespace rowsched::run
