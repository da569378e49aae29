#include "registry/registry_service.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace slipway::registry {

using governance::Permission;
using governance::ResourceType;
namespace {

void ValidateLength(const std::string& what, const std::string& value, size_t limit) {
  if (value.size() > limit) {
    ThrowInvalid("'" + what + "' exceeds the maximum length of " + std::to_string(limit) +
                 " characters");
  }
}

void ValidateModelName(const std::string& name, const char* field) {
  if (name.find_first_not_of(" \t\n") == std::string::npos) {
    ThrowInvalid(std::string("Missing value for required parameter '") + field + "'.");
  }
  if (name.find_first_of("/:") != std::string::npos) {
    ThrowInvalid("Invalid model name '" + name + "'. Names cannot contain '/' or ':'.");
  }
  if (name == "." || name == ".." || name.front() == '/') {
    ThrowInvalid("Invalid value \"" + name + "\" for parameter '" + field +
                 "' supplied: Names may be treated as files in certain cases, and must not "
                 "resolve to other names when treated as such.");
  }
  ValidateLength(field, name, kMaxModelNameLength);
}

void ValidateRegistryTag(const Tag& tag) {
  tracking::ValidateEntityName(tag.key, "key");
  ValidateLength("key", tag.key, kMaxRegistryTagKeyLength);
  ValidateLength("value", tag.value, kMaxRegistryTagValueLength);
}

void ValidateAlias(const std::string& alias) {
  if (alias.empty()) ThrowInvalid("Registered model alias name cannot be empty.");
  for (unsigned char c : alias) {
    if (!(std::isalnum(c) || c == '_' || c == '-' || c >= 0x80)) {
      ThrowInvalid("Invalid alias name: '" + alias +
                   "'. Names may only contain alphanumerics, underscores (_), and dashes (-).");
    }
  }
  ValidateLength("Registered model alias name", alias, kMaxAliasLength);
}

constexpr const char* kModelVersionsTag = "mlflow.modelVersions";

// json.dumps' default separators (", " and ": "), as the tag's readers expect.
std::string PythonStyleJson(const nlohmann::json& versions) {
  std::string out = "[";
  for (size_t i = 0; i < versions.size(); ++i) {
    if (i > 0) out += ", ";
    out += "{\"name\": " + versions[i].value("name", nlohmann::json("")).dump() +
           ", \"version\": " + versions[i].value("version", nlohmann::json("")).dump() + "}";
  }
  return out + "]";
}

bool IsReservedVersionAlias(const std::string& alias) {
  return alias.size() > 1 && (alias[0] == 'v' || alias[0] == 'V') &&
         std::all_of(alias.begin() + 1, alias.end(),
                     [](unsigned char c) { return std::isdigit(c); });
}

std::string CanonicalStage(const std::string& stage) {
  std::string lower = stage;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  if (lower == "none") return kStageNone;
  if (lower == "staging") return kStageStaging;
  if (lower == "production") return kStageProduction;
  if (lower == "archived") return kStageArchived;
  ThrowInvalid("Invalid Model Version stage: " + stage +
               ". Value must be one of None, Staging, Production, Archived.");
}

// "runs:/<run_id>/<path>" -> {run_id, path}.
std::optional<std::pair<std::string, std::string>> SplitRunsUri(const std::string& source) {
  const std::string scheme = "runs:/";
  if (source.rfind(scheme, 0) != 0) return std::nullopt;
  std::string rest = source.substr(scheme.size());
  size_t slash = rest.find('/');
  if (slash == std::string::npos) return std::make_pair(rest, std::string());
  return std::make_pair(rest.substr(0, slash), rest.substr(slash + 1));
}

// "models:/m-abc" -> "m-abc" (a logged model id, not a registered name/version).
std::optional<std::string> LoggedModelIdOf(const std::string& source) {
  const std::string scheme = "models:/";
  if (source.rfind(scheme, 0) != 0) return std::nullopt;
  std::string rest = source.substr(scheme.size());
  if (rest.rfind("m-", 0) != 0 || rest.find('/') != std::string::npos) return std::nullopt;
  return rest;
}

// The segments of a URI's path, without the scheme and any authority:
// "mlflow-artifacts:/7/abc" -> {"7", "abc"}.
std::vector<std::string> PathSegments(const std::string& uri) {
  std::string path = uri;
  size_t colon = uri.find(':');
  if (colon != std::string::npos && colon < uri.find('/')) path = uri.substr(colon + 1);
  if (path.rfind("//", 0) == 0) {
    size_t slash = path.find('/', 2);
    path = slash == std::string::npos ? "" : path.substr(slash);
  }
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

[[noreturn]] void ThrowSourceDenied(const std::string& source, const std::string& what) {
  throw Error(ErrorCode::kPermissionDenied, "Permission denied: creating a model version from '" +
                                                source + "' reads " + what + ", which needs READ.");
}

// MLflow's rule: a model or version is a prompt when its tags (the last
// value of a key wins) set mlflow.prompt.is_prompt to "true", in any case.
bool IsPrompt(const std::vector<Tag>& tags) {
  std::string value = "false";
  for (const Tag& tag : tags) {
    if (tag.key == "mlflow.prompt.is_prompt") value = tag.value;
  }
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return value == "true";
}

[[noreturn]] void ThrowBadSource(const std::string& source, const char* id_name) {
  ThrowInvalid("Invalid model version source: '" + source + "'. The " + id_name +
               " request parameter must identify the resource that contains the source.");
}

// MLflow's rule for artifact sources: same scheme, and the root's path is a
// prefix of the source's path.
bool IsWithinRoot(const std::string& source, const std::string& root) {
  if (source.substr(0, source.find(':')) != root.substr(0, root.find(':'))) return false;
  std::vector<std::string> source_parts = PathSegments(tracking::FullyPercentDecode(source));
  std::vector<std::string> root_parts = PathSegments(tracking::FullyPercentDecode(root));
  return !root_parts.empty() && source_parts.size() >= root_parts.size() &&
         std::equal(root_parts.begin(), root_parts.end(), source_parts.begin());
}

}  // namespace

const ReadAccess& ReadAccess::Everything() {
  struct All : ReadAccess {
    bool CanReadExperiment(const std::string&) const override { return true; }
    bool CanReadRegisteredModel(const std::string&) const override { return true; }
  };
  static const All kAll;
  return kAll;
}

RegistryService::RegistryService(RegistryStore& store, tracking::TrackingService& tracking,
                                 governance::Authorizer& authorizer)
    : store_(store), tracking_(tracking), authorizer_(authorizer) {}

ActorReadAccess::ActorReadAccess(const governance::Authorizer& authorizer)
    : authorizer_(authorizer),
      actor_(authorizer.enforcing() ? governance::CurrentActor()
                                    : governance::Actor::Operator("anonymous")) {}

bool ActorReadAccess::CanReadExperiment(const std::string& experiment_id) const {
  return governance::PermissionHeld(authorizer_, actor_, ResourceType::kExperiment,
                                    experiment_id) >= Permission::kRead;
}

bool ActorReadAccess::CanReadRegisteredModel(const std::string& name) const {
  return governance::PermissionHeld(authorizer_, actor_, ResourceType::kRegisteredModel, name) >=
         Permission::kRead;
}

bool ActorReadAccess::SeesWhatExists() const {
  return !authorizer_.enforcing() || actor_.kind == governance::Actor::Kind::kOperator ||
         authorizer_.IsAdmin(actor_);
}

RegistryService::Internal::Internal()
    : operation_(governance::Actor::Operator("system:registry"), "registry") {}

void RegistryService::RequireOn(const std::string& name, Permission needed) {
  governance::Require(authorizer_, needed, ResourceType::kRegisteredModel, name);
}

void RegistryService::RequireOnVersion(const std::string& name, const std::string& version,
                                       Permission needed) {
  governance::NameTarget("model_version:" + name + "/" + version);
  RequireOn(name, needed);
}

RegisteredModel RegistryService::RequireModel(const std::string& name) {
  auto model = store_.GetRegisteredModel(name);
  if (!model) ThrowNotFound("Registered Model with name=" + name + " not found");
  return *model;
}

int64_t RegistryService::ParseVersion(const std::string& version) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(version.data(), version.data() + version.size(), value);
  if (version.empty() || ec != std::errc() || end != version.data() + version.size()) {
    ThrowInvalid("Parameter 'version' must be an integer, got '" + version + "'.");
  }
  return value;
}

