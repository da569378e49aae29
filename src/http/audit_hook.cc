#include "http/audit_hook.h"

#include <strings.h>

#include <charconv>
#include <cstring>
#include <map>

#include "core/base64.h"
#include "core/error.h"
#include "core/page_token.h"
#include "core/sha256.h"
#include "governance/credentials.h"
#include "http/json_codec.h"
#include "http/route_helpers.h"

namespace slipway::http {
namespace {

bool IsStateChanging(const Request& req, const std::string& route) {
  if (req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS") return false;
  auto ends_with = [&](std::string_view suffix) {
    return route.size() >= suffix.size() &&
           route.compare(route.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return !ends_with("/search") && !ends_with("/get-latest-versions") && !ends_with("/validate") &&
         !ends_with("/objects-missing") && route != "unmatched";
}

// The request's top-level fields, as the handler reads them (RequestJson): the
// JSON body's own members, or the query string when the request is a GET or
// has no body. Nested objects are never looked into, and of a member given
// twice the last counts, as in the handler's parse; so an entry names the
// resource the handler acted on, not one mentioned deeper in the request.
// The body is scanned without building a tree (log-batch bodies reach 1 MB).
class TopLevelFields : public nlohmann::json_sax<Json> {
 public:
  explicit TopLevelFields(const Request& req) : req_(req) {
    from_query_ = req.method == "GET" || req.body.empty();
    if (!from_query_ && !Json::sax_parse(req.body, this)) values_.clear();
  }

  bool Has(const std::string& key) const {
    return from_query_ ? req_.has_param(key.c_str()) : values_.count(key) > 0;
  }
  // The member's text (a number as written), or "" when absent or not a scalar.
  std::string Get(const std::string& key) const {
    if (from_query_) return req_.get_param_value(key.c_str());
    auto it = values_.find(key);
    return it == values_.end() ? std::string() : it->second;
  }

  bool null() override {
    // A null member counts as absent, as in RequestFields.
    if (depth_ == 1 && root_is_object_) values_.erase(key_);
    return true;
  }
  bool boolean(bool) override { return Value(""); }
  bool number_integer(number_integer_t value) override { return Value(std::to_string(value)); }
  bool number_unsigned(number_unsigned_t value) override { return Value(std::to_string(value)); }
  bool number_float(number_float_t, const string_t& text) override { return Value(text); }
  bool string(string_t& value) override { return Value(value); }
  bool binary(binary_t&) override { return Value(""); }
  bool start_object(std::size_t) override { return Open(true); }
  bool key(string_t& key) override {
    if (depth_ == 1) key_ = key;
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(false); }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool Value(std::string text) {
    if (depth_ == 1 && root_is_object_) values_[key_] = std::move(text);
    return true;
  }
  bool Open(bool object) {
    if (depth_ == 0) root_is_object_ = object;
    Value("");  // a member whose value is an object or a list is no string
    ++depth_;
    return true;
  }
  bool Close() {
    --depth_;
    return true;
  }

  const Request& req_;
  bool from_query_ = false;
  int depth_ = 0;
  bool root_is_object_ = false;
  std::string key_;
  std::map<std::string, std::string> values_;
};

// A field of the reply, by its path from the top ({"run", "info", "run_id"}):
// the ids a create made. "" when the reply has none (the request failed).
std::string ReplyField(const Response& res, std::initializer_list<const char*> path) {
  Json reply = Json::parse(res.body, nullptr, false);
  const Json* at = &reply;
  for (const char* key : path) {
    if (!at->is_object()) return {};
    auto it = at->find(key);
    if (it == at->end()) return {};
    at = &*it;
  }
  if (at->is_string()) return at->get<std::string>();
  if (at->is_number_integer()) return std::to_string(at->get<int64_t>());
  return {};
}

std::string PathCapture(const Request& req, size_t index) {
  return req.matches.size() > index ? std::string(req.matches[index]) : std::string();
}

// The entity a request touched: from the path's captures, the request's
// top-level fields, or for creates the reply. Routes are matched on the
// longest prefix below, so a specific prefix ("experiments/permissions/")
// never loses to a shorter one ("experiments/") whatever the order.
std::string TargetOf(const Request& req, const Response& res, const std::string& route) {
  using Rule = std::string (*)(const Request&, const Response&, const std::string& route,
                               const TopLevelFields&);
  static const std::pair<const char*, Rule> kRules[] = {
      {"mlflow-artifacts/",
       [](const auto& req, const auto&, const auto&, const auto& fields) {
         std::string path = PathCapture(req, 1);
         return "artifact:" + (path.empty() ? fields.Get("path") : path);
       }},
      {"logged-models/",
       [](const auto& req, const auto& res, const auto& route, const auto&) {
         return "logged_model:" + (route == "logged-models/create"
                                       ? ReplyField(res, {"model", "info", "model_id"})
                                       : PathCapture(req, 1));
       }},
      {"experiments/",
       [](const auto&, const auto& res, const auto& route, const auto& fields) {
         return "experiment:" + (route == "experiments/create" ? ReplyField(res, {"experiment_id"})
                                                               : fields.Get("experiment_id"));
       }},
      {"experiments/permissions/",
       [](const auto&, const auto&, const auto&, const auto& fields) {
         return "experiment:" + fields.Get("experiment_id") + "/user:" + fields.Get("username");
       }},
      {"runs/",
       [](const auto&, const auto& res, const auto& route, const auto& fields) {
         if (route == "runs/create") return "run:" + ReplyField(res, {"run", "info", "run_id"});
         // As the handlers read it: run_id when given, else the older run_uuid.
         return "run:" + (fields.Has("run_id") || !fields.Has("run_uuid") ? fields.Get("run_id")
                                                                          : fields.Get("run_uuid"));
       }},
      {"registered-models/",
       [](const auto&, const auto&, const auto&, const auto& fields) {
         return "registered_model:" + fields.Get("name");
       }},
      {"registered-models/permissions/",
       [](const auto&, const auto&, const auto&, const auto& fields) {
         return "registered_model:" + fields.Get("name") + "/user:" + fields.Get("username");
       }},
      {"model-versions/",
       [](const auto&, const auto& res, const auto& route, const auto& fields) {
         std::string version = route == "model-versions/create"
                                   ? ReplyField(res, {"model_version", "version"})
                                   : fields.Get("version");
         return "model_version:" + fields.Get("name") + "/" + version;
       }},
      {"users/", [](const auto&, const auto&, const auto&,
                    const auto& fields) { return "user:" + fields.Get("username"); }},
      {"users/permissions/",
       [](const auto&, const auto&, const auto&, const auto& fields) {
         return fields.Get("resource_type") + ":" + fields.Get("resource_id") +
                "/user:" + fields.Get("username");
       }},
      {"tokens/",
       [](const auto& req, const auto& res, const auto& route, const auto&) {
         // Never the token itself: its public id only.
         return "token:" + (route == "tokens/create" ? ReplyField(res, {"token_info", "id"})
                                                     : PathCapture(req, 1));
       }},
      {"datasets/",
       [](const auto& req, const auto&, const auto& route, const auto& fields) {
         std::string name = PathCapture(req, 1);
         if (route == "datasets/object-put") return "dataset_object:" + name;
         if (name.empty()) return std::string("datasets");
         std::string version = req.matches.size() > 2 ? PathCapture(req, 2) : fields.Get("version");
         return "dataset:" + name + (version.empty() ? "" : "@" + version);
       }},
  };
  const std::pair<const char*, Rule>* best = nullptr;
  size_t best_length = 0;
  for (const auto& rule : kRules) {
    size_t length = std::strlen(rule.first);
    if (length > best_length && route.compare(0, length, rule.first) == 0) {
      best = &rule;
      best_length = length;
    }
  }
  if (best == nullptr) return "path:" + req.path;
  return best->second(req, res, route, TopLevelFields(req));
}

// What a request refused before anyone was authenticated (401, 429) was
// refused for: the identity its credentials claimed, "user:<name>" or
// "token:<public id>" (never a secret), or "" when it sent none; so failed
// sign-ins are audited, and counted, per account tried.
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
  return header.empty() ? "" : "credentials:<unsupported>";
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
  server.SetObserver([&log](const Request& req, const Response& res, const std::string& route) {
    int status = res.status == -1 ? 200 : res.status;
    // Refusals are audited whatever the method: they show who probes what.
    // AuditLog rate-limits them, so a flood of them cannot fill the disk.
    bool refused = status == 401 || status == 403 || status == 429;
    if (!refused && !IsStateChanging(req, route)) return;
    governance::AuditEntry entry;
    entry.principal = CurrentPrincipal();
    entry.action = route;
    entry.target = TargetOf(req, res, route);
    if (status == 401 || status == 429) {
      if (std::string claimed = ClaimedIdentity(req); !claimed.empty()) entry.target = claimed;
    }
    entry.outcome = status;
    entry.source = req.remote_addr;
    entry.request_digest =
        Sha256::Hex(req.method + " " + req.path + "\n" + DigestedBody(req, route));
    log.Append(std::move(entry));
  });
}

void AddAuditRoutes(HttpServer& server, governance::AuditLog& log) {
  server.Get("/api/v1/audit", "audit/query", [&log](const Request& req, Response& res) {
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
  server.Get("/api/v1/audit/verify", "audit/verify", [&log](const Request&, Response& res) {
    governance::AuditReport report = log.Verify();
    Json problems = Json::array();
    for (const auto& p : report.problems) {
      problems.push_back({{"seq", p.seq}, {"kind", p.kind}, {"message", p.message}});
    }
    Reply(res, {{"ok", report.ok}, {"entries", report.entries}, {"problems", std::move(problems)}});
  });
}

}  // namespace slipway::http
