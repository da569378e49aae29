// The python_function loader of a trained model (slipway_pyfunc.py),
// compiled into the binary so `slipway train` can write it into every model
// folder as code/slipway_pyfunc.py (model_folder.h). The build generates its
// definition from the .py file (src/training/CMakeLists.txt).
#pragma once

namespace slipway::training {

extern const char kSlipwayPyfuncSource[];

}  // namespace slipway::training
