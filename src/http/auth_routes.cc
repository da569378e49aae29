#include "http/auth_routes.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <unordered_map>

#include "core/base64.h"
#include "core/clock.h"
#include "core/error.h"
#include "data/rules.h"
#include "http/json_codec.h"
#include "http/route_helpers.h"

namespace slipway::http {
namespace {

using governance::AccessControl;
using governance::Credentials;
using governance::Permission;
using governance::Principal;
using governance::ResourceType;

// The authenticated caller of the request this thread serves; set by the
// guard, read by the management routes below.
thread_local std::optional<Principal> current_caller;
// The dataset a push is creating (set by the guard, granted after the reply).
thread_local std::string new_dataset;

// The caller's read permissions, for the registry's checks of what a
// request reaches beyond its own resource. Set with current_caller.
class CallerAccess : public registry::ReadAccess {
 public:
  void Set(const AccessControl* access, const Principal* caller) {
    access_ = access;
    caller_ = caller;
  }
  bool CanReadExperiment(const std::string& experiment_id) const override {
    return Allows(ResourceType::kExperiment, experiment_id);
  }
  bool CanReadRegisteredModel(const std::string& name) const override {
    return Allows(ResourceType::kRegisteredModel, name);
  }

 private:
  bool Allows(ResourceType type, const std::string& id) const {
    return access_ == nullptr || caller_ == nullptr ||
           access_->PermissionOf(*caller_, type, id) >= Permission::kRead;
  }
  const AccessControl* access_ = nullptr;
  const Principal* caller_ = nullptr;
};
thread_local CallerAccess caller_access;

const Principal& Caller() {
  if (!current_caller)
    throw Error(ErrorCode::kInternalError, "request has no authenticated caller");
  return *current_caller;
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
  }
  return credentials;
}

// What a route touches, and so where its permission is looked up.
enum class Target {
  kAuthenticated,     // any signed-in user; the handler checks further
  kAdmin,             // admins only
  kExperiment,        // field experiment_id
  kExperimentByName,  // field experiment_name
  kExperimentList,    // field experiment_ids (every one)
  kRun,               // field run_id (or run_uuid)
  kLoggedModel,       // the id in the path
  kArtifactPath,      // "<experiment id>/..." in the path (or the `path` parameter)
  kModel,             // field name
  kModelInPath,       // the name in the path
  kDataset,           // the dataset name in the path
  kDatasetDiff,       // the name in the path and the `other` parameter's
  kDatasetValidate,   // the name in the path and the drift reference's
  kDatasetPush,       // the name in the path: EDIT, or version 1 of a new one
  kDatasetObjects,    // field dataset ("name@v"): objects read through it
  kDatasetUpload,     // field dataset (a name): EDIT, or none if it is new
};

struct Rule {
  Target target;
  Permission needed;
};

const std::unordered_map<std::string, Rule>& Rules() {
  static const auto* rules = [] {
    constexpr Permission R = Permission::kRead;
    constexpr Permission E = Permission::kEdit;
    constexpr Permission M = Permission::kManage;
    constexpr Permission N = Permission::kNoPermissions;
    auto* r = new std::unordered_map<std::string, Rule>{
        {"experiments/create", {Target::kAuthenticated, N}},
        {"experiments/search", {Target::kAuthenticated, N}},
        {"experiments/get", {Target::kExperiment, R}},
        {"experiments/get-by-name", {Target::kExperimentByName, R}},
        {"experiments/update", {Target::kExperiment, E}},
        {"experiments/set-experiment-tag", {Target::kExperiment, E}},
        {"experiments/delete-experiment-tag", {Target::kExperiment, E}},
        {"experiments/delete", {Target::kExperiment, M}},
        {"experiments/restore", {Target::kExperiment, M}},
        {"runs/create", {Target::kExperiment, E}},
        {"runs/search", {Target::kExperimentList, R}},
        {"runs/get", {Target::kRun, R}},
        {"metrics/get-history", {Target::kRun, R}},
        {"artifacts/list", {Target::kRun, R}},
        {"runs/update", {Target::kRun, E}},
        {"runs/log-metric", {Target::kRun, E}},
        {"runs/log-parameter", {Target::kRun, E}},
        {"runs/set-tag", {Target::kRun, E}},
        {"runs/delete-tag", {Target::kRun, E}},
        {"runs/log-batch", {Target::kRun, E}},
        {"runs/log-inputs", {Target::kRun, E}},
        {"runs/outputs", {Target::kRun, E}},
        {"runs/delete", {Target::kRun, M}},
        {"runs/restore", {Target::kRun, M}},
        {"logged-models/create", {Target::kExperiment, E}},
        {"logged-models/search", {Target::kExperimentList, R}},
        {"logged-models/get", {Target::kLoggedModel, R}},
        {"logged-models/finalize", {Target::kLoggedModel, E}},
        {"logged-models/set-tags", {Target::kLoggedModel, E}},
        {"logged-models/delete-tag", {Target::kLoggedModel, E}},
        {"logged-models/log-params", {Target::kLoggedModel, E}},
        {"logged-models/delete", {Target::kLoggedModel, M}},
        {"mlflow-artifacts/list", {Target::kArtifactPath, R}},
        {"mlflow-artifacts/download", {Target::kArtifactPath, R}},
        {"mlflow-artifacts/upload", {Target::kArtifactPath, E}},
        {"mlflow-artifacts/delete", {Target::kArtifactPath, M}},
        {"registered-models/create", {Target::kAuthenticated, N}},
        {"registered-models/search", {Target::kAuthenticated, N}},
        {"model-versions/search", {Target::kAuthenticated, N}},
        {"registered-models/get", {Target::kModel, R}},
        {"registered-models/get-latest-versions", {Target::kModel, R}},
        {"registered-models/alias/get", {Target::kModel, R}},
        {"registered-models/rename", {Target::kModel, E}},
        {"registered-models/update", {Target::kModel, E}},
        {"registered-models/set-tag", {Target::kModel, E}},
        {"registered-models/delete-tag", {Target::kModel, E}},
        {"registered-models/alias/set", {Target::kModel, E}},
        {"registered-models/alias/delete", {Target::kModel, E}},
        {"registered-models/delete", {Target::kModel, M}},
        {"model-versions/create", {Target::kModel, E}},
        {"model-versions/get", {Target::kModel, R}},
        {"model-versions/get-download-uri", {Target::kModel, R}},
        {"model-versions/update", {Target::kModel, E}},
        {"model-versions/transition-stage", {Target::kModel, E}},
        {"model-versions/set-tag", {Target::kModel, E}},
        {"model-versions/delete-tag", {Target::kModel, E}},
        {"model-versions/delete", {Target::kModel, M}},
        {"lineage/model-version", {Target::kModelInPath, R}},
        {"models/card", {Target::kModelInPath, R}},
        {"audit/query", {Target::kAdmin, N}},
        {"audit/verify", {Target::kAdmin, N}},
    };
    for (const char* route : {"datasets/versions", "datasets/version", "datasets/manifest",
                              "datasets/objects-of", "datasets/infer-rules"}) {
      (*r)[route] = {Target::kDataset, R};
    }
    (*r)["datasets/diff"] = {Target::kDatasetDiff, R};
    (*r)["datasets/validate"] = {Target::kDatasetValidate, R};
    (*r)["datasets/import"] = {Target::kDatasetPush, E};
    // Objects are read through a dataset version the caller may read (the
    // handler checks they belong to it); asking which objects are missing
    // is part of pushing to a dataset. Uploading needs the bytes, so it
    // tells nothing about anyone's data.
    (*r)["datasets/object-get"] = {Target::kDatasetObjects, R};
    (*r)["datasets/objects-fetch"] = {Target::kDatasetObjects, R};
    (*r)["datasets/objects-missing"] = {Target::kDatasetUpload, E};
    // The list is filtered after the handler.
    for (const char* route :
         {"datasets/list", "datasets/object-put", "datasets/objects-put-bundle"}) {
      (*r)[route] = {Target::kAuthenticated, N};
    }
    // The management routes check the caller themselves.
    for (const char* route : {"users/create",
                              "users/get",
                              "users/current",
                              "users/list",
                              "users/update-password",
                              "users/update-admin",
                              "users/delete",
                              "users/permissions/grant",
                              "users/permissions/revoke",
                              "users/permissions/get",
                              "users/permissions/list",
                              "users/current/permissions",
                              "experiments/permissions/create",
                              "experiments/permissions/get",
                              "experiments/permissions/update",
                              "experiments/permissions/delete",
                              "registered-models/permissions/create",
                              "registered-models/permissions/get",
                              "registered-models/permissions/update",
                              "registered-models/permissions/delete",
                              "tokens/create",
                              "tokens/list",
                              "tokens/revoke"}) {
      (*r)[route] = {Target::kAuthenticated, N};
    }
    return r;
  }();
  return *rules;
}

// "12/abc/artifacts/model.pkl" -> "12". Paths with "." or ".." segments are
// refused outright: the check must see the same experiment the store would.
// Only an experiment id's canonical spelling names its folder ("02/..." is
// not experiment 2's).
std::string ExperimentOfArtifactPath(const std::string& path) {
  size_t start = 0;
  while (start < path.size() && path[start] == '/') ++start;
  std::string first;
  for (size_t at = start; at <= path.size();) {
    size_t end = path.find('/', at);
    if (end == std::string::npos) end = path.size();
    std::string segment = path.substr(at, end - at);
    if (segment == "." || segment == ".." || segment.find('\\') != std::string::npos) {
      ThrowInvalid("Invalid artifact path '" + path + "': '.' and '..' segments are not allowed.");
    }
    if (first.empty()) first = segment;
    at = end + 1;
  }
  if (!tracking::ParseExperimentId(first)) {
    throw Error(ErrorCode::kPermissionDenied,
                "Permission denied: artifact path '" + path +
                    "' is not under an experiment; only admins may access it.");
  }
  return first;
}

class Authorizer {
 public:
  Authorizer(AccessControl& access, tracking::TrackingService& tracking,
             data::DatasetService& datasets)
      : access_(access), tracking_(tracking), datasets_(datasets) {}

