// A loaded model: what a deployment serves and `slipway predict` runs.
//
// A Model is immutable once loaded and Predict is thread-safe, so one object
// serves every request at once and a hot swap is a pointer exchange: serving
// holds models as `std::shared_ptr<const Model>`, and requests in flight keep
// the version they started on alive until they finish.
//
// Models come from an MLflow Model folder (an `MLmodel` file and its data) by
// LoadModel (model_loader.h), which picks how to run the flavor: tree
// ensembles natively (xgboost_model.h, lightgbm_model.h), everything else
// through Python worker processes (python_model.h).
#pragma once

#include <string>
#include <string_view>

#include "ml/frame.h"
#include "ml/mlmodel.h"

namespace slipway::ml {

class Model {
 public:
  virtual ~Model() = default;

  // Predicts one batch. `input` has already been conformed to the model's
  // input schema (mlmodel.h, ConformToSchema) when the model has one.
  // `params_json` is MLflow's inference `params` object as JSON text, or
  // empty. Throws slipway::Error: INVALID_PARAMETER_VALUE for input the model
  // cannot take (a message that names the column), INTERNAL_ERROR or
  // TEMPORARILY_UNAVAILABLE for failures of the model itself.
  virtual Predictions Predict(const Frame& input, std::string_view params_json) const = 0;

  // The MLmodel the model was loaded from (signature, flavors, example).
  virtual const MlModel& mlmodel() const = 0;

  // The flavor that runs it ("xgboost", "lightgbm", "python_function").
  virtual std::string_view flavor() const = 0;

  // True when it runs inside Slipway, false when through a Python worker.
  virtual bool native() const = 0;
};

}  // namespace slipway::ml
