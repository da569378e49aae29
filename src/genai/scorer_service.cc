#include "genai/scorer_service.h"

#include <algorithm>
#include <set>

#include "core/clock.h"
#include "core/error.h"
#include "core/ids.h"
#include "tracking/entities.h"

namespace slipway::genai {
namespace {

using governance::Permission;
using governance::ResourceType;

// MLflow's DECORATOR_SCORER_REGISTRATION_NOT_SUPPORTED_ERROR, the client
// shows it as is.
constexpr const char* kCustomScorerRefused =
    "Custom scorer registration (using @scorer decorator) is disabled by default outside of "
    "Databricks tracking environments due to security concerns. Custom scorers require "
    "arbitrary code execution during deserialization.\n\nTo use custom scorers:\n1. Configure "
    "MLflow to use a Databricks tracking URI, or\n2. Manage your custom scorer code in a source "
    "code repository (e.g., GitHub) and import it directly, or\n3. Use built-in scorers or "
    "make_judge() scorers instead. (Slipway stores scorers and never runs them, and does not "
    "take scorers that would run code where they are loaded.)";

const std::set<std::string>& DestinationKeys() {
  static const std::set<std::string> keys = {"api_base", "base_url", "model_list", "fallbacks",
                                             "custom_llm_provider"};
  return keys;
}

bool HasCallSource(const Json& value) {
  if (value.is_object()) {
    auto it = value.find("call_source");
    if (it != value.end() && !it->is_null()) return true;
    return std::any_of(value.begin(), value.end(), [](const Json& v) { return HasCallSource(v); });
  }
  if (value.is_array()) {
    return std::any_of(value.begin(), value.end(), [](const Json& v) { return HasCallSource(v); });
  }
  return false;
}

void FindDestinationKeys(const Json& value, std::set<std::string>& found) {
  if (value.is_object()) {
    for (const auto& [key, nested] : value.items()) {
      if (DestinationKeys().count(key)) found.insert(key);
      FindDestinationKeys(nested, found);
    }
  } else if (value.is_array()) {
    for (const Json& nested : value) {
      // dict() also takes a list of pairs: [["api_base", "..."]]
      if (nested.is_array() && nested.size() == 2 && nested[0].is_string() &&
          DestinationKeys().count(nested[0].get<std::string>())) {
        found.insert(nested[0].get<std::string>());
      }
      FindDestinationKeys(nested, found);
    }
  }
}

void CheckThirdPartyData(const Json& value) {
  if (value.is_object()) {
    auto data = value.find("third_party_scorer_data");
    if (data != value.end() && data->is_object()) {
      auto kwargs = data->find("kwargs");
      if (kwargs != data->end() && !kwargs->is_null()) {
        if (!kwargs->is_object()) {
          ThrowInvalid("third_party_scorer_data.kwargs must be a JSON object, got " +
                       std::string(kwargs->type_name()) + ".");
        }
        std::set<std::string> found;
        FindDestinationKeys(*kwargs, found);
        if (!found.empty()) {
          std::string names;
          for (const std::string& key : found) names += (names.empty() ? "'" : ", '") + key + "'";
          ThrowInvalid("third_party_scorer_data.kwargs must not contain " + names +
                       ": these options choose where the scorer's LLM client sends requests.");
        }
      }
    }
    for (const auto& [key, nested] : value.items()) CheckThirdPartyData(nested);
  } else if (value.is_array()) {
    for (const Json& nested : value) CheckThirdPartyData(nested);
  }
}

}  // namespace

void CheckSerializedScorer(const std::string& serialized_scorer) {
  Json parsed = Json::parse(serialized_scorer, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) ThrowInvalid("serialized_scorer must be valid JSON");
  if (HasCallSource(parsed)) ThrowInvalid(kCustomScorerRefused);
  CheckThirdPartyData(parsed);
}

ScorerService::ScorerService(ScorerStore& store, tracking::TrackingStore& tracking,
                             governance::Authorizer& authorizer)
    : store_(store), tracking_(tracking), authorizer_(authorizer) {}

std::string ScorerService::RequireExperiment(const std::string& experiment_id, Permission needed) {
  std::optional<int64_t> id = tracking::ParseExperimentId(experiment_id);
  if (!id) ThrowNotFound("No Experiment with id=" + experiment_id + " exists");
  std::string canonical = std::to_string(*id);
  governance::NameTarget("experiment:" + canonical);
  governance::Require(authorizer_, needed, ResourceType::kExperiment, canonical);
  auto experiment = tracking_.GetExperiment(canonical);
  if (!experiment) ThrowNotFound("No Experiment with id=" + experiment_id + " exists");
  if (experiment->lifecycle_stage != tracking::kLifecycleActive) {
    ThrowInvalid("The experiment " + canonical +
                 " must be in the 'active' state. Current state is " + experiment->lifecycle_stage +
                 ".");
  }
  return canonical;
}

void ScorerService::ThrowNoScorer(const std::string& experiment_id, const std::string& name,
                                  std::optional<int64_t> version) {
  if (version) {
    ThrowNotFound("Scorer with name '" + name + "' and version " + std::to_string(*version) +
                  " not found for experiment " + experiment_id + ".");
  }
  ThrowNotFound("Scorer with name '" + name + "' not found for experiment " + experiment_id + ".");
}

ScorerVersion ScorerService::RegisterScorer(const std::string& experiment_id,
                                            const std::string& name,
                                            const std::string& serialized_scorer) {
  if (name.find_first_not_of(" \t\r\n") == std::string::npos) {
    ThrowInvalid("Scorer name cannot be empty or contain only whitespace.");
  }
  CheckSerializedScorer(serialized_scorer);
  std::string experiment = RequireExperiment(experiment_id, Permission::kEdit);
  return store_.RegisterScorer(experiment, name, serialized_scorer, NowMillis(), NewUuid());
}

std::vector<ScorerVersion> ScorerService::ListScorers(
    const std::vector<std::string>& experiment_ids) {
  std::vector<std::string> canonical;
  for (const std::string& id : experiment_ids) {
    canonical.push_back(RequireExperiment(id, Permission::kRead));
  }
  Visibility visible = canonical.empty()
                           ? governance::Readable(authorizer_, ResourceType::kExperiment)
                           : Visibility::All();
  return store_.ListScorers(canonical, visible);
}

std::vector<ScorerVersion> ScorerService::ListScorerVersions(const std::string& experiment_id,
                                                             const std::string& name) {
  std::string experiment = RequireExperiment(experiment_id, Permission::kRead);
  std::vector<ScorerVersion> versions = store_.ListScorerVersions(experiment, name);
  if (versions.empty()) ThrowNoScorer(experiment, name, std::nullopt);
  return versions;
}

ScorerVersion ScorerService::GetScorer(const std::string& experiment_id, const std::string& name,
                                       std::optional<int64_t> version) {
  std::string experiment = RequireExperiment(experiment_id, Permission::kRead);
  std::optional<ScorerVersion> found = store_.GetScorer(experiment, name, version);
  if (!found) ThrowNoScorer(experiment, name, version);
  return std::move(*found);
}

void ScorerService::DeleteScorer(const std::string& experiment_id, const std::string& name,
                                 std::optional<int64_t> version) {
  std::string experiment = RequireExperiment(experiment_id, Permission::kManage);
  if (store_.DeleteScorer(experiment, name, version) == 0) ThrowNoScorer(experiment, name, version);
}

}  // namespace slipway::genai
