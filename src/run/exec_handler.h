// The `exec` handler: func_args is the argv of a program, run without a shell, only when argv[0] is
// an absolute path allowed by an --allow-exec pattern. The program gets stdin from /dev/null, a
// fixed minimal environment, its own process group and a fixed working directory; its stdout and
// stderr are captured up to run::Executor::kMaxCapture, its exit status recorded, and a run past the
// job's timeout is ended with SIGTERM and then SIGKILL to the whole process group
// (docs/handlers.md).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "run/handler.h"

namespace rowsched::run {

// Why `patterns` (the --allow-exec values) cannot be used, or nullopt.
std::optional<std::string> check_exec_patterns(const std::vector<std::string>& patterns);

// True when `program` is an absolute, normalised path (no "." or ".." components, no "//") that
// matches one of `patterns` (fnmatch with FNM_PATHNAME | FNM_PERIOD: "*" stops at "/").
bool exec_allowed(const std::string& program, const std::vector<std::string>& patterns);

// The exec handler allowing `patterns`, run in `cwd`. Throws HandlerSetupError for a relative
// pattern or a cwd that is not an absolute path of a directory.
std::shared_ptr<const Handler> make_exec_handler(std::vector<std::string> patterns, std::string cwd);

}  // namespace rowsched::run
