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
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ml/model.h"
#include "monitoring/metric_registry.h"
#include "serving/batcher.h"

namespace slipway::serving {

// The counters of one servable: one role ("primary", "canary", "shadow") of
// one deployment, serving one version of one model (labels deployment,
// model, version, role). A canary and a shadow of the same version, or two
// models with the same version number, count apart; a shadow's copies are
// counted under role "shadow" only, never as the primary's answers.
struct ServableMetrics {
  monitoring::Counter* ok = nullptr;
  monitoring::Counter* client_errors = nullptr;  // input the model refused (4xx)
  monitoring::Counter* server_errors = nullptr;  // the model failed (5xx)
  monitoring::Counter* rows = nullptr;
  monitoring::Histogram* latency = nullptr;     // seconds, per request
  monitoring::Histogram* batch_rows = nullptr;  // rows per model call

  // Resolves every handle in `registry`; all stay null without one.
  static ServableMetrics For(monitoring::MetricRegistry* registry, const std::string& deployment,
                             const std::string& role, const std::string& model_name,
                             const std::string& version);
};

// The recent rates of one servable: its cumulative counters as they were at
// a few moments of the last `window`, taken by ServingService::SampleRates
// (every few seconds, on the background executor), so the request path does
// nothing for them. Thread-safe.
class RateWindow {
 public:
  using Clock = std::chrono::steady_clock;
  struct Recent {
    double seconds = 0;  // how far back the figures reach
    double requests_per_s = 0;
    double errors_per_s = 0;
    double rows_per_s = 0;
    uint64_t requests = 0;  // in those seconds
    // Upper bounds of the latency buckets holding p50 and p99 of those
    // requests (0 when there were none).
    double latency_p50_ms = 0;
    double latency_p99_ms = 0;
  };

  explicit RateWindow(std::chrono::seconds window = std::chrono::seconds(60)) : window_(window) {}

  // Records the counters of `metrics` as they are at `now`, and returns
  // the figures of the interval since the previous sample (nothing for the
  // first, or without metrics): one point of a deployment's RateHistory.
  // A sample stamped no later than the newest one is not taken (nothing).
  std::optional<Recent> Sample(const ServableMetrics& metrics, Clock::time_point now);
  // From the oldest sample still in the window to the counters at `now`;
  // nothing before the first sample or without metrics.
  std::optional<Recent> Read(const ServableMetrics& metrics, Clock::time_point now) const;

  // What the counters counted since the first sample (taken when the
  // servable was loaded): this servable's own totals. Its series on
  // /metrics are cumulative per deployment, model, version and role, so a
  // version loaded again in the same role (a rollback) continues its old
  // counts there. Nothing before the first sample or without metrics.
  struct Totals {
    uint64_t requests = 0;  // answered, errors included
    uint64_t errors = 0;
    uint64_t rows = 0;
    double latency_p50_ms = 0;  // bucket upper bounds, as in Recent
    double latency_p99_ms = 0;
  };
  std::optional<Totals> SinceFirst(const ServableMetrics& metrics) const;

 private:
  struct Snapshot {
    Clock::time_point at;
    double ok = 0, errors = 0, rows = 0;
    std::vector<uint64_t> latency;  // cumulative bucket counts
  };
  static Snapshot Take(const ServableMetrics& metrics, Clock::time_point at);
  // What happened between two snapshots; nothing when `to` is not later.
  static std::optional<Recent> Between(const Snapshot& from, const Snapshot& to);

  const std::chrono::seconds window_;
  mutable std::mutex mu_;
  std::deque<Snapshot> samples_;   // guarded by mu_; oldest first
  std::optional<Snapshot> first_;  // guarded by mu_; the first sample ever taken
};

// The upper bound (seconds) of the latency bucket holding quantile `q` of
// cumulative bucket counts `counts` (MetricRegistry::LatencyBuckets, then
// +Inf); 0 when they count nothing.
double LatencyQuantile(const std::vector<uint64_t>& counts, double q);

struct Servable {
  std::string model_name;  // the registered model, or the folder's name when served from disk
  std::string version;     // the model version ("3"), or "1" for a folder
  std::string uri;         // what was asked for: "models:/churn@production", a folder
  std::shared_ptr<const ml::Model> model;
  std::chrono::system_clock::time_point loaded_at;
  ServableMetrics metrics;
  // Joins concurrent requests into model calls (mutable state of its own).
  std::shared_ptr<Batcher> batcher;
  // Recent rates for `deploy show` and the history (mutable state of its own).
  std::shared_ptr<RateWindow> rates = std::make_shared<RateWindow>();

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

  // The servable a request for `version` goes to (OIP's /versions/{v}), or
  // null when none is served under it: a version number, the primary's
  // first when primary and canary are two models with the same number, or
  // a role, "primary" or "canary".
  std::shared_ptr<const Servable> Version(const std::string& version) const;
  // The versions served, as Version() takes them: the primary's number, and
  // the canary's, or "canary" where its number is the primary's.
  std::vector<std::string> VersionLabels() const;
};

}  // namespace slipway::serving
