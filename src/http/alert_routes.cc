#include "http/alert_routes.h"

#include "core/clock.h"
#include "http/json_codec.h"
#include "http/route_helpers.h"

namespace slipway::http {
namespace {

using monitoring::ActiveAlert;
using monitoring::AlertTransition;

constexpr int64_t kMaxHistory = 1000;
constexpr uint64_t kMaxRuleFile = 1 << 20;

Json LabelsJson(const monitoring::Labels& labels) {
  Json out = Json::object();
  for (const auto& [k, v] : labels) out[k] = v;
  return out;
}

Json RuleSetJson(const monitoring::AlertRuleSetInfo& info) {
  Json rules = Json::array();
  for (const monitoring::AlertRule& r : info.rules.rules) {
    Json matchers = Json::array();
    for (const monitoring::LabelMatcher& m : r.matchers) {
      static const char* kOps[] = {"=", "!=", "=~", "!~"};
      matchers.push_back(
          {{"name", m.name}, {"op", kOps[static_cast<int>(m.op)]}, {"value", m.value}});
    }
    rules.push_back({{"name", r.name},
                     {"metric", r.metric},
                     {"matchers", matchers},
                     {"function", r.rate ? "rate" : "value"},
                     {"op", std::string(monitoring::ComparisonText(r.comparison))},
                     {"threshold", r.threshold},
                     {"for_ms", r.for_duration.count()},
                     {"severity", r.severity},
                     {"labels", r.labels},
                     {"annotations", r.annotations}});
  }
  Json alertmanagers = Json::array();
  for (const auto& am : info.rules.alertmanagers) alertmanagers.push_back({{"url", am.url}});
  Json webhooks = Json::array();
  for (const auto& hook : info.rules.webhooks) {
    // Header names only: values may be secrets.
    Json headers = Json::array();
    for (const auto& [name, value] : hook.headers) headers.push_back(name);
    for (const auto& [name, variable] : hook.headers_from_env) headers.push_back(name);
    webhooks.push_back({{"name", hook.name}, {"url", hook.url}, {"headers", headers}});
  }
  return {{"deployment", info.record.deployment},
          {"owner", info.record.owner},
          {"updated_time", info.record.updated_ms},
          {"yaml", info.record.yaml},
          {"rules", rules},
          {"receivers", {{"alertmanager", alertmanagers}, {"webhooks", webhooks}}}};
}

Json ActiveJson(const ActiveAlert& a) {
  return {{"alert", a.rule},
          {"fingerprint", a.fingerprint},
          {"state", a.state},
          {"labels", LabelsJson(a.labels)},
          {"annotations", a.annotations},
          {"active_since", FormatIso8601(a.active_since_ms)},
          {"active_since_ms", a.active_since_ms},
          {"fired_ms", a.fired_ms},
          {"value", a.value}};
}

Json TransitionJson(const AlertTransition& t) {
  Json deliveries = Json::array();
  for (const monitoring::AlertDelivery& d : t.deliveries) {
    deliveries.push_back({{"receiver", d.receiver},
                          {"status", d.status},
                          {"attempts", d.attempts},
                          {"delivered_ms", d.delivered_ms},
                          {"last_error", d.last_error}});
  }
  return {{"id", t.id},
          {"alert", t.rule},
          {"fingerprint", t.fingerprint},
          {"state", t.state},
          {"labels", LabelsJson(t.labels)},
          {"annotations", t.annotations},
          {"starts_at_ms", t.starts_at_ms},
          {"ends_at_ms", t.ends_at_ms},
          {"time_ms", t.time_ms},
          {"time", FormatIso8601(t.time_ms)},
          {"value", t.value},
          {"idempotency_key", t.idempotency_key},
          {"owner", t.owner},
          {"deliveries", deliveries}};
}

// The rule file: the body itself, or the `yaml` field of a JSON body.
std::string RuleFileOf(const Request& req) {
  if (req.get_header_value("Content-Type").rfind("application/json", 0) == 0) {
    return RequestFields(RequestJson(req)).RequiredString("yaml");
  }
  return req.body;
}

}  // namespace

void AddAlertRoutes(HttpServer& server, monitoring::AlertService& alerts) {
  const std::string path = "/api/v1/deployments/([^/]+)/alerts";
  server.Put(path, RouteSpec("alerts/set").Needs(kDeployment, kManage).BodyLimit(kMaxRuleFile),
             [&alerts](const Request& req, Response& res) {
               Reply(res, {{"alerts", RuleSetJson(alerts.Set(req.matches[1], RuleFileOf(req)))}});
             });
  server.Get(path, RouteSpec("alerts/get").Needs(kDeployment, kRead),
             [&alerts](const Request& req, Response& res) {
               Reply(res, {{"alerts", RuleSetJson(alerts.Get(req.matches[1]))}});
             });
  server.Delete(path, RouteSpec("alerts/delete").Needs(kDeployment, kManage),
                [&alerts](const Request& req, Response& res) {
                  alerts.Delete(req.matches[1]);
                  Reply(res, Json::object());
                });
  server.Get(
      path + "/history", RouteSpec("alerts/history").Needs(kDeployment, kRead),
      [&alerts](const Request& req, Response& res) {
        int64_t max = RequestFields(RequestJson(req)).OptionalInt("max_results").value_or(100);
        if (max < 1 || max > kMaxHistory) {
          ThrowInvalid("max_results must be between 1 and " + std::to_string(kMaxHistory));
        }
        monitoring::AlertHistory history = alerts.History(req.matches[1], static_cast<size_t>(max));
        Json active = Json::array();
        for (const ActiveAlert& a : history.active) active.push_back(ActiveJson(a));
        Json transitions = Json::array();
        for (const AlertTransition& t : history.transitions) {
          transitions.push_back(TransitionJson(t));
        }
        Reply(res, {{"active", active}, {"transitions", transitions}});
      });
}

}  // namespace slipway::http
