// A deployment at run time: the versions that answer its requests, the
// traffic split between them, and the limits that keep it responsive.
//
// The Routing (primary, canary by weight, shadow) is one immutable object
// behind an atomic shared_ptr: Swap() replaces it whole, a request reads it
// once and keeps what it read alive to its end, so a hot swap never stalls
// or fails a request in flight, and the old versions are freed when their
// last request finishes. No lock is shared by all requests: the request
// path takes an atomic load, an atomic counter for the queue bound and the
// batcher's lock of the version it lands on.
//
// Limits: at most `max_queued` requests are waiting or running at once;
// beyond that Predict refuses with TEMPORARILY_UNAVAILABLE (503, retry
// later) instead of queueing without bound. Shadow predictions run on a
// background executor and are dropped (and counted) when it is busy: a slow
// shadow never slows the primary.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/executor.h"
#include "ml/frame.h"
#include "monitoring/metric_registry.h"
#include "serving/servable.h"

namespace slipway::serving {

// One prediction as the log records it: what came in, what went out, which
// version answered.
struct PredictionRecord {
  std::string deployment;
  std::string request_id;
  std::string model_name;
  std::string version;
  bool shadow = false;
  std::chrono::system_clock::time_point time;
  double latency_seconds = 0;
  std::shared_ptr<const ml::Frame> inputs;
  std::shared_ptr<const ml::Predictions> outputs;
};

// Receives prediction records (the prediction log); must not block.
using PredictionSink = std::function<void(PredictionRecord)>;

class Deployment {
 public:
  struct Options {
    size_t max_queued = 256;  // requests waiting or running; 503 beyond
    Batcher::Options batching;
    double log_sample_rate = 1.0;  // share of predictions handed to the sink
  };

  // `shadow_executor` runs shadow predictions (null: shadows are skipped);
  // `metrics` receives the deployment's gauges (may be null); `sink` the
  // prediction records (may be empty).
  Deployment(std::string name, Options options, core::Executor* shadow_executor,
             monitoring::MetricRegistry* metrics, PredictionSink sink);

  const std::string& name() const { return name_; }
  // Changes the queue bound and the log sampling rate (batching belongs to
  // each Servable). Thread-safe.
  void SetLimits(size_t max_queued, double log_sample_rate);

  // The versions answering now (null before the first version is loaded).
  std::shared_ptr<const Routing> routing() const { return routing_.load(); }
  // Replaces the routing atomically; requests in flight finish on the old.
  void Swap(std::shared_ptr<const Routing> routing) { routing_.store(std::move(routing)); }

  struct Answer {
    ml::Predictions predictions;
    std::shared_ptr<const Servable> servable;  // the version that answered
  };

  // Predicts `input` on the version the routing picks: the canary for
  // `canary_weight` percent of requests (by a hash of `sticky_key` when it is
  // not empty, so one key always lands on the same side), else the primary;
  // mirrors it to the shadow. Throws TEMPORARILY_UNAVAILABLE when nothing is
  // loaded yet or the queue is full, INVALID_PARAMETER_VALUE for input the
  // model refuses, and what the model throws. A non-empty `version` asks for
  // that version (the primary's or the canary's) instead of the split:
  // RESOURCE_DOES_NOT_EXIST when neither serves it.
  Answer Predict(ml::Frame input, const std::string& params_json, std::string_view sticky_key,
                 const std::string& request_id, const std::string& version = "");

  // Whether a prediction now would be quick and never wait: every version
  // that may answer (primary, canary) runs natively and batches nothing.
  // The HTTP layer serves such requests on its I/O threads.
  bool AnswersQuickly() const;

  size_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  uint64_t shadow_dropped() const { return shadow_dropped_.load(std::memory_order_relaxed); }

 private:
  void Mirror(std::shared_ptr<const Servable> shadow, std::shared_ptr<const ml::Frame> input,
              const std::string& request_id);
  bool Sampled() const;

  const std::string name_;
  std::atomic<size_t> max_queued_;
  std::atomic<double> log_sample_rate_;
  core::Executor* shadow_executor_;
  PredictionSink sink_;
  std::atomic<std::shared_ptr<const Routing>> routing_;
  std::atomic<size_t> in_flight_{0};
  std::atomic<uint64_t> shadow_dropped_{0};
  monitoring::Gauge* queue_depth_ = nullptr;
  monitoring::Counter* refused_ = nullptr;
  monitoring::Counter* shadow_dropped_total_ = nullptr;
};

}  // namespace slipway::serving
