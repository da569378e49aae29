#include "ml/python_model.h"

#include "core/error.h"

namespace slipway::ml {

std::unique_ptr<Model> LoadPythonFlavor(const MlModel&, const PythonOptions&) {
  throw Error(ErrorCode::kNotImplemented, "Python flavors are not served yet");
}

}  // namespace slipway::ml
