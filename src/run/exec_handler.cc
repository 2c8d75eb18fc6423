// The `exec` handler: one program per fire, started with posix_spawn (no shell, no PATH lookup) in
// a process group of its own so that a timeout ends it and everything it started. Output arrives on
// two pipes read with poll(); the child's exit wakes the same poll() through a pidfd (and is checked
// with waitpid(WNOHANG) at least every kPollInterval where pidfds do not exist).
#include "run/exec_handler.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "run/bounded_capture.h"
#include "run/executor.h"

namespace rowsched::run {

namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long a program gets between SIGTERM and SIGKILL when its timeout has passed.
constexpr auto kTermGrace = std::chrono::seconds(2);
// How long output is still read after the program exited, from children it left behind that keep
// the pipes open; then the run is over and their output is not waited for.
constexpr auto kLinger = milliseconds(500);
// How often the child's exit and the timeout are checked while no output arrives.
constexpr auto kPollInterval = milliseconds(50);
// stderr is recorded after a status line, so it gets a little less than the bound.
constexpr size_t kStderrLimit = Executor::kMaxCapture - 256;

// A file descriptor, closed when it goes out of scope.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read, write;
};

Pipe make_pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("cannot create a pipe: ") + std::strerror(errno));
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

// posix_spawn's attribute and file-action objects, destroyed when they go out of scope.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

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

  RunOutcome run(const RunRequest& req, WorkerContext&) const override {
    // The row was valid when loaded, but the allowlist is the security boundary: check again.
    if (auto problem = validate(req.args)) return RunOutcome{false, false, "", *problem};

    std::vector<std::string> argv;
    for (const auto& a : req.args) argv.push_back(argument_text(a));
    std::vector<std::string> env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "ROWSCHED_JOB_ID=" + req.job_id,
                                    "ROWSCHED_RUN_ID=" + std::to_string(req.run_id),
                                    "ROWSCHED_SCHEDULED_FOR=" + format_rfc3339(req.scheduled_for)};
    std::vector<char*> argv_ptrs, env_ptrs;
    for (auto& a : argv) argv_ptrs.push_back(a.data());
    argv_ptrs.push_back(nullptr);
    for (auto& e : env) env_ptrs.push_back(e.data());
    env_ptrs.push_back(nullptr);

    Pipe out = make_pipe(), err = make_pipe();
    SpawnSetup setup;
    posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&setup.actions, out.write.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&setup.actions, err.write.get(), STDERR_FILENO);
    posix_spawn_file_actions_addchdir_np(&setup.actions, cwd_.c_str());
    posix_spawn_file_actions_addclosefrom_np(&setup.actions, STDERR_FILENO + 1);
    // The daemon blocks SIGTERM/SIGINT in every thread (it reads them from a signalfd); the program
    // must not inherit that mask, or the timeout's SIGTERM would not reach it.
    sigset_t empty, defaults;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2}) sigaddset(&defaults, sig);
    posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&setup.attr, 0);
    posix_spawnattr_setsigmask(&setup.attr, &empty);
    posix_spawnattr_setsigdefault(&setup.attr, &defaults);

    pid_t pid = 0;
    const int rc = posix_spawn(&pid, argv[0].c_str(), &setup.actions, &setup.attr, argv_ptrs.data(), env_ptrs.data());
    out.write.reset();
    err.write.reset();
    if (rc != 0)
      return RunOutcome{false, false, "", "cannot start \"" + argv[0] + "\" (in " + cwd_ + "): " + std::strerror(rc)};
    return supervise(pid, std::move(out.read), std::move(err.read), req.timeout);
  }

 private:
  // Reads the program's output until it exits (or its timeout ends it) and turns the result into
  // an outcome.
  RunOutcome supervise(pid_t pid, Fd out, Fd err, std::optional<Duration> timeout) const {
    BoundedCapture stdout_text(Executor::kMaxCapture), stderr_text(kStderrLimit);
    // time_point::max() stands for "never".
    constexpr auto kNever = SteadyClock::time_point::max();
    const auto deadline = timeout ? SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(*timeout) : kNever;
    auto kill_at = kNever, linger_until = kNever;
    bool timed_out = false, killed = false, exited = false;
    int status = 0;
    // Readable once the program has exited; -1 on kernels before 5.3. (glibc 2.36's <sys/pidfd.h>
    // lacks extern "C", hence the raw system call.)
    Fd exit_fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));

    for (;;) {
      if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        linger_until = SteadyClock::now() + kLinger;
      }
      const auto now = SteadyClock::now();
      if (exited && ((!out.valid() && !err.valid()) || now >= linger_until)) break;
      if (!exited && !timed_out && now >= deadline) {
        timed_out = true;
        kill(-pid, SIGTERM);
        kill_at = now + kTermGrace;
      }
      if (!exited && !killed && now >= kill_at) {
        kill(-pid, SIGKILL);
        killed = true;
      }
      auto wait = std::chrono::duration_cast<milliseconds>(kPollInterval);
      if (!timed_out && deadline != kNever)
        wait = std::clamp(std::chrono::ceil<milliseconds>(deadline - now), milliseconds(0), wait);
      // A negative fd is ignored by poll: closed pipes, the pidfd once the program has exited.
      pollfd fds[3] = {{out.get(), POLLIN, 0}, {err.get(), POLLIN, 0}, {exited ? -1 : exit_fd.get(), POLLIN, 0}};
      if (poll(fds, 3, static_cast<int>(wait.count())) > 0) {
        read_available(fds[0], out, stdout_text);
        read_available(fds[1], err, stderr_text);
      }
    }
    // Whatever the program left running in its group is ended with it when it ran out of time.
    if (timed_out) kill(-pid, SIGKILL);

    RunOutcome outcome;
    outcome.output = stdout_text.text();
    std::string error;
    if (timed_out) {
      outcome.ok = false;
      outcome.timed_out = true;
      error = "timed out after " + seconds_text(*timeout) + ": sent SIGTERM to its process group" +
              (killed ? ", then SIGKILL " + std::to_string(kTermGrace.count()) + " s later" : "") + "; " +
              status_text(status);
    } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      outcome.ok = false;
      error = status_text(status);
    }
    if (!stderr_text.empty()) error += (error.empty() ? "" : "\n") + stderr_text.text();
    outcome.error = std::move(error);
    return outcome;
  }

  // Appends what can be read from `fd` without blocking; closes it at end of file.
  static void read_available(const pollfd& p, Fd& fd, BoundedCapture& into) {
    if (p.fd < 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) return;
    char buf[16384];
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n > 0) into.append(std::string_view(buf, static_cast<size_t>(n)));
    else if (n == 0 || (errno != EINTR && errno != EAGAIN)) fd.reset();
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
