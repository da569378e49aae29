#include "serving/servable.h"

namespace slipway::serving {

ServableMetrics ServableMetrics::For(monitoring::MetricRegistry* registry,
                                     const std::string& deployment, const std::string& version) {
  ServableMetrics metrics;
  if (registry == nullptr) return metrics;
  const std::string requests = "slipway_serving_requests_total";
  const std::string requests_help =
      "Prediction requests, by deployment, model version and outcome.";
  auto labels = [&](const char* status) {
    return monitoring::Labels{{"deployment", deployment}, {"version", version}, {"status", status}};
  };
  metrics.ok = &registry->GetCounter(requests, requests_help, labels("ok"));
  metrics.client_errors = &registry->GetCounter(requests, requests_help, labels("client_error"));
  metrics.server_errors = &registry->GetCounter(requests, requests_help, labels("server_error"));
  const monitoring::Labels series = {{"deployment", deployment}, {"version", version}};
  metrics.rows = &registry->GetCounter("slipway_serving_rows_total",
                                       "Rows predicted, by deployment and model version.", series);
  metrics.latency = &registry->GetHistogram(
      "slipway_serving_request_duration_seconds",
      "Time to answer a prediction request (parse to reply), by deployment and model version.",
      monitoring::MetricRegistry::LatencyBuckets(), series);
  static const std::vector<double> kBatchBounds = {1,  2,   4,   8,   16,   32,
                                                   64, 128, 256, 512, 1024, 4096};
  metrics.batch_rows = &registry->GetHistogram("slipway_serving_batch_rows",
                                               "Rows per model call (after dynamic batching).",
                                               kBatchBounds, series);
  return metrics;
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

}  // namespace slipway::serving
