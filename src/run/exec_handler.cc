// The `exec` handler: one program per fire, checked against --allow-exec, then started and watched
// by the shared child-process loop (run/child_process_loop.h: posix_spawn, no shell, no PATH lookup,
// a process group of its own so that a timeout ends it and everything it started).
#include "run/exec_handler.h"

#include <fnmatch.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "run/child_process_loop.h"
#include "run/executor.h"

namespace rowsched::run {

namespace {

// stderr is recorded after a status line, so it gets a little less than the bound.
constexpr size_t kStderrLimit = Executor::kMaxCapture - 256;

std::string json_type(const nlohmann::json& v) { return v.type_name(); }

std::string argument_text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// A path with no ".", ".." or empty components, so that "/usr/bin/*" cannot be escaped with "..".
bool normalised(const std::string& path) {
  if (path.size() < 2 || path.front() != '/' || path.back() == '/') return false;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string_view part(path.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return "signal " + std::to_string(sig) + (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
}

// "exited with status 3", "killed by signal 9 (SIGKILL)".
std::string status_text(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by " + signal_text(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

std::string seconds_text(Duration d) { return format_seconds(d) + " s"; }

class ExecHandler final : public Handler {
 public:
  ExecHandler(std::vector<std::string> patterns, std::string cwd) : patterns_(std::move(patterns)), cwd_(std::move(cwd)) {}

  std::optional<std::string> validate(const nlohmann::json& args) const override {
    if (!args.is_array() || args.empty())
      return "func_args must be the program's argv: [\"/absolute/path/of/program\", \"arg1\", ...]";
    for (size_t i = 0; i < args.size(); ++i) {
      const auto& a = args[i];
      if (!a.is_string() && !a.is_number())
        return "func_args[" + std::to_string(i) + "] must be a string (an argument of the program), got " + json_type(a);
      if (argument_text(a).find('\0') != std::string::npos)
        return "func_args[" + std::to_string(i) + "] contains a NUL character, which no program argument can hold";
    }
    if (!args[0].is_string()) return "func_args[0] must be the absolute path of the program, a string";
    const std::string program = args[0].get<std::string>();
    if (program.empty() || program.front() != '/')
      return "func_args[0] must be the absolute path of the program (e.g. \"/usr/bin/" +
             (program.empty() ? std::string("env") : program) + "\"), got \"" + program +
             "\": exec runs no shell and does no PATH lookup";
    if (!normalised(program))
      return "func_args[0] \"" + program + "\" must be a normalised absolute path (no \".\", \"..\" or empty components)";
    if (patterns_.empty())
      return "func \"exec\" is not enabled on this rowsched: it was started without --allow-exec. To run \"" + program +
             "\", start rowsched with --allow-exec " + program + " (or a glob over absolute paths, such as --allow-exec '" +
             program.substr(0, program.rfind('/') + 1) + "*')";
    if (!exec_allowed(program, patterns_))
      return "program \"" + program + "\" is not allowed by --allow-exec (allowed: " + joined(patterns_) +
             "); to allow it, start rowsched with --allow-exec " + program;
    return std::nullopt;
  }

  // The program is started and watched by the shared child-process loop (run/child_process_loop.h):
  // no executor thread waits on it.
  bool start(const RunRequest& req, Done done) const override {
    // The row was valid when loaded, but the allowlist is the security boundary: check again.
    if (auto problem = validate(req.args)) {
      done(RunOutcome{false, false, "", *problem});
      return true;
    }
    ChildSpawn spawn;
    for (const auto& a : req.args) spawn.argv.push_back(argument_text(a));
    spawn.env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "ROWSCHED_JOB_ID=" + req.job_id,
                 "ROWSCHED_RUN_ID=" + std::to_string(req.run_id),
                 "ROWSCHED_SCHEDULED_FOR=" + format_rfc3339(req.scheduled_for)};
    spawn.cwd = cwd_;
    spawn.timeout = req.timeout;
    spawn.not_before = req.not_before;
    spawn.stdout_limit = Executor::kMaxCapture;
    spawn.stderr_limit = kStderrLimit;
    const std::string program = spawn.argv[0], cwd = cwd_;
    const std::optional<Duration> timeout = req.timeout;
    ChildProcessLoop::shared().spawn(std::move(spawn), [done = std::move(done), program, cwd, timeout](ChildExit e) {
      done(outcome_of(std::move(e), program, cwd, timeout));
    });
    return true;
  }

  // The same program, waited for on the calling thread.
  RunOutcome run(const RunRequest& req, WorkerContext&) const override { return run_started(req); }

 private:
  static RunOutcome outcome_of(ChildExit e, const std::string& program, const std::string& cwd,
                               std::optional<Duration> timeout) {
    if (e.spawn_error) return RunOutcome{false, false, "", "cannot start \"" + program + "\" (in " + cwd + "): " + *e.spawn_error};
    RunOutcome outcome;
    outcome.output = std::move(e.stdout_text);
    std::string error;
    if (e.timed_out) {
      outcome.ok = false;
      outcome.timed_out = true;
      error = "timed out after " + seconds_text(*timeout) + ": sent SIGTERM to its process group" +
              (e.killed ? ", then SIGKILL " + std::to_string(ChildProcessLoop::kTermGrace.count()) + " s later" : "") + "; " +
              status_text(e.status);
    } else if (!(WIFEXITED(e.status) && WEXITSTATUS(e.status) == 0)) {
      outcome.ok = false;
      error = status_text(e.status);
    }
    if (!e.stderr_empty) error += (error.empty() ? "" : "\n") + e.stderr_text;
    outcome.error = std::move(error);
    return outcome;
  }

  std::vector<std::string> patterns_;
  std::string cwd_;
};

}  // namespace

std::optional<std::string> check_exec_patterns(const std::vector<std::string>& patterns) {
  for (const auto& p : patterns)
    if (p.empty() || p.front() != '/')
      return "--allow-exec \"" + p + "\": must be an absolute program path or a glob over absolute paths, such as "
             "/usr/bin/echo or '/opt/jobs/bin/*'";
  return std::nullopt;
}

bool exec_allowed(const std::string& program, const std::vector<std::string>& patterns) {
  if (!normalised(program)) return false;
  for (const auto& p : patterns)
    if (fnmatch(p.c_str(), program.c_str(), FNM_PATHNAME | FNM_PERIOD) == 0) return true;
  return false;
}

std::shared_ptr<const Handler> make_exec_handler(std::vector<std::string> patterns, std::string cwd) {
  if (auto problem = check_exec_patterns(patterns)) throw HandlerSetupError(*problem);
  struct stat st {};
  if (cwd.empty() || cwd.front() != '/' || stat(cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw HandlerSetupError("--exec-cwd \"" + cwd + "\": must be the absolute path of an existing directory");
  return std::make_shared<ExecHandler>(std::move(patterns), std::move(cwd));
}

}  // namespace rowsched::run
