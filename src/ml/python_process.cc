#include "ml/python_process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "core/error.h"

extern char** environ;

namespace slipway::ml {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the worker protocol writes lengths and numbers little-endian");

// The child's descriptors: the channel is fd 3; nothing else survives exec.
constexpr int kChildChannelFd = 3;
// Our descriptors are moved at or above this before spawning, so none of
// them is already one of the child's target numbers (dup2 onto itself would
// keep close-on-exec set).
constexpr int kHighFd = 10;

[[noreturn]] void ThrowSystem(const std::string& what, int error) {
  throw Error(ErrorCode::kInternalError, what + ": " + std::strerror(error));
}

int MoveHigh(int fd) {
  const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, kHighFd);
  const int error = errno;
  ::close(fd);
  if (high < 0) ThrowSystem("cannot duplicate a descriptor", error);
  return high;
}

void CloseIf(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

int MillisUntil(PythonProcess::Clock::time_point deadline, int cap) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - PythonProcess::Clock::now())
          .count();
  return static_cast<int>(std::clamp<long long>(left, 0, cap));
}

}  // namespace

std::unique_ptr<PythonProcess> PythonProcess::Spawn(const std::vector<std::string>& argv,
                                                    const std::vector<std::string>& environment,
                                                    std::string log_prefix) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    ThrowSystem("cannot create the worker's channel", errno);
  int ours = MoveHigh(pair[0]);
  int theirs = MoveHigh(pair[1]);
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    const int error = errno;
    ::close(ours);
    ::close(theirs);
    ThrowSystem("cannot create the worker's stderr pipe", error);
  }
  int err_read = MoveHigh(err_pipe[0]);
  int err_write = MoveHigh(err_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, err_write, 1);
  posix_spawn_file_actions_adddup2(&actions, err_write, 2);
  posix_spawn_file_actions_adddup2(&actions, theirs, kChildChannelFd);
  // Descriptors other threads opened without O_CLOEXEC stay out of the child.
  posix_spawn_file_actions_addclosefrom_np(&actions, kChildChannelFd + 1);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2})
    sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  // Its own process group: a terminal's Ctrl-C goes to the server, which
  // then stops its workers itself, and killing the group reaches anything
  // the model started.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (const auto& e : environment) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);

  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(),
                                environment.empty() ? environ : env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(theirs);
  ::close(err_write);
  if (rc != 0) {
    ::close(ours);
    ::close(err_read);
    ThrowSystem("cannot start '" + argv[0] + "'", rc);
  }

  std::unique_ptr<PythonProcess> process(new PythonProcess());
  process->pid_ = pid;
  process->channel_ = ours;
  process->stderr_ = err_read;
  process->log_prefix_ = std::move(log_prefix);
  process->logger_ = std::thread([p = process.get()] { p->LogStderr(); });
  return process;
}

PythonProcess::~PythonProcess() {
  Terminate(std::chrono::milliseconds(2000));
  stop_logging_ = true;
  if (logger_.joinable()) logger_.join();
  CloseIf(stderr_);
}

void PythonProcess::LogStderr() {
  std::string pending;
  char buf[4096];
  const std::string prefix = "[" + log_prefix_ + " pid " + std::to_string(pid_) + "] ";
  // Control characters a model prints (terminal escapes, NULs) are logged
  // as \xNN, so a worker cannot forge log lines or garble a terminal.
  auto log = [&](std::string_view line) {
    std::string clean;
    clean.reserve(line.size());
    for (unsigned char c : line) {
      if ((c < 0x20 && c != '\t') || c == 0x7f)
        clean += fmt::format("\\x{:02x}", c);
      else
        clean += static_cast<char>(c);
    }
    spdlog::info("{}{}", prefix, clean);
  };
  auto flush_lines = [&](bool all) {
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
      log(std::string_view(pending).substr(start, nl - start));
    pending.erase(0, start);
    // A very long line without a newline is logged in pieces, not buffered.
    if ((all && !pending.empty()) || pending.size() > 65536) {
      log(pending);
      pending.clear();
    }
  };
  while (true) {
    pollfd p{stderr_, POLLIN, 0};
    const int ready = ::poll(&p, 1, 200);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) {
      // Stop only when asked and nothing more is waiting: the last lines of a
      // crashing worker (its traceback) are the ones worth reading.
      if (stop_logging_) break;
      continue;
    }
    const ssize_t n = ::read(stderr_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<size_t>(n));
    flush_lines(false);
  }
  flush_lines(true);
}