RegisteredModel RegistryService::CreateRegisteredModel(const std::string& name,
                                                       const std::vector<Tag>& tags,
                                                       const std::string& description) {
  ValidateModelName(name, "name");
  tracking::ValidateNameCharacters(name, "name");
  for (const Tag& tag : tags) ValidateRegistryTag(tag);
  governance::SetTarget("registered_model:" + name);
  RegisteredModel model;
  model.name = name;
  model.description = description;
  model.tags = tags;
  store_.CreateRegisteredModel(model);
  if (authorizer_.enforcing()) {
    authorizer_.Created(governance::CurrentActor(), ResourceType::kRegisteredModel, name);
  }
  events_.Publish({.kind = RegistryEvent::Kind::kModelCreated, .model = model.name});
  return RequireModel(name);
}

RegisteredModel RegistryService::GetRegisteredModel(const std::string& name) {
  ValidateModelName(name, "name");
  RequireOn(name, Permission::kRead);
  return RequireModel(name);
}

RegisteredModel RegistryService::RenameRegisteredModel(const std::string& name,
                                                       const std::string& new_name) {
  ValidateModelName(name, "name");
  ValidateModelName(new_name, "new_name");
  tracking::ValidateNameCharacters(new_name, "new_name");
  RequireOn(name, Permission::kEdit);
  store_.RenameRegisteredModel(name, new_name);
  // The grants follow the model to its new name.
  if (authorizer_.enforcing()) authorizer_.Renamed(ResourceType::kRegisteredModel, name, new_name);
  events_.Publish(
      {.kind = RegistryEvent::Kind::kModelRenamed, .model = name, .new_name = new_name});
  return RequireModel(new_name);
}

