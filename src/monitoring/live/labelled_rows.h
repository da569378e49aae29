// Labelled live traffic as a table: the rows of kept predictions whose
// feedback has arrived, each with the request's inputs and its label, as
// the CSV a dataset version holds. The closed loop trains on it
// (loop/loop_service.h, a policy's `data: windows:...`).
//
// A request's inputs are its kept columns (LoggedPrediction::inputs); its
// labels are one per row (Feedback::labels). Columns are the inputs named
// in `order` (the model's inputs, as the monitor has them) in that order,
// then any other input in the order first seen (the prediction log keeps a
// request's columns by name, not in their order), then the label under the
// name given (the training spec's target); a request without a column
// leaves its cells empty. A row
// whose label is null is left out; so is a request kept without inputs
// (before migration 16) or whose label count is not its row count, and
// both are counted. Values are written as a CSV holds them: numbers in
// their shortest exact text, booleans true/false, null empty, text quoted
// when it holds a comma, a quote or a line break (RFC 4180).
//
// Pure computation: no store, no clock, no permission.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "monitoring/live/monitor_store.h"

namespace slipway::monitoring::live {

struct LabelledRows {
  std::vector<std::string> columns;  // the inputs, then the label
  std::string csv;                   // header line and rows
  int64_t rows = 0;
  int64_t requests = 0;         // requests with at least one row here
  int64_t unlabelled_rows = 0;  // left out: their label is null
  int64_t requests_without_inputs = 0;
  int64_t requests_mismatched = 0;  // label count is not the row count
  int64_t first_ms = 0;             // prediction times of the rows here
  int64_t last_ms = 0;
};

// INVALID_PARAMETER_VALUE when `label` is empty or names an input column.
LabelledRows BuildLabelledRows(const std::vector<JoinedRecord>& records, const std::string& label,
                               const std::vector<std::string>& order = {});

// One value as a CSV cell (see the top of this file).
std::string CsvCell(const nlohmann::ordered_json& value);

}  // namespace slipway::monitoring::live
