#include "http/audit_hook.h"

#include <charconv>

#include "core/error.h"
#include "http/json_codec.h"
#include "http/route_helpers.h"
#include "tracking/search_filter.h"

namespace slipway::http {
namespace {

bool IsStateChanging(const httplib::Request& req, const std::string& route) {
  if (req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS") return false;
  auto ends_with = [&](std::string_view suffix) {
    return route.size() >= suffix.size() &&
           route.compare(route.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return !ends_with("/search") && !ends_with("/get-latest-versions") && route != "unmatched";
}

// The string value of the first `"key": "..."` in a JSON text, without
// parsing all of it: log-batch bodies can be large and this runs on every
// write.
std::string FindStringField(const std::string& json, const std::string& key) {
  const std::string quoted = "\"" + key + "\"";
  for (size_t at = json.find(quoted); at != std::string::npos; at = json.find(quoted, at + 1)) {
    size_t colon = json.find_first_not_of(" \t\r\n", at + quoted.size());
    if (colon == std::string::npos || json[colon] != ':') continue;
    size_t open = json.find_first_not_of(" \t\r\n", colon + 1);
    if (open == std::string::npos) return {};
    if (json[open] != '"') {
      // A number (MLflow sends some ids as numbers): up to the next delimiter.
      size_t end = json.find_first_of(",}] \t\r\n", open);
      return json.substr(open, end == std::string::npos ? std::string::npos : end - open);
    }
    size_t close = open + 1;
    while (close < json.size() && json[close] != '"') close += json[close] == '\\' ? 2 : 1;
    // Decode escapes (\u00fc, \") so a name is the same however it was sent.
    Json token = Json::parse(json.substr(open, close - open + 1), nullptr, false);
    return token.is_string() ? token.get<std::string>() : std::string();
  }
  return {};
}

std::string FieldOf(const httplib::Request& req, const httplib::Response& res,
                    const std::string& key) {
  if (req.has_param(key.c_str())) return req.get_param_value(key.c_str());
  std::string value = FindStringField(req.body, key);
  if (value.empty()) value = FindStringField(res.body, key);
  return value;
}

std::string TargetOf(const httplib::Request& req, const httplib::Response& res,
                     const std::string& route) {
  auto starts = [&](const char* prefix) { return route.rfind(prefix, 0) == 0; };
  if (starts("mlflow-artifacts/")) {
    return "artifact:" + (req.matches.size() > 1 ? req.matches[1].str() : std::string());
  }
  if (starts("logged-models/")) {
    std::string id = req.matches.size() > 1 ? req.matches[1].str() : FieldOf(req, res, "model_id");
    return "logged_model:" + id;
  }
  if (starts("experiments/")) return "experiment:" + FieldOf(req, res, "experiment_id");
  if (starts("runs/")) {
    std::string id = FieldOf(req, res, "run_id");
    if (id.empty()) id = FieldOf(req, res, "run_uuid");
    return "run:" + id;
  }
  if (starts("registered-models/")) return "registered_model:" + FieldOf(req, res, "name");
  if (starts("model-versions/")) {
    return "model_version:" + FieldOf(req, res, "name") + "/" + FieldOf(req, res, "version");
  }
  return "path:" + req.path;
}

std::optional<int64_t> ParamInt(const httplib::Request& req, const char* key) {
  if (!req.has_param(key)) return std::nullopt;
  std::string text = req.get_param_value(key);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    ThrowInvalid(std::string("Parameter '") + key + "' must be an integer, got '" + text + "'.");
  }
  return value;
}

Json EntryJson(const governance::AuditEntry& entry) {
  return {{"seq", entry.seq},
          {"time_ms", entry.time_ms},
          {"principal", entry.principal},
          {"action", entry.action},
          {"target", entry.target},
          {"outcome", entry.outcome},
          {"request_digest", entry.request_digest},
          {"prev_hash", entry.prev_hash},
          {"hash", entry.hash}};
}

}  // namespace

void EnableAuditTrail(HttpServer& server, governance::AuditLog& log) {
  server.SetObserver(
      [&log](const httplib::Request& req, const httplib::Response& res, const std::string& route) {
        if (!IsStateChanging(req, route)) return;
        governance::AuditEntry entry;
        entry.principal = "anonymous";  // until authentication (issue 3) names callers
        entry.action = route;
        entry.target = TargetOf(req, res, route);
        entry.outcome = res.status == -1 ? 200 : res.status;
        entry.request_digest =
            governance::AuditLog::Sha256Hex(req.method + " " + req.path + "\n" + req.body);
        log.Append(std::move(entry));
      });
}

void AddAuditRoutes(HttpServer& server, governance::AuditLog& log) {
  server.Get(
      "/api/v1/audit", "audit/query", [&log](const httplib::Request& req, httplib::Response& res) {
        governance::AuditQuery query;
        query.since_ms = ParamInt(req, "since");
        query.until_ms = ParamInt(req, "until");
        query.principal = req.get_param_value("principal");
        query.action = req.get_param_value("action");
        query.target = req.get_param_value("target");
        query.limit = ParamInt(req, "max_results").value_or(1000);
        if (query.limit <= 0 || query.limit > 50000) {
          ThrowInvalid("Invalid value " + std::to_string(query.limit) +
                       " for parameter 'max_results' supplied: it must be between 1 and 50000.");
        }
        std::string token = req.get_param_value("page_token");
        query.offset = token.empty() ? 0 : tracking::DecodePageToken(token);
        bool has_more = false;
        Json items = Json::array();
        for (const auto& entry : log.Query(query, &has_more)) items.push_back(EntryJson(entry));
        Reply(res, Paged("entries", std::move(items),
                         has_more ? tracking::EncodePageToken(query.offset + query.limit) : ""));
      });
  server.Get(
      "/api/v1/audit/verify", "audit/verify",
      [&log](const httplib::Request&, httplib::Response& res) {
        governance::AuditReport report = log.Verify();
        Json problems = Json::array();
        for (const auto& p : report.problems) {
          problems.push_back({{"seq", p.seq}, {"kind", p.kind}, {"message", p.message}});
        }
        Reply(res,
              {{"ok", report.ok}, {"entries", report.entries}, {"problems", std::move(problems)}});
      });
}

}  // namespace slipway::http
