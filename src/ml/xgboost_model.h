// Native evaluation of the MLflow 'xgboost' flavor.
//
// Reads the model file mlflow.xgboost.save_model wrote (JSON or UBJSON; the
// format is told from the bytes, since `.xgb` is UBJSON for xgboost >= 2.1
// and the legacy binary format before) into a TreeEnsemble, and answers what
// MLflow's pyfunc would: probabilities or scores for a Booster, labels for an
// XGBClassifier, with best_iteration honoured for the scikit-learn wrappers.
// A variant it does not evaluate (gblinear, the legacy binary format, vector
// leaves, an objective it does not know) is NOT_IMPLEMENTED, so the loader
// serves the model through Python instead.
#pragma once

#include <memory>
#include <string_view>

#include "ml/model.h"
#include "ml/tree_ensemble.h"
#include "ml/tree_model.h"

namespace slipway::ml {

// Loads the 'xgboost' flavor of `mlmodel` for evaluation in process.
std::unique_ptr<Model> LoadXGBoostFlavor(const MlModel& mlmodel);

// A parsed XGBoost model file: the ensemble and how to present it.
struct XGBoostModel {
  std::shared_ptr<const TreeEnsemble> ensemble;
  TreeModelOptions options;
};

// Parses XGBoost model bytes (JSON or UBJSON). `model_class` is the flavor's
// model_class ("xgboost.core.Booster", "xgboost.sklearn.XGBClassifier"...).
// Throws INVALID_PARAMETER_VALUE for a malformed model, NOT_IMPLEMENTED for a
// variant not evaluated natively.
XGBoostModel ParseXGBoostModel(std::string_view bytes, std::string_view model_class);

}  // namespace slipway::ml
