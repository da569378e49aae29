// Loading an MLflow Model folder: which flavor runs it, and how.
//
// Models trained by `slipway train` (the `slipway` flavor: preprocessing and
// then XGBoost or a linear model, slipway_model.h) and tree ensembles (the
// `xgboost` and `lightgbm` flavors) are evaluated natively; a folder with the
// `slipway` flavor is always loaded through it, never as its bare `xgboost`;
// a model with only other flavors runs through Python workers when it has a
// `python_function` flavor. Native wins when both are present (MLflow's
// xgboost and lightgbm models carry both), unless the caller asks for Python
// or the native loader does not evaluate that variant (NOT_IMPLEMENTED).
#pragma once

#include <filesystem>
#include <memory>

#include "ml/model.h"
#include "ml/python_model.h"

namespace slipway::ml {

struct LoadOptions {
  PythonOptions python;
  // Run every flavor through Python, even those Slipway evaluates natively
  // (for comparing against MLflow's own predictions).
  bool force_python = false;
};

// Loads the model in `dir`. Throws slipway::Error: INVALID_PARAMETER_VALUE
// for a folder that is not a servable MLflow Model (saying why), others as
// the flavor's loader does.
std::unique_ptr<Model> LoadModel(const std::filesystem::path& dir, const LoadOptions& options);

}  // namespace slipway::ml
