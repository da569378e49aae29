// Random identifiers.
#pragma once

#include <string>

namespace slipway {

// 32 lowercase hex digits of a random (version 4) UUID, as MLflow's run ids.
std::string NewRunId();

// "m-" followed by 32 hex digits, as MLflow 3's logged model ids.
std::string NewModelId();

// "a-" followed by 32 hex digits, as MLflow 3's assessment ids.
std::string NewAssessmentId();

// "d-" followed by 32 hex digits, as MLflow 3's evaluation dataset ids, and
// "dr-" for the records in them.
std::string NewEvaluationDatasetId();
std::string NewDatasetRecordId();

}  // namespace slipway
