#include "run/child_process_loop.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <thread>

#include "base/start_priority.h"
#include "run/bounded_capture.h"

namespace rowsched::run {

namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long output is still read after the program exited, from children it left behind that keep
// the pipes open; then the run is over and their output is not waited for.
constexpr auto kLinger = milliseconds(500);
// How often exits and timeouts are checked while nothing arrives.
constexpr auto kPollInterval = milliseconds(50);
constexpr auto kNever = SteadyClock::time_point::max();

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

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

struct Child {
  pid_t pid = 0;
  int out = -1, err = -1, exit_fd = -1;
  BoundedCapture stdout_text{0}, stderr_text{0};
  SteadyClock::time_point deadline = kNever, kill_at = kNever, linger_until = kNever;
  bool timed_out = false, killed = false, exited = false;
  int status = 0;
  ChildProcessLoop::Done done;

  Child(size_t out_limit, size_t err_limit) : stdout_text(out_limit), stderr_text(err_limit) {}
  ~Child() {
    close_fd(out);
    close_fd(err);
    close_fd(exit_fd);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
};

// Appends what can be read from `fd` without blocking; closes it at end of file.
void read_available(short revents, int& fd, BoundedCapture& into) {
  if (fd < 0 || !(revents & (POLLIN | POLLHUP | POLLERR))) return;
  char buf[16384];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  if (n > 0) into.append(std::string_view(buf, static_cast<size_t>(n)));
  else if (n == 0 || (errno != EINTR && errno != EAGAIN)) close_fd(fd);
}

}  // namespace

struct ChildProcessLoop::Impl {
  struct Pending {
    ChildSpawn spawn;
    Done done;
  };
  std::mutex mu;
  std::deque<Pending> pending;
  bool stopping = false;
  int wake_fd = -1;
  std::list<std::unique_ptr<Child>> children;  // the loop thread's
  std::thread thread;

