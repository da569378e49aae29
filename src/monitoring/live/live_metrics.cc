#include "monitoring/live/live_metrics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "training/metrics.h"

namespace slipway::monitoring::live {
namespace {

using nlohmann::json;

bool IsWhole(double v) { return std::isfinite(v) && v == std::floor(v) && std::abs(v) < 1e15; }

// A label's text as a class: numbers by value ("1" for 1 and 1.0).
std::string ClassText(const json& value) {
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number()) {
    double v = value.get<double>();
    if (IsWhole(v)) return std::to_string(static_cast<int64_t>(v));
    return json(v).dump();
  }
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

// A prediction in a record (a table's output): its "prediction" column,
// else its first value.
json Unwrap(const json& prediction) {
  if (!prediction.is_object() || prediction.empty()) return prediction;
  if (prediction.contains("prediction")) return prediction.at("prediction");
  return prediction.begin().value();
}

struct Row {
  json prediction;
  json label;
};

std::optional<double> Quantile(std::vector<double> values, double q) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

std::string DecideTask(const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    if (row.prediction.is_array() || row.prediction.is_string() || row.prediction.is_boolean() ||
        row.label.is_string() || row.label.is_boolean()) {
      return "classification";
    }
  }
  for (const Row& row : rows) {
    if (!row.prediction.is_number() || !row.label.is_number()) continue;
    if (!IsWhole(row.prediction.get<double>()) || !IsWhole(row.label.get<double>())) {
      return "regression";
    }
  }
  return "classification";
}

void Classification(const std::vector<Row>& rows, LiveAccuracy& out) {
  std::vector<std::string> labels, predicted;
  std::vector<double> scores;
  bool two_class_probabilities = true;
  for (const Row& row : rows) {
    labels.push_back(ClassText(row.label));
    if (row.prediction.is_array()) {
      const json& p = row.prediction;
      size_t best = 0;
      for (size_t k = 1; k < p.size(); ++k) {
        if (p[k].is_number() && p[k].get<double>() > p[best].get<double>()) best = k;
      }
      predicted.push_back(std::to_string(best));
      if (p.size() == 2 && p[1].is_number()) {
        scores.push_back(p[1].get<double>());
      } else {
        two_class_probabilities = false;
      }
    } else {
      predicted.push_back(ClassText(row.prediction));
      two_class_probabilities = false;
    }
  }
  // Classes in sorted order: numerically when every one is a number.
  std::set<std::string> names(labels.begin(), labels.end());
  names.insert(predicted.begin(), predicted.end());
  std::vector<std::string> classes(names.begin(), names.end());
  bool numeric = std::all_of(classes.begin(), classes.end(), [](const std::string& c) {
    char* end = nullptr;
    std::strtod(c.c_str(), &end);
    return !c.empty() && end && *end == '\0';
  });
  if (numeric) {
    std::sort(classes.begin(), classes.end(), [](const std::string& a, const std::string& b) {
      return std::strtod(a.c_str(), nullptr) < std::strtod(b.c_str(), nullptr);
    });
  }
  std::map<std::string, double> index;
  for (size_t i = 0; i < classes.size(); ++i) index[classes[i]] = static_cast<double>(i);
  std::vector<double> y, y_hat;
  for (size_t i = 0; i < labels.size(); ++i) {
    y.push_back(index[labels[i]]);
    y_hat.push_back(index[predicted[i]]);
  }
  out.accuracy = training::Accuracy(y, y_hat);
  if (classes.size() <= 2) {
    out.f1 = training::F1(y, y_hat, static_cast<double>(classes.size()) - 1);
  } else {
    out.f1 = training::F1Macro(y, y_hat, static_cast<int64_t>(classes.size()));
  }
  if (two_class_probabilities && scores.size() == rows.size()) {
    std::vector<double> binary;
    bool zero_one = true;
    for (const std::string& label : labels) {
      if (label != "0" && label != "1") zero_one = false;
      binary.push_back(label == "1" ? 1 : 0);
    }
    bool both = std::count(binary.begin(), binary.end(), 1.0) > 0 &&
                std::count(binary.begin(), binary.end(), 0.0) > 0;
    if (zero_one && both) out.roc_auc = training::RocAuc(binary, scores);
  }
}

void Regression(const std::vector<Row>& rows, LiveAccuracy& out) {
  std::vector<double> y, y_hat;
  for (const Row& row : rows) {
    if (!row.prediction.is_number() || !row.label.is_number()) continue;
    y.push_back(row.label.get<double>());
    y_hat.push_back(row.prediction.get<double>());
  }
  out.rows = static_cast<int64_t>(y.size());
  if (y.empty()) return;
  out.rmse = training::Rmse(y, y_hat);
  out.mae = training::Mae(y, y_hat);
}

json Optional(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }

}  // namespace

json LiveAccuracy::ToJson() const {
  return {{"task", task},
          {"requests", requests},
          {"rows", rows},
          {"accuracy", Optional(accuracy)},
          {"f1", Optional(f1)},
          {"roc_auc", Optional(roc_auc)},
          {"rmse", Optional(rmse)},
          {"mae", Optional(mae)},
          {"label_delay_p50_seconds", Optional(label_delay_p50_seconds)},
          {"label_delay_p90_seconds", Optional(label_delay_p90_seconds)}};
}

LiveAccuracy ComputeAccuracy(const std::vector<JoinedRecord>& records, const std::string& task) {
  LiveAccuracy out;
  std::vector<Row> rows;
  std::vector<double> delays;
  for (const JoinedRecord& record : records) {
    json predictions = json::parse(record.prediction.predictions, nullptr, false);
    json labels = json::parse(record.feedback.labels, nullptr, false);
    if (!predictions.is_array() || !labels.is_array()) continue;
    ++out.requests;
    delays.push_back(static_cast<double>(record.feedback.time_ms - record.prediction.time_ms) /
                     1000.0);
    for (size_t i = 0; i < std::min(predictions.size(), labels.size()); ++i) {
      if (labels[i].is_null() || predictions[i].is_null()) continue;
      rows.push_back({Unwrap(predictions[i]), labels[i]});
    }
  }
  out.label_delay_p50_seconds = Quantile(delays, 0.5);
  out.label_delay_p90_seconds = Quantile(delays, 0.9);
  if (rows.empty()) return out;
  out.task = task.empty() ? DecideTask(rows) : task;
  out.rows = static_cast<int64_t>(rows.size());
  if (out.task == "regression") {
    Regression(rows, out);
  } else {
    Classification(rows, out);
  }
  return out;
}

}  // namespace slipway::monitoring::live
