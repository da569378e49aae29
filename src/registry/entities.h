// The records of the model registry, as MLflow's model_registry.proto has them.
//
// Plain values: the store fills them, the registry service validates them, the
// HTTP layer turns them into MLflow's JSON. Times are milliseconds since the
// Unix epoch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tracking/entities.h"

namespace slipway::registry {

using tracking::Tag;

// MLflow's legacy stages. `Deleted_Internal` marks a deleted version whose
// number must not be reused; such versions are never returned.
inline constexpr const char* kStageNone = "None";
inline constexpr const char* kStageStaging = "Staging";
inline constexpr const char* kStageProduction = "Production";
inline constexpr const char* kStageArchived = "Archived";
inline constexpr const char* kStageDeleted = "Deleted_Internal";

struct ModelAlias {
  std::string alias;
  int64_t version = 0;
};

struct ModelVersion {
  std::string name;
  int64_t version = 0;
  int64_t creation_timestamp = 0;
  int64_t last_updated_timestamp = 0;
  std::string user_id;
  std::string current_stage = kStageNone;
  std::string description;
  std::string source;
  std::string run_id;
  std::string run_link;
  std::string status = "READY";
  std::string status_message;
  std::string model_id;
  std::vector<Tag> tags;
  std::vector<std::string> aliases;
};

struct RegisteredModel {
  std::string name;
  int64_t creation_timestamp = 0;
  int64_t last_updated_timestamp = 0;
  std::string user_id;
  std::string description;
  std::vector<ModelVersion> latest_versions;  // the newest version of each stage
  std::vector<Tag> tags;
  std::vector<ModelAlias> aliases;
};

}  // namespace slipway::registry
