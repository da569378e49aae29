#include "cli/train_commands.h"

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/workspace.h"
#include "core/error.h"
#include "training/plan.h"
#include "training/spec.h"

namespace slipway::cli {
namespace {

struct TrainOptions {
  std::string spec;
  std::string workspace;
  std::string data;  // --data: overrides the spec's
  std::vector<std::string> set;
  bool dry_run = false;
};

std::string ReadSpec(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kResourceDoesNotExist, "Cannot read spec file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void Train(const TrainOptions& options) {
  std::vector<std::string> overrides = options.set;
  if (!options.data.empty()) overrides.push_back("data=" + options.data);
  const training::TrainingSpec spec =
      training::ParseSpec(ReadSpec(options.spec), options.spec, overrides);
  auto workspace = Workspace::Open(options.workspace, false);
  data::DatasetService& datasets = workspace->service();
  data::DatasetVersion version;
  try {
    version = datasets.Resolve(data::ParseDatasetRef(spec.data.name));
  } catch (const Error& error) {
    if (error.code() != ErrorCode::kResourceDoesNotExist) throw;
    training::FailAt(spec, spec.data.at, "data",
                     std::string(error.what()) + " (in the workspace " +
                         workspace->root().parent_path().string() + ")");
  }
  if (version.profile_json.empty()) {
    training::FailAt(spec, spec.data.at, "data",
                     spec.data.name + " is not a table (a CSV file with a header)");
  }
  const training::TrainingPlan plan =
      training::PlanTraining(spec, version, datasets.ProfileOf(version));
  std::cout << training::FormatPlan(spec, plan);
  if (options.dry_run) {
    std::cout << "dry run: the spec and the data agree; nothing trained\n";
    return;
  }
  throw Error(ErrorCode::kNotImplemented,
              "training itself is not built yet: `slipway train --dry-run` checks a spec "
              "against its data and prints the plan");
}

}  // namespace

void AddTrainCommands(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* train = app.add_subcommand("train", "Train a model from a training spec (YAML)");
  train->add_option("spec", options->spec, "The spec file")->required();
  train->add_option("--data", options->data, "Dataset version instead of the spec's, e.g. churn@7");
  train->add_option("--set", options->set,
                    "Override a key of the spec: key.path=value (YAML), e.g. "
                    "model.params.max_depth=4; repeatable");
  train->add_flag("--dry-run", options->dry_run,
                  "Check the spec against the data and print the plan; train nothing");
  train->add_option("--workspace", options->workspace,
                    "Folder holding the .slipway workspace (default: the nearest one above "
                    "here, or $SLIPWAY_WORKSPACE)");
  train->callback([options] { Train(*options); });
}

}  // namespace slipway::cli
