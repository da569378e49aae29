#include "registry/lineage.h"

#include "core/error.h"

namespace slipway::registry {
namespace {

std::string TagValue(const std::vector<Tag>& tags, const std::string& key) {
  for (const Tag& tag : tags) {
    if (tag.key == key) return tag.value;
  }
  return {};
}

// A missing run or model yields nothing; other failures still propagate.
template <typename F>
auto IfExists(F&& f) -> std::optional<decltype(f())> {
  try {
    return f();
  } catch (const Error& error) {
    if (error.code() == ErrorCode::kResourceDoesNotExist) return std::nullopt;
    throw;
  }
}

std::string QuoteFilterValue(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

ModelLineage BuildLineage(RegistryService& registry, tracking::TrackingService& tracking,
                          const std::string& name, const std::string& version) {
  ModelLineage lineage;
  lineage.version = registry.GetModelVersion(name, version);
  lineage.model = registry.GetRegisteredModel(name);
  // What the lineage copies from tracking is shown only where the caller
  // may read it: checked here with their grants, fetched by the registry
  // on its own account (withheld, not refused).
  ActorReadAccess access(registry.authorizer());
  governance::Operation internal(governance::Actor::Operator("system:registry"), "lineage");
  constexpr const char* kNoRead = ": withheld, you do not have READ on its experiment";
  if (!lineage.version.model_id.empty()) {
    lineage.logged_model =
        IfExists([&] { return tracking.GetLoggedModel(lineage.version.model_id); });
    if (lineage.logged_model && !access.CanReadExperiment(lineage.logged_model->experiment_id)) {
      lineage.withheld.push_back("logged model '" + lineage.version.model_id + "'" + kNoRead);
      lineage.logged_model.reset();
    }
  }
  std::string run_id = lineage.version.run_id;
  if (run_id.empty() && lineage.logged_model) run_id = lineage.logged_model->source_run_id;
  if (run_id.empty()) return lineage;
  lineage.run = IfExists([&] { return tracking.GetRun(run_id); });
  if (!lineage.run) return lineage;
  if (!access.CanReadExperiment(lineage.run->info.experiment_id)) {
    lineage.withheld.push_back("run '" + run_id + "' (its parameters, metrics, tags, datasets " +
                               "and related runs)" + kNoRead);
    lineage.run.reset();
    return lineage;
  }

  const tracking::Run& run = *lineage.run;
  lineage.git_commit = TagValue(run.tags, "mlflow.source.git.commit");
  lineage.source_name = TagValue(run.tags, "mlflow.source.name");
  lineage.source_type = TagValue(run.tags, "mlflow.source.type");
  for (const tracking::DatasetInput& input : run.dataset_inputs) {
    lineage.datasets.push_back({input.dataset.name, input.dataset.digest, input.dataset.source_type,
                                input.dataset.source, TagValue(input.tags, "mlflow.data.context")});
  }
  std::string parent_id = TagValue(run.tags, "mlflow.parentRunId");
  if (!parent_id.empty()) {
    if (auto parent = IfExists([&] { return tracking.GetRun(parent_id); })) {
      if (access.CanReadExperiment(parent->info.experiment_id)) {
        lineage.parent_run =
            RunRef{parent->info.run_id, parent->info.run_name, parent->info.status};
      } else {
        lineage.withheld.push_back("parent run '" + parent_id + "'" + kNoRead);
      }
    }
  }
  auto children = tracking.SearchRuns(
      {run.info.experiment_id}, "tags.mlflow.parentRunId = " + QuoteFilterValue(run.info.run_id),
      tracking::ViewType::kActiveOnly, 1000, {}, "");
  for (const tracking::Run& child : children.items) {
    lineage.child_runs.push_back({child.info.run_id, child.info.run_name, child.info.status});
  }
  return lineage;
}

}  // namespace slipway::registry
