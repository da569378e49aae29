// `slipway train SPEC`: a model from a training spec (src/training/spec.h)
// on a dataset version of the local workspace. It checks the spec against
// the data and prints the plan (alone with --dry-run), then cross-validates,
// fits the final model, evaluates it on the holdout, and logs one run to the
// tracking server: params, metrics per fold and on the holdout, the dataset
// version as an input, and the model as an MLflow Model folder
// (training/model_folder.h). Tuning is not built yet: a spec with `search:`
// trains once with its fixed params, and says so.
#pragma once

namespace CLI {
class App;
}

namespace slipway::cli {

void AddTrainCommands(CLI::App& app);

}  // namespace slipway::cli
