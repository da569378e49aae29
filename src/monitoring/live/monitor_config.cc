#include "monitoring/live/monitor_config.h"

#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace slipway::monitoring::live {
namespace {

using nlohmann::json;

[[noreturn]] void BadWindow(std::string_view text, const std::string& why) {
  ThrowInvalid("window '" + std::string(text) + "': " + why +
               " (a time such as 30s, 5m, 1h, 1d, or a row count such as 1000rows)");
}

}  // namespace

WindowSpec WindowSpec::Parse(std::string_view text) {
  if (text.empty()) BadWindow(text, "empty");
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) BadWindow(text, "does not start with a number");
  int64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc() || end != text.data() + digits) BadWindow(text, "number out of range");
  if (number <= 0) BadWindow(text, "must be positive");
  std::string_view unit = text.substr(digits);
  WindowSpec spec;
  if (unit.empty() || unit == "rows") {
    if (number > 100'000'000) BadWindow(text, "at most 100000000 rows");
    spec.kind = Kind::kRows;
    spec.rows = number;
    return spec;
  }
  int64_t unit_ms = 0;
  if (unit == "s") unit_ms = 1000;
  if (unit == "m") unit_ms = 60 * 1000;
  if (unit == "h") unit_ms = 3600 * 1000;
  if (unit == "d") unit_ms = 24 * 3600 * 1000;
  if (unit_ms == 0) BadWindow(text, "unknown unit '" + std::string(unit) + "'");
  if (number > 31LL * 24 * 3600 * 1000 / unit_ms) BadWindow(text, "at most 31 days");
  spec.kind = Kind::kTime;
  spec.millis = number * unit_ms;
  return spec;
}

std::string WindowSpec::ToString() const {
  if (kind == Kind::kRows) return std::to_string(rows) + "rows";
  const std::pair<int64_t, const char*> units[] = {
      {24 * 3600 * 1000, "d"}, {3600 * 1000, "h"}, {60 * 1000, "m"}, {1000, "s"}};
  for (const auto& [ms, name] : units) {
    if (millis % ms == 0) return std::to_string(millis / ms) + name;
  }
  return std::to_string(millis / 1000) + "s";
}

int64_t Retention::ParseAge(std::string_view text) {
  auto bad = [&](const std::string& why) -> int64_t {
    ThrowInvalid("retention '" + std::string(text) + "': " + why +
                 " (a time such as 90m, 12h or 30d, from 1 minute to 3650 days)");
  };
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return bad("does not start with a number");
  int64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc() || end != text.data() + digits || number > 1'000'000'000)
    return bad("number out of range");
  const std::string_view unit = text.substr(digits);
  int64_t unit_ms = 0;
  if (unit == "m") unit_ms = 60 * 1000;
  if (unit == "h") unit_ms = 3600 * 1000;
  if (unit == "d") unit_ms = 24 * 3600 * 1000;
  if (unit_ms == 0) return bad("unknown unit '" + std::string(unit) + "'");
  const int64_t ms = number * unit_ms;
  if (ms < 60 * 1000) return bad("at least 1 minute");
  if (ms > 3650LL * 24 * 3600 * 1000) return bad("at most 3650 days");
  return ms;
}

std::string Retention::AgeToString(int64_t ms) {
  if (ms <= 0) return "";
  const std::pair<int64_t, const char*> units[] = {
      {24 * 3600 * 1000, "d"}, {3600 * 1000, "h"}, {60 * 1000, "m"}};
  for (const auto& [unit, name] : units) {
    if (ms % unit == 0) return std::to_string(ms / unit) + name;
  }
  return std::to_string(ms / (60 * 1000)) + "m";
}

double MonitorConfig::ThresholdOf(const std::string& feature) const {
  auto it = thresholds.find(feature);
  return it == thresholds.end() ? default_threshold : it->second;
}

json ToJson(const MonitorConfig& config) {
  json thresholds = json::object();
  for (const auto& [feature, value] : config.thresholds) thresholds[feature] = value;
  return {{"deployment", config.deployment},
          {"reference", config.reference},
          {"reference_from_lineage", config.reference_from_lineage},
          {"model_name", config.model_name},
          {"model_version", config.model_version},
          {"window", config.window.ToString()},
          {"features", config.features},
          {"all_features", config.all_features},
          {"thresholds", thresholds},
          {"default_threshold", config.default_threshold},
          {"task", config.task},
          {"retention",
           {{"max_age", Retention::AgeToString(config.retention.max_age_ms)},
            {"max_windows", config.retention.max_windows},
            {"max_predictions", config.retention.max_predictions}}},
          {"created_by", config.created_by},
          {"creation_time", config.creation_time},
          {"last_updated_time", config.last_updated_time},
          {"generation", config.generation}};
}

MonitorConfig MonitorConfigFromJson(const json& j) {
  if (!j.is_object()) ThrowInvalid("monitor config: not a JSON object");
  try {
    MonitorConfig config;
    config.deployment = j.value("deployment", "");
    config.reference = j.value("reference", "");
    config.reference_from_lineage = j.value("reference_from_lineage", false);
    config.model_name = j.value("model_name", "");
    config.model_version = j.value("model_version", "");
    config.window = WindowSpec::Parse(j.value("window", "5m"));
    config.features = j.value("features", std::vector<std::string>{});
    config.all_features = j.value("all_features", true);
    if (j.contains("thresholds")) {
      for (const auto& [feature, value] : j.at("thresholds").items()) {
        config.thresholds[feature] = value.get<double>();
      }
    }
    config.default_threshold = j.value("default_threshold", kDefaultPsiThreshold);
    config.task = j.value("task", "");
    if (j.contains("retention")) {
      const json& retention = j.at("retention");
      const std::string age = retention.value("max_age", "");
      config.retention.max_age_ms = age.empty() ? 0 : Retention::ParseAge(age);
      config.retention.max_windows = retention.value("max_windows", Retention::kDefaultMaxWindows);
      config.retention.max_predictions = retention.value("max_predictions", int64_t{0});
    }
    config.created_by = j.value("created_by", "");
    config.creation_time = j.value("creation_time", int64_t{0});
    config.last_updated_time = j.value("last_updated_time", int64_t{0});
    config.generation = j.value("generation", int64_t{0});
    return config;
  } catch (const json::exception& e) {
    ThrowInvalid(std::string("monitor config: ") + e.what());
  }
}

}  // namespace slipway::monitoring::live
