#include "run/handler.h"

#include "run/worker_func.h"
#include "store/sql_session.h"

namespace rowsched::run {

WorkerContext::WorkerContext(store::SqlSession& sql) : sql_(sql) {}
WorkerContext::~WorkerContext() = default;

store::SqlSession& WorkerContext::sql() { return sql_; }

void HandlerRegistry::add(const std::string& name, std::shared_ptr<const Handler> handler) {
  handlers_[name] = std::move(handler);
}

const Handler* HandlerRegistry::find(const std::string& name) const {
  auto it = handlers_.find(name);
  return it == handlers_.end() ? nullptr : it->second.get();
}

std::vector<std::string> HandlerRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : handlers_) out.push_back(name);
  return out;
}

std::optional<std::string> HandlerRegistry::check(const std::string& func, const nlohmann::json& args) const {
  if (const Handler* h = find(func)) {
    if (auto problem = h->validate(args)) return "func_args for \"" + func + "\": " + *problem;
    return std::nullopt;
  }
  // A worker job: its function runs in a worker process, which checks it when it imports it.
  if (is_worker_func(func)) return std::nullopt;
  std::string available;
  for (const auto& n : names()) available += (available.empty() ? "" : ", ") + n;
  std::string msg = "func: \"" + func + "\" is not a handler; available: " + available;
  if (func.find(':') != std::string::npos || func.find('.') != std::string::npos) {
    // The seed's rows name Python functions ("scheduler_jobs.tasks:test"): rowsched runs no Python.
    msg += ". A worker job's func is module:callable, dotted identifiers and one colon (e.g. "
           "\"scheduler_jobs.tasks:send_emails\"), run by a worker process (docs/workers.md)";
  }
  return msg;
}

}  // namespace rowsched::run