  // From the headers alone, before the body is read.
  std::shared_ptr<Principal> Authenticate(const Request& req, Response& res) {
    int retry_after = 0;
    try {
      return std::make_shared<Principal>(
          access_.Authenticate(CredentialsOf(req), req.remote_addr, &retry_after));
    } catch (const Error& error) {
      if (error.code() == ErrorCode::kUnauthenticated) {
        res.set_header("WWW-Authenticate", "Basic realm=\"slipway\"");
      } else if (error.code() == ErrorCode::kRequestLimitExceeded && retry_after > 0) {
        res.set_header("Retry-After", std::to_string(retry_after));
      }
      throw;
    }
  }

  void Before(const Request& req, const Principal& caller, const std::string& route) {
    caller_access.Set(nullptr, nullptr);
    current_caller.reset();
    new_dataset.clear();
    current_caller = caller;
    caller_access.Set(&access_, &*current_caller);
    SetCurrentPrincipal(caller.username);
    auto rule = Rules().find(route);
    if (rule == Rules().end()) {
      access_.RequireAdmin(caller, "use " + route);
      return;
    }
    Authorize(req, caller, rule->second);
  }

  void After(const Request& req, Response& res, const std::string& route) {
    if (!current_caller) return;
    const Principal& caller = *current_caller;
    try {
      if (route == "experiments/create") {
        Json reply = Json::parse(res.body);
        access_.GrantOwner(caller, ResourceType::kExperiment,
                           reply.at("experiment_id").get<std::string>());
      } else if (route == "registered-models/create") {
        access_.GrantOwner(caller, ResourceType::kRegisteredModel,
                           RequestFields(RequestJson(req)).RequiredString("name"));
      } else if (route == "registered-models/rename") {
        Json body = RequestJson(req);
        RequestFields fields(body);
        access_.RenameResource(ResourceType::kRegisteredModel, fields.RequiredString("name"),
                               fields.RequiredString("new_name"));
      } else if (route == "registered-models/delete") {
        access_.ForgetResource(ResourceType::kRegisteredModel,
                               RequestFields(RequestJson(req)).RequiredString("name"));
      } else if (route == "experiments/search") {
        FilterReply(res, caller, "experiments", "experiment_id", ResourceType::kExperiment);
      } else if (route == "registered-models/search") {
        FilterReply(res, caller, "registered_models", "name", ResourceType::kRegisteredModel);
      } else if (route == "model-versions/search") {
        FilterReply(res, caller, "model_versions", "name", ResourceType::kRegisteredModel);
      } else if (route == "datasets/list") {
        FilterReply(res, caller, "datasets", "name", ResourceType::kDataset);
      } else if (route == "datasets/import" && !new_dataset.empty() && res.status == 200 &&
                 Json::parse(res.body).value("created", false)) {
        // This request made version 1 of a dataset that did not exist.
        access_.GrantOwner(caller, ResourceType::kDataset, new_dataset);
      }
    } catch (const std::exception& error) {
      // The change itself is committed; say so rather than fail the reply.
      spdlog::error("{}: updating permissions after the request failed: {}", route, error.what());
    }
  }

