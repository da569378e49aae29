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

// "iss-" followed by 32 hex digits, as MLflow 3's issue ids.
std::string NewIssueId();

// A random (version 4) UUID in its 8-4-4-4-12 form, as MLflow's scorer ids.
std::string NewUuid();

}  // namespace slipway