RegisteredModel RegistryService::UpdateRegisteredModel(const std::string& name,
                                                       const std::string& description) {
  ValidateModelName(name, "name");
  RequireOn(name, Permission::kEdit);
  store_.UpdateRegisteredModel(name, description);
  return RequireModel(name);
}

void RegistryService::DeleteRegisteredModel(const std::string& name) {
  ValidateModelName(name, "name");
  RequireOn(name, Permission::kManage);
  store_.DeleteRegisteredModel(name);
  if (authorizer_.enforcing()) authorizer_.Deleted(ResourceType::kRegisteredModel, name);
  events_.Publish({.kind = RegistryEvent::Kind::kModelDeleted, .model = name});
}

tracking::SearchResult<RegisteredModel> RegistryService::SearchRegisteredModels(
    const std::string& filter, const std::vector<std::string>& order_by,
    std::optional<int64_t> max_results, const std::string& page_token) {
  Visibility visible = governance::Readable(authorizer_, ResourceType::kRegisteredModel);
  tracking::Filter parsed = tracking::ParseRegisteredModelFilter(filter);
  std::vector<tracking::OrderTerm> order = tracking::ParseRegisteredModelOrderBy(order_by);
  Page page = tracking::RequestedPage(max_results, 100, 1000, page_token);
  auto found = store_.SearchRegisteredModels(parsed, order, page, visible);
  return {std::move(found.items), tracking::NextPageToken(page, found.has_more)};
}

std::vector<ModelVersion> RegistryService::GetLatestVersions(
    const std::string& name, const std::vector<std::string>& stages) {
  RegisteredModel model = GetRegisteredModel(name);
  if (stages.empty()) return model.latest_versions;
  std::vector<ModelVersion> out;
  for (const std::string& stage : stages) {
    std::string canonical = CanonicalStage(stage);
    for (const ModelVersion& version : model.latest_versions) {
      if (version.current_stage == canonical) out.push_back(version);
    }
  }
  return out;
}

