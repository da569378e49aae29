#include "http/auth_routes.h"

#include <spdlog/spdlog.h>
#include <strings.h>

#include <optional>

#include "core/base64.h"
#include "core/clock.h"
#include "core/error.h"
#include "http/json_codec.h"
#include "http/route_helpers.h"

namespace slipway::http {
namespace {

using governance::AccessControl;
using governance::Credentials;
using governance::Permission;
using governance::Principal;
using governance::ResourceType;

// The request's operation, and so the actor every service checks.
const Principal& Caller() {
  const governance::Actor& actor = governance::CurrentActor();
  if (!actor.user) {
    throw Error(ErrorCode::kInternalError, "request has no authenticated caller");
  }
  return *actor.user;
}

Credentials CredentialsOf(const Request& req) {
  Credentials credentials;
  std::string header = req.get_header_value("Authorization");
  auto scheme = [&](std::string_view name) {
    return header.size() > name.size() &&
           strncasecmp(header.c_str(), name.data(), name.size()) == 0;
  };
  if (scheme("Basic ")) {
    std::string decoded;
    std::string encoded = header.substr(6);
    while (!encoded.empty() && encoded.front() == ' ') encoded.erase(0, 1);
    size_t colon = std::string::npos;
    if (std::optional<std::string> text = Base64Decode(encoded)) {
      decoded = std::move(*text);
      colon = decoded.find(':');
    }
    if (colon == std::string::npos) {
      throw Error(ErrorCode::kUnauthenticated,
                  "Malformed Basic credentials in the Authorization header.");
    }
    credentials.kind = Credentials::Kind::kBasic;
    credentials.username = decoded.substr(0, colon);
    credentials.secret = decoded.substr(colon + 1);
  } else if (scheme("Bearer ")) {
    credentials.kind = Credentials::Kind::kBearer;
    credentials.secret = header.substr(7);
    while (!credentials.secret.empty() && credentials.secret.front() == ' ') {
      credentials.secret.erase(0, 1);
    }
  } else if (!header.empty()) {
    throw Error(ErrorCode::kUnauthenticated,
                "Unsupported Authorization scheme: use Basic or Bearer.");
  } else if (std::string cookie = CookieValue(req, kSessionCookie); !cookie.empty()) {
    // A browser's session: every method but the safe ones may change state.
    credentials.kind = Credentials::Kind::kSession;
    credentials.secret = std::move(cookie);
    credentials.changes_state =
        req.method != "GET" && req.method != "HEAD" && req.method != "OPTIONS";
    credentials.csrf_token = req.get_header_value("X-CSRF-Token");
  }
  return credentials;
}

// Whether a 401 should ask for Basic credentials: not for a browser page's
// own calls (its session cookie, or X-Requested-With), where the browser
// would otherwise open its password dialog over the page's sign-in form.
bool AsksForBasic(const Request& req) {
  return !req.has_header("X-Requested-With") && CookieValue(req, kSessionCookie).empty();
}

// The HTTP side of governance: who the caller is (from the headers, before
// the body), the request's governance::Operation (so that the services
// check and name what they touch), the admin-only routes, and holding each
// route to the check it declares. Permission rules themselves live in the
// services.
class RequestGovernance {
 public:
  RequestGovernance(governance::Authorizer& authorizer, AccessControl* access)
      : authorizer_(authorizer), access_(access) {}

  // From the headers alone, before the body is read.
  std::shared_ptr<Principal> Authenticate(const Request& req, Response& res) {
    int retry_after = 0;
    try {
      return std::make_shared<Principal>(
          access_->Authenticate(CredentialsOf(req), req.remote_addr, &retry_after));
    } catch (const Error& error) {
      if (error.code() == ErrorCode::kUnauthenticated) {
        if (AsksForBasic(req)) res.set_header("WWW-Authenticate", "Basic realm=\"slipway\"");
      } else if (error.code() == ErrorCode::kRequestLimitExceeded && retry_after > 0) {
        res.set_header("Retry-After", std::to_string(retry_after));
      }
      throw;
    }
  }

