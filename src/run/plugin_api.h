// The plugin API of rowsched: the only header a plugin includes. A plugin is a shared library loaded
// with `rowsched run --plugin path/to/libmine.so`; it registers named handlers, and a job_info row
// whose `func` is one of those names runs it. This is rowsched's native equivalent of the
// "module:function" strings of an APScheduler job store (docs/handlers.md has a walk-through).
//
// A plugin defines exactly two functions with C linkage:
//
//   extern "C" int rowsched_plugin_abi_version() { return rowsched::plugin::kAbiVersion; }
//   extern "C" void rowsched_register(rowsched::plugin::Registry& registry) {
//     registry.add("billing.close_day", std::make_unique<CloseDay>());
//   }
//
// rowsched calls rowsched_plugin_abi_version() first and refuses the library (at start-up, with
// the path and both versions) unless it returns the kAbiVersion rowsched was built with. The
// version covers this header and the nlohmann_json release, because objects of both cross the
// library boundary; the plugin must also be built with the same C++ standard library (same
// compiler family) as rowsched. Then rowsched_register() is called once, on the main thread,
// before any job runs; an exception from it is a start-up error too.
//
// Contract of a Handler:
// - validate() and run() are called from any executor thread, concurrently: a handler must be
//   thread-safe (keep per-run state on the stack).
// - validate() is called whenever a row naming the handler is loaded or changed; what it returns
//   becomes the row's `last_error` with `state = 'invalid'`, so say what is wrong and what is allowed.
// - run() returns a Result; an exception it throws is recorded as a failure with its what().
// - rowsched cannot stop a plugin's run from outside: a handler that may take long should finish by
//   RunContext::deadline. A run that returns after its deadline is recorded as `timeout`.
// - Handlers are destroyed before the library is unloaded.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace rowsched::plugin {

// The version of this API; raise it on any change to the declarations below.
inline constexpr int kApiVersion = 1;
// What rowsched_plugin_abi_version() must return: the API version and the nlohmann_json release
// the library was compiled against (e.g. 1031102 = API 1, nlohmann_json 3.11.2).
inline constexpr int kAbiVersion = kApiVersion * 1000000 + NLOHMANN_JSON_VERSION_MAJOR * 10000 +
                                   NLOHMANN_JSON_VERSION_MINOR * 100 + NLOHMANN_JSON_VERSION_PATCH;

// The fire being run.
struct RunContext {
  std::string job_id;
  int64_t run_id = 0;
  std::string scheduled_for;  // the nominal fire instant, RFC 3339 UTC ("2024-03-31T01:30:00Z")
  std::optional<std::chrono::milliseconds> timeout;  // the job's timeout (trigger_kwargs "timeout"), if any
  std::optional<std::chrono::steady_clock::time_point> deadline;  // when that timeout ends
};

// What a run reports. `ok == false` is a failure, with `error` saying why. Both texts are stored in
// job_run (cut to a bounded size).
struct Result {
  bool ok = true;
  std::string output;
  std::string error;

  static Result success(std::string output = {}) { return Result{true, std::move(output), {}}; }
  static Result failure(std::string error, std::string output = {}) { return Result{false, std::move(output), std::move(error)}; }
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Why `args` (the row's func_args, a JSON array) cannot work, or nullopt when it can.
  virtual std::optional<std::string> validate(const nlohmann::json& args) const {
    if (!args.is_array()) return "func_args must be a JSON array";
    return std::nullopt;
  }
  // Runs one fire with the row's func_args.
  virtual Result run(const nlohmann::json& args, const RunContext& context) const = 0;
};

// Where a plugin puts its handlers, during rowsched_register() only.
class Registry {
 public:
  // Registers `handler` under `name` (what job_info.func must say). A name is 1-200 characters
  // without whitespace, e.g. "billing.close_day" or the seed's "scheduler_jobs.tasks:test"; it
  // must not be a built-in handler's or another plugin's. A bad name throws std::invalid_argument.
  virtual void add(const std::string& name, std::unique_ptr<Handler> handler) = 0;
  virtual ~Registry() = default;
};

}  // namespace rowsched::plugin

extern "C" {
// Defined by the plugin: return rowsched::plugin::kAbiVersion.
int rowsched_plugin_abi_version();
// Defined by the plugin: register the handlers.
void rowsched_register(rowsched::plugin::Registry& registry);
}
