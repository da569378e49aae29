// Reading one prediction-log line (serving/prediction_log.h's format) for
// the fold, typed and without a JSON tree.
//
// PredictionLine::Read scans the line once and keeps what the fold needs:
// the time, request id and shadow flag; each input column's values as
// typed cells (null, bool, number with whether JSON wrote it as an
// integer, string); the outputs' cells; and the raw JSON text of the
// inputs object and of each output row, which the fold keeps for feedback
// as they are instead of re-serialising them. Cells hold views into the
// line (strings with escapes: into the reader's own storage), valid until
// the next Read.
//
// It reads the common shapes only, the ones the log's writer produces for
// tables and prediction vectors or matrices: "inputs" an object of equally
// long arrays of scalars, its keys in increasing order (the writer's
// order; so no key twice); "outputs" an array of scalars or of equally wide
// lists (width 2 or more) of scalars, each output column of one JSON kind
// (numbers, bools or strings, with nulls); strings ASCII without escapes
// (a request id, a category). For anything else, including every line
// that is not valid JSON, Read returns false and the caller takes the
// general path (serving::ParsePredictionLine), which reads every shape the
// log can hold and reports malformed lines. So a line is read the same
// either way.
//
// Not thread-safe; one reader per fold step, reused across lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::monitoring::live {

struct LineCell {
  enum class Kind : uint8_t { kNull, kBool, kNumber, kString };
  Kind kind = Kind::kNull;
  bool integer = false;   // kNumber written without fraction or exponent, in int64/uint64 range
  double number = 0;      // kNumber's value; kBool: 1 or 0
  std::string_view text;  // kString's text; kNumber's JSON text
};

// The JSON kind shared by a column's non-null cells.
enum class LineColumnKind : uint8_t { kNull, kNumber, kBool, kString };

struct LineColumn {
  std::string_view name;
  LineColumnKind kind = LineColumnKind::kNull;
  bool all_integers = true;  // kNumber: every number an integer
  size_t first = 0;          // its cells: cells[first, first + rows)
};

class PredictionLine {
 public:
  // False when the line is not of the shapes above (see the top).
  bool Read(std::string_view line);

  int64_t time_ms = 0;
  std::string_view request_id;
  bool shadow = false;
  bool has_inputs = false;
  size_t rows = 0;  // of the inputs
  std::vector<LineColumn> inputs;
  std::string_view inputs_json;  // the raw object
  bool has_outputs = false;
  size_t output_rows = 0;
  // 0 for a vector of values, else the width of the lists of a matrix.
  size_t output_width = 0;
  // One column for a vector, `output_width` for a matrix; cells row-major
  // in output_cells: row r, column k at [r * columns + k].
  std::vector<LineColumn> output_columns;
  std::vector<LineCell> output_cells;
  std::vector<std::string_view> output_json;  // the raw text of each output row
  std::vector<LineCell> cells;                // the inputs', column after column

 private:
  bool ReadInputs();
  bool ReadOutputs();
  bool ReadScalar(LineCell& cell);
  bool ReadString(std::string_view& out);
  bool ReadNumber(LineCell& cell);
  bool Literal(std::string_view word);
  void Space();
  bool Consume(char c);

  std::string_view text_;
  size_t pos_ = 0;
};

// Folds the kind of `cell` into a column's kind; false when the column
// then mixes kinds (numbers and strings, bools and numbers, ...).
bool AddKind(LineColumn& column, const LineCell& cell);

}  // namespace slipway::monitoring::live
