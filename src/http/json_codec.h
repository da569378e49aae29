// MLflow's JSON forms of the tracking records, both ways.
//
// Output follows what MLflow's server emits (proto JSON with the original
// field names, int64 as numbers, NaN and infinities as the strings "NaN",
// "Infinity", "-Infinity"; empty lists left out). Input is read through
// RequestFields, which checks presence and types and names the offending
// field in its errors, as MLflow's request validation does.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "registry/entities.h"
#include "tracking/entities.h"

namespace slipway::http {

using Json = nlohmann::json;

Json ToJson(const tracking::Experiment& experiment);
Json ToJson(const tracking::RunInfo& info);
Json ToJson(const tracking::Run& run);
Json ToJson(const tracking::MetricPoint& point);
Json ToJson(const tracking::LoggedModel& model);
Json DoubleToJson(double value);
Json ToJson(const registry::ModelVersion& version);
Json ToJson(const registry::RegisteredModel& model);

// `{"metrics":[...],"next_page_token":...}` for one metric's history, written
// directly: a history can hold millions of points, and building a Json tree
// for each would cost more than reading them from the store.
std::string MetricHistoryJson(const std::string& run_id, const std::string& key,
                              const std::vector<tracking::MetricPoint>& points,
                              const std::string& next_page_token);
// `{"metrics":[...]}` of points that carry their own key and run id (the
// bulk history routes).
std::string MetricsWithRunIdsJson(const std::vector<tracking::MetricPoint>& points);

// Typed access to a request's fields. For GET requests the fields come from
// the query string, where every value is text: numbers are parsed from it.
// `prefix` names the enclosing field in errors ("metrics[2].").
class RequestFields {
 public:
  explicit RequestFields(const Json& body, std::string prefix = "")
      : body_(body), prefix_(std::move(prefix)) {}

  bool Has(const char* key) const;
  std::string RequiredString(const char* key) const;
  std::string OptionalString(const char* key, const std::string& fallback = "") const;
  std::optional<int64_t> OptionalInt(const char* key) const;
  int64_t RequiredInt(const char* key) const;
  double RequiredDouble(const char* key) const;
  std::optional<bool> OptionalBool(const char* key) const;
  // A repeated string field; a single string is taken as a list of one.
  std::vector<std::string> StringList(const char* key) const;
  // A repeated message field: each element must be an object.
  std::vector<RequestFields> ObjectList(const char* key) const;
  std::optional<RequestFields> OptionalObject(const char* key) const;

  // Convenience for the repeated {key, value} pairs of tags and params.
  std::vector<tracking::Tag> Tags(const char* key) const;

  const std::string& prefix() const { return prefix_; }

 private:
  const Json* Find(const char* key) const;
  [[noreturn]] void ThrowType(const char* key, const Json& value, const char* expected) const;

  const Json& body_;
  std::string prefix_;
};

// The body of an MLflow error reply.
std::string ErrorBody(const std::string& error_code, const std::string& message);

// The HTTP status MLflow's server answers with for `code` (mlflow/exceptions.py).
int HttpStatusFor(ErrorCode code);

}  // namespace slipway::http