 private:
  void Authorize(const Request& req, const Principal& caller, const Rule& rule) {
    switch (rule.target) {
      case Target::kAuthenticated:
        return;
      case Target::kAdmin:
        access_.RequireAdmin(caller, "read the audit trail");
        return;
      case Target::kArtifactPath: {
        std::string path = req.matches.size() > 1 ? req.matches[1] : req.get_param_value("path");
        if (caller.is_admin) return;
        access_.Require(caller, ResourceType::kExperiment, ExperimentOfArtifactPath(path),
                        rule.needed);
        return;
      }
      case Target::kLoggedModel:
        if (caller.is_admin) return;
        RequireLoggedModel(caller, req.matches[1], rule.needed);
        return;
      case Target::kModelInPath:
        access_.Require(caller, ResourceType::kRegisteredModel, req.matches[1], rule.needed);
        return;
      case Target::kDataset:
        access_.Require(caller, ResourceType::kDataset, req.matches[1], rule.needed);
        return;
      case Target::kDatasetDiff:
        access_.Require(caller, ResourceType::kDataset, req.matches[1], rule.needed);
        if (req.has_param("other")) {
          access_.Require(caller, ResourceType::kDataset,
                          data::ParseDatasetRef(req.get_param_value("other")).name, rule.needed);
        }
        return;
      case Target::kDatasetPush: {
        std::string name = req.matches[1];
        if (DatasetExists(name)) {
          access_.Require(caller, ResourceType::kDataset, name, rule.needed);
          return;
        }
        // A new dataset: only its version 1, which fails (409) or changes
        // nothing if someone else made it meanwhile. Whoever creates it
        // manages it (After).
        Json body = RequestJson(req);
        if (RequestFields(body).RequiredInt("version") != 1) {
          access_.Require(caller, ResourceType::kDataset, name, rule.needed);
        }
        new_dataset = name;
        return;
      }
      case Target::kDatasetUpload: {
        Json body = RequestJson(req);
        std::string name = RequestFields(body).RequiredString("dataset");
        if (DatasetExists(name)) access_.Require(caller, ResourceType::kDataset, name, rule.needed);
        return;
      }
      default:
        break;
    }
    if (caller.is_admin) return;
    // The same parse the handler makes, so both see the same fields.
    Json body = RequestJson(req);
    RequestFields fields(body);
    switch (rule.target) {
      case Target::kExperiment:
        access_.Require(caller, ResourceType::kExperiment,
                        tracking::CanonicalExperimentId(fields.RequiredString("experiment_id")),
                        rule.needed);
        return;
      case Target::kExperimentByName:
        access_.Require(
            caller, ResourceType::kExperiment,
            tracking_.GetExperimentByName(fields.RequiredString("experiment_name")).experiment_id,
            rule.needed);
        return;
      case Target::kExperimentList:
        for (const std::string& id : fields.StringList("experiment_ids")) {
          access_.Require(caller, ResourceType::kExperiment, tracking::CanonicalExperimentId(id),
                          rule.needed);
        }
        return;
      case Target::kRun:
        RequireRun(caller,
                   fields.Has("run_id") || !fields.Has("run_uuid")
                       ? fields.RequiredString("run_id")
                       : fields.RequiredString("run_uuid"),
                   rule.needed);
        return;
      case Target::kDatasetObjects:
        access_.Require(caller, ResourceType::kDataset,
                        data::ParseDatasetRef(fields.RequiredString("dataset")).name, rule.needed);
        return;
      case Target::kDatasetValidate: {
        access_.Require(caller, ResourceType::kDataset, req.matches[1], rule.needed);
        // The drift reference, given or named in the rules, is read too.
        std::string reference = fields.OptionalString("reference");
        if (reference.empty() && fields.Has("rules")) {
          data::Rules rules = data::ParseRules(fields.RequiredString("rules"), "rules");
          if (rules.drift) reference = rules.drift->reference;
        }
        if (!reference.empty()) {
          access_.Require(caller, ResourceType::kDataset, data::ParseDatasetRef(reference).name,
                          rule.needed);
        }
        return;
      }
      case Target::kModel:
        access_.Require(caller, ResourceType::kRegisteredModel, fields.RequiredString("name"),
                        rule.needed);
        // Registering a run's or a logged model's model also reads it (the
        // registry checks everything the source reaches; this answers an
        // unknown id as a hidden one).
        if (fields.Has("run_id") && !fields.OptionalString("run_id").empty()) {
          RequireRun(caller, fields.OptionalString("run_id"), Permission::kRead);
        }
        if (fields.Has("model_id") && !fields.OptionalString("model_id").empty()) {
          RequireLoggedModel(caller, fields.OptionalString("model_id"), Permission::kRead);
        }
        return;
      default:
        return;
    }
  }

