// MLflow flavors run by Python worker processes (placeholder interface; the
// worker lands with the Python-worker work).
#pragma once

#include <memory>
#include <string>

#include "ml/model.h"

namespace slipway::ml {

struct PythonOptions {
  // The interpreter that loads models with mlflow.pyfunc.
  std::string python = "python3";
  // "local" (the current environment) or "virtualenv" (the model's own,
  // built from its requirements, as `mlflow models serve` does).
  std::string env_manager = "local";
  // Worker processes per model (Python runs one prediction at a time each).
  int workers = 1;
};

// Loads `mlmodel` with mlflow.pyfunc in worker processes.
std::unique_ptr<Model> LoadPythonFlavor(const MlModel& mlmodel, const PythonOptions& options);

}  // namespace slipway::ml
