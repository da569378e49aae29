// Where a model version came from: its run, data, code and related runs.
//
// ModelLineage is the record behind `GET /api/v1/lineage/model-versions/...`,
// `slipway models lineage` and the model card. It is assembled from the
// registry and experiment tracking on request; nothing is stored twice.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "registry/entities.h"
#include "registry/registry_service.h"
#include "tracking/entities.h"
#include "tracking/tracking_service.h"

namespace slipway::registry {

struct DatasetRef {
  std::string name;
  std::string digest;
  std::string source_type;
  std::string source;
  std::string context;  // the input's `mlflow.data.context` tag: training, evaluation, ...
};

struct RunRef {
  std::string run_id;
  std::string run_name;
  std::string status;
};

struct ModelLineage {
  ModelVersion version;
  std::optional<RegisteredModel> model;
  std::optional<tracking::LoggedModel> logged_model;
  std::optional<tracking::Run> run;
  std::string git_commit;   // run tag mlflow.source.git.commit
  std::string source_name;  // run tag mlflow.source.name
  std::string source_type;  // run tag mlflow.source.type
  std::vector<DatasetRef> datasets;
  std::optional<RunRef> parent_run;
  std::vector<RunRef> child_runs;
  // What was left out because the caller may not read it, one line each
  // ("run 'abc': ..."); empty when nothing was.
  std::vector<std::string> withheld;
};

// Builds the lineage of `name` at `version` (a number, or "@alias" is
// resolved by the caller). A run or logged model that was deleted since is
// left out rather than failing the request; one in an experiment that
// `access` may not read is left out too, and named in `withheld`.
ModelLineage BuildLineage(RegistryService& registry, tracking::TrackingService& tracking,
                          const std::string& name, const std::string& version);

}  // namespace slipway::registry
