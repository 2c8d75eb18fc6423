// Loading plugins (`rowsched run --plugin lib.so`): dlopen the library, check its ABI version, let
// it register its handlers (run/plugin_api.h) and add them to a HandlerRegistry, each wrapped so
// that it speaks run::Handler and keeps the library loaded for as long as the handler exists.
//
// Thread safety: call at start-up, on one thread, before the registry is shared.
#pragma once

#include <string>
#include <vector>

#include "run/handler.h"

namespace rowsched::run {

// Loads the plugin at `path` and adds its handlers to `registry`; returns their names. Throws
// HandlerSetupError, naming the path and the cause (dlerror(), a missing entry point, an ABI
// version mismatch, a name that is taken or malformed, an exception from rowsched_register).
std::vector<std::string> load_plugin(const std::string& path, HandlerRegistry& registry);

}  // namespace rowsched::run
