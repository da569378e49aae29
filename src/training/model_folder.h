// The MLflow Model folder of a trained model, as files by name (the caller
// writes or uploads them; nothing here touches the disk):
//
//   MLmodel             flavors: the model's own where MLflow has one
//                       (`xgboost`: data model.ubj, model_format ubj, what
//                       mlflow.xgboost.save_model writes, so
//                       mlflow.xgboost.load_model reads it), `python_function`
//                       (below), and `slipway`, always: what the model needs
//                       around it (below). A signature of params only:
//                       predict_method, which pyfunc passes on.
//   model.ubj | model.json    the model (trainer.h)
//   preprocessing.json  the fitted Preprocessor (preprocessing.h ToJson)
//   code/slipway_pyfunc.py    the python_function loader (slipway_pyfunc.py)
//
// The `slipway` flavor:
//
//   slipway:
//     format_version: 1
//     model_type: xgboost          # xgboost | linear | logistic
//     task: binary                 # binary | multiclass | regression
//     data: model.ubj              # the model file
//     preprocessing: preprocessing.json
//     inputs: [mean_radius, ...]   # the raw columns a caller sends, in order
//     outputs: [mean_radius, ...]  # the model's columns after preprocessing
//     target: malignant
//     classes: ['0', '1']          # classification: label of each output index
//     dataset: cancer@1            # what it was trained on
//
// The model file alone expects the columns *after* preprocessing. Slipway's
// model loader reads the `slipway` flavor first (ml/slipway_model.h): it
// applies preprocessing.json with ml::Preprocessing, the same rules training
// used, then the model. A loader that knows only the `xgboost` flavor
// (mlflow.xgboost) applies no preprocessing: it gives the same predictions
// only where the preprocessing is the identity (numeric features, nothing
// missing, no scaling). The `python_function` flavor (loader_module
// slipway_pyfunc, code: code) applies preprocessing.json in Python with the
// same per-value rules, then the model (xgboost's Booster, or the linear
// model's coefficients), and answers as Slipway's serving does: labels, or
// probabilities with params {"predict_method": "predict_proba"}.
//
// Every file but MLmodel (which names the run and the time) is a function of
// the spec, the data and the seed: `slipway train --reproduce` compares them.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "training/training_run.h"

namespace slipway::training {

struct ModelFolderInfo {
  std::string run_id;         // "" when not tracked
  std::string artifact_path;  // where in the run's artifacts, e.g. "model"
  std::string dataset;        // "name@version"
  std::string created_utc;    // "YYYY-MM-DD HH:MM:SS.ffffff"
};

std::vector<ModelFile> ModelFolder(const TrainingSpec& spec, const TrainingOutcome& outcome,
                                   const ModelFolderInfo& info);

}  // namespace slipway::training
