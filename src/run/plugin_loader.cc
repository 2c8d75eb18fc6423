// dlopen, the ABI check and the adapter from plugin::Handler (the public plugin API) to
// run::Handler (what the executor runs).
#include "run/plugin_loader.h"

#include <dlfcn.h>

#include <cctype>
#include <stdexcept>

#include "run/plugin_api.h"

namespace rowsched::run {

namespace {

using SteadyClock = std::chrono::steady_clock;

// A dlopen()ed library, closed when the last handler from it is gone.
class SharedLibrary {
 public:
  explicit SharedLibrary(void* handle) : handle_(handle) {}
  ~SharedLibrary() { dlclose(handle_); }
  SharedLibrary(const SharedLibrary&) = delete;
  SharedLibrary& operator=(const SharedLibrary&) = delete;
  void* symbol(const char* name) const { return dlsym(handle_, name); }

 private:
  void* handle_;
};

class PluginHandler final : public Handler {
 public:
  PluginHandler(std::shared_ptr<SharedLibrary> library, std::unique_ptr<plugin::Handler> handler, std::string name)
      : library_(std::move(library)), handler_(std::move(handler)), name_(std::move(name)) {}

  std::optional<std::string> validate(const nlohmann::json& args) const override {
    try {
      return handler_->validate(args);
    } catch (const std::exception& e) {
      return "the plugin's validate() threw: " + std::string(e.what());
    }
  }

  RunOutcome run(const RunRequest& req, WorkerContext&) const override {
    plugin::RunContext ctx;
    ctx.job_id = req.job_id;
    ctx.run_id = req.run_id;
    ctx.scheduled_for = format_rfc3339(req.scheduled_for);
    const auto start = SteadyClock::now();
    if (req.timeout) {
      ctx.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*req.timeout);
      ctx.deadline = start + std::chrono::duration_cast<SteadyClock::duration>(*req.timeout);
    }
    plugin::Result result = handler_->run(req.args, ctx);  // an exception is the executor's to record
    RunOutcome out{result.ok, false, std::move(result.output), std::move(result.error)};
    if (ctx.deadline && SteadyClock::now() > *ctx.deadline) {
      out.ok = false;
      out.timed_out = true;
      out.error = "ran past its timeout of " + format_seconds(*req.timeout) + " s (a plugin handler is not interrupted; \"" + name_ +
                  "\" should return by RunContext::deadline)" + (out.error.empty() ? "" : "; " + out.error);
    }
    return out;
  }

 private:
  std::shared_ptr<SharedLibrary> library_;  // declared first, so destroyed after handler_
  std::unique_ptr<plugin::Handler> handler_;
  std::string name_;
};

// Collects what rowsched_register() adds; names are checked here, collisions by load_plugin().
class CollectingRegistry final : public plugin::Registry {
 public:
  void add(const std::string& name, std::unique_ptr<plugin::Handler> handler) override {
    const bool printable = std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isgraph(c) || c >= 0x80; });
    if (name.empty() || name.size() > 200 || !printable)
      throw std::invalid_argument("handler name \"" + name + "\" must be 1-200 characters without whitespace");
    if (!handler) throw std::invalid_argument("handler \"" + name + "\" is null");
    for (const auto& [n, _] : handlers)
      if (n == name) throw std::invalid_argument("handler name \"" + name + "\" is registered twice");
    handlers.emplace_back(name, std::move(handler));
  }
  std::vector<std::pair<std::string, std::unique_ptr<plugin::Handler>>> handlers;
};

}  // namespace

std::vector<std::string> load_plugin(const std::string& path, HandlerRegistry& registry) {
  const std::string where = "--plugin " + path + ": ";
  dlerror();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    throw HandlerSetupError(where + "cannot load the library: " + (why ? why : "dlopen failed"));
  }
  auto library = std::make_shared<SharedLibrary>(handle);

  auto* abi_version = reinterpret_cast<int (*)()>(library->symbol("rowsched_plugin_abi_version"));
  auto* register_handlers = reinterpret_cast<void (*)(plugin::Registry&)>(library->symbol("rowsched_register"));
  if (!abi_version || !register_handlers)
    throw HandlerSetupError(where + "not a rowsched plugin: it must define extern \"C\" rowsched_plugin_abi_version() and "
                            "rowsched_register() (see run/plugin_api.h)");
  if (const int theirs = abi_version(); theirs != plugin::kAbiVersion)
    throw HandlerSetupError(where + "built for plugin ABI " + std::to_string(theirs) + ", but this rowsched has ABI " +
                            std::to_string(plugin::kAbiVersion) +
                            " (API version * 1000000 + nlohmann_json version): rebuild the plugin against this rowsched's "
                            "run/plugin_api.h and nlohmann_json");

  CollectingRegistry collected;
  try {
    register_handlers(collected);
  } catch (const std::exception& e) {
    throw HandlerSetupError(where + "rowsched_register() failed: " + e.what());
  }
  if (collected.handlers.empty()) throw HandlerSetupError(where + "rowsched_register() registered no handler");

  std::vector<std::string> names;
  for (auto& [name, handler] : collected.handlers) {
    if (registry.find(name))
      throw HandlerSetupError(where + "handler name \"" + name + "\" is already taken (by a built-in handler or another plugin)");
    registry.add(name, std::make_shared<PluginHandler>(library, std::move(handler), name));
    names.push_back(name);
  }
  return names;
}

}  // namespace rowsched::run
