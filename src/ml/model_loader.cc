#include "ml/model_loader.h"

#include "core/error.h"
#include "ml/lightgbm_model.h"
#include "ml/slipway_model.h"
#include "ml/xgboost_model.h"

namespace slipway::ml {

std::unique_ptr<Model> LoadModel(const std::filesystem::path& dir, const LoadOptions& options) {
  MlModel mlmodel = MlModel::Read(dir);
  const bool has_python = mlmodel.Flavor("python_function") != nullptr;
  // A model trained by `slipway train`: its xgboost flavor is the bare model,
  // which expects the columns after preprocessing, so `slipway` comes first
  // and never falls back to it.
  if (mlmodel.Flavor("slipway") != nullptr && !options.force_python)
    return LoadSlipwayFlavor(mlmodel);
  if (!options.force_python) {
    // A native loader answers NOT_IMPLEMENTED for a variant it does not
    // evaluate (a pickled scikit-learn wrapper, an objective it lacks); the
    // model then runs through Python like any other flavor.
    try {
      if (mlmodel.Flavor("xgboost") != nullptr) return LoadXGBoostFlavor(mlmodel);
      if (mlmodel.Flavor("lightgbm") != nullptr) return LoadLightGBMFlavor(mlmodel);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotImplemented || !has_python) throw;
    }
  }
  if (mlmodel.Flavor("python_function") != nullptr)
    return LoadPythonFlavor(mlmodel, options.python);
  std::string names;
  for (const auto& [name, settings] : mlmodel.flavors) names += (names.empty() ? "" : ", ") + name;
  ThrowInvalid(
      "the model has no flavor Slipway can serve (it has: " + names +
      "; Slipway serves slipway, xgboost and lightgbm natively and anything with python_function "
      "through Python)");
}

}  // namespace slipway::ml