  bool DatasetExists(const std::string& name) {
    try {
      datasets_.Versions(name);
      return true;
    } catch (const Error& error) {
      if (error.code() == ErrorCode::kResourceDoesNotExist) return false;
      throw;
    }
  }

  // A run or logged model the caller may not use and one that does not
  // exist get the same answer, as MLflow's auth app gives them, so that the
  // reply tells nothing of which ids exist (or in which experiment).
  void RequireRun(const Principal& caller, const std::string& run_id, Permission needed) {
    RequireWithin(caller, "run", run_id, ExperimentOfRun(run_id), needed);
  }
  void RequireLoggedModel(const Principal& caller, const std::string& model_id, Permission needed) {
    std::optional<std::string> experiment_id;
    try {
      experiment_id = tracking_.GetLoggedModel(model_id).experiment_id;
    } catch (const Error& error) {
      if (error.code() != ErrorCode::kResourceDoesNotExist) throw;
    }
    RequireWithin(caller, "logged model", model_id, experiment_id, needed);
  }
  void RequireWithin(const Principal& caller, const std::string& kind, const std::string& id,
                     const std::optional<std::string>& experiment_id, Permission needed) {
    if (experiment_id &&
        access_.PermissionOf(caller, ResourceType::kExperiment, *experiment_id) >= needed) {
      return;
    }
    throw Error(ErrorCode::kPermissionDenied,
                "Permission denied: user '" + caller.username + "' may not use " + kind + " '" +
                    id + "': that needs " + std::string(governance::PermissionName(needed)) +
                    " on its experiment.");
  }