void RegistryService::SetRegisteredModelTag(const std::string& name, const Tag& tag) {
  ValidateModelName(name, "name");
  RequireOn(name, Permission::kEdit);
  ValidateRegistryTag(tag);
  store_.SetRegisteredModelTag(name, tag);
}

void RegistryService::DeleteRegisteredModelTag(const std::string& name, const std::string& key) {
  ValidateModelName(name, "name");
  RequireOn(name, Permission::kEdit);
  store_.DeleteRegisteredModelTag(name, key);
}

ModelVersion RegistryService::CreateModelVersion(NewVersion request) {
  ValidateModelName(request.name, "name");
  RequireOn(request.name, Permission::kEdit);
  for (const Tag& tag : request.tags) ValidateRegistryTag(tag);
  if (request.source.empty()) ThrowInvalid("Missing value for required parameter 'source'.");
  RequireModel(request.name);
  // The source is read on the caller's behalf: checked with their grants,
  // fetched by the registry.
  ActorReadAccess access(authorizer_);
  if (IsPrompt(request.tags)) {
    // A prompt version (MLflow 3's prompt registry) holds its text in a
    // tag; its source is one of the placeholders MLflow's senders use, and
    // nothing is read from it.
    if (request.source != "dummy-source" && request.source != "prompt-template") {
      ThrowInvalid("Invalid prompt source: '" + request.source +
                   "'. Prompt sources must use an MLflow placeholder.");
    }
  } else {
    Internal internal;
    ValidateSource(request, access);
  }
  ModelVersion version;
  version.name = request.name;
  version.source = request.source;
  version.run_id = request.run_id;
  version.run_link = request.run_link;
  version.description = request.description;
  version.model_id = request.model_id;
  version.tags = std::move(request.tags);
  ModelVersion created = store_.CreateModelVersion(version);
  governance::SetTarget("model_version:" + created.name + "/" + std::to_string(created.version));
  events_.Publish({.kind = RegistryEvent::Kind::kVersionCreated,
                   .model = created.name,
                   .version = created.version});
  if (!created.model_id.empty()) {
    // As MLflow's server does: the logged model lists the versions made of
    // it. Bookkeeping of the registry's, which the caller need not be
    // allowed to do by hand.
    Internal internal;
    tracking::LoggedModel model = tracking_.GetLoggedModel(created.model_id);
    nlohmann::json versions = nlohmann::json::array();
    for (const Tag& tag : model.tags) {
      if (tag.key == kModelVersionsTag) {
        versions = nlohmann::json::parse(tag.value, nullptr, false);
        if (!versions.is_array()) versions = nlohmann::json::array();
      }
    }
    // The version as MLflow's server writes it here: a number.
    nlohmann::json entry = {{"name", created.name}, {"version", created.version}};
    if (std::find(versions.begin(), versions.end(), entry) == versions.end()) {
      versions.push_back(entry);
    }
    tracking_.SetLoggedModelTags(created.model_id,
                                 {{kModelVersionsTag, PythonStyleJson(versions)}});
  }
  return created;
}

