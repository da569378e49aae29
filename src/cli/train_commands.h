// `slipway train SPEC`: a model from a training spec (src/training/spec.h)
// on a dataset version of the local workspace (or, with --data-dir, of a
// server's data folder). It checks the spec against the data and prints
// the plan (alone with --dry-run), tunes when the spec has a `search:`
// (training/tuning.h), cross-validates, fits the final model, evaluates it
// on the holdout, checks the gates, and logs one run to the tracking
// server: params, metrics per fold and on the holdout, the dataset version
// as an input, and the model as an MLflow Model folder
// (training/model_folder.h). When every gate passes it registers the model
// and moves the spec's alias; a failed gate exits 1. `--result-file` writes
// the outcome as JSON for a program that ran it (the closed loop,
// src/loop/), `--tag` adds tags to the run and the registered version.
#pragma once

namespace CLI {
class App;
}

namespace slipway::cli {

void AddTrainCommands(CLI::App& app);

}  // namespace slipway::cli
