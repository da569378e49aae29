#include "serving/deployment.h"

#include <spdlog/spdlog.h>

#include <functional>
#include <random>

#include "core/error.h"

namespace slipway::serving {
namespace {

// A cheap per-thread generator for traffic splits and log sampling.
uint32_t RandomPercentile() {
  thread_local std::minstd_rand generator(std::random_device{}());
  return generator() % 100;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Decrements the in-flight count when a request leaves, however it leaves.
class InFlight {
 public:
  InFlight(std::atomic<size_t>& count, monitoring::Gauge* gauge) : count_(count), gauge_(gauge) {}
  ~InFlight() {
    count_.fetch_sub(1, std::memory_order_relaxed);
    if (gauge_) gauge_->Add(-1);
  }

 private:
  std::atomic<size_t>& count_;
  monitoring::Gauge* gauge_;
};

// Hands one prediction to the log. A free function: shadow work queued on
// another thread must not reach back into a Deployment that may be gone.
void Record(const PredictionSink& sink, const std::string& deployment, const Servable& servable,
            const std::string& request_id, bool shadow, std::chrono::steady_clock::time_point start,
            std::shared_ptr<const ml::Frame> inputs,
            std::shared_ptr<const ml::Predictions> outputs) {
  PredictionRecord record;
  record.deployment = deployment;
  record.request_id = request_id;
  record.model_name = servable.model_name;
  record.version = servable.version;
  record.shadow = shadow;
  record.time = std::chrono::system_clock::now();
  record.latency_seconds = SecondsSince(start);
  record.inputs = std::move(inputs);
  record.outputs = std::move(outputs);
  sink(std::move(record));
}

}  // namespace

Deployment::Deployment(std::string name, Options options, core::Executor* shadow_executor,
                       monitoring::MetricRegistry* metrics, PredictionSink sink)
    : name_(std::move(name)),
      max_queued_(options.max_queued),
      log_sample_rate_(options.log_sample_rate),
      shadow_executor_(shadow_executor),
      sink_(std::move(sink)) {
  if (metrics != nullptr) {
    const monitoring::Labels labels = {{"deployment", name_}};
    queue_depth_ =
        &metrics->GetGauge("slipway_serving_queue_depth",
                           "Prediction requests waiting or running, by deployment.", labels);
    refused_ = &metrics->GetCounter("slipway_serving_refused_total",
                                    "Prediction requests refused because the queue was full "
                                    "or no version was loaded, by deployment.",
                                    labels);
    shadow_dropped_total_ = &metrics->GetCounter(
        "slipway_serving_shadow_dropped_total",
        "Shadow predictions skipped because the background executor was busy.", labels);
  }
}

void Deployment::SetLimits(size_t max_queued, double log_sample_rate) {
  max_queued_.store(max_queued, std::memory_order_relaxed);
  log_sample_rate_.store(log_sample_rate, std::memory_order_relaxed);
}

bool Deployment::Sampled() const {
  const double rate = log_sample_rate_.load(std::memory_order_relaxed);
  if (!sink_ || rate <= 0) return false;
  if (rate >= 1) return true;
  thread_local std::minstd_rand generator(std::random_device{}());
  return static_cast<double>(generator() % 1000000) < rate * 1000000;
}

Deployment::Answer Deployment::Predict(ml::Frame input, const std::string& params_json,
                                       std::string_view sticky_key, const std::string& request_id,
                                       const std::string& version) {
  const auto start = std::chrono::steady_clock::now();
  const size_t limit = max_queued_.load(std::memory_order_relaxed);
  if (in_flight_.fetch_add(1, std::memory_order_relaxed) >= limit) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    if (refused_) refused_->Increment();
    throw Error(ErrorCode::kTemporarilyUnavailable,
                "Deployment '" + name_ + "' has " + std::to_string(limit) +
                    " requests waiting or running, its limit; retry later.");
  }
  if (queue_depth_) queue_depth_->Add(1);
  InFlight leave(in_flight_, queue_depth_);

