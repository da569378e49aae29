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
  return !ends_with("/search") && !ends_with("/get-latest-versions") && !ends_with("/validate") &&
         !ends_with("/objects-missing") && route != "unmatched";
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
  // Before "experiments/", which would take these too.
  if (starts("experiments/permissions/")) {
    return "experiment:" + FieldOf(req, res, "experiment_id") +
           "/user:" + FieldOf(req, res, "username");
  }
  if (starts("experiments/")) return "experiment:" + FieldOf(req, res, "experiment_id");
  if (starts("runs/")) {
    std::string id = FieldOf(req, res, "run_id");
    if (id.empty()) id = FieldOf(req, res, "run_uuid");
    return "run:" + id;
  }
  if (starts("registered-models/permissions/")) {
    return "registered_model:" + FieldOf(req, res, "name") +
           "/user:" + FieldOf(req, res, "username");
  }
  if (starts("users/permissions/")) {
    return FieldOf(req, res, "resource_type") + ":" + FieldOf(req, res, "resource_id") +
           "/user:" + FieldOf(req, res, "username");
  }
  if (starts("users/")) return "user:" + FieldOf(req, res, "username");
  if (starts("tokens/")) {
    // Never the token itself: its public id only.
    std::string id =
        req.matches.size() > 1 ? req.matches[1].str() : FindStringField(res.body, "id");
    return "token:" + id;
  }
  if (starts("datasets/")) {
    if (route == "datasets/object-put") return "dataset_object:" + req.matches[1].str();
    if (req.matches.size() > 1) {
      std::string version =
          req.matches.size() > 2 ? req.matches[2].str() : FindStringField(req.body, "version");
      return "dataset:" + req.matches[1].str() + (version.empty() ? "" : "@" + version);
    }
    return "datasets";
  }
  if (starts("registered-models/")) return "registered_model:" + FieldOf(req, res, "name");
  if (starts("model-versions/")) {
    return "model_version:" + FieldOf(req, res, "name") + "/" + FieldOf(req, res, "version");
  }
  return "path:" + req.path;
}

// The request body as the audit digest covers it: with passwords blanked
// out, so that the trail holds nothing a password could be checked against.
std::string DigestedBody(const httplib::Request& req, const std::string& route) {
  if (route.rfind("users/", 0) != 0 || req.body.empty()) return req.body;
  Json body = Json::parse(req.body, nullptr, false);
  if (!body.is_object()) return "<unparsed body>";
  for (const char* key : {"password", "current_password"}) {
    if (body.contains(key)) body[key] = "<redacted>";
  }
  return body.dump();
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
        int status = res.status == -1 ? 200 : res.status;
        // Refusals are audited whatever the method: they show who probes what.
        bool refused = status == 401 || status == 403 || status == 429;
        if (!refused && !IsStateChanging(req, route)) return;
        governance::AuditEntry entry;
        entry.principal = CurrentPrincipal();
        entry.action = route;
        entry.target = TargetOf(req, res, route);
        entry.outcome = status;
        entry.request_digest = governance::AuditLog::Sha256Hex(req.method + " " + req.path + "\n" +
                                                               DigestedBody(req, route));
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