// Where a version's files may come from, as MLflow's server checks it: no
// relative path tricks; a logged model's id must own a models:/ source and an
// artifact source must lie under that model's or the run's artifact root; a
// runs:/ source must name the run given. Local paths are never accepted: the
// server's own disk is not a place clients may point a model at.
void RegistryService::ValidateSource(NewVersion& request, const ReadAccess& access) {
  const std::string& source = request.source;
  std::string decoded = tracking::FullyPercentDecode(source);
  std::vector<std::string> segments = PathSegments(decoded);
  if (decoded.find('\0') != std::string::npos ||
      std::find(segments.begin(), segments.end(), "..") != segments.end()) {
    ThrowInvalid("Invalid model version source: '" + source +
                 "'. If supplying a source as an http, https, local file path, ftp, objectstore, "
                 "or mlflow-artifacts uri, an absolute path must be provided without relative "
                 "path references present. Please provide an absolute path.");
  }
  bool is_models = source.rfind("models:/", 0) == 0;
  bool is_runs = source.rfind("runs:/", 0) == 0;
  bool is_artifacts = source.rfind("mlflow-artifacts:/", 0) == 0;
  if (is_models && !LoggedModelIdOf(source)) {
    // models:/<name>/<version>: a new version of an existing one.
    std::string rest = source.substr(std::string("models:/").size());
    size_t slash = rest.find('/');
    if (slash == std::string::npos) ThrowBadSource(source, "model_id");
    // Asked before the lookup, so that a hidden model answers as a missing one would.
    if (!access.CanReadRegisteredModel(rest.substr(0, slash))) {
      ThrowSourceDenied(source, "registered model '" + rest.substr(0, slash) + "'");
    }
    if (IsPrompt(GetRegisteredModel(rest.substr(0, slash)).tags)) {
      ThrowInvalid("Invalid model version source: '" + source +
                   "'. Prompt versions cannot be used as model version sources.");
    }
    ModelVersion referenced = GetModelVersion(rest.substr(0, slash), rest.substr(slash + 1));
    if ((!request.run_id.empty() && request.run_id != referenced.run_id) ||
        (!request.model_id.empty() && request.model_id != referenced.model_id)) {
      ThrowInvalid("Invalid model version source: '" + source +
                   "'. The run_id and model_id request parameters must match the referenced "
                   "model version.");
    }
    request.source = "models:/" + referenced.name + "/" + std::to_string(referenced.version);
    if (request.run_id.empty()) request.run_id = referenced.run_id;
    if (request.model_id.empty()) request.model_id = referenced.model_id;
    return;
  }
  if (!request.model_id.empty()) {
    std::optional<tracking::LoggedModel> model;
    try {
      model = tracking_.GetLoggedModel(request.model_id);
    } catch (const Error& error) {
      if (error.code() != ErrorCode::kResourceDoesNotExist) throw;
      if (!access.SeesWhatExists()) {
        ThrowSourceDenied(source, "logged model '" + request.model_id + "'");
      }
      ThrowBadSource(source, "model_id");
    }
    if (!access.CanReadExperiment(model->experiment_id)) {
      ThrowSourceDenied(source, "logged model '" + request.model_id + "'");
    }
    bool owned = (is_models && LoggedModelIdOf(source) == request.model_id) ||
                 (is_artifacts && IsWithinRoot(source, model->artifact_uri));
    if (!owned) ThrowBadSource(source, "model_id");
    RequireReadableArtifacts(source, access);
    if (!request.run_id.empty()) {
      RequireReadableRun(request.run_id, source, access);
    } else if (!model->source_run_id.empty()) {
      // The version's lineage will show the model's run: it is read too.
      RequireReadableRun(model->source_run_id, source, access);
      request.run_id = model->source_run_id;
    }
    return;
  }
  if (!is_runs && !is_artifacts && !is_models) {
    ThrowInvalid("Invalid model version source: '" + source +
                 "'. A source must be a logged model (models:/<model_id> with its model_id), "
                 "a run's artifacts (runs:/<run_id>/<path> with its run_id) or an "
                 "mlflow-artifacts:/ URI under the run's artifact root.");
  }
  if (request.run_id.empty()) ThrowBadSource(source, "run_id");
  std::optional<tracking::Run> run;
  try {
    run = tracking_.GetRun(request.run_id);
  } catch (const Error& error) {
    if (error.code() != ErrorCode::kResourceDoesNotExist) throw;
    if (!access.SeesWhatExists()) ThrowSourceDenied(source, "run '" + request.run_id + "'");
    // As MLflow's server: a runs:/ source naming the run_id given is taken
    // whether or not that run exists (its lineage then has no run to show,
    // as for a logged model whose source run is gone). Only where the
    // caller may know what exists: with access control, a run that is not
    // there is refused like a hidden one.
    if (is_runs && SplitRunsUri(source) && SplitRunsUri(source)->first == request.run_id) return;
    ThrowBadSource(source, "run_id");
  }
  if (!access.CanReadExperiment(run->info.experiment_id)) {
    ThrowSourceDenied(source, "run '" + request.run_id + "'");
  }
  if (is_runs && SplitRunsUri(source)->first == request.run_id) return;
  if (is_artifacts && IsWithinRoot(source, run->info.artifact_uri)) {
    RequireReadableArtifacts(source, access);
    return;
  }
  ThrowBadSource(source, "run_id");
}

