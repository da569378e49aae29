// A child process started safely from a multithreaded server, with a private
// message channel and its stderr sent to Slipway's log.
//
// PythonProcess::Spawn uses posix_spawn (vfork + exec inside the C library:
// no code of ours runs between fork and exec, which is what makes it safe
// while other threads hold locks), closes every descriptor above the ones the
// child is given (posix_spawn_file_actions_addclosefrom_np) and puts the child
// in its own process group, so stopping it also stops what it started. All
// descriptors on our side are created close-on-exec.
//
// The channel is one end of a Unix socket pair, fd 3 in the child: a pipe in
// both directions that, unlike pipe(2), can be written with MSG_NOSIGNAL, so a
// dead child is an error return and never a SIGPIPE in the server. Messages
// are a 4-byte little-endian length and that many bytes. The child's stdout
// and stderr share one pipe, logged line by line through spdlog by a thread of
// the object, each line prefixed with `log_prefix`.
//
// Not thread-safe: one owner at a time (PythonModel hands a process to one
// call). Destroying it terminates the child (SIGTERM to its group, SIGKILL
// after a grace period) and reaps it: no zombies.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace slipway::ml {

class PythonProcess {
 public:
  using Clock = std::chrono::steady_clock;

  enum class IoStatus {
    kOk,
    kClosed,     // the child closed the channel or died
    kTimeout,    // the deadline passed first
    kCancelled,  // `*cancel` became true while waiting
  };

  // Starts `argv` (argv[0] looked up in PATH) with `environment` ("K=V"
  // entries; the parent's own when empty). Throws slipway::Error
  // (INTERNAL_ERROR) when the program cannot be started.
  static std::unique_ptr<PythonProcess> Spawn(const std::vector<std::string>& argv,
                                              const std::vector<std::string>& environment,
                                              std::string log_prefix);
  ~PythonProcess();

  PythonProcess(const PythonProcess&) = delete;
  PythonProcess& operator=(const PythonProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Sends one message made of `parts` (concatenated), before `deadline`.
  IoStatus Send(const std::vector<std::string_view>& parts, Clock::time_point deadline);

  // Receives one message into `out`, before `deadline`; checks `cancel`
  // (when given) every 100 ms.
  IoStatus Receive(std::string& out, Clock::time_point deadline,
                   const std::atomic<bool>* cancel = nullptr);

  // True once the child has ended (reaps it; never blocks).
  bool Exited();

  // Ends the child: closes the channel, SIGTERM to its process group, SIGKILL
  // after `grace`, and reaps it. Idempotent; a zero grace kills at once.
  void Terminate(std::chrono::milliseconds grace);

  // Starts ending the child without waiting (closes the channel, signals its
  // group): for stopping many at once before Terminate reaps each.
  void Signal(int signal);

  // "exited with status 1", "killed by signal 9", or "running".
  std::string Describe() const;
  // Once Exited: the exit status, or 128 + the signal that killed it.
  int ExitCode() const;

 private:
  PythonProcess() = default;
  void LogStderr();
  void Reap();

  pid_t pid_ = -1;
  int channel_ = -1;  // our end of the socket pair
  int stderr_ = -1;   // read end of the child's stdout+stderr pipe
  bool reaped_ = false;
  int wait_status_ = 0;
  std::string log_prefix_;
  std::atomic<bool> stop_logging_{false};
  std::thread logger_;
};

// Runs `argv` to its end with its output logged under `log_prefix`; returns
// its exit status (128 + signal when killed). Kills it and throws
// slipway::Error (INTERNAL_ERROR) after `timeout`.
int RunToCompletion(const std::vector<std::string>& argv, const std::string& log_prefix,
                    std::chrono::milliseconds timeout);

}  // namespace slipway::ml
