#include "http/trace_routes.h"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "core/error.h"
#include "http/otlp_codec.h"
#include "http/route_helpers.h"

namespace slipway::http {
namespace {

using tracing::Assessment;
using tracing::TraceInfo;

constexpr const char* kApi2 = "/api/2.0/mlflow/traces";
constexpr const char* kApi3 = "/api/3.0/mlflow/traces";
// An OTLP request holds many spans; MLflow takes them in one.
constexpr uint64_t kOtlpBodyLimit = 64ull << 20;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Numbers as protobuf's Value holds them: doubles (`1` comes back `1.0`).
Json AsDoubles(const Json& v) {
  if (v.is_number_integer()) return static_cast<double>(v.get<double>());
  if (v.is_array()) {
    Json out = Json::array();
    for (const Json& item : v) out.push_back(AsDoubles(item));
    return out;
  }
  if (v.is_object()) {
    Json out = Json::object();
    for (const auto& [k, item] : v.items()) out[k] = AsDoubles(item);
    return out;
  }
  return v;
}

std::map<std::string, std::string> StringMap(const Json& body, const char* key) {
  std::map<std::string, std::string> out;
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return out;
  if (!it->is_object())
    ThrowInvalid(std::string("Invalid value for parameter '") + key + "': expected a map");
  for (const auto& [k, v] : it->items()) out[k] = v.is_string() ? v.get<std::string>() : Dump(v);
  return out;
}

std::string StringField(const Json& body, const char* key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return "";
  if (!it->is_string())
    ThrowInvalid(std::string("Invalid value for parameter '") + key + "': expected a string");
  return it->get<std::string>();
}

Json AssessmentToJson(const Assessment& a) {
  Json out = {{"assessment_id", a.assessment_id},
              {"assessment_name", a.name},
              {"trace_id", a.trace_id},
              {"source", {{"source_type", a.source_type}, {"source_id", a.source_id}}},
              {"create_time", FormatTimestamp(a.create_time)},
              {"last_update_time", FormatTimestamp(a.last_update_time)},
              {"valid", a.valid}};
  if (!a.span_id.empty()) out["span_id"] = a.span_id;
  if (!a.rationale.empty()) out["rationale"] = a.rationale;
  if (!a.overrides.empty()) out["overrides"] = a.overrides;
  if (!a.metadata.empty()) out["metadata"] = a.metadata;
  Json value = Json::parse(a.value, nullptr, false);
  if (value.is_discarded()) value = nullptr;
  if (a.kind == "feedback") {
    Json feedback = {{"value", value}};
    if (!a.error.empty()) {
      Json error = Json::parse(a.error, nullptr, false);
      if (error.is_object()) feedback["error"] = error;
    }
    out["feedback"] = std::move(feedback);
  } else if (a.kind == "issue") {
    out["issue"] = value.is_object() ? value : Json::object();
  } else if (a.serialized) {
    out["expectation"] = {
        {"serialized_value", {{"serialization_format", "JSON_FORMAT"}, {"value", a.value}}}};
  } else {
    out["expectation"] = {{"value", value}};
  }
  return out;
}

// An assessment as the client sends it; `trace_id` from the path wins.
Assessment AssessmentFromJson(const Json& j, const std::string& trace_id) {
  if (!j.is_object()) ThrowInvalid("Missing value for required parameter 'assessment'.");
  Assessment a;
  a.trace_id = trace_id;
  a.name = StringField(j, "assessment_name");
  a.span_id = StringField(j, "span_id");
  a.rationale = StringField(j, "rationale");
  a.overrides = StringField(j, "overrides");
  a.metadata = StringMap(j, "metadata");
  if (auto it = j.find("source"); it != j.end() && it->is_object()) {
    a.source_type = StringField(*it, "source_type");
    if (a.source_type.empty()) a.source_type = "SOURCE_TYPE_UNSPECIFIED";
    a.source_id = StringField(*it, "source_id");
  }
  if (auto it = j.find("create_time"); it != j.end() && it->is_string())
    a.create_time = ParseTimestamp(it->get<std::string>(), "create_time");
  if (auto it = j.find("last_update_time"); it != j.end() && it->is_string())
    a.last_update_time = ParseTimestamp(it->get<std::string>(), "last_update_time");
  if (auto it = j.find("feedback"); it != j.end() && it->is_object()) {
    a.kind = "feedback";
    a.value = Dump(AsDoubles(it->value("value", Json(nullptr))));
    if (auto error = it->find("error"); error != it->end() && error->is_object())
      a.error = Dump(*error);
  } else if (auto it = j.find("expectation"); it != j.end() && it->is_object()) {
    a.kind = "expectation";
    if (auto serialized = it->find("serialized_value");
        serialized != it->end() && serialized->is_object()) {
      a.serialized = true;
      a.value = StringField(*serialized, "value");
      if (Json::parse(a.value, nullptr, false).is_discarded())
        ThrowInvalid("The expectation's serialized_value.value is not JSON");
    } else {
      const Json value = it->value("value", Json(nullptr));
      // MLflow keeps dicts, lists and None as serialized JSON and answers
      // them that way.
      a.serialized = value.is_object() || value.is_array() || value.is_null();
      a.value = Dump(a.serialized ? value : AsDoubles(value));
    }
  } else if (auto it = j.find("issue"); it != j.end() && it->is_object()) {
    // A link to a GenAI issue: the name is the id, the value keeps
    // its name ({"issue_name": ...}), as MLflow's IssueReference.
    a.kind = "issue";
    a.value = Dump(Json{{"issue_name", StringField(*it, "issue_name")}});
  }
  if (auto error = j.find("error"); a.error.empty() && error != j.end() && error->is_object())
    a.error = Dump(*error);
  return a;
}

bool QueryBool(const Request& req, const char* key, bool fallback) {
  if (!req.has_param(key)) return fallback;
  std::string text = req.get_param_value(key);
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (text == "true") return true;
  if (text == "false") return false;
  ThrowInvalid("Invalid boolean value: " + req.get_param_value(key) +
               ", must be 'true' or 'false'.");
}

std::vector<std::string> ExperimentIdsOfLocations(const Json& body) {
  std::vector<std::string> ids;
  const auto it = body.find("locations");
  if (it == body.end() || !it->is_array()) return ids;
  for (const Json& location : *it) {
    if (!location.is_object()) continue;
    const auto experiment = location.find("mlflow_experiment");
    if (experiment == location.end() || !experiment->is_object()) continue;
    const auto id = experiment->find("experiment_id");
    if (id != experiment->end() && id->is_string()) ids.push_back(id->get<std::string>());
  }
  return ids;
}

Json TraceToJson(const tracing::Trace& trace) {
  Json spans = Json::array();
  for (const tracing::Span& span : trace.spans) spans.push_back(SpanToOtelJson(span));
  return {{"trace_info", TraceInfoToJson(trace.info)}, {"spans", std::move(spans)}};
}

void AddTraceInfoRoutes(HttpServer& server, tracing::TraceService& traces) {
  const std::string api3 = kApi3;
  server.Post(api3, RouteSpec("traces/start").Needs(kExperiment, kEdit),
              [&traces](const Request& req, Response& res) {
                Json body = RequestJson(req);
                const auto trace = body.find("trace");
                if (trace == body.end() || !trace->is_object())
                  ThrowInvalid(
                      "Missing value for required parameter 'trace'. See the API docs "
                      "for more information about request parameters.");
                const auto info = trace->find("trace_info");
                if (info == trace->end() || !info->is_object())
                  ThrowInvalid("Missing value for required parameter 'trace.trace_info'.");
                TraceInfo stored = traces.StartTrace(TraceInfoFromJson(*info));
                Reply(res, {{"trace", {{"trace_info", TraceInfoToJson(stored)}}}});
              });
  server.Get(api3 + "/get", RouteSpec("traces/get").Needs(kExperiment, kRead),
             [&traces](const Request& req, Response& res) {
               if (req.get_param_value("trace_id").empty())
                 ThrowInvalid("Missing value for required parameter 'trace_id'.");
               const tracing::Trace trace = traces.GetTrace(req.get_param_value("trace_id"),
                                                            QueryBool(req, "allow_partial", false));
               Reply(res, {{"trace", TraceToJson(trace)}});
             });
  server.Get(api3 + "/batchGet", RouteSpec("traces/batch-get").SignedIn().ReadOnly(),
             [&traces](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               const std::vector<std::string> ids = fields.StringList("trace_ids");
               if (ids.empty()) ThrowInvalid("Missing value for required parameter 'trace_ids'.");
               Json out = Json::object();
               for (const tracing::Trace& trace : traces.BatchGetTraces(ids))
                 out["traces"].push_back(TraceToJson(trace));
               Reply(res, out);
             });
  server.Post(
      api3 + "/batchGetInfos", RouteSpec("traces/batch-get-infos").SignedIn().ReadOnly(),
      [&traces](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        Json out = Json::object();
        for (const TraceInfo& info : traces.BatchGetTraceInfos(fields.StringList("trace_ids")))
          out["trace_infos"].push_back(TraceInfoToJson(info));
        Reply(res, out);
      });
  server.Post(api3 + "/search", RouteSpec("traces/search").SignedIn().ReadOnly(),
              [&traces](const Request& req, Response& res) {
                Json body = RequestJson(req);
                if (!body.contains("locations"))
                  ThrowInvalid(
                      "Missing value for required parameter 'locations'. See the API "
                      "docs for more information about request parameters.");
                RequestFields fields(body);
                auto found = traces.SearchTraces(
                    ExperimentIdsOfLocations(body), fields.OptionalString("filter"),
                    fields.OptionalInt("max_results"), fields.StringList("order_by"),
                    fields.OptionalString("page_token"));
                Json out = Json::object();
                for (const TraceInfo& info : found.items)
                  out["traces"].push_back(TraceInfoToJson(info));
                if (!found.next_page_token.empty()) out["next_page_token"] = found.next_page_token;
                Reply(res, out);
              });
  server.Get(api3 + "/([^/]+)", RouteSpec("traces/get-info").Needs(kExperiment, kRead),
             [&traces](const Request& req, Response& res) {
               const TraceInfo info = traces.GetTraceInfo(req.matches[1]);
               Reply(res, {{"trace", {{"trace_info", TraceInfoToJson(info)}}}});
             });
  // MLflow's UI: a trace's spans as the traces.json file of its artifacts
  // (under both API versions, as MLflow serves it).
  for (const char* path :
       {"/api/2.0/mlflow/get-trace-artifact", "/api/3.0/mlflow/get-trace-artifact"})
    server.Get(path, RouteSpec("traces/get-artifact").Needs(kExperiment, kRead),
               [&traces](const Request& req, Response& res) {
                 const std::string id = req.get_param_value("request_id");
                 if (id.empty()) ThrowInvalid("Missing value for required parameter 'request_id'.");
                 const tracing::Trace trace = traces.GetTrace(id, true);
                 std::string body = "{\"spans\":[";
                 for (size_t i = 0; i < trace.spans.size(); ++i)
                   body += (i ? "," : "") + trace.spans[i].content;
                 body += "]}";
                 res.set_content(std::move(body), "application/octet-stream");
                 res.set_header("Content-Disposition", "attachment; filename=traces.json");
               });
}

// MLflow's UI charts and filter insights over an experiment's traces.
void AddAnalysisRoutes(HttpServer& server, tracing::TraceService& traces) {
  const std::string api3 = kApi3;
  server.Post(api3 + "/metrics", RouteSpec("traces/metrics").Needs(kExperiment, kRead).ReadOnly(),
              [&traces](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                tracing::TraceMetricsQuery query;
                query.view_type = fields.RequiredString("view_type");
                query.metric_name = fields.RequiredString("metric_name");
                for (const RequestFields& item : fields.ObjectList("aggregations")) {
                  tracing::MetricAggregation a;
                  a.type = item.RequiredString("aggregation_type");
                  if (item.Has("percentile_value"))
                    a.percentile = item.RequiredDouble("percentile_value");
                  query.aggregations.push_back(std::move(a));
                }
                query.dimensions = fields.StringList("dimensions");
                query.time_interval_seconds = fields.OptionalInt("time_interval_seconds");
                query.start_time_ms = fields.OptionalInt("start_time_ms");
                query.end_time_ms = fields.OptionalInt("end_time_ms");
                query.max_results = fields.OptionalInt("max_results").value_or(1000);
                std::vector<tracing::MetricDataPoint> points = traces.QueryTraceMetrics(
                    fields.StringList("experiment_ids"), query, fields.StringList("filters"));
                Json out = Json::object();
                for (const tracing::MetricDataPoint& p : points) {
                  Json point = {{"metric_name", p.metric_name}, {"values", p.values}};
                  if (!p.dimensions.empty()) point["dimensions"] = p.dimensions;
                  out["data_points"].push_back(std::move(point));
                }
                Reply(res, out);
              });
  server.Post(api3 + "/calculate-filter-correlation",
              RouteSpec("traces/calculate-filter-correlation").Needs(kExperiment, kRead).ReadOnly(),
              [&traces](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                const tracing::Correlation c = traces.CalculateFilterCorrelation(
                    fields.StringList("experiment_ids"), fields.OptionalString("filter_string1"),
                    fields.OptionalString("filter_string2"), fields.OptionalString("base_filter"));
                Json out = {{"filter1_count", c.filter1_count},
                            {"filter2_count", c.filter2_count},
                            {"joint_count", c.joint_count},
                            {"total_count", c.total_count}};
                // NaN is left out, as MLflow leaves it out.
                if (c.npmi) out["npmi"] = *c.npmi;
                if (c.npmi_smoothed) out["npmi_smoothed"] = *c.npmi_smoothed;
                Reply(res, out);
              });
}

// MLflow 2's TraceInfo: key-value lists, the status enum's names.
Json TraceInfoV2Json(const TraceInfo& info) {
  auto pairs = [](const std::map<std::string, std::string>& map) {
    Json out = Json::array();
    for (const auto& [key, value] : map) out.push_back({{"key", key}, {"value", value}});
    return out;
  };
  const std::string& s = info.state;
  Json out = {
      {"request_id", info.trace_id},
      {"experiment_id", info.experiment_id},
      {"timestamp_ms", info.request_time},
      {"execution_time_ms", info.execution_duration.value_or(0)},
      {"status", s == "OK" || s == "ERROR" || s == "IN_PROGRESS" ? s : "TRACE_STATUS_UNSPECIFIED"}};
  if (!info.metadata.empty()) out["request_metadata"] = pairs(info.metadata);
  if (!info.tags.empty()) out["tags"] = pairs(info.tags);
  return out;
}

std::map<std::string, std::string> KeyValues(const RequestFields& fields, const char* key) {
  std::map<std::string, std::string> out;
  for (const RequestFields& item : fields.ObjectList(key))
    out[item.RequiredString("key")] = item.OptionalString("value");
  return out;
}

// MLflow 2's StartTrace and EndTrace, which older clients still call.
void AddV2StartEndRoutes(HttpServer& server, tracing::TraceService& traces) {
  server.Post(kApi2, RouteSpec("traces/start-v2").Needs(kExperiment, kEdit),
              [&traces](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                TraceInfo info = traces.StartTraceV2(fields.OptionalString("experiment_id"),
                                                     fields.OptionalInt("timestamp_ms").value_or(0),
                                                     KeyValues(fields, "request_metadata"),
                                                     KeyValues(fields, "tags"));
                Reply(res, {{"trace_info", TraceInfoV2Json(info)}});
              });
  server.Patch(
      std::string(kApi2) + "/([^/]+)", RouteSpec("traces/end-v2").Needs(kExperiment, kEdit),
      [&traces](const Request& req, Response& res) {
        Json body = RequestJson(req);
        // The status enum by name or number (TRACE_STATUS_UNSPECIFIED, OK, ERROR,
        // IN_PROGRESS).
        static const char* kStates[] = {"STATE_UNSPECIFIED", "OK", "ERROR", "IN_PROGRESS"};
        auto status = body.find("status");
        std::string state = "STATE_UNSPECIFIED";
        if (status != body.end() && status->is_number_integer()) {
          int64_t n = status->get<int64_t>();
          if (n < 0 || n > 3) ThrowInvalid("Invalid value for parameter 'status'.");
          state = kStates[n];
        } else if (status != body.end() && status->is_string()) {
          state = status->get<std::string>();
          if (state != "OK" && state != "ERROR" && state != "IN_PROGRESS" &&
              state != "TRACE_STATUS_UNSPECIFIED")
            ThrowInvalid("Invalid value '" + state + "' for parameter 'status'.");
          if (state == "TRACE_STATUS_UNSPECIFIED") state = "STATE_UNSPECIFIED";
        }
        RequestFields fields(body);
        TraceInfo info =
            traces.EndTraceV2(req.matches[1], fields.OptionalInt("timestamp_ms").value_or(0), state,
                              KeyValues(fields, "request_metadata"), KeyValues(fields, "tags"));
        Reply(res, {{"trace_info", TraceInfoV2Json(info)}});
      });
}

void AddTagAndDeleteRoutes(HttpServer& server, tracing::TraceService& traces) {
  for (const std::string api : {kApi2, kApi3}) {
    server.Patch(api + "/([^/]+)/tags", RouteSpec("traces/set-tag").Needs(kExperiment, kEdit),
                 [&traces](const Request& req, Response& res) {
                   Json body = RequestJson(req);
                   RequestFields fields(body);
                   traces.SetTraceTag(req.matches[1], fields.RequiredString("key"),
                                      fields.OptionalString("value"));
                   Reply(res, Json::object());
                 });
    server.Delete(api + "/([^/]+)/tags", RouteSpec("traces/delete-tag").Needs(kExperiment, kEdit),
                  [&traces](const Request& req, Response& res) {
                    Json body = RequestJson(req);
                    RequestFields fields(body);
                    traces.DeleteTraceTag(req.matches[1], fields.RequiredString("key"));
                    Reply(res, Json::object());
                  });
    server.Post(api + "/delete-traces", RouteSpec("traces/delete").Needs(kExperiment, kManage),
                [&traces](const Request& req, Response& res) {
                  Json body = RequestJson(req);
                  RequestFields fields(body);
                  std::vector<std::string> ids = fields.StringList("request_ids");
                  if (ids.empty()) ids = fields.StringList("trace_ids");
                  const int64_t deleted = traces.DeleteTraces(
                      fields.OptionalString("experiment_id"), ids,
                      fields.OptionalInt("max_timestamp_millis"), fields.OptionalInt("max_traces"));
                  Reply(res, {{"traces_deleted", deleted}});
                });
  }
  server.Post(std::string(kApi2) + "/link-to-run",
              RouteSpec("traces/link-to-run").Needs(kExperiment, kEdit),
              [&traces](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                traces.LinkTracesToRun(fields.StringList("trace_ids"),
                                       fields.OptionalString("run_id"));
                Reply(res, Json::object());
              });
}

void AddPromptLinkRoute(HttpServer& server, tracing::TraceService& traces) {
  server.Post(std::string(kApi2) + "/link-prompts",
              RouteSpec("traces/link-prompts").Needs(kExperiment, kEdit),
              [&traces](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                std::vector<std::pair<std::string, std::string>> prompts;
                for (const RequestFields& item : fields.ObjectList("prompt_versions"))
                  prompts.emplace_back(item.RequiredString("name"), item.RequiredString("version"));
                traces.LinkPromptsToTrace(fields.RequiredString("trace_id"), prompts);
                Reply(res, Json::object());
              });
}

void AddAssessmentRoutes(HttpServer& server, tracing::TraceService& traces) {
  const std::string base = std::string(kApi3) + "/([^/]+)/assessments";
  server.Post(base, RouteSpec("assessments/create").Needs(kExperiment, kEdit),
              [&traces](const Request& req, Response& res) {
                Json body = RequestJson(req);
                const Assessment created = traces.CreateAssessment(
                    AssessmentFromJson(body.value("assessment", Json(nullptr)), req.matches[1]));
                Reply(res, {{"assessment", AssessmentToJson(created)}});
              });
  const std::string one = base + "/([^/]+)";
  server.Get(one, RouteSpec("assessments/get").Needs(kExperiment, kRead),
             [&traces](const Request& req, Response& res) {
               Reply(res, {{"assessment", AssessmentToJson(traces.GetAssessment(req.matches[1],
                                                                                req.matches[2]))}});
             });
  server.Patch(one, RouteSpec("assessments/update").Needs(kExperiment, kEdit),
               [&traces](const Request& req, Response& res) {
                 Json body = RequestJson(req);
                 const auto assessment = body.find("assessment");
                 if (assessment == body.end() || !assessment->is_object())
                   ThrowInvalid("Missing value for required parameter 'assessment'.");
                 const auto mask = body.find("update_mask");
                 if (mask == body.end())
                   ThrowInvalid("Missing value for required parameter 'update_mask'.");
                 // A FieldMask in JSON: one string of camelCase paths.
                 std::vector<std::string> fields;
                 std::string paths = mask->is_string() ? mask->get<std::string>() : "";
                 if (mask->is_object()) {
                   for (const Json& p : mask->value("paths", Json::array()))
                     if (p.is_string()) paths += (paths.empty() ? "" : ",") + p.get<std::string>();
                 }
                 size_t start = 0;
                 while (start <= paths.size()) {
                   size_t end = paths.find(',', start);
                   if (end == std::string::npos) end = paths.size();
                   std::string path = paths.substr(start, end - start);
                   std::string snake;
                   for (char c : path) {
                     if (std::isupper(static_cast<unsigned char>(c))) {
                       snake += '_';
                       snake += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                     } else if (c != ' ') {
                       snake += c;
                     }
                   }
                   if (!snake.empty()) fields.push_back(snake);
                   start = end + 1;
                 }
                 Assessment update = AssessmentFromJson(*assessment, req.matches[1]);
                 if (auto valid = assessment->find("valid");
                     valid != assessment->end() && valid->is_boolean())
                   update.valid = valid->get<bool>();
                 Reply(res, {{"assessment", AssessmentToJson(traces.UpdateAssessment(
                                                req.matches[1], req.matches[2], update, fields))}});
               });
  server.Delete(one, RouteSpec("assessments/delete").Needs(kExperiment, kEdit),
                [&traces](const Request& req, Response& res) {
                  traces.DeleteAssessment(req.matches[1], req.matches[2]);
                  Reply(res, Json::object());
                });
}

void AddOtlpRoute(HttpServer& server, tracing::TraceService& traces) {
  server.Post(
      "/v1/traces", RouteSpec("otlp/traces").Needs(kExperiment, kEdit).BodyLimit(kOtlpBodyLimit),
      [&traces](const Request& req, Response& res) {
        const std::string experiment_id = req.get_header_value("x-mlflow-experiment-id");
        if (experiment_id.empty())
          ThrowInvalid("Missing header 'x-mlflow-experiment-id': the experiment the spans go to");
        std::string type = req.get_header_value("Content-Type");
        type = type.substr(0, type.find(';'));
        while (!type.empty() && type.back() == ' ') type.pop_back();
        tracing::OtelBatch batch;
        if (type == "application/x-protobuf" || type == "application/protobuf")
          batch = DecodeOtlpProtobuf(req.body);
        else if (type == "application/json")
          batch = DecodeOtlpJson(req.body);
        else
          ThrowInvalid("Invalid Content-Type: " + type +
                       ". Expected: application/x-protobuf or application/json");
        traces.LogSpans(experiment_id, batch, req.get_header_value("x-mlflow-run-id"));
        // An empty ExportTraceServiceResponse: everything was taken.
        if (type == "application/json")
          res.set_content("{}", "application/json");
        else
          res.set_content("", "application/x-protobuf");
      });
}

}  // namespace

std::string FormatTimestamp(int64_t millis) {
  const int64_t seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000;
  const int64_t ms = millis - seconds * 1000;
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[48];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string out = text;
  if (ms != 0) {
    char fraction[8];
    std::snprintf(fraction, sizeof fraction, ".%03d", static_cast<int>(ms));
    out += fraction;
  }
  return out + "Z";
}

int64_t ParseTimestamp(const std::string& text, const char* field) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6)
    ThrowInvalid(std::string("Invalid value '") + text + "' for '" + field +
                 "': expected an RFC 3339 timestamp such as 2026-01-02T03:04:05.678Z");
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t millis = static_cast<int64_t>(timegm(&tm)) * 1000;
  size_t i = static_cast<size_t>(consumed);
  if (i < text.size() && text[i] == '.') {
    int64_t scale = 100;
    for (++i; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      millis += (text[i] - '0') * scale;
      scale /= 10;
    }
  }
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int hours = 0, minutes = 0;
    if (std::sscanf(text.c_str() + i + 1, "%2d:%2d", &hours, &minutes) == 2) {
      const int64_t offset = (hours * 60 + minutes) * 60000;
      millis += text[i] == '+' ? -offset : offset;
      i += 6;
    }
  } else if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
    ++i;
  }
  if (i != text.size())
    ThrowInvalid(std::string("Invalid value '") + text + "' for '" + field +
                 "': expected an RFC 3339 timestamp such as 2026-01-02T03:04:05.678Z");
  return millis;
}