PythonProcess::IoStatus PythonProcess::Send(const std::vector<std::string_view>& parts,
                                            Clock::time_point deadline) {
  if (channel_ < 0) return IoStatus::kClosed;
  size_t total = 0;
  for (auto p : parts) total += p.size();
  if (total > UINT32_MAX)
    throw Error(ErrorCode::kInvalidParameterValue,
                "the batch is too large for a Python worker (over 4 GiB encoded)");
  const uint32_t length = static_cast<uint32_t>(total);
  std::vector<iovec> iov;
  iov.push_back({const_cast<uint32_t*>(&length), sizeof length});
  for (auto p : parts)
    if (!p.empty()) iov.push_back({const_cast<char*>(p.data()), p.size()});
  size_t index = 0;
  while (index < iov.size()) {
    msghdr msg{};
    msg.msg_iov = iov.data() + index;
    msg.msg_iovlen = std::min<size_t>(iov.size() - index, IOV_MAX);
    const ssize_t n = ::sendmsg(channel_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return IoStatus::kClosed;
      pollfd p{channel_, POLLOUT, 0};
      const int wait = MillisUntil(deadline, 1000);
      if (wait == 0) return IoStatus::kTimeout;
      ::poll(&p, 1, wait);
      continue;
    }
    size_t sent = static_cast<size_t>(n);
    while (sent > 0) {
      if (sent >= iov[index].iov_len) {
        sent -= iov[index].iov_len;
        ++index;
      } else {
        iov[index].iov_base = static_cast<char*>(iov[index].iov_base) + sent;
        iov[index].iov_len -= sent;
        sent = 0;
      }
    }
  }
  return IoStatus::kOk;
}

PythonProcess::IoStatus PythonProcess::Receive(std::string& out, Clock::time_point deadline,
                                               const std::atomic<bool>* cancel) {
  if (channel_ < 0) return IoStatus::kClosed;
  uint32_t length = 0;
  size_t want = sizeof length;
  size_t got = 0;
  bool have_length = false;
  while (true) {
    char* target = have_length ? out.data() + got : reinterpret_cast<char*>(&length) + got;
    if (got < want) {
      const ssize_t n = ::recv(channel_, target, want - got, MSG_DONTWAIT);
      if (n > 0) {
        got += static_cast<size_t>(n);
        continue;
      }
      if (n == 0) return IoStatus::kClosed;
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return IoStatus::kClosed;
      if (cancel != nullptr && cancel->load()) return IoStatus::kCancelled;
      const int wait = MillisUntil(deadline, 100);
      if (wait == 0 && Clock::now() >= deadline) return IoStatus::kTimeout;
      pollfd p{channel_, POLLIN, 0};
      ::poll(&p, 1, wait);
      continue;
    }
    if (have_length) return IoStatus::kOk;
    have_length = true;
    out.resize(length);
    want = length;
    got = 0;
  }
}

bool PythonProcess::Exited() {
  if (reaped_) return true;
  siginfo_t info{};
  // WNOWAIT first: while the ended child is not reaped its id (and so its
  // group's) cannot be reused, so the group can still be killed safely.
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno == ECHILD) reaped_ = true;  // reaped elsewhere (SIGCHLD ignored)
    return reaped_;
  }
  if (info.si_pid != pid_) return false;
  Reap();
  return true;
}

void PythonProcess::Reap() {
  // What the model started may outlive the worker; the group goes with it.
  ::kill(-pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  wait_status_ = status;
  CloseIf(channel_);
}

void PythonProcess::Signal(int signal) {
  CloseIf(channel_);
  if (!reaped_) ::kill(-pid_, signal);
}

void PythonProcess::Terminate(std::chrono::milliseconds grace) {
  if (pid_ < 0 || Exited()) return;
  Signal(grace.count() > 0 ? SIGTERM : SIGKILL);
  const auto deadline = Clock::now() + grace;
  while (!Exited() && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!reaped_) Reap();  // SIGKILL to the group, then a wait that cannot last
}

int PythonProcess::ExitCode() const {
  if (WIFEXITED(wait_status_)) return WEXITSTATUS(wait_status_);
  if (WIFSIGNALED(wait_status_)) return 128 + WTERMSIG(wait_status_);
  return -1;
}

std::string PythonProcess::Describe() const {
  if (!reaped_) return "running";
  if (WIFEXITED(wait_status_))
    return "exited with status " + std::to_string(WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_))
    return "killed by signal " + std::to_string(WTERMSIG(wait_status_)) + " (" +
           ::strsignal(WTERMSIG(wait_status_)) + ")";
  return "ended";
}

int RunToCompletion(const std::vector<std::string>& argv, const std::string& log_prefix,
                    std::chrono::milliseconds timeout) {
  auto process = PythonProcess::Spawn(argv, {}, log_prefix);
  const auto deadline = PythonProcess::Clock::now() + timeout;
  while (!process->Exited()) {
    if (PythonProcess::Clock::now() >= deadline) {
      process->Terminate(std::chrono::milliseconds(0));
      throw Error(ErrorCode::kInternalError, "'" + argv[0] + "' did not finish within " +
                                                 std::to_string(timeout.count() / 1000) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return process->ExitCode();
}

}  // namespace slipway::ml
