#include "ml/xgboost_model.h"

#include "core/error.h"

namespace slipway::ml {

std::unique_ptr<Model> LoadXGBoostFlavor(const MlModel&) {
  throw Error(ErrorCode::kNotImplemented, "the 'xgboost' flavor is not served yet");
}

}  // namespace slipway::ml
