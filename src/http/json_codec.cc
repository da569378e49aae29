#include "http/json_codec.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <iterator>

#include "core/error.h"

namespace slipway::http {
namespace {

Json TagsToJson(const std::vector<tracking::Tag>& tags) {
  Json out = Json::array();
  for (const auto& tag : tags) out.push_back({{"key", tag.key}, {"value", tag.value}});
  return out;
}

Json ParamsToJson(const std::vector<tracking::Param>& params) {
  Json out = Json::array();
  for (const auto& param : params) out.push_back({{"key", param.key}, {"value", param.value}});
  return out;
}

std::string TypeName(const Json& value) {
  switch (value.type()) {
    case Json::value_t::string:
      return "str";
    case Json::value_t::boolean:
      return "bool";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "int";
    case Json::value_t::number_float:
      return "float";
    case Json::value_t::array:
      return "list";
    case Json::value_t::object:
      return "dict";
    case Json::value_t::null:
      return "NoneType";
    default:
      return "unknown";
  }
}

std::optional<int64_t> ParseInt(const std::string& text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<double> ParseDouble(const std::string& text) {
  if (text == "NaN" || text == "nan") return std::nan("");
  if (text == "Infinity" || text == "inf") return INFINITY;
  if (text == "-Infinity" || text == "-inf") return -INFINITY;
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

Json DoubleToJson(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return value;
}

namespace {

std::string Escaped(const std::string& text) {
  return Json(text).dump(-1, ' ', false, Json::error_handler_t::replace);
}

// One point as MLflow's Metric message: `prefix` is `{"key":...,"value":`
// and `run` is `,"run_id":...`, both escaped already.
void AppendMetric(std::string& out, const std::string& prefix, const std::string& run,
                  const tracking::MetricPoint& point) {
  auto sink = std::back_inserter(out);
  out += prefix;
  if (std::isnan(point.value)) {
    out += "\"NaN\"";
  } else if (std::isinf(point.value)) {
    out += point.value > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else {
    fmt::format_to(sink, "{}", point.value);  // shortest text that reads back exactly
  }
  fmt::format_to(sink, ",\"timestamp\":{},\"step\":{}", point.timestamp, point.step);
  out += run;
  if (!point.model_id.empty()) out += ",\"model_id\":" + Escaped(point.model_id);
  if (!point.dataset_name.empty()) out += ",\"dataset_name\":" + Escaped(point.dataset_name);
  if (!point.dataset_digest.empty()) out += ",\"dataset_digest\":" + Escaped(point.dataset_digest);
  out += '}';
}

}  // namespace

std::string MetricHistoryJson(const std::string& run_id, const std::string& key,
                              const std::vector<tracking::MetricPoint>& points,
                              const std::string& next_page_token) {
  const std::string prefix = "{\"key\":" + Escaped(key) + ",\"value\":";
  const std::string run = ",\"run_id\":" + Escaped(run_id);
  std::string out;
  out.reserve(points.size() * (prefix.size() + run.size() + 48) + 64);
  out += "{\"metrics\":[";
  for (size_t i = 0; i < points.size(); ++i) {
    if (i > 0) out += ',';
    AppendMetric(out, prefix, run, points[i]);
  }
  out += ']';
  if (!next_page_token.empty()) out += ",\"next_page_token\":" + Escaped(next_page_token);
  out += '}';
  return out;
}

std::string MetricsWithRunIdsJson(const std::vector<tracking::MetricPoint>& points) {
  std::string out = "{\"metrics\":[";
  std::string prefix, run;
  for (size_t i = 0; i < points.size(); ++i) {
    const tracking::MetricPoint& point = points[i];
    if (i == 0 || point.key != points[i - 1].key) {
      prefix = "{\"key\":" + Escaped(point.key) + ",\"value\":";
    }
    if (i == 0 || point.run_id != points[i - 1].run_id) {
      run = ",\"run_id\":" + Escaped(point.run_id);
    }
    if (i > 0) out += ',';
    AppendMetric(out, prefix, run, point);
  }
  out += "]}";
  return out;
}

Json ToJson(const registry::ModelVersion& version) {
  Json out = {{"name", version.name},
              {"version", std::to_string(version.version)},
              {"creation_timestamp", version.creation_timestamp},
              {"last_updated_timestamp", version.last_updated_timestamp},
              {"current_stage", version.current_stage},
              {"description", version.description},
              {"source", version.source},
              {"status", version.status}};
  if (!version.user_id.empty()) out["user_id"] = version.user_id;
  if (!version.run_id.empty()) out["run_id"] = version.run_id;
  if (!version.run_link.empty()) out["run_link"] = version.run_link;
  if (!version.status_message.empty()) out["status_message"] = version.status_message;
  if (!version.model_id.empty()) out["model_id"] = version.model_id;
  if (!version.tags.empty()) out["tags"] = TagsToJson(version.tags);
  if (!version.aliases.empty()) out["aliases"] = version.aliases;
  return out;
}

Json ToJson(const registry::RegisteredModel& model) {
  Json out = {{"name", model.name},
              {"creation_timestamp", model.creation_timestamp},
              {"last_updated_timestamp", model.last_updated_timestamp},
              {"description", model.description}};
  if (!model.user_id.empty()) out["user_id"] = model.user_id;
  if (!model.latest_versions.empty()) {
    Json versions = Json::array();
    for (const auto& version : model.latest_versions) versions.push_back(ToJson(version));
    out["latest_versions"] = std::move(versions);
  }
  if (!model.tags.empty()) out["tags"] = TagsToJson(model.tags);
  if (!model.aliases.empty()) {
    Json aliases = Json::array();
    for (const auto& alias : model.aliases) {
      aliases.push_back({{"alias", alias.alias}, {"version", std::to_string(alias.version)}});
    }
    out["aliases"] = std::move(aliases);
  }
  return out;
}

Json ToJson(const tracking::Experiment& experiment) {
  Json out = {{"experiment_id", experiment.experiment_id},
              {"name", experiment.name},
              {"artifact_location", experiment.artifact_location},
              {"lifecycle_stage", experiment.lifecycle_stage},
              {"last_update_time", experiment.last_update_time},
              {"creation_time", experiment.creation_time}};
  if (!experiment.tags.empty()) out["tags"] = TagsToJson(experiment.tags);
  return out;
}

Json ToJson(const tracking::RunInfo& info) {
  Json out = {{"run_id", info.run_id},
              {"run_uuid", info.run_id},
              {"run_name", info.run_name},
              {"experiment_id", info.experiment_id},
              {"user_id", info.user_id},
              {"status", info.status},
              {"start_time", info.start_time},
              {"artifact_uri", info.artifact_uri},
              {"lifecycle_stage", info.lifecycle_stage}};
  if (info.end_time) out["end_time"] = *info.end_time;
  return out;
}

Json ToJson(const tracking::MetricPoint& point) {
  Json out = {{"key", point.key},
              {"value", DoubleToJson(point.value)},
              {"timestamp", point.timestamp},
              {"step", point.step}};
  if (!point.run_id.empty()) out["run_id"] = point.run_id;
  if (!point.model_id.empty()) out["model_id"] = point.model_id;
  if (!point.dataset_name.empty()) out["dataset_name"] = point.dataset_name;
  if (!point.dataset_digest.empty()) out["dataset_digest"] = point.dataset_digest;
  return out;
}

Json ToJson(const tracking::Run& run) {
  Json data = Json::object();
  if (!run.metrics.empty()) {
    Json metrics = Json::array();
    for (const auto& point : run.metrics) {
      metrics.push_back({{"key", point.key},
                         {"value", DoubleToJson(point.value)},
                         {"timestamp", point.timestamp},
                         {"step", point.step}});
    }
    data["metrics"] = std::move(metrics);
  }
  if (!run.params.empty()) data["params"] = ParamsToJson(run.params);
  if (!run.tags.empty()) data["tags"] = TagsToJson(run.tags);
  Json inputs = Json::object();
  if (!run.dataset_inputs.empty()) {
    Json datasets = Json::array();
    for (const auto& input : run.dataset_inputs) {
      const auto& d = input.dataset;
      Json dataset = {{"name", d.name},
                      {"digest", d.digest},
                      {"source_type", d.source_type},
                      {"source", d.source}};
      if (!d.schema.empty()) dataset["schema"] = d.schema;
      if (!d.profile.empty()) dataset["profile"] = d.profile;
      Json entry = {{"dataset", std::move(dataset)}};
      if (!input.tags.empty()) entry["tags"] = TagsToJson(input.tags);
      datasets.push_back(std::move(entry));
    }
    inputs["dataset_inputs"] = std::move(datasets);
  }
  if (!run.model_inputs.empty()) {
    Json models = Json::array();
    for (const auto& link : run.model_inputs) models.push_back({{"model_id", link.model_id}});
    inputs["model_inputs"] = std::move(models);
  }
  Json out = {{"info", ToJson(run.info)}, {"data", std::move(data)}, {"inputs", std::move(inputs)}};
  if (!run.model_outputs.empty()) {
    Json models = Json::array();
    for (const auto& link : run.model_outputs) {
      models.push_back({{"model_id", link.model_id}, {"step", link.step}});
    }
    out["outputs"] = {{"model_outputs", std::move(models)}};
  }
  return out;
}

Json ToJson(const tracking::LoggedModel& model) {
  Json info = {{"model_id", model.model_id},
               {"experiment_id", model.experiment_id},
               {"name", model.name},
               {"creation_timestamp_ms", model.creation_timestamp_ms},
               {"last_updated_timestamp_ms", model.last_updated_timestamp_ms},
               {"artifact_uri", model.artifact_uri},
               {"status", model.status}};
  if (!model.model_type.empty()) info["model_type"] = model.model_type;
  if (!model.source_run_id.empty()) info["source_run_id"] = model.source_run_id;
  if (!model.status_message.empty()) info["status_message"] = model.status_message;
  if (!model.tags.empty()) info["tags"] = TagsToJson(model.tags);
  Json data = Json::object();
  if (!model.params.empty()) data["params"] = ParamsToJson(model.params);
  if (!model.metrics.empty()) {
    Json metrics = Json::array();
    for (const auto& point : model.metrics) metrics.push_back(ToJson(point));
    data["metrics"] = std::move(metrics);
  }
  return {{"info", std::move(info)}, {"data", std::move(data)}};
}

const Json* RequestFields::Find(const char* key) const {
  if (!body_.is_object()) return nullptr;
  auto it = body_.find(key);
  if (it == body_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool RequestFields::Has(const char* key) const { return Find(key) != nullptr; }

void RequestFields::ThrowType(const char* key, const Json& value, const char* expected) const {
  ThrowInvalid("Invalid value " + value.dump(-1, ' ', false, Json::error_handler_t::replace) +
               " for parameter '" + prefix_ + key + "' supplied. Hint: Value was of type '" +
               TypeName(value) + "', expected " + expected +
               ". See the API docs for more information about request parameters.");
}

std::string RequestFields::RequiredString(const char* key) const {
  const Json* value = Find(key);
  if (value == nullptr || (value->is_string() && value->get_ref<const std::string&>().empty())) {
    ThrowInvalid("Missing value for required parameter '" + prefix_ + key +
                 "'. See the API docs for more information about request parameters.");
  }
  if (!value->is_string()) ThrowType(key, *value, "a string");
  return value->get<std::string>();
}

std::string RequestFields::OptionalString(const char* key, const std::string& fallback) const {
  const Json* value = Find(key);
  if (value == nullptr) return fallback;
  if (!value->is_string()) ThrowType(key, *value, "a string");
  return value->get<std::string>();
}

std::optional<int64_t> RequestFields::OptionalInt(const char* key) const {
  const Json* value = Find(key);
  if (value == nullptr) return std::nullopt;
  if (value->is_number_integer()) return value->get<int64_t>();
  if (value->is_number_float()) {
    double d = value->get<double>();
    if (std::trunc(d) == d && std::abs(d) < 9.2e18) return static_cast<int64_t>(d);
  }
  if (value->is_string()) {
    if (auto parsed = ParseInt(value->get<std::string>())) return parsed;
  }
  ThrowType(key, *value, "an integer");
}

int64_t RequestFields::RequiredInt(const char* key) const {
  auto value = OptionalInt(key);
  if (!value) {
    ThrowInvalid("Missing value for required parameter '" + prefix_ + key +
                 "'. See the API docs for more information about request parameters.");
  }
  return *value;
}

double RequestFields::RequiredDouble(const char* key) const {
  const Json* value = Find(key);
  if (value == nullptr) {
    ThrowInvalid("Missing value for required parameter '" + prefix_ + key +
                 "'. See the API docs for more information about request parameters.");
  }
  if (value->is_number()) return value->get<double>();
  if (value->is_string()) {
    if (auto parsed = ParseDouble(value->get<std::string>())) return *parsed;
  }
  ThrowType(key, *value, "a double");
}

std::optional<bool> RequestFields::OptionalBool(const char* key) const {
  const Json* value = Find(key);
  if (value == nullptr) return std::nullopt;
  if (value->is_boolean()) return value->get<bool>();
  if (value->is_string()) {
    const auto& text = value->get_ref<const std::string&>();
    if (text == "true" || text == "True") return true;
    if (text == "false" || text == "False") return false;
  }
  ThrowType(key, *value, "a boolean");
}

std::vector<std::string> RequestFields::StringList(const char* key) const {
  const Json* value = Find(key);
  std::vector<std::string> out;
  if (value == nullptr) return out;
  if (value->is_string()) {
    out.push_back(value->get<std::string>());
    return out;
  }
  if (!value->is_array()) ThrowType(key, *value, "a list of strings");
  for (const Json& item : *value) {
    if (!item.is_string()) ThrowType(key, *value, "a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::vector<RequestFields> RequestFields::ObjectList(const char* key) const {
  const Json* value = Find(key);
  std::vector<RequestFields> out;
  if (value == nullptr) return out;
  if (!value->is_array()) ThrowType(key, *value, "a list of objects");
  out.reserve(value->size());
  for (size_t i = 0; i < value->size(); ++i) {
    const Json& item = (*value)[i];
    if (!item.is_object()) ThrowType(key, *value, "a list of objects");
    out.emplace_back(item, prefix_ + key + "[" + std::to_string(i) + "].");
  }
  return out;
}

std::optional<RequestFields> RequestFields::OptionalObject(const char* key) const {
  const Json* value = Find(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_object()) ThrowType(key, *value, "an object");
  return RequestFields(*value, prefix_ + key + ".");
}

std::vector<tracking::Tag> RequestFields::Tags(const char* key) const {
  std::vector<tracking::Tag> out;
  for (const RequestFields& item : ObjectList(key)) {
    out.push_back({item.RequiredString("key"), item.OptionalString("value")});
  }
  return out;
}

std::string ErrorBody(const std::string& error_code, const std::string& message) {
  return Json{{"error_code", error_code}, {"message", message}}.dump(
      -1, ' ', false, Json::error_handler_t::replace);
}

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidParameterValue:
    case ErrorCode::kResourceAlreadyExists:
    case ErrorCode::kBadRequest:
    case ErrorCode::kInvalidState:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kResourceDoesNotExist:
    case ErrorCode::kEndpointNotFound:
      return 404;
    case ErrorCode::kResourceConflict:
      return 409;
    case ErrorCode::kPayloadTooLarge:
      return 413;
    case ErrorCode::kUnsupportedMediaType:
      return 415;
    case ErrorCode::kRequestLimitExceeded:
      return 429;
    case ErrorCode::kNotImplemented:
      return 501;
    case ErrorCode::kTemporarilyUnavailable:
      return 503;
    case ErrorCode::kInternalError:
      return 500;
  }
  return 500;
}

}  // namespace slipway::http
