// The run MLflow's prompt engineering UI makes (CreatePromptlabRun): one
// prompt tried against one model route, kept as a finished run with the
// prompt template, the route and the model parameters as params, and the
// prompt's inputs and output as the table `eval_results_table.json`, which
// the UI's evaluation view reads.
//
// What MLflow also writes and Slipway does not: a "promptlab" pyfunc model
// under `model/` (and its mlflow.log-model.history tag). That model calls
// MLflow's AI gateway, which Slipway does not serve.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tracking/artifact_store.h"
#include "tracking/tracking_service.h"

namespace slipway::tracking {

struct PromptlabRequest {
  std::string experiment_id;
  std::string run_name;
  std::vector<Tag> tags;
  std::string prompt_template;
  std::vector<Param> prompt_parameters;
  std::string model_route;
  std::vector<Param> model_parameters;
  std::string model_input;
  std::string model_output;
  std::vector<Param> model_output_parameters;
  std::string mlflow_version;
  std::string user_id;
  std::optional<int64_t> start_time;
};

// INVALID_PARAMETER_VALUE "CreatePromptlabRun request must specify <field>."
// for the first required field missing (experiment_id, prompt_template,
// prompt_parameters, model_route, model_input, mlflow_version, in MLflow's
// order), then EDIT on the experiment as CreateRun checks it. The run ends
// FINISHED, or FAILED if its table could not be written.
Run CreatePromptlabRun(TrackingService& tracking, ArtifactStore& artifacts,
                       const PromptlabRequest& request);

}  // namespace slipway::tracking
