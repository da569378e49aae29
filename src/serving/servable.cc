#include "serving/servable.h"

#include <algorithm>

namespace slipway::serving {

ServableMetrics ServableMetrics::For(monitoring::MetricRegistry* registry,
                                     const std::string& deployment, const std::string& role,
                                     const std::string& model_name, const std::string& version) {
  ServableMetrics metrics;
  if (registry == nullptr) return metrics;
  const std::string requests = "slipway_serving_requests_total";
  const std::string requests_help =
      "Prediction requests, by deployment, model, version, role and outcome.";
  auto labels = [&](const char* status) {
    return monitoring::Labels{{"deployment", deployment},
                              {"model", model_name},
                              {"version", version},
                              {"role", role},
                              {"status", status}};
  };
  metrics.ok = &registry->GetCounter(requests, requests_help, labels("ok"));
  metrics.client_errors = &registry->GetCounter(requests, requests_help, labels("client_error"));
  metrics.server_errors = &registry->GetCounter(requests, requests_help, labels("server_error"));
  const monitoring::Labels series = {
      {"deployment", deployment}, {"model", model_name}, {"version", version}, {"role", role}};
  metrics.rows =
      &registry->GetCounter("slipway_serving_rows_total",
                            "Rows predicted, by deployment, model, version and role.", series);
  metrics.latency = &registry->GetHistogram(
      "slipway_serving_request_duration_seconds",
      "Time to answer a prediction request (parse to reply), by deployment, model, version and "
      "role.",
      monitoring::MetricRegistry::LatencyBuckets(), series);
  static const std::vector<double> kBatchBounds = {1,  2,   4,   8,   16,   32,
                                                   64, 128, 256, 512, 1024, 4096};
  metrics.batch_rows = &registry->GetHistogram("slipway_serving_batch_rows",
                                               "Rows per model call (after dynamic batching).",
                                               kBatchBounds, series);
  return metrics;
}

double LatencyQuantile(const std::vector<uint64_t>& counts, double q) {
  const std::vector<double>& bounds = monitoring::MetricRegistry::LatencyBuckets();
  if (counts.empty() || counts.back() == 0) return 0;
  const double wanted = q * static_cast<double>(counts.back());
  for (size_t i = 0; i < bounds.size() && i < counts.size(); ++i) {
    if (static_cast<double>(counts[i]) >= wanted) return bounds[i];
  }
  return bounds.back();
}

RateWindow::Snapshot RateWindow::Take(const ServableMetrics& m, Clock::time_point at) {
  Snapshot s;
  s.at = at;
  s.ok = m.ok->Value();
  s.errors = m.client_errors->Value() + m.server_errors->Value();
  s.rows = m.rows->Value();
  s.latency = m.latency->CumulativeCounts();
  return s;
}

std::optional<RateWindow::Recent> RateWindow::Between(const Snapshot& from, const Snapshot& to) {
  Recent recent;
  recent.seconds = std::chrono::duration<double>(to.at - from.at).count();
  if (recent.seconds <= 0) return std::nullopt;
  const double requests = (to.ok - from.ok) + (to.errors - from.errors);
  recent.requests = static_cast<uint64_t>(requests);
  recent.requests_per_s = requests / recent.seconds;
  recent.errors_per_s = (to.errors - from.errors) / recent.seconds;
  recent.rows_per_s = (to.rows - from.rows) / recent.seconds;
  std::vector<uint64_t> counts = to.latency;
  for (size_t i = 0; i < counts.size() && i < from.latency.size(); ++i)
    counts[i] -= from.latency[i];
  recent.latency_p50_ms = LatencyQuantile(counts, 0.5) * 1000;
  recent.latency_p99_ms = LatencyQuantile(counts, 0.99) * 1000;
  return recent;
}

std::optional<RateWindow::Recent> RateWindow::Sample(const ServableMetrics& metrics,
                                                     Clock::time_point now) {
  if (metrics.ok == nullptr) return std::nullopt;
  // Under the lock, so that samples taken at once by two threads (the
  // periodic one, a swap's) read the counters in the order they are kept;
  // one stamped no later than the newest is dropped: the next interval
  // covers what it saw, so nothing is counted twice or lost.
  std::lock_guard lock(mu_);
  if (!samples_.empty() && now <= samples_.back().at) return std::nullopt;
  Snapshot snapshot = Take(metrics, now);
  std::optional<Recent> interval;
  if (!first_) first_ = snapshot;
  if (!samples_.empty()) interval = Between(samples_.back(), snapshot);
  samples_.push_back(std::move(snapshot));
  while (samples_.size() > 1 && now - samples_.front().at > window_) samples_.pop_front();
  return interval;
}

std::optional<RateWindow::Recent> RateWindow::Read(const ServableMetrics& metrics,
                                                   Clock::time_point now) const {
  if (metrics.ok == nullptr) return std::nullopt;
  Snapshot from;
  {
    std::lock_guard lock(mu_);
    auto oldest = std::find_if(samples_.begin(), samples_.end(),
                               [&](const Snapshot& s) { return now - s.at <= window_; });
    if (oldest == samples_.end()) return std::nullopt;
    from = *oldest;
  }
  return Between(from, Take(metrics, now));
}

std::optional<RateWindow::Totals> RateWindow::SinceFirst(const ServableMetrics& metrics) const {
  if (metrics.ok == nullptr) return std::nullopt;
  std::lock_guard lock(mu_);
  if (!first_) return std::nullopt;
  const Snapshot now = Take(metrics, Clock::now());
  Totals totals;
  totals.errors = static_cast<uint64_t>(now.errors - first_->errors);
  totals.requests = static_cast<uint64_t>(now.ok - first_->ok) + totals.errors;
  totals.rows = static_cast<uint64_t>(now.rows - first_->rows);
  std::vector<uint64_t> counts = now.latency;
  for (size_t i = 0; i < counts.size() && i < first_->latency.size(); ++i)
    counts[i] -= first_->latency[i];
  totals.latency_p50_ms = LatencyQuantile(counts, 0.5) * 1000;
  totals.latency_p99_ms = LatencyQuantile(counts, 0.99) * 1000;
  return totals;
}

ml::Frame Servable::Conform(ml::Frame input) const {
  const ml::MlModel& mlmodel = model->mlmodel();
  if (!mlmodel.signature) return input;
  return ml::ConformToSchema(mlmodel.signature->inputs, std::move(input));
}

ml::Predictions Servable::Predict(const ml::Frame& conformed, std::string_view params_json) const {
  if (metrics.batch_rows) metrics.batch_rows->Observe(static_cast<double>(conformed.rows));
  return model->Predict(conformed, params_json);
}

std::shared_ptr<const Servable> Routing::Version(const std::string& version) const {
  if (!primary) return nullptr;
  if (version == primary->version || version == "primary") return primary;
  if (canary && (version == canary->version || version == "canary")) return canary;
  return nullptr;
}

std::vector<std::string> Routing::VersionLabels() const {
  std::vector<std::string> labels;
  if (!primary) return labels;
  labels.push_back(primary->version);
  if (canary) labels.push_back(canary->version == primary->version ? "canary" : canary->version);
  return labels;
}

}  // namespace slipway::serving
