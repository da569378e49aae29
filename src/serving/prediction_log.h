// The prediction log: every sampled prediction of every deployment, kept for
// monitoring (drift, live accuracy joined by request id) to read.
//
// The request path only hands a record to Append, which puts it on a bounded
// in-memory queue and returns: a full queue drops the record and counts it
// (`slipway_serving_log_dropped_total`), it never waits. One writer thread
// (a one-thread executor of the log's own, which it holds for its lifetime)
// formats records as JSON lines and streams them into the current segment of
// their deployment through a blob::BlobWriter. A segment is a blob:
//
//   <prefix><deployment>/<UTC start yyyymmddThhmmss.mmm>Z-<seq>.jsonl
//
// with one object per line: time (ms), deployment, request_id, model,
// version, shadow, latency_ms, inputs ({column: [values]}) and outputs (what
// the reply's "predictions" held). The start time is its first record's and
// `seq` (six digits) tells apart segments begun in the same millisecond, so
// listing a deployment's prefix gives its segments in time order.
//
// An object store cannot append, so a segment becomes visible only when it
// is published, whole: once it holds `segment_bytes`, once it is
// `flush_interval` old (so monitoring sees a record within seconds; a
// record more than that younger than its segment's start begins a new one,
// which bounds the time span of a segment), at Flush() and at destruction.
// A segment whose write fails is abandoned (nothing becomes visible): its
// records are lost, logged and counted (`slipway_serving_log_failed_total`).
//
// Retention: after each publication, the oldest published segments (by
// their start time, across deployments) are deleted while the log (published
// segments and those being written) is larger than `max_bytes`, or while the
// oldest one began more than `max_age` ago; and every minute (ages pass
// without traffic) once the log has published or StartRetention was called.
// A log that only opened the folder (a CLI command's App beside a running
// server, whose limits may differ) deletes nothing. The log knows its
// segments from one listing at construction and from what it publishes and
// deletes since: it must be the only writer under its prefix (one server per
// data folder). What a killed writer left (a temporary file, an unfinished
// upload) is swept at construction once older than any live writer's last
// write can be (kMaxFlushInterval and a minute), and every hour after.
//
// The log is for monitoring, not an acknowledged write: records still queued
// or in an unpublished segment when the process is killed are lost. Flush()
// and the destructor publish everything appended before them. Thread-safe;
// the store must outlive the log.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "blob/blob_store.h"
#include "core/executor.h"
#include "monitoring/metric_registry.h"
#include "serving/deployment.h"

namespace slipway::serving {

// The longest flush interval the log takes (a longer one is cut to this):
// readers rely on a segment's records starting at most this long after the
// segment does.
inline constexpr std::chrono::milliseconds kMaxFlushInterval{std::chrono::minutes(10)};

// One published segment of the log.
struct PredictionSegment {
  std::string key;         // in the log's store
  std::string deployment;  // the folder it is in
  int64_t start_ms = 0;    // its first record's time (milliseconds since the epoch)
  uint64_t size = 0;       // bytes
};

// Reads the prediction log back: what monitoring (drift, live accuracy)
// works from. Sees published segments only. Inputs and outputs come back as
// JSON tells their types: whole numbers as kLong, other numbers as kDouble,
// true/false as kBoolean, text as kString, anything else (an object) as
// kJson; null is a missing value; a list per row is a tensor column. Output
// columns of a list of values or of lists are unnamed; records keep their
// keys (in sorted order). Thread-safe (it keeps no state); the store must
// outlive it.
class PredictionLogReader {
 public:
  explicit PredictionLogReader(blob::BlobStore& store, std::string prefix = "");

  // The deployments that have published segments, sorted.
  std::vector<std::string> Deployments() const;

  // The published segments of `deployment` that may hold records timed in
  // [from, to), oldest first: those that began before `to` (and up to a
  // second after, since records of concurrent requests reach the log a
  // little out of order), from the last one that began before `from`. Lists by prefix from the
  // first key that can qualify, so a window costs about the segments in it.
  std::vector<PredictionSegment> Segments(const std::string& deployment,
                                          std::chrono::system_clock::time_point from,
                                          std::chrono::system_clock::time_point to) const;

  // Every record of one segment, in the order written. A line that does
  // not parse (a truncated file put there by hand) is skipped with a
  // warning. Nothing when the segment is gone (retention deleted it).
  std::vector<PredictionRecord> ReadSegment(const std::string& key) const;
  // Each non-empty line of one segment (without its newline), in the order
  // written, unparsed: for a reader of its own (the monitoring fold).
  // Nothing when the segment is gone.
  void ReadSegmentLines(const std::string& key,
                        const std::function<void(std::string_view)>& line) const;

