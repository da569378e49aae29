// The worker program (python_worker.py), compiled into the binary so an
// installed slipway needs no file beside it. The build generates its
// definition from the .py file (src/ml/CMakeLists.txt).
#pragma once

namespace slipway::ml {

extern const char kPythonWorkerSource[];

}  // namespace slipway::ml
