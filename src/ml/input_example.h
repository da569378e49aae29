// A model's input example (the file `saved_input_example_info` names), as a
// Frame: what serving predicts once before a version takes traffic, to warm
// it up and to check it answers at all.
#pragma once

#include <optional>

#include "ml/frame.h"
#include "ml/mlmodel.h"

namespace slipway::ml {

// The example, or nullopt when the model has none. MLflow writes a pandas
// example as {"columns": [...], "data": [[...]]} (split orientation), and
// arrays as {"inputs": [...]} (a list of rows, or of values) or a dict of
// named columns. Throws INVALID_PARAMETER_VALUE for a file it cannot read.
std::optional<Frame> ReadInputExample(const MlModel& mlmodel);

}  // namespace slipway::ml