std::string FormatDuration(int64_t millis) {
  char text[48];
  const int64_t abs = millis < 0 ? -millis : millis;
  if (abs % 1000 == 0)
    std::snprintf(text, sizeof text, "%s%llds", millis < 0 ? "-" : "",
                  static_cast<long long>(abs / 1000));
  else
    std::snprintf(text, sizeof text, "%s%lld.%03llds", millis < 0 ? "-" : "",
                  static_cast<long long>(abs / 1000), static_cast<long long>(abs % 1000));
  return text;
}

int64_t ParseDuration(const std::string& text, const char* field) {
  double seconds = 0;
  int consumed = 0;
  if (text.empty() || text.back() != 's' ||
      std::sscanf(text.c_str(), "%lf%n", &seconds, &consumed) != 1 ||
      static_cast<size_t>(consumed) != text.size() - 1)
    ThrowInvalid(std::string("Invalid value '") + text + "' for '" + field +
                 "': expected a duration such as 0.309s");
  return static_cast<int64_t>(std::llround(seconds * 1000));
}

Json TraceInfoToJson(const TraceInfo& info) {
  Json out = {{"trace_id", info.trace_id},
              {"trace_location",
               {{"type", "MLFLOW_EXPERIMENT"},
                {"mlflow_experiment", {{"experiment_id", info.experiment_id}}}}},
              {"request_time", FormatTimestamp(info.request_time)},
              {"state", info.state},
              {"trace_metadata", info.metadata},
              {"tags", info.tags}};
  if (info.client_request_id) out["client_request_id"] = *info.client_request_id;
  if (info.execution_duration) out["execution_duration"] = FormatDuration(*info.execution_duration);
  if (info.request_preview) out["request_preview"] = *info.request_preview;
  if (info.response_preview) out["response_preview"] = *info.response_preview;
  if (!info.assessments.empty()) {
    Json assessments = Json::array();
    for (const Assessment& a : info.assessments) assessments.push_back(AssessmentToJson(a));
    out["assessments"] = std::move(assessments);
  }
  return out;
}

