#include "http/audit_hook.h"

#include <strings.h>

#include <charconv>

#include "core/base64.h"
#include "core/error.h"
#include "core/page_token.h"
#include "core/sha256.h"
#include "governance/credentials.h"
#include "http/json_codec.h"
#include "http/route_helpers.h"

namespace slipway::http {
namespace {

// What a request refused before anyone was authenticated (401, 429) was
// refused for: the identity its credentials claimed, "user:<name>",
// "token:<public id>" or "session:<public id>" (never a secret), or "" when
// it sent none; so failed sign-ins are audited, and counted, per account
// tried.
std::string ClaimedIdentity(const Request& req) {
  std::string header = req.get_header_value("Authorization");
  auto scheme = [&](std::string_view name) {
    return header.size() > name.size() &&
           strncasecmp(header.c_str(), name.data(), name.size()) == 0;
  };
  auto credentials = [&](size_t skip) {
    size_t start = header.find_first_not_of(' ', skip);
    return start == std::string::npos ? std::string() : header.substr(start);
  };
  if (scheme("Basic ")) {
    std::optional<std::string> decoded = Base64Decode(credentials(6));
    size_t colon = decoded ? decoded->find(':') : std::string::npos;
    return colon == std::string::npos ? "user:<malformed>" : "user:" + decoded->substr(0, colon);
  }
  if (scheme("Bearer ")) {
    std::string id;
    std::string secret;
    return governance::ParseToken(credentials(7), &id, &secret) ? "token:" + id
                                                                : "token:<malformed>";
  }
  if (!header.empty()) return "credentials:<unsupported>";
  if (std::string cookie = CookieValue(req, kSessionCookie); !cookie.empty()) {
    std::string id;
    std::string secret;
    return governance::ParseToken(cookie, &id, &secret) ? "session:" + id : "session:<malformed>";
  }
  return "";
}

// The request body as the audit digest covers it: with passwords blanked
// out, so that the trail holds nothing a password could be checked against.
std::string DigestedBody(const Request& req, const std::string& route) {
  if (route.rfind("users/", 0) != 0 || req.body.empty()) return req.body;
  Json body = Json::parse(req.body, nullptr, false);
  if (!body.is_object()) return "<unparsed body>";
  for (const char* key : {"password", "current_password"}) {
    if (body.contains(key)) body[key] = "<redacted>";
  }
  return body.dump();
}

std::optional<int64_t> ParamInt(const Request& req, const char* key) {
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
          {"hash", entry.hash},
          {"source", entry.source},
          {"count", entry.count}};
}

}  // namespace

void EnableAuditTrail(HttpServer& server, governance::AuditLog& log) {
  server.SetObserver([&log](const Request& req, const Response& res, const RouteSpec& route) {
    int status = res.status == -1 ? 200 : res.status;
    // Refusals are audited whatever the method: they show who probes what.
    // AuditLog rate-limits them, so a flood of them cannot fill the disk.
    bool refused = status == 401 || status == 403 || status == 429;
    bool changes = req.method != "GET" && req.method != "HEAD" && req.method != "OPTIONS" &&
                   !route.read_only() && route.name() != "unmatched";
    if (!refused && !changes) return;
    governance::AuditEntry entry;
    entry.action = route.name();
    // Who acted and what the service acted on, as the request's operation
    // recorded them; a request refused before it had one (401, 429) names
    // the identity its credentials claimed.
    const governance::Operation* operation = governance::Operation::Current();
    entry.principal = governance::CurrentActorName();
    entry.target = operation != nullptr ? operation->target() : std::string();
    if (status == 401 || status == 429) {
      if (std::string claimed = ClaimedIdentity(req); !claimed.empty()) entry.target = claimed;
    }
    if (entry.target.empty()) entry.target = "path:" + req.path;
    entry.outcome = status;
    entry.source = req.remote_addr;
    entry.request_digest =
        Sha256::Hex(req.method + " " + req.path + "\n" + DigestedBody(req, route.name()));
    log.Append(std::move(entry));
  });
}

void AddAuditRoutes(HttpServer& server, governance::AuditLog& log) {
  server.Get(
      "/api/v1/audit", RouteSpec("audit/query").AdminOnly(),
      [&log](const Request& req, Response& res) {
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
        query.offset = token.empty() ? 0 : DecodePageToken(token);
        bool has_more = false;
        Json items = Json::array();
        for (const auto& entry : log.Query(query, &has_more)) items.push_back(EntryJson(entry));
        Reply(res, Paged("entries", std::move(items),
                         has_more ? EncodePageToken(query.offset + query.limit) : ""));
      });
  server.Get(
      "/api/v1/audit/verify", RouteSpec("audit/verify").AdminOnly(),
      [&log](const Request&, Response& res) {
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
