// The prediction log: every sampled prediction of every deployment, kept for
// monitoring (drift, live accuracy joined by request id) to read.
//
// The request path only hands a record to Append, which puts it on a bounded
// in-memory queue and returns: a full queue drops the record and counts it
// (`slipway_serving_log_dropped_total`), it never waits. One writer (a
// single-thread executor of the log's own) formats records as JSON lines and
// appends them to files per deployment:
//
//   <dir>/<deployment>/<UTC yyyymmddThhmmss>-<seq>.jsonl
//
// one object per line: time (ms), deployment, request_id, model, version,
// shadow, latency_ms, inputs ({column: [values]}) and outputs (what the
// reply's "predictions" held). A file is closed and a new one begun past
// `segment_bytes`. Retention: after each batch written, the oldest files go
// while the log is larger than `max_bytes` or older than `max_age` (checked
// at most once a second).
//
// The log is for monitoring, not an acknowledged write: records still queued
// when the process is killed are lost (Flush() and the destructor write what
// is queued). Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "core/executor.h"
#include "monitoring/metric_registry.h"
#include "serving/deployment.h"

namespace slipway::serving {

class PredictionLog {
 public:
  struct Options {
    std::filesystem::path dir;
    size_t max_queued = 65536;  // records waiting to be written; dropped beyond
    uint64_t segment_bytes = uint64_t{64} << 20;
    uint64_t max_bytes = uint64_t{1} << 30;  // the whole log
    std::chrono::seconds max_age{7 * 24 * 3600};
    monitoring::MetricRegistry* metrics = nullptr;
  };

  explicit PredictionLog(Options options);
  ~PredictionLog();
  PredictionLog(const PredictionLog&) = delete;
  PredictionLog& operator=(const PredictionLog&) = delete;

  // Queues `record`; never blocks.
  void Append(PredictionRecord record);
  // Returns once everything appended before the call is written.
  void Flush();

  uint64_t written() const { return written_.load(); }
  uint64_t dropped() const { return dropped_.load(); }

  // A sink for Deployment that appends here.
  PredictionSink Sink();

 private:
  struct Segment {
    std::filesystem::path path;
    int fd = -1;
    uint64_t bytes = 0;
  };

  void Drain();
  void Write(const PredictionRecord& record, std::string& line);
  void EnforceRetention();

  const Options options_;
  std::mutex mu_;  // guards queue_ and draining_
  std::condition_variable drained_;
  std::deque<PredictionRecord> queue_;
  bool draining_ = false;
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> dropped_{0};
  monitoring::Counter* dropped_total_ = nullptr;
  monitoring::Counter* written_total_ = nullptr;
  // Owned by the writer (one drain at a time).
  std::map<std::string, Segment> segments_;
  uint64_t sequence_ = 0;
  std::chrono::steady_clock::time_point last_retention_{};
  std::unique_ptr<core::Executor> writer_;
};

}  // namespace slipway::serving