TraceInfo TraceInfoFromJson(const Json& j) {
  TraceInfo info;
  info.trace_id = StringField(j, "trace_id");
  if (auto it = j.find("client_request_id"); it != j.end() && it->is_string())
    info.client_request_id = it->get<std::string>();
  if (auto location = j.find("trace_location"); location != j.end() && location->is_object()) {
    if (auto experiment = location->find("mlflow_experiment");
        experiment != location->end() && experiment->is_object())
      info.experiment_id = StringField(*experiment, "experiment_id");
  }
  if (auto it = j.find("request_time"); it != j.end() && it->is_string())
    info.request_time = ParseTimestamp(it->get<std::string>(), "request_time");
  if (auto it = j.find("execution_duration"); it != j.end() && it->is_string())
    info.execution_duration = ParseDuration(it->get<std::string>(), "execution_duration");
  if (auto it = j.find("state"); it != j.end() && it->is_string()) {
    info.state = it->get<std::string>();
    if (info.state != "OK" && info.state != "ERROR" && info.state != "IN_PROGRESS" &&
        info.state != "STATE_UNSPECIFIED")
      ThrowInvalid("Invalid value '" + info.state +
                   "' for 'state': expected OK, ERROR, IN_PROGRESS or STATE_UNSPECIFIED");
  }
  if (auto it = j.find("request_preview"); it != j.end() && it->is_string())
    info.request_preview = it->get<std::string>();
  if (auto it = j.find("response_preview"); it != j.end() && it->is_string())
    info.response_preview = it->get<std::string>();
  info.metadata = StringMap(j, "trace_metadata");
  info.tags = StringMap(j, "tags");
  if (auto it = j.find("assessments"); it != j.end() && it->is_array())
    for (const Json& a : *it) info.assessments.push_back(AssessmentFromJson(a, info.trace_id));
  return info;
}

