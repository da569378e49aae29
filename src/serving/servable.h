// A model version loaded and ready to answer, and how traffic is split
// between the versions of one deployment.
//
// A Servable is immutable: the model, where it came from, and the metric
// handles of its work, resolved once when it is loaded so the request path
// never renders a label. Deployments hold them as shared_ptr<const ...>
// inside a Routing, itself immutable and swapped as a whole (see
// Deployment), so a request keeps the versions it started with alive until
// it finishes, whatever swaps happen meanwhile.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "ml/model.h"
#include "monitoring/metric_registry.h"
#include "serving/batcher.h"

namespace slipway::serving {

// The counters of one version of one deployment (labels deployment, version).
struct ServableMetrics {
  monitoring::Counter* ok = nullptr;
  monitoring::Counter* client_errors = nullptr;  // input the model refused (4xx)
  monitoring::Counter* server_errors = nullptr;  // the model failed (5xx)
  monitoring::Counter* rows = nullptr;
  monitoring::Histogram* latency = nullptr;     // seconds, per request
  monitoring::Histogram* batch_rows = nullptr;  // rows per model call

  // Resolves every handle in `registry`; all stay null without one.
  static ServableMetrics For(monitoring::MetricRegistry* registry, const std::string& deployment,
                             const std::string& version);
};

struct Servable {
  std::string model_name;  // the registered model, or the folder's name when served from disk
  std::string version;     // the model version ("3"), or "1" for a folder
  std::string uri;         // what was asked for: "models:/churn@production", a folder
  std::shared_ptr<const ml::Model> model;
  std::chrono::system_clock::time_point loaded_at;
  ServableMetrics metrics;
  // Joins concurrent requests into model calls (mutable state of its own).
  std::shared_ptr<Batcher> batcher;

  // Conforms `input` to the model's signature: INVALID_PARAMETER_VALUE
  // naming the column when it does not fit. Thread-safe.
  ml::Frame Conform(ml::Frame input) const;
  // Predicts a conformed batch. Thread-safe.
  ml::Predictions Predict(const ml::Frame& conformed, std::string_view params_json) const;
};

// Which versions answer a deployment's requests. Immutable.
struct Routing {
  std::shared_ptr<const Servable> primary;
  // Takes `canary_weight` percent of the requests (0..100) when set.
  std::shared_ptr<const Servable> canary;
  int canary_weight = 0;
  // Sees a copy of every request; its answers are logged, never returned.
  std::shared_ptr<const Servable> shadow;
};

}  // namespace slipway::serving
