#include "training/model_folder.h"

#include <yaml-cpp/yaml.h>

#include "training/slipway_pyfunc_source.h"

namespace slipway::training {
namespace {

using nlohmann::json;

YAML::Node ToYaml(const json& value) {
  if (value.is_object()) {
    YAML::Node node(YAML::NodeType::Map);
    for (const auto& [key, item] : value.items()) node[key] = ToYaml(item);
    return node;
  }
  if (value.is_array()) {
    YAML::Node node(YAML::NodeType::Sequence);
    for (const json& item : value) node.push_back(ToYaml(item));
    return node;
  }
  if (value.is_null()) return YAML::Node(YAML::NodeType::Null);
  if (value.is_string()) return YAML::Node(value.get<std::string>());
  if (value.is_boolean()) return YAML::Node(value.get<bool>());
  if (value.is_number_integer()) return YAML::Node(value.get<int64_t>());
  return YAML::Node(value.get<double>());
}

}  // namespace

std::vector<ModelFile> ModelFolder(const TrainingSpec& spec, const TrainingOutcome& outcome,
                                   const ModelFolderInfo& info) {
  std::vector<ModelFile> files = outcome.model->Files();
  json inputs = json::array();
  for (const FeatureTransform& f : outcome.preprocessor.features()) inputs.push_back(f.name);
  json flavors = outcome.model->Flavors();
  flavors["slipway"] = {{"format_version", 1},
                        {"model_type", std::string(ModelTypeName(spec.model))},
                        {"task", std::string(TaskName(spec.task))},
                        {"data", files.front().name},
                        {"preprocessing", "preprocessing.json"},
                        {"inputs", inputs},
                        {"outputs", outcome.preprocessor.OutputNames()},
                        {"target", spec.target.name},
                        {"classes", outcome.target.classes},
                        {"dataset", info.dataset}};
  // MLflow's pyfunc runs the loader shipped in code/ (slipway_pyfunc.py):
  // the same preprocessing, then the model.
  flavors["python_function"] = {
      {"loader_module", "slipway_pyfunc"}, {"code", "code"}, {"predict_fn", "predict"}};
  // Only params: the inputs are the flavor's, typed by serving
  // (ml/slipway_model.h); pyfunc passes predict_method on.
  const json params = json::array({{{"name", "predict_method"},
                                    {"type", "string"},
                                    {"default", "predict"},
                                    {"shape", nullptr}}});
  json mlmodel = {
      {"flavors", flavors},
      {"signature", {{"inputs", nullptr}, {"outputs", nullptr}, {"params", params.dump()}}}};
  if (!info.artifact_path.empty()) mlmodel["artifact_path"] = info.artifact_path;
  if (!info.run_id.empty()) mlmodel["run_id"] = info.run_id;
  if (!info.created_utc.empty()) mlmodel["utc_time_created"] = info.created_utc;
  YAML::Emitter out;
  out << ToYaml(mlmodel);
  files.push_back({"MLmodel", std::string(out.c_str()) + "\n"});
  files.push_back({"preprocessing.json", outcome.preprocessor.ToJson().dump(2) + "\n"});
  files.push_back({"code/slipway_pyfunc.py", kSlipwayPyfuncSource});
  return files;
}

}  // namespace slipway::training
