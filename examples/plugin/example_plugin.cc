// An example rowsched plugin: two handlers registered through run/plugin_api.h, built by CMake as
// librowsched_example_plugin.so and loaded with `rowsched run --plugin path/to/librowsched_example_plugin.so`.
//
//   example.greet  func_args [name] or []: succeeds with "Hello, <name>! (job <job_id>, run <run_id>,
//                  scheduled for <instant>)" as the run's output.
//   example.fail   func_args [message] or []: fails with the message as the run's error.
//
// Build your own the same way: include plugin_api.h, compile with -fPIC as a shared library against
// the same nlohmann_json as rowsched, define the two extern "C" functions at the bottom.
#include <memory>

#include "run/plugin_api.h"

namespace {

using rowsched::plugin::Result;
using rowsched::plugin::RunContext;

std::optional<std::string> at_most_one_string(const nlohmann::json& args, const char* what) {
  if (!args.is_array() || args.size() > 1 || (args.size() == 1 && !args[0].is_string()))
    return std::string("func_args must be [] or [") + what + "], " + what + " a string";
  return std::nullopt;
}

class Greet final : public rowsched::plugin::Handler {
 public:
  std::optional<std::string> validate(const nlohmann::json& args) const override { return at_most_one_string(args, "name"); }
  Result run(const nlohmann::json& args, const RunContext& ctx) const override {
    const std::string name = args.empty() ? "world" : args[0].get<std::string>();
    return Result::success("Hello, " + name + "! (job " + ctx.job_id + ", run " + std::to_string(ctx.run_id) +
                           ", scheduled for " + ctx.scheduled_for + ")");
  }
};

class Fail final : public rowsched::plugin::Handler {
 public:
  std::optional<std::string> validate(const nlohmann::json& args) const override { return at_most_one_string(args, "message"); }
  Result run(const nlohmann::json& args, const RunContext&) const override {
    return Result::failure(args.empty() ? "example.fail always fails" : args[0].get<std::string>());
  }
};

}  // namespace

extern "C" int rowsched_plugin_abi_version() { return rowsched::plugin::kAbiVersion; }

extern "C" void rowsched_register(rowsched::plugin::Registry& registry) {
  registry.add("example.greet", std::make_unique<Greet>());
  registry.add("example.fail", std::make_unique<Fail>());
}