void AddTraceRoutes(HttpServer& server, tracing::TraceService& traces, bool multipart_uploads) {
  server.Get("/version", RouteSpec("server/version").SignedIn(), [](const Request&, Response& res) {
    res.set_content(kMlflowProtocolVersion, "text/plain");
    res.set_header("X-Slipway-Version", SLIPWAY_VERSION_STRING);
  });
  // What MLflow's client asks before it moves artifacts: how the server
  // is set up (no secrets). Multipart uploads through the artifact proxy
  // when the root has them (S3), as MLflow says for its own; no multipart
  // downloads, presigned run uploads, workspaces or trace archival.
  server.Get("/api/3.0/mlflow/server-info", RouteSpec("server/info").SignedIn(),
             [multipart_uploads](const Request&, Response& res) {
               Reply(res, {{"store_type", "SqlStore"},
                           {"workspaces_enabled", false},
                           {"trace_archival_enabled", false},
                           {"multipart_uploads_enabled", multipart_uploads},
                           {"multipart_downloads_enabled", false},
                           {"presigned_upload_run_id_supported", false},
                           {"presigned_upload_model_id_supported", false},
                           {"features_enabled", {{"gateway", false}}}});
             });
  AddTraceInfoRoutes(server, traces);
  AddTagAndDeleteRoutes(server, traces);
  AddV2StartEndRoutes(server, traces);
  AddAnalysisRoutes(server, traces);
  AddPromptLinkRoute(server, traces);
  AddAssessmentRoutes(server, traces);
  AddOtlpRoute(server, traces);
}

}  // namespace slipway::http