  // Opens the request's operation in `*scope` (kept until the audit entry
  // is written, refusals included), then refuses what the route's
  // declaration refuses before its handler runs.
  void Before(const RouteSpec& route, const std::shared_ptr<void>& caller,
              std::shared_ptr<void>* scope) {
    governance::Actor actor =
        caller ? governance::Actor::ForUser(*std::static_pointer_cast<Principal>(caller))
               : governance::Actor::Operator("anonymous");
    *scope = std::make_shared<governance::Operation>(std::move(actor), route.name());
    if (route.access() == RouteSpec::Access::kAdmin) {
      governance::RequireAdmin(authorizer_, "use " + route.name());
    }
  }

  void After(const RouteSpec& route) {
    governance::Operation* operation = governance::Operation::Current();
    if (route.access() == RouteSpec::Access::kResource && operation != nullptr &&
        !Checked(*operation, route)) {
      // A declaration no check stood behind: fail closed, loudly.
      spdlog::error("route {} declares {} on a {} but its handler made no such check", route.name(),
                    governance::PermissionName(route.level()),
                    governance::ResourceTypeName(route.type()));
      throw Error(ErrorCode::kInternalError, "route " + route.name() + " made no access check");
    }
  }

 private:
  static bool Checked(const governance::Operation& operation, const RouteSpec& route) {
    for (const governance::Operation::Check& check : operation.checks()) {
      // An admin-only check is another declaration (AdminOnly), not this one.
      if (!check.admin && check.type == route.type() && check.needed >= route.level()) {
        return true;
      }
    }
    return false;
  }

