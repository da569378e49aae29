// What a deployment's monitor watches: the reference its live traffic is
// compared with, the windows the prediction log is folded into, the
// features, and the drift thresholds.
//
// A MonitorConfig is a plain value, kept by a MonitorStore (one per
// deployment) and set through MonitorService::Set, which resolves and
// checks it. Parsing helpers throw slipway::Error INVALID_PARAMETER_VALUE
// naming the field.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::monitoring::live {

// Tumbling windows by time ("5m": [k*5m, (k+1)*5m) in UTC) or by row
// count ("1000rows": every 1000 logged rows, in log order).
struct WindowSpec {
  enum class Kind { kTime, kRows };
  Kind kind = Kind::kTime;
  int64_t millis = 5 * 60 * 1000;  // kTime: the window's length
  int64_t rows = 0;                // kRows: rows per window

  // "30s", "5m", "1h", "1d" (whole units, 1 second to 31 days), or a row
  // count "N" / "Nrows" (1 to 100,000,000). INVALID_PARAMETER_VALUE naming
  // the field "window" otherwise.
  static WindowSpec Parse(std::string_view text);
  // As Parse takes it: "5m", "1000rows".
  std::string ToString() const;
};

// How long a monitor keeps its windows and the predictions kept for
// feedback (with their feedback). Pruned once older than `max_age_ms`
// (windows by their end, predictions by their time), and beyond the
// newest `max_windows` windows and `max_predictions` predictions. 0 for
// max_age_ms: the server's default (the prediction log's maximum age,
// --prediction-log-max-age-hours, 7 days unless set); 0 for a count: no
// limit by count.
struct Retention {
  // A week of the default 5-minute windows.
  static constexpr int64_t kDefaultMaxWindows = 2016;
  int64_t max_age_ms = 0;
  int64_t max_windows = kDefaultMaxWindows;
  int64_t max_predictions = 0;

  // "90m", "12h", "30d" (whole units, 1 minute to 3650 days):
  // INVALID_PARAMETER_VALUE naming the field `retention` otherwise.
  static int64_t ParseAge(std::string_view text);
  // As ParseAge takes it; "" for 0.
  static std::string AgeToString(int64_t ms);
};

// The PSI above which a feature counts as drifted, unless the config names
// one for it. 0.2 is the customary "significant shift" of PSI.
inline constexpr double kDefaultPsiThreshold = 0.2;

struct MonitorConfig {
  std::string deployment;
  // The reference dataset version, "NAME@VERSION" (always resolved to a
  // number), and whether it came from the served model's lineage.
  std::string reference;
  bool reference_from_lineage = false;
  // The model version whose inputs the features were checked against.
  std::string model_name;
  std::string model_version;
  WindowSpec window;
  // The features compared (model inputs present in the reference), in the
  // model's order; `all_features` when the user asked for all of them.
  std::vector<std::string> features;
  bool all_features = true;
  // PSI thresholds by feature (also by output column for prediction drift).
  std::map<std::string, double> thresholds;
  double default_threshold = kDefaultPsiThreshold;
  // "classification", "regression", or "" (decided from the predictions:
  // see live_metrics.h).
  std::string task;
  Retention retention;
  std::string created_by;
  int64_t creation_time = 0;  // ms since the epoch
  int64_t last_updated_time = 0;
  // Bumped by every Set: a fold that began under another generation is
  // not committed (its windows belong to the old config).
  int64_t generation = 0;

  double ThresholdOf(const std::string& feature) const;
};

nlohmann::json ToJson(const MonitorConfig& config);
// Throws INVALID_PARAMETER_VALUE naming the field.
MonitorConfig MonitorConfigFromJson(const nlohmann::json& json);

}  // namespace slipway::monitoring::live