  // A run never moves to another experiment, so the answer can be kept;
  // nullopt if there is no such run.
  std::optional<std::string> ExperimentOfRun(const std::string& run_id) {
    {
      std::lock_guard lock(runs_mu_);
      auto hit = run_experiments_.find(run_id);
      if (hit != run_experiments_.end()) return hit->second;
    }
    std::string experiment_id;
    try {
      experiment_id = tracking_.GetRun(run_id).info.experiment_id;
    } catch (const Error& error) {
      if (error.code() == ErrorCode::kResourceDoesNotExist) return std::nullopt;
      throw;
    }
    std::lock_guard lock(runs_mu_);
    if (run_experiments_.size() >= kMaxCachedRuns) run_experiments_.clear();
    run_experiments_[run_id] = experiment_id;
    return experiment_id;
  }

  // Drops the items of a search reply that the caller may not read. A page
  // can come back shorter than max_results; its next_page_token stays valid.
  void FilterReply(Response& res, const Principal& caller, const char* list, const char* id_key,
                   ResourceType type) {
    if (caller.is_admin) return;
    Json reply = Json::parse(res.body);
    auto items = reply.find(list);
    if (items == reply.end() || !items->is_array()) return;
    Json kept = Json::array();
    for (Json& item : *items) {
      std::string id = item.value(id_key, std::string());
      if (access_.PermissionOf(caller, type, id) >= Permission::kRead)
        kept.push_back(std::move(item));
    }
    *items = std::move(kept);
    Reply(res, reply);
  }