void RegistryService::RequireReadableRun(const std::string& run_id, const std::string& source,
                                         const ReadAccess& access) {
  std::optional<tracking::Run> run;
  try {
    run = tracking_.GetRun(run_id);
  } catch (const Error& error) {
    if (error.code() == ErrorCode::kResourceDoesNotExist) return;  // lineage skips it
    throw;
  }
  if (!access.CanReadExperiment(run->info.experiment_id)) {
    ThrowSourceDenied(source, "run '" + run_id + "'");
  }
}

// An mlflow-artifacts:/<experiment id>/... source is read through that
// experiment's folder, whatever run or logged model claims it.
void RegistryService::RequireReadableArtifacts(const std::string& source,
                                               const ReadAccess& access) {
  if (source.rfind("mlflow-artifacts:", 0) != 0) return;
  std::vector<std::string> segments = PathSegments(tracking::FullyPercentDecode(source));
  if (!segments.empty() && tracking::ParseExperimentId(segments.front()) &&
      !access.CanReadExperiment(segments.front())) {
    ThrowSourceDenied(source, "the artifacts of experiment '" + segments.front() + "'");
  }
}

ModelVersion RegistryService::GetModelVersion(const std::string& name, const std::string& version) {
  ValidateModelName(name, "name");
  RequireOnVersion(name, version, Permission::kRead);
  int64_t number = ParseVersion(version);
  auto found = store_.GetModelVersion(name, number);
  if (!found) {
    ThrowNotFound("Model Version (name=" + name + ", version=" + version + ") not found");
  }
  return *found;
}

ModelVersion RegistryService::UpdateModelVersion(const std::string& name,
                                                 const std::string& version,
                                                 const std::string& description) {
  RequireOnVersion(name, version, Permission::kEdit);
  GetModelVersion(name, version);
  store_.UpdateModelVersion(name, ParseVersion(version), description);
  return GetModelVersion(name, version);
}

ModelVersion RegistryService::TransitionStage(const std::string& name, const std::string& version,
                                              const std::string& stage,
                                              bool archive_existing_versions) {
  RequireOnVersion(name, version, Permission::kEdit);
  std::string canonical = CanonicalStage(stage);
  GetModelVersion(name, version);
  store_.TransitionModelVersionStage(name, ParseVersion(version), canonical,
                                     archive_existing_versions);
  events_.Publish({.kind = RegistryEvent::Kind::kStageChanged,
                   .model = name,
                   .version = ParseVersion(version),
                   .stage = canonical});
  return GetModelVersion(name, version);
}

void RegistryService::DeleteModelVersion(const std::string& name, const std::string& version) {
  RequireOnVersion(name, version, Permission::kManage);
  GetModelVersion(name, version);
  store_.DeleteModelVersion(name, ParseVersion(version));
  events_.Publish({.kind = RegistryEvent::Kind::kVersionDeleted,
                   .model = name,
                   .version = ParseVersion(version)});
}

tracking::SearchResult<ModelVersion> RegistryService::SearchModelVersions(
    const std::string& filter, const std::vector<std::string>& order_by,
    std::optional<int64_t> max_results, const std::string& page_token) {
  Visibility visible = governance::Readable(authorizer_, ResourceType::kRegisteredModel);
  tracking::Filter parsed = tracking::ParseModelVersionFilter(filter);
  std::vector<tracking::OrderTerm> order = tracking::ParseModelVersionOrderBy(order_by);
  Page page = tracking::RequestedPage(max_results, 10000, 200000, page_token);
  auto found = store_.SearchModelVersions(parsed, order, page, visible);
  return {std::move(found.items), tracking::NextPageToken(page, found.has_more)};
}

