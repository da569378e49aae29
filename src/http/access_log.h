// The access log's writer: one line per request, written to stderr in
// batches by a thread of its own.
//
// Request threads (the I/O threads among them) append a line to a buffer
// under a short lock; the writer thread takes the whole buffer every
// `interval`, or sooner once `batch_bytes` have gathered, and writes it
// with one write(2). Two properties matter and are why this is written
// here rather than taken from spdlog:
//   - no wake-up per line: spdlog's async logger signals its thread for
//     every message, a futex wake and a context switch per request, about a
//     tenth of the CPU time of a single-row prediction;
//   - a stderr nobody reads (a full pipe, a stalled log collector) costs
//     lines, never the server: the buffer is bounded, lines past the bound
//     are dropped and counted (slipway_access_log_dropped_total), and only
//     the writer thread ever blocks on the pipe.
//
// Thread-safe. The process has one (stderr is one); it is never destroyed,
// so a line written during exit is safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace slipway::http {

class AccessLog {
 public:
  struct Options {
    int fd = 2;
    size_t max_buffered = 1 << 20;   // bytes held before lines are dropped
    size_t batch_bytes = 64 * 1024;  // wake the writer early at this size
    std::chrono::milliseconds interval{200};
  };

  // The process's access log on stderr.
  static AccessLog& Stderr();

  explicit AccessLog(Options options);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Appends `line` and a newline; with `stamp`, prefixed by the local time
  // as "[2026-12-06 20:30:45.123] [access] " (spdlog's default pattern,
  // which the rest of the log uses).
  void Write(std::string_view line, bool stamp);

  // Writes out everything appended so far; waits at most `limit` (stderr
  // may not be taking anything).
  void Drain(std::chrono::milliseconds limit);

  // Lines dropped because the buffer was full.
  uint64_t dropped() const;

 private:
  void Run();

  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;     // the writer: a batch is ready, or stop
  std::condition_variable written_;  // Drain: the writer wrote a batch
  std::string buffer_;               // guarded by mu_
  uint64_t appended_ = 0;            // lines appended (mu_)
  uint64_t flushed_ = 0;             // lines written or given up on (mu_)
  uint64_t dropped_ = 0;             // (mu_)
  bool woken_ = false;               // a wake-up is pending (mu_)
  bool stop_ = false;                // (mu_)
  // Seconds cache for the time stamp: formatting a date per line is most
  // of the cost of stamping it (mu_).
  int64_t stamp_second_ = -1;
  char stamp_prefix_[24] = {};
  std::thread writer_;
};

}  // namespace slipway::http