  // The records of `deployment` timed in [from, to), in the order written.
  std::vector<PredictionRecord> Read(const std::string& deployment,
                                     std::chrono::system_clock::time_point from,
                                     std::chrono::system_clock::time_point to) const;

 private:
  blob::BlobStore& store_;
  const std::string prefix_;
};

// One record as the log writes it (a JSON object, no newline), and back.
// ParsePredictionLine throws on a line that is not such an object.
std::string FormatPredictionLine(const PredictionRecord& record);
PredictionRecord ParsePredictionLine(std::string_view line);

class PredictionLog {
 public:
  struct Options {
    // Where segments are published; required, and must outlive the log.
    blob::BlobStore* store = nullptr;
    // Keys begin with this: "" or a folder ending in '/'.
    std::string prefix = {};
    size_t max_queued = 65536;  // records waiting to be written; dropped beyond
    uint64_t segment_bytes = uint64_t{64} << 20;
    // A segment is published at most this long after its first record.
    std::chrono::milliseconds flush_interval{std::chrono::seconds(2)};
    uint64_t max_bytes = uint64_t{1} << 30;  // the whole log
    std::chrono::seconds max_age{7 * 24 * 3600};
    monitoring::MetricRegistry* metrics = nullptr;
  };

  // Lists the published segments and sweeps abandoned writes; throws
  // slipway::Error when the store cannot be listed.
  explicit PredictionLog(Options options);
  ~PredictionLog();
  PredictionLog(const PredictionLog&) = delete;
  PredictionLog& operator=(const PredictionLog&) = delete;

  // Queues `record`; never blocks.
  void Append(PredictionRecord record);
  // Returns once everything appended before the call is published (or
  // failed), and retention has run if it is started.
  void Flush();
  // Retention also without publications of this log's own (the server's
  // log, which must age out old segments while no prediction comes); runs
  // it at once, without waiting for it. The App calls it from Start().
  void StartRetention();

  // Records in published segments, records dropped by a full queue, and
  // records lost to a failed write.
  uint64_t written() const { return written_.load(); }
  uint64_t dropped() const { return dropped_.load(); }
  uint64_t failed() const { return failed_.load(); }

  // A sink for Deployment that appends here.
  PredictionSink Sink();

  // A reader of this log's segments.
  PredictionLogReader Reader() const { return PredictionLogReader(store_, options_.prefix); }

 private:
  // The segment a deployment's records go to; owned by the writer thread.
  struct OpenSegment {
    std::string key;
    int64_t start_ms = 0;
    std::chrono::steady_clock::time_point opened;
    std::unique_ptr<blob::BlobWriter> writer;
    std::string pending;  // formatted lines not yet handed to the writer
    uint64_t bytes = 0;   // appended and pending
    uint64_t records = 0;
  };
  // What a deployment's next key is numbered after.
  struct KeyState {
    std::string last_stamp;
    int seq = 0;
  };

  void Run();
  void WriteRecord(const PredictionRecord& record);
  OpenSegment& SegmentFor(const std::string& deployment, int64_t time_ms);
  // Hands the pending lines to the writer; false (segment abandoned) on failure.
  bool Drain(const std::string& deployment, OpenSegment& segment);
  void PublishSegment(const std::string& deployment);
  void PublishDue(std::chrono::steady_clock::time_point now, bool all);
  void EnforceRetention();
  void Lose(uint64_t records, const std::string& what, const std::exception& e);

  const Options options_;
  blob::BlobStore& store_;

  std::mutex mu_;  // guards queue_, flush_requested_, flush_done_, stopping_, finished_
  std::condition_variable wake_;     // the writer: records, a flush or the stop
  std::condition_variable flushed_;  // Flush() callers
  std::deque<PredictionRecord> queue_;
  uint64_t flush_requested_ = 0;
  uint64_t flush_done_ = 0;
  bool stopping_ = false;
  bool finished_ = false;

  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> failed_{0};
  monitoring::Counter* dropped_total_ = nullptr;
  monitoring::Counter* written_total_ = nullptr;
  monitoring::Counter* failed_total_ = nullptr;

  // Owned by the writer thread (and the constructor, before it starts).
  std::map<std::string, OpenSegment> open_;  // by deployment
  std::map<std::string, KeyState> key_state_;
  // Published segments by (start time, key): the oldest first.
  std::map<std::pair<int64_t, std::string>, uint64_t> published_;
  uint64_t published_bytes_ = 0;
  bool retention_due_ = false;  // a segment was published since retention last ran
  std::atomic<bool> retention_started_{false};
  std::chrono::steady_clock::time_point next_retention_{};
  std::chrono::steady_clock::time_point next_sweep_{};

  std::unique_ptr<core::Executor> writer_;  // last: stopped first
};

}  // namespace slipway::serving
