#include "http/monitor_routes.h"

#include <chrono>
#include <limits>

#include "core/error.h"
#include "http/route_helpers.h"

namespace slipway::http {
namespace {

using monitoring::live::FeedbackItem;
using monitoring::live::MonitorConfig;
using monitoring::live::MonitorRequest;
using monitoring::live::RangeDrift;
using monitoring::live::WindowDrift;

Json ColumnsJson(const data::DriftReport& report, const MonitorConfig& config,
                 const std::map<std::string, double>* missing_rate) {
  Json columns = Json::array();
  for (const data::ColumnDrift& column : report.columns) {
    Json item = column.ToJson();
    double threshold = config.ThresholdOf(column.column);
    item["threshold"] = threshold;
    item["over_threshold"] = column.comparable && column.psi > threshold;
    if (missing_rate) {
      auto it = missing_rate->find(column.column);
      if (it != missing_rate->end()) item["missing_rate"] = it->second;
    }
    columns.push_back(std::move(item));
  }
  return columns;
}

Json DriftJson(const RangeDrift& drift, const MonitorConfig& config) {
  Json missing = Json::array();
  for (const std::string& name : drift.features.only_in_reference) missing.push_back(name);
  Json out = {{"from_ms", drift.from_ms},
              {"to_ms", drift.to_ms},
              {"windows", drift.windows},
              {"rows", drift.rows},
              {"first_window_start_ms", drift.first_window_start_ms},
              {"last_window_end_ms", drift.last_window_end_ms},
              {"features", ColumnsJson(drift.features, config, &drift.missing_rate)},
              {"features_not_seen", missing},
              {"predictions", ColumnsJson(drift.predictions, config, nullptr)},
              {"accuracy", drift.accuracy.ToJson()},
              {"estimated", drift.estimated.ToJson()}};
  if (!drift.distributions.empty()) {
    Json distributions = Json::array();
    for (const auto& item : drift.distributions) distributions.push_back(item.ToJson());
    out["distributions"] = std::move(distributions);
  }
  return out;
}

// `from` and `to` in milliseconds since the epoch: by default every window.
std::pair<int64_t, int64_t> RangeOf(const Request& req) {
  Json query = RequestJson(req);
  RequestFields fields(query);
  int64_t from = fields.OptionalInt("from").value_or(std::numeric_limits<int64_t>::min());
  int64_t to = fields.OptionalInt("to").value_or(std::numeric_limits<int64_t>::max());
  return {from, to};
}

MonitorRequest RequestOf(const Json& body) {
  RequestFields fields(body);
  MonitorRequest request;
  request.reference = fields.OptionalString("reference");
  request.window = fields.OptionalString("window", "5m");
  request.task = fields.OptionalString("task");
  if (fields.Has("features")) request.features = fields.StringList("features");
  if (body.contains("thresholds")) {
    const Json& thresholds = body.at("thresholds");
    if (!thresholds.is_object()) {
      ThrowInvalid("thresholds: must be an object of feature: PSI, such as {\"age\": 0.1}");
    }
    for (const auto& [feature, value] : thresholds.items()) {
      if (!value.is_number()) ThrowInvalid("thresholds." + feature + ": must be a number");
      request.thresholds[feature] = value.get<double>();
    }
  }
  if (body.contains("default_threshold")) {
    if (!body.at("default_threshold").is_number()) {
      ThrowInvalid("default_threshold: must be a number");
    }
    request.default_threshold = body.at("default_threshold").get<double>();
  }
  if (body.contains("retention")) {
    const Json& retention = body.at("retention");
    if (!retention.is_object()) {
      ThrowInvalid(
          "retention: must be an object {\"max_age\"?, \"max_windows\"?, "
          "\"max_predictions\"?}, such as {\"max_age\": \"30d\", \"max_windows\": 1000}");
    }
    RequestFields fields(retention);
    if (fields.Has("max_age")) request.retention_age = fields.OptionalString("max_age");
    for (const char* count : {"max_windows", "max_predictions"}) {
      if (!retention.contains(count)) continue;
      const Json& value = retention.at(count);
      if (!value.is_number_integer() || value.get<int64_t>() < 0) {
        ThrowInvalid(std::string("retention.") + count +
                     ": must be a whole number, 0 or more (0: no limit)");
      }
      (std::string_view(count) == "max_windows" ? request.max_windows : request.max_predictions) =
          value.get<int64_t>();
    }
  }
  return request;
}

FeedbackItem ItemOf(const Json& entry, const std::string& where) {
  if (!entry.is_object()) ThrowInvalid(where + ": must be an object {request_id, label}");
  FeedbackItem item;
  if (!entry.contains("request_id") || !entry.at("request_id").is_string() ||
      entry.at("request_id").get<std::string>().empty()) {
    ThrowInvalid(where + ".request_id: required, a non-empty string");
  }
  item.request_id = entry.at("request_id").get<std::string>();
  Json labels;
  if (entry.contains("labels")) {
    labels = entry.at("labels");
    if (!labels.is_array() || labels.empty()) {
      ThrowInvalid(where + ".labels: must be a non-empty list, one label per row");
    }
  } else if (entry.contains("label")) {
    labels = Json::array({entry.at("label")});
  } else {
    ThrowInvalid(where + ": needs 'label' (one row) or 'labels' (one per row)");
  }
  for (const Json& label : labels) {
    if (!(label.is_number() || label.is_string() || label.is_boolean())) {
      ThrowInvalid(where + ": a label must be a number, a string or a boolean");
    }
  }
  item.labels = labels.dump();
  return item;
}

}  // namespace

void AddMonitorRoutes(HttpServer& server, monitoring::live::MonitorService& monitors) {
  const std::string base = "/api/v1/deployments/([^/]+)";
  server.Put(base + "/monitor", RouteSpec("monitor/set").Needs(kDeployment, kEdit),
             [&monitors](const Request& req, Response& res) {
               MonitorConfig config = monitors.Set(req.matches[1], RequestOf(RequestJson(req)));
               Reply(res, {{"monitor", monitoring::live::ToJson(config)}});
             });
  server.Get(base + "/monitor", RouteSpec("monitor/get").Needs(kDeployment, kRead),
             [&monitors](const Request& req, Response& res) {
               MonitorConfig config = monitors.Get(req.matches[1]);
               Reply(res, {{"monitor", monitoring::live::ToJson(config)}});
             });
  server.Delete(base + "/monitor", RouteSpec("monitor/delete").Needs(kDeployment, kEdit),
                [&monitors](const Request& req, Response& res) {
                  monitors.Delete(req.matches[1]);
                  Reply(res, Json::object());
                });
  server.Get(base + "/monitor/drift", RouteSpec("monitor/drift").Needs(kDeployment, kRead),
             [&monitors](const Request& req, Response& res) {
               auto [from, to] = RangeOf(req);
               MonitorConfig config = monitors.Get(req.matches[1]);
               RangeDrift drift = monitors.Drift(req.matches[1], from, to);
               Reply(res, {{"drift", DriftJson(drift, config)}});
             });
  server.Get(base + "/monitor/windows", RouteSpec("monitor/windows").Needs(kDeployment, kRead),
             [&monitors](const Request& req, Response& res) {
               auto [from, to] = RangeOf(req);
               MonitorConfig config = monitors.Get(req.matches[1]);
               Json windows = Json::array();
               for (const WindowDrift& item : monitors.Series(req.matches[1], from, to)) {
                 Json window = DriftJson(item.drift, config);
                 window["seq"] = item.window.seq;
                 window["start_ms"] = item.window.start_ms;
                 window["end_ms"] = item.window.end_ms;
                 window["closed"] = item.closed;
                 windows.push_back(std::move(window));
               }
               Reply(res, {{"windows", windows}});
             });
  server.Post(base + "/feedback", RouteSpec("monitor/feedback").Needs(kDeployment, kUse),
              [&monitors](const Request& req, Response& res) {
                Json body = RequestJson(req);
                std::vector<FeedbackItem> items;
                if (body.contains("feedback")) {
                  const Json& list = body.at("feedback");
                  if (!list.is_array()) ThrowInvalid("feedback: must be a list of entries");
                  for (size_t i = 0; i < list.size(); ++i) {
                    items.push_back(ItemOf(list[i], "feedback[" + std::to_string(i) + "]"));
                  }
                } else {
                  items.push_back(ItemOf(body, "body"));
                }
                monitors.AddFeedback(req.matches[1], items);
                Reply(res, {{"accepted", items.size()}});
              });
}

}  // namespace slipway::http