  // Starts `p`; a failure to start is reported at once.
  void start(Pending& p) {
    ChildSpawn& s = p.spawn;
    auto child = std::make_unique<Child>(s.stdout_limit, s.stderr_limit);
    child->done = std::move(p.done);
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0) return fail(*child, std::string("cannot create a pipe: ") + std::strerror(errno));
    if (pipe2(err, O_CLOEXEC) != 0) {
      ::close(out[0]);
      ::close(out[1]);
      return fail(*child, std::string("cannot create a pipe: ") + std::strerror(errno));
    }
    std::vector<char*> argv_ptrs, env_ptrs;
    for (auto& a : s.argv) argv_ptrs.push_back(a.data());
    argv_ptrs.push_back(nullptr);
    for (auto& e : s.env) env_ptrs.push_back(e.data());
    env_ptrs.push_back(nullptr);
    SpawnSetup setup;
    posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&setup.actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&setup.actions, err[1], STDERR_FILENO);
    posix_spawn_file_actions_addchdir_np(&setup.actions, s.cwd.c_str());
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
    // The program takes this thread's nice value: the daemon's, not the one raised for starting on time.
    const int rc = [&] {
      const base::AtDaemonPriority spawning;
      return posix_spawn(&child->pid, s.argv[0].c_str(), &setup.actions, &setup.attr, argv_ptrs.data(), env_ptrs.data());
    }();
    ::close(out[1]);
    ::close(err[1]);
    child->out = out[0];
    child->err = err[0];
    if (rc != 0) return fail(*child, std::strerror(rc));
    if (s.timeout) child->deadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(*s.timeout);
    // Readable once the program has exited; -1 on kernels before 5.3. (glibc 2.36's <sys/pidfd.h>
    // lacks extern "C", hence the raw system call.)
    child->exit_fd = static_cast<int>(syscall(SYS_pidfd_open, child->pid, 0));
    children.push_back(std::move(child));
  }

  static void fail(Child& child, std::string why) {
    ChildExit e;
    e.spawn_error = std::move(why);
    child.done(std::move(e));
  }

  // Advances one child; true when it is over (reported).
  static bool step(Child& c, SteadyClock::time_point now) {
    if (!c.exited && waitpid(c.pid, &c.status, WNOHANG) == c.pid) {
      c.exited = true;
      c.linger_until = now + kLinger;
      close_fd(c.exit_fd);
    }
    if (c.exited && ((c.out < 0 && c.err < 0) || now >= c.linger_until)) {
      // Whatever the program left running in its group is ended with it when it ran out of time.
      if (c.timed_out) kill(-c.pid, SIGKILL);
      ChildExit e;
      e.status = c.status;
      e.timed_out = c.timed_out;
      e.killed = c.killed;
      e.stdout_text = c.stdout_text.text();
      e.stderr_empty = c.stderr_text.empty();
      e.stderr_text = c.stderr_text.text();
      c.done(std::move(e));
      return true;
    }
    if (!c.exited && !c.timed_out && now >= c.deadline) {
      c.timed_out = true;
      kill(-c.pid, SIGTERM);
      c.kill_at = now + kTermGrace;
    }
    if (!c.exited && !c.killed && now >= c.kill_at) {
      kill(-c.pid, SIGKILL);
      c.killed = true;
    }
    return false;
  }

  void loop() {
    base::enter_start_thread("rowsched-exec");
    for (;;) {
      const TimePoint wall = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
      // In microseconds, and ppoll: a program due 0.3 ms from now starts then, not at the next whole
      // millisecond (poll's timeout, rounded up, started programs up to 1 ms late).
      Duration wait = kPollInterval;
      {
        std::unique_lock lock(mu);
        if (stopping) return;
        for (auto it = pending.begin(); it != pending.end();) {
          if (it->spawn.not_before <= wall) {
            Pending p = std::move(*it);
            it = pending.erase(it);
            lock.unlock();
            start(p);
            lock.lock();
            it = pending.begin();  // the deque may have grown meanwhile
          } else {
            wait = std::min(wait, it->spawn.not_before - wall);
            ++it;
          }
        }
      }
      auto now = SteadyClock::now();
      for (auto it = children.begin(); it != children.end();) it = step(**it, now) ? children.erase(it) : std::next(it);
      std::vector<pollfd> fds{{wake_fd, POLLIN, 0}};
      std::vector<Child*> owners;
      for (auto& c : children) {
        fds.push_back({c->out, POLLIN, 0});
        fds.push_back({c->err, POLLIN, 0});
        fds.push_back({c->exited ? -1 : c->exit_fd, POLLIN, 0});
        owners.push_back(c.get());
        for (auto at : {c->deadline, c->kill_at, c->linger_until})
          if (at != kNever) wait = std::clamp(std::chrono::ceil<Duration>(at - now), Duration::zero(), wait);
      }
      const timespec ts = to_timespec(wait);
      if (ppoll(fds.data(), fds.size(), &ts, nullptr) > 0) {
        if (fds[0].revents & POLLIN) {
          uint64_t n;
          [[maybe_unused]] auto r = ::read(wake_fd, &n, sizeof n);
        }
        for (size_t i = 0; i < owners.size(); ++i) {
          read_available(fds[1 + 3 * i].revents, owners[i]->out, owners[i]->stdout_text);
          read_available(fds[2 + 3 * i].revents, owners[i]->err, owners[i]->stderr_text);
        }
      }
    }
  }
};

ChildProcessLoop::ChildProcessLoop() : impl_(std::make_unique<Impl>()) {
  impl_->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl_->wake_fd < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  impl_->thread = std::thread([impl = impl_.get()] { impl->loop(); });
}

ChildProcessLoop::~ChildProcessLoop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  const uint64_t one = 1;
  [[maybe_unused]] auto n = write(impl_->wake_fd, &one, sizeof one);
  impl_->thread.join();
  for (auto& c : impl_->children) {
    if (!c->exited) {
      kill(-c->pid, SIGKILL);
      waitpid(c->pid, nullptr, 0);
    }
  }
  ::close(impl_->wake_fd);
}

void ChildProcessLoop::spawn(ChildSpawn spawn, Done done) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->pending.push_back(Impl::Pending{std::move(spawn), std::move(done)});
  }
  const uint64_t one = 1;
  [[maybe_unused]] auto n = write(impl_->wake_fd, &one, sizeof one);
}

ChildProcessLoop& ChildProcessLoop::shared() {
  static ChildProcessLoop loop;
  return loop;
}

}  // namespace rowsched::run