  governance::Authorizer& authorizer_;
  AccessControl* access_;
};

Json UserJson(const governance::User& user) {
  return {{"id", user.id}, {"username", user.username}, {"is_admin", user.is_admin}};
}

Json TokenJson(const governance::ApiToken& token) {
  Json out = {{"id", token.id},
              {"username", token.username},
              {"name", token.name},
              {"created_ms", token.created_ms}};
  if (token.expires_ms) out["expires_ms"] = *token.expires_ms;
  return out;
}

// A boolean sent as JSON true/false or as the strings "true"/"false".
bool RequiredBool(const Json& body, const char* key) {
  auto it = body.find(key);
  if (it != body.end() && it->is_boolean()) return it->get<bool>();
  if (it != body.end() && it->is_string()) {
    std::string text = it->get<std::string>();
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (text == "true") return true;
    if (text == "false") return false;
  }
  ThrowInvalid(std::string("Missing or invalid boolean for parameter '") + key + "'.");
}

Json GrantsJson(AccessControl& access, const std::string& username) {
  std::vector<governance::Grant> grants = access.GrantsOf(username);  // checks first
  governance::User user = access.GetUser(username);
  Json permissions = Json::array();
  for (const governance::Grant& grant : grants) {
    permissions.push_back({{"resource_type", governance::ResourceTypeName(grant.type)},
                           {"resource_pattern", grant.resource_id},
                           {"permission", governance::PermissionName(grant.permission)},
                           {"workspace", "default"},
                           {"role_name", "__user_" + std::to_string(user.id) + "__"}});
  }
  return {{"is_admin", user.is_admin}, {"permissions", std::move(permissions)}};
}

void AddUserRoutes(HttpServer& server, AccessControl& access) {
  const std::string users = "/api/2.0/mlflow/users";
  server.Post(users + "/create", RouteSpec("users/create").SignedIn(),
              [&access](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                governance::User user = access.CreateUser(fields.OptionalString("username"),
                                                          fields.OptionalString("password"), false);
                Reply(res, {{"user", UserJson(user)}});
              });
  server.Get(users + "/get", RouteSpec("users/get").SignedIn(),
             [&access](const Request& req, Response& res) {
               std::string username = RequestFields(RequestJson(req)).RequiredString("username");
               Reply(res, {{"user", UserJson(access.ReadUser(username))}});
             });
  server.Get(users + "/current", RouteSpec("users/current").SignedIn(),
             [&access](const Request&, Response& res) {
               Reply(res, {{"user", UserJson(access.GetUser(Caller().username))},
                           {"is_basic_auth", true}});
             });
  server.Get(users + "/list", RouteSpec("users/list").SignedIn(),
             [&access](const Request&, Response& res) {
               Json list = Json::array();
               for (const auto& user : access.ListUsers()) {
                 Json item = UserJson(user);
                 item["roles"] = Json::array();
                 list.push_back(std::move(item));
               }
               Reply(res, {{"users", std::move(list)}});
             });
  server.Patch(users + "/update-password", RouteSpec("users/update-password").SignedIn(),
               [&access](const Request& req, Response& res) {
                 Json body = RequestJson(req);
                 RequestFields fields(body);
                 std::string username = fields.RequiredString("username");
                 access.UpdatePassword(username, fields.OptionalString("password"),
                                       fields.OptionalString("current_password"));
                 Reply(res, Json::object());
               });
  server.Patch(users + "/update-admin", RouteSpec("users/update-admin").SignedIn(),
               [&access](const Request& req, Response& res) {
                 Json body = RequestJson(req);
                 std::string username = RequestFields(body).RequiredString("username");
                 access.SetAdmin(username, RequiredBool(body, "is_admin"));
                 Reply(res, Json::object());
               });
  server.Delete(users + "/delete", RouteSpec("users/delete").SignedIn(),
                [&access](const Request& req, Response& res) {
                  access.DeleteUser(RequestFields(RequestJson(req)).RequiredString("username"));
                  Reply(res, Json::object());
                });
}

void AddGrantRoutes(HttpServer& server, AccessControl& access) {
  const std::string base = "/api/3.0/mlflow/users";
  auto target = [&access](const RequestFields& fields) {
    ResourceType type = governance::ParseResourceType(fields.RequiredString("resource_type"));
    return std::pair{type, access.CanonicalId(type, fields.RequiredString("resource_id"))};
  };
  server.Post(base + "/permissions/grant", RouteSpec("users/permissions/grant").SignedIn(),
              [&access, target](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                auto [type, id] = target(fields);
                Permission permission =
                    governance::ParsePermission(fields.RequiredString("permission"));
                access.SetPermission(fields.RequiredString("username"), type, id, permission);
                Reply(res, Json::object());
              });
  server.Post(base + "/permissions/revoke", RouteSpec("users/permissions/revoke").SignedIn(),
              [&access, target](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                auto [type, id] = target(fields);
                access.RemovePermission(fields.RequiredString("username"), type, id);
                Reply(res, Json::object());
              });
  server.Get(base + "/permissions/get", RouteSpec("users/permissions/get").SignedIn(),
             [&access, target](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               auto [type, id] = target(fields);
               Permission held =
                   access.PermissionOfUser(fields.RequiredString("username"), type, id);
               Reply(res, {{"allowed", held >= Permission::kUse},
                           {"permission", governance::PermissionName(held)}});
             });
  server.Get(base + "/permissions/list", RouteSpec("users/permissions/list").SignedIn(),
             [&access](const Request& req, Response& res) {
               std::string username = RequestFields(RequestJson(req)).RequiredString("username");
               Reply(res, GrantsJson(access, username));
             });
  server.Get(base + "/current/permissions", RouteSpec("users/current/permissions").SignedIn(),
             [&access](const Request&, Response& res) {
               Reply(res, GrantsJson(access, Caller().username));
             });
}

// MLflow 2.x's per-resource permission endpoints, for older clients.
void AddLegacyGrantRoutes(HttpServer& server, AccessControl& access, const std::string& kind,
                          ResourceType type, const char* id_key, const char* reply_key) {
  const std::string base = "/api/2.0/mlflow/" + kind + "/permissions";
  auto reply_of = [&access, type, id_key, reply_key](const std::string& username,
                                                     const std::string& id) {
    std::optional<Permission> held = access.ExplicitPermission(username, type, id);
    if (!held) {
      ThrowNotFound("No permission for user '" + username + "' on " +
                    std::string(governance::ResourceTypeName(type)) + " '" + id + "'.");
    }
    return Json{{reply_key,
                 {{id_key, id},
                  {"user_id", access.GetUser(username).id},
                  {"permission", governance::PermissionName(*held)}}}};
  };
  auto set = [&access, type, id_key, reply_of](const Request& req, Response& res, bool create) {
    Json body = RequestJson(req);
    RequestFields fields(body);
    std::string id = access.CanonicalId(type, fields.RequiredString(id_key));
    std::string username = fields.RequiredString("username");
    // Refused before anything is said about whether the grant exists.
    access.RequireGrantChange(username, type, id);
    bool exists = access.ExplicitPermission(username, type, id).has_value();
    Permission permission = governance::ParsePermission(fields.RequiredString("permission"));
    if (create && exists) {
      throw Error(ErrorCode::kResourceAlreadyExists,
                  "Permission for user '" + username + "' on " +
                      std::string(governance::ResourceTypeName(type)) + " '" + id +
                      "' already exists.");
    }
    if (!create && !exists) reply_of(username, id);  // throws RESOURCE_DOES_NOT_EXIST
    access.SetPermission(username, type, id, permission);
    Reply(res, create ? reply_of(username, id) : Json::object());
  };
  server.Post(base + "/create", RouteSpec(kind + "/permissions/create").SignedIn(),
              [set](const Request& req, Response& res) { set(req, res, true); });
  server.Patch(base + "/update", RouteSpec(kind + "/permissions/update").SignedIn(),
               [set](const Request& req, Response& res) { set(req, res, false); });
  server.Get(base + "/get", RouteSpec(kind + "/permissions/get").SignedIn(),
             [&access, type, id_key, reply_of](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               std::string id = access.CanonicalId(type, fields.RequiredString(id_key));
               Reply(res, reply_of(fields.RequiredString("username"), id));
             });
  server.Delete(base + "/delete", RouteSpec(kind + "/permissions/delete").SignedIn(),
                [&access, type, id_key](const Request& req, Response& res) {
                  Json body = RequestJson(req);
                  RequestFields fields(body);
                  std::string id = access.CanonicalId(type, fields.RequiredString(id_key));
                  access.RemovePermission(fields.RequiredString("username"), type, id);
                  Reply(res, Json::object());
                });
}

void AddTokenRoutes(HttpServer& server, AccessControl& access) {
  server.Post(
      "/api/v1/tokens", RouteSpec("tokens/create").SignedIn(),
      [&access](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        std::string username = fields.OptionalString("username", Caller().username);
        std::optional<int64_t> expires_ms;
        if (auto days = fields.OptionalInt("expires_in_days")) {
          if (*days < 1 || *days > 3650) {
            ThrowInvalid("Invalid value " + std::to_string(*days) +
                         " for parameter 'expires_in_days': it must be between 1 and 3650.");
          }
          expires_ms = NowMillis() + *days * 86400000;
        }
        auto [token, secret] =
            access.CreateToken(username, fields.OptionalString("name"), expires_ms);
        Reply(res, {{"token", secret}, {"token_info", TokenJson(token)}});
      });
  server.Get("/api/v1/tokens", RouteSpec("tokens/list").SignedIn(),
             [&access](const Request& req, Response& res) {
               std::string username = req.get_param_value("username");
               if (username.empty() && !Caller().is_admin) username = Caller().username;
               Json list = Json::array();
               for (const auto& token : access.ListTokens(username))
                 list.push_back(TokenJson(token));
               Reply(res, {{"tokens", std::move(list)}});
             });
  server.Delete("/api/v1/tokens/([0-9a-f]+)", RouteSpec("tokens/revoke").SignedIn(),
                [&access](const Request& req, Response& res) {
                  access.RevokeToken(req.matches[1]);
                  Reply(res, Json::object());
                });
}

// Set-Cookie for the session cookie: `value` for `max_age` seconds (0
// clears it). HttpOnly (no script reads it), SameSite=Strict (no other
// site's page sends it), Secure behind an HTTPS proxy.
std::string SessionCookieHeader(const Request& req, const std::string& value, int64_t max_age) {
  std::string cookie = std::string(kSessionCookie) + "=" + value +
                       "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age);
  if (strcasecmp(req.get_header_value("X-Forwarded-Proto").c_str(), "https") == 0)
    cookie += "; Secure";
  return cookie;
}

Json SessionUserJson(const Principal& principal) {
  return {{"username", principal.username}, {"is_admin", principal.is_admin}};
}

}  // namespace

void AddSessionRoutes(HttpServer& server, AccessControl* access) {
  const std::string path = "/api/v1/session";
  server.Post(
      path, RouteSpec("session/create").SignedIn(), [access](const Request& req, Response& res) {
        if (access == nullptr)
          ThrowInvalid("This server runs without --auth: there is nothing to sign in to.");
        if (CredentialsOf(req).kind != Credentials::Kind::kBasic)
          ThrowInvalid("Sign in with the user's name and password (HTTP Basic credentials).");
        const governance::Session session = access->StartSession(Caller());
        const int64_t max_age = std::max<int64_t>(0, (session.expires_ms - NowMillis()) / 1000);
        res.set_header("Set-Cookie", SessionCookieHeader(req, session.cookie, max_age));
        res.set_header("Cache-Control", "no-store");
        Reply(res, {{"auth", true},
                    {"user", SessionUserJson(session.principal)},
                    {"csrf_token", session.csrf_token},
                    {"expires_ms", session.expires_ms}});
      });
  // Public, so that a page learns "nobody is signed in" from a 200 rather
  // than a 401 its browser logs as an error. Credentials that are sent are
  // checked as the guard checks them (throttled; a wrong one is a 401, which
  // the audit trail records as any refusal).
  server.Get(path, RouteSpec("session/get").Public(), [access](const Request& req, Response& res) {
    res.set_header("Cache-Control", "no-store");
    if (access == nullptr) {
      Reply(res, {{"auth", false}});
      return;
    }
    Json out = {{"auth", true}, {"user", nullptr}};
    const Credentials credentials = CredentialsOf(req);
    if (credentials.kind != Credentials::Kind::kNone)
      out["user"] = SessionUserJson(access->Authenticate(credentials, req.remote_addr));
    if (credentials.kind == Credentials::Kind::kSession)
      out["csrf_token"] = AccessControl::CsrfTokenOf(credentials.secret);
    Reply(res, out);
  });
  server.Delete(path, RouteSpec("session/delete").SignedIn(),
                [access](const Request& req, Response& res) {
                  if (access != nullptr) access->SignOut(CredentialsOf(req));
                  res.set_header("Set-Cookie", SessionCookieHeader(req, "", 0));
                  Reply(res, Json::object());
                });
}

void EnableGovernance(HttpServer& server, governance::Authorizer& authorizer,
                      AccessControl* access) {
  auto governance = std::make_shared<RequestGovernance>(authorizer, access);
  HttpServer::Guard guard;
  if (access != nullptr) {
    guard.authenticate = [governance](const Request& req, Response& res, const RouteSpec&) {
      return std::static_pointer_cast<void>(governance->Authenticate(req, res));
    };
  }
  guard.before = [governance](const Request&, Response&, const RouteSpec& route,
                              const std::shared_ptr<void>& caller, std::shared_ptr<void>* scope) {
    governance->Before(route, caller, scope);
  };
  guard.after = [governance](const Request&, Response&, const RouteSpec& route) {
    governance->After(route);
  };
  server.SetGuard(std::move(guard));
}

void AddAuthRoutes(HttpServer& server, AccessControl& access) {
  AddUserRoutes(server, access);
  AddGrantRoutes(server, access);
  AddLegacyGrantRoutes(server, access, "experiments", ResourceType::kExperiment, "experiment_id",
                       "experiment_permission");
  AddLegacyGrantRoutes(server, access, "registered-models", ResourceType::kRegisteredModel, "name",
                       "registered_model_permission");
  AddTokenRoutes(server, access);
}

}  // namespace slipway::http
