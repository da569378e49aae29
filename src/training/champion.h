// What evaluating another model on a training's holdout needs from the
// training side: the holdout rows as the Frame a deployment would receive,
// and a served model's predictions back as the Matrix metrics.h reads.
//
// The champion of a champion gate (gates.h) is loaded by the caller with
// ml::LoadModel, the loader serving uses, so it is evaluated exactly as it
// is served (its own preprocessing, from its own folder). Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <vector>

#include "ml/frame.h"
#include "training/spec.h"
#include "training/table.h"

namespace slipway::training {

// `rows` of the table's `columns` as a request's Frame: numbers as double
// (NaN missing), bool columns as boolean, text as string (missing flagged).
ml::Frame FrameOf(const Table& table, const std::vector<std::string>& columns,
                  const std::vector<size_t>& rows);

// A model's answer to {"predict_method": "predict_proba"} (classification)
// or its values (regression) as the Matrix Evaluate reads: binary one column
// of P(class 1) (from [P(0), P(1)] or P(1) alone), multiclass one per class, regression the values.
// INVALID_PARAMETER_VALUE when the shape does not fit `task` and `classes`.
Matrix MatrixOf(const ml::Predictions& predictions, Task task, size_t classes);

}  // namespace slipway::training