  static constexpr size_t kMaxCachedRuns = 100000;

  AccessControl& access_;
  tracking::TrackingService& tracking_;
  data::DatasetService& datasets_;
  std::mutex runs_mu_;  // guards run_experiments_
  std::unordered_map<std::string, std::string> run_experiments_;
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

// The id a grant is stored under: the spelling the resource's own store
// uses, so that a grant and the checks made on requests meet.
std::string ResourceKey(ResourceType type, const std::string& id) {
  if (type == ResourceType::kExperiment) return tracking::CanonicalExperimentId(id);
  if (type == ResourceType::kDataset) data::ValidateDatasetName(id);
  return id;
}

// Admins, and whoever manages the resource, may change who else can use it.
void RequireManager(AccessControl& access, ResourceType type, const std::string& resource_id) {
  access.Require(Caller(), type, resource_id, Permission::kManage);
}

void RequireSelfOrAdmin(AccessControl& access, const std::string& username, const char* what) {
  if (Caller().username != username) access.RequireAdmin(Caller(), what);
}

Json GrantsJson(AccessControl& access, const std::string& username) {
  governance::User user = access.GetUser(username);
  Json permissions = Json::array();
  for (const governance::Grant& grant : access.GrantsOf(username)) {
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
  server.Post(users + "/create", "users/create", [&access](const Request& req, Response& res) {
    access.RequireAdmin(Caller(), "create users");
    Json body = RequestJson(req);
    RequestFields fields(body);
    governance::User user = access.CreateUser(fields.OptionalString("username"),
                                              fields.OptionalString("password"), false);
    Reply(res, {{"user", UserJson(user)}});
  });
  server.Get(users + "/get", "users/get", [&access](const Request& req, Response& res) {
    std::string username = RequestFields(RequestJson(req)).RequiredString("username");
    RequireSelfOrAdmin(access, username, "read other users");
    Reply(res, {{"user", UserJson(access.GetUser(username))}});
  });
  server.Get(users + "/current", "users/current", [&access](const Request&, Response& res) {
    Reply(res, {{"user", UserJson(access.GetUser(Caller().username))}, {"is_basic_auth", true}});
  });
  server.Get(users + "/list", "users/list", [&access](const Request&, Response& res) {
    access.RequireAdmin(Caller(), "list users");
    Json list = Json::array();
    for (const auto& user : access.ListUsers()) {
      Json item = UserJson(user);
      item["roles"] = Json::array();
      list.push_back(std::move(item));
    }
    Reply(res, {{"users", std::move(list)}});
  });
  server.Patch(users + "/update-password", "users/update-password",
               [&access](const Request& req, Response& res) {
                 Json body = RequestJson(req);
                 RequestFields fields(body);
                 std::string username = fields.RequiredString("username");
                 std::string password = fields.OptionalString("password");
                 if (Caller().username == username) {
                   // Changing one's own password asks for the current one again.
                   std::string current = fields.OptionalString("current_password");
                   if (current.empty()) {
                     ThrowInvalid("Current password is required when changing your own password.");
                   }
                   if (!access.CheckPassword(username, current)) {
                     ThrowInvalid("Current password does not match.");
                   }
                   if (password == current) {
                     ThrowInvalid("New password must differ from the current password.");
                   }
                 } else {
                   access.RequireAdmin(Caller(), "change other users' passwords");
                 }
                 access.UpdatePassword(username, password);
                 Reply(res, Json::object());
               });
  server.Patch(users + "/update-admin", "users/update-admin",
               [&access](const Request& req, Response& res) {
                 access.RequireAdmin(Caller(), "grant or remove admin rights");
                 Json body = RequestJson(req);
                 std::string username = RequestFields(body).RequiredString("username");
                 bool is_admin = RequiredBool(body, "is_admin");
                 if (!is_admin && username == Caller().username) {
                   throw Error(ErrorCode::kBadRequest,
                               "Admins cannot remove their own admin rights; ask another admin.");
                 }
                 access.SetAdmin(username, is_admin);
                 Reply(res, Json::object());
               });
  server.Delete(users + "/delete", "users/delete", [&access](const Request& req, Response& res) {
    access.RequireAdmin(Caller(), "delete users");
    std::string username = RequestFields(RequestJson(req)).RequiredString("username");
    if (username == Caller().username) {
      throw Error(ErrorCode::kBadRequest,
                  "Users cannot delete their own account. Ask another admin to delete this "
                  "user instead.");
    }
    access.DeleteUser(username);
    Reply(res, Json::object());
  });
}

void AddGrantRoutes(HttpServer& server, AccessControl& access) {
  const std::string base = "/api/3.0/mlflow/users";
  auto target = [](const RequestFields& fields) {
    ResourceType type = governance::ParseResourceType(fields.RequiredString("resource_type"));
    return std::pair{type, ResourceKey(type, fields.RequiredString("resource_id"))};
  };
  server.Post(base + "/permissions/grant", "users/permissions/grant",
              [&access, target](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                auto [type, id] = target(fields);
                RequireManager(access, type, id);
                Permission permission =
                    governance::ParsePermission(fields.RequiredString("permission"));
                access.SetPermission(fields.RequiredString("username"), type, id, permission);
                Reply(res, Json::object());
              });
  server.Post(base + "/permissions/revoke", "users/permissions/revoke",
              [&access, target](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                auto [type, id] = target(fields);
                RequireManager(access, type, id);
                access.RemovePermission(fields.RequiredString("username"), type, id);
                Reply(res, Json::object());
              });
  server.Get(base + "/permissions/get", "users/permissions/get",
             [&access, target](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               auto [type, id] = target(fields);
               governance::User user = access.GetUser(fields.RequiredString("username"));
               if (user.username != Caller().username) RequireManager(access, type, id);
               Permission held =
                   access.PermissionOf(Principal{user.id, user.username, user.is_admin}, type, id);
               Reply(res, {{"allowed", held >= Permission::kUse},
                           {"permission", governance::PermissionName(held)}});
             });
  server.Get(base + "/permissions/list", "users/permissions/list",
             [&access](const Request& req, Response& res) {
               std::string username = RequestFields(RequestJson(req)).RequiredString("username");
               RequireSelfOrAdmin(access, username, "list other users' permissions");
               Reply(res, GrantsJson(access, username));
             });
  server.Get(base + "/current/permissions", "users/current/permissions",
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
    std::string id = ResourceKey(type, fields.RequiredString(id_key));
    std::string username = fields.RequiredString("username");
    RequireManager(access, type, id);
    Permission permission = governance::ParsePermission(fields.RequiredString("permission"));
    bool exists = access.ExplicitPermission(username, type, id).has_value();
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
  server.Post(base + "/create", kind + "/permissions/create",
              [set](const Request& req, Response& res) { set(req, res, true); });
  server.Patch(base + "/update", kind + "/permissions/update",
               [set](const Request& req, Response& res) { set(req, res, false); });
  server.Get(base + "/get", kind + "/permissions/get",
             [&access, type, id_key, reply_of](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               std::string id = ResourceKey(type, fields.RequiredString(id_key));
               std::string username = fields.RequiredString("username");
               if (username != Caller().username) RequireManager(access, type, id);
               Reply(res, reply_of(username, id));
             });
  server.Delete(base + "/delete", kind + "/permissions/delete",
                [&access, type, id_key](const Request& req, Response& res) {
                  Json body = RequestJson(req);
                  RequestFields fields(body);
                  std::string id = ResourceKey(type, fields.RequiredString(id_key));
                  RequireManager(access, type, id);
                  access.RemovePermission(fields.RequiredString("username"), type, id);
                  Reply(res, Json::object());
                });
}

void AddTokenRoutes(HttpServer& server, AccessControl& access) {
  server.Post("/api/v1/tokens", "tokens/create", [&access](const Request& req, Response& res) {
    Json body = RequestJson(req);
    RequestFields fields(body);
    std::string username = fields.OptionalString("username", Caller().username);
    RequireSelfOrAdmin(access, username, "create tokens for other users");
    std::optional<int64_t> expires_ms;
    if (auto days = fields.OptionalInt("expires_in_days")) {
      if (*days < 1 || *days > 3650) {
        ThrowInvalid("Invalid value " + std::to_string(*days) +
                     " for parameter 'expires_in_days': it must be between 1 and 3650.");
      }
      expires_ms = NowMillis() + *days * 86400000;
    }
    auto [token, secret] = access.CreateToken(username, fields.OptionalString("name"), expires_ms);
    Reply(res, {{"token", secret}, {"token_info", TokenJson(token)}});
  });
  server.Get("/api/v1/tokens", "tokens/list", [&access](const Request& req, Response& res) {
    std::string username = req.get_param_value("username");
    if (username.empty() && !Caller().is_admin) username = Caller().username;
    if (!username.empty()) RequireSelfOrAdmin(access, username, "list other users' tokens");
    Json list = Json::array();
    for (const auto& token : access.ListTokens(username)) list.push_back(TokenJson(token));
    Reply(res, {{"tokens", std::move(list)}});
  });
  server.Delete("/api/v1/tokens/([0-9a-f]+)", "tokens/revoke",
                [&access](const Request& req, Response& res) {
                  governance::ApiToken token = access.GetToken(req.matches[1]);
                  RequireSelfOrAdmin(access, token.username, "revoke other users' tokens");
                  access.RevokeToken(token.id);
                  Reply(res, Json::object());
                });
}

}  // namespace

const registry::ReadAccess& CallerReadAccess() { return caller_access; }

void EnableAuth(HttpServer& server, AccessControl& access, tracking::TrackingService& tracking,
                data::DatasetService& datasets) {
  auto authorizer = std::make_shared<Authorizer>(access, tracking, datasets);
  HttpServer::Guard guard;
  guard.authenticate = [authorizer](const Request& req, Response& res, const std::string&) {
    return std::static_pointer_cast<void>(authorizer->Authenticate(req, res));
  };
  guard.before = [authorizer](const Request& req, Response&, const std::string& route,
                              const std::shared_ptr<void>& caller) {
    authorizer->Before(req, *std::static_pointer_cast<Principal>(caller), route);
  };
  guard.after = [authorizer](const Request& req, Response& res, const std::string& route) {
    authorizer->After(req, res, route);
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
