#include "tracking/promptlab.h"

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/error.h"

namespace slipway::tracking {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kArtifactsScheme = "mlflow-artifacts:";
constexpr const char* kTableFile = "eval_results_table.json";

void Require(bool present, const char* field) {
  if (!present) {
    ThrowInvalid(std::string("CreatePromptlabRun request must specify ") + field + ".");
  }
}

}  // namespace

Run CreatePromptlabRun(TrackingService& tracking, ArtifactStore& artifacts,
                       const PromptlabRequest& request) {
  Require(!request.experiment_id.empty(), "experiment_id");
  Require(!request.prompt_template.empty(), "prompt_template");
  Require(!request.prompt_parameters.empty(), "prompt_parameters");
  Require(!request.model_route.empty(), "model_route");
  Require(!request.model_input.empty(), "model_input");
  Require(!request.mlflow_version.empty(), "mlflow_version");

  TrackingService::NewRun new_run;
  new_run.experiment_id = request.experiment_id;
  new_run.user_id = request.user_id.empty() ? "unknown" : request.user_id;
  new_run.start_time = request.start_time;
  new_run.run_name = request.run_name;
  new_run.tags = request.tags;
  Run run = tracking.CreateRun(std::move(new_run));

  RunWrites writes;
  writes.params = request.model_parameters;
  writes.params.push_back({"model_route", request.model_route});
  writes.params.push_back({"prompt_template", request.prompt_template});
  // The tag's text is Python's json.dumps, as MLflow's UI compares it.
  writes.tags.push_back({"mlflow.loggedArtifacts",
                         R"([{"path": ")" + std::string(kTableFile) + R"(", "type": "table"}])"});
  writes.tags.push_back({"mlflow.runSourceType", "PROMPT_ENGINEERING"});
  tracking.LogBatch(run.info.run_id, writes);

  // The table: the prompt's parameters, the prompt and the output, then the
  // output's parameters, as one row.
  Json columns = Json::array(), row = Json::array();
  for (const Param& p : request.prompt_parameters) {
    columns.push_back(p.key);
    row.push_back(p.value);
  }
  columns.push_back("prompt");
  row.push_back(request.model_input);
  columns.push_back("output");
  row.push_back(request.model_output);
  for (const Param& p : request.model_output_parameters) {
    columns.push_back(p.key);
    row.push_back(p.value);
  }
  const std::string table = Json{{"columns", columns}, {"data", Json::array({row})}}.dump(
      -1, ' ', false, Json::error_handler_t::replace);
  std::string status = "FINISHED";
  try {
    const std::string& uri = run.info.artifact_uri;
    if (uri.rfind(kArtifactsScheme, 0) != 0) {
      ThrowInvalid("the run's artifacts are not stored by this server (" + uri + ")");
    }
    std::string path = uri.substr(kArtifactsScheme.size());
    path.erase(0, path.find_first_not_of('/'));
    path += std::string("/") + kTableFile;
    tracking.AuthorizeArtifactPath(path, governance::Permission::kEdit);
    artifacts.Write(path, [&](const auto& sink) {
      sink(table.data(), table.size());
      return true;
    });
  } catch (const Error&) {
    status = "FAILED";  // as MLflow: the run is kept, marked failed
  }
  RunUpdate finish;
  finish.status = status;
  finish.end_time = NowMillis();
  tracking.UpdateRun(run.info.run_id, finish);
  return tracking.GetRun(run.info.run_id);
}

}  // namespace slipway::tracking
