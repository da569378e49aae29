#include "ml/lightgbm_model.h"

#include "core/error.h"

namespace slipway::ml {

std::unique_ptr<Model> LoadLightGBMFlavor(const MlModel&) {
  throw Error(ErrorCode::kNotImplemented, "the 'lightgbm' flavor is not served yet");
}

}  // namespace slipway::ml