  std::shared_ptr<const Routing> routing = routing_.load();
  if (!routing || !routing->primary) {
    if (refused_) refused_->Increment();
    throw Error(ErrorCode::kTemporarilyUnavailable,
                "Deployment '" + name_ + "' has no model version loaded yet; retry later.");
  }
  std::shared_ptr<const Servable> chosen = routing->primary;
  if (!version.empty()) {
    chosen = routing->Version(version);
    if (!chosen)
      ThrowNotFound("Deployment '" + name_ + "' does not serve version " + version + ".");
  } else if (routing->canary && routing->canary_weight > 0) {
    uint32_t point = sticky_key.empty()
                         ? RandomPercentile()
                         : static_cast<uint32_t>(std::hash<std::string_view>{}(sticky_key) % 100);
    if (point < static_cast<uint32_t>(routing->canary_weight)) chosen = routing->canary;
  }
  const Servable& servable = *chosen;
  try {
    ml::Frame conformed = servable.Conform(std::move(input));
    const bool record = Sampled();
    const bool mirror = routing->shadow && shadow_executor_ != nullptr;
    std::shared_ptr<const ml::Frame> kept;
    if (record || mirror) kept = std::make_shared<const ml::Frame>(conformed);
    ml::Predictions predictions =
        servable.batcher ? servable.batcher->Predict(servable, std::move(conformed), params_json)
                         : servable.Predict(conformed, params_json);
    if (servable.metrics.ok) {
      servable.metrics.ok->Increment();
      servable.metrics.rows->Increment(static_cast<double>(predictions.frame.rows));
      servable.metrics.latency->Observe(SecondsSince(start));
    }
    if (record) {
      Record(sink_, name_, servable, request_id, false, start, kept,
             std::make_shared<const ml::Predictions>(predictions));
    }
    if (mirror) Mirror(routing->shadow, std::move(kept), request_id);
    return {std::move(predictions), std::move(chosen)};
  } catch (const Error& e) {
    ServableMetrics metrics = servable.metrics;
    bool client =
        e.code() == ErrorCode::kInvalidParameterValue || e.code() == ErrorCode::kBadRequest;
    monitoring::Counter* counter = client ? metrics.client_errors : metrics.server_errors;
    if (counter) counter->Increment();
    throw;
  } catch (...) {
    if (servable.metrics.server_errors) servable.metrics.server_errors->Increment();
    throw;
  }
}

void Deployment::Mirror(std::shared_ptr<const Servable> shadow,
                        std::shared_ptr<const ml::Frame> input, const std::string& request_id) {
  // Copies, not `this`: the deployment may be deleted before the work runs.
  auto work = [sink = sink_, name = name_, shadow, input, request_id] {
    const auto start = std::chrono::steady_clock::now();
    try {
      ml::Frame conformed = shadow->Conform(*input);
      auto predictions = std::make_shared<const ml::Predictions>(shadow->Predict(conformed, ""));
      if (shadow->metrics.ok) {
        shadow->metrics.ok->Increment();
        shadow->metrics.latency->Observe(SecondsSince(start));
      }
      if (sink) Record(sink, name, *shadow, request_id, true, start, input, std::move(predictions));
    } catch (const std::exception& e) {
      if (shadow->metrics.server_errors) shadow->metrics.server_errors->Increment();
      spdlog::debug("shadow {} of deployment {} failed on {}: {}", shadow->version, name,
                    request_id, e.what());
    }
  };
  if (!shadow_executor_->TrySubmit(std::move(work))) {
    shadow_dropped_.fetch_add(1, std::memory_order_relaxed);
    if (shadow_dropped_total_) shadow_dropped_total_->Increment();
  }
}

bool Deployment::AnswersQuickly() const {
  std::shared_ptr<const Routing> routing = routing_.load();
  if (!routing || !routing->primary) return false;
  auto quick = [](const std::shared_ptr<const Servable>& s) {
    return !s || (s->model->native() && (!s->batcher || s->batcher->options().max_rows == 0));
  };
  return quick(routing->primary) && quick(routing->canary);
}

}  // namespace slipway::serving