std::string RegistryService::GetDownloadUri(const std::string& name, const std::string& version) {
  ModelVersion found = GetModelVersion(name, version);
  if (auto model_id = LoggedModelIdOf(found.source)) {
    Internal internal;  // READ on the version lets one download it
    return tracking_.GetLoggedModel(*model_id).artifact_uri;
  }
  return found.source;  // runs:/ and artifact URIs the client resolves itself
}

std::string RegistryService::ResolveArtifactUri(const std::string& name,
                                                const std::string& version) {
  std::string uri = GetDownloadUri(name, version);
  Internal internal;
  // A models:/<name>/<version> source names an older version; the chain is
  // short, but a bound keeps a corrupted store from looping.
  for (int hop = 0; hop < 16 && uri.rfind("models:/", 0) == 0 && !LoggedModelIdOf(uri); ++hop) {
    std::string rest = uri.substr(std::string("models:/").size());
    size_t slash = rest.find('/');
    if (slash == std::string::npos) break;
    uri = GetDownloadUri(rest.substr(0, slash), rest.substr(slash + 1));
  }
  if (auto run = SplitRunsUri(uri)) {
    std::string root = tracking_.GetRun(run->first).info.artifact_uri;
    return run->second.empty() ? root : root + "/" + run->second;
  }
  return uri;
}

void RegistryService::SetModelVersionTag(const std::string& name, const std::string& version,
                                         const Tag& tag) {
  RequireOnVersion(name, version, Permission::kEdit);
  ValidateRegistryTag(tag);
  GetModelVersion(name, version);
  store_.SetModelVersionTag(name, ParseVersion(version), tag);
}

void RegistryService::DeleteModelVersionTag(const std::string& name, const std::string& version,
                                            const std::string& key) {
  RequireOnVersion(name, version, Permission::kEdit);
  GetModelVersion(name, version);
  store_.DeleteModelVersionTag(name, ParseVersion(version), key);
}

void RegistryService::SetAlias(const std::string& name, const std::string& alias,
                               const std::string& version) {
  ValidateModelName(name, "name");
  RequireOn(name, Permission::kEdit);
  ValidateAlias(alias);
  std::string lower = alias;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  if (lower == "latest") ThrowInvalid("'latest' alias name (case insensitive) is reserved.");
  if (IsReservedVersionAlias(alias)) {
    ThrowInvalid("Version alias name '" + alias + "' is reserved.");
  }
  GetModelVersion(name, version);
  store_.SetAlias(name, alias, ParseVersion(version));
  events_.Publish({.kind = RegistryEvent::Kind::kAliasSet,
                   .model = name,
                   .version = ParseVersion(version),
                   .alias = alias});
}

void RegistryService::DeleteAlias(const std::string& name, const std::string& alias) {
  ValidateModelName(name, "name");
  RequireOn(name, Permission::kEdit);
  ValidateAlias(alias);
  RequireModel(name);
  store_.DeleteAlias(name, alias);
  events_.Publish({.kind = RegistryEvent::Kind::kAliasDeleted, .model = name, .alias = alias});
}

ModelVersion RegistryService::GetVersionByAlias(const std::string& name, const std::string& alias) {
  ValidateModelName(name, "name");
  RequireOn(name, Permission::kRead);
  ValidateAlias(alias);
  RegisteredModel model = RequireModel(name);
  std::string lower = alias;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  if (lower == "latest") {
    if (model.latest_versions.empty()) {
      ThrowNotFound("Latest version not found for model " + name + ".");
    }
    const ModelVersion& newest =
        *std::max_element(model.latest_versions.begin(), model.latest_versions.end(),
                          [](const auto& a, const auto& b) { return a.version < b.version; });
    return newest;
  }
  auto version = store_.ResolveAlias(name, alias);
  if (!version) ThrowInvalid("Registered model alias " + alias + " not found.");
  return GetModelVersion(name, std::to_string(*version));
}

}  // namespace slipway::registry
