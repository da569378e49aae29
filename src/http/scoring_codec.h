// MLflow's scoring formats (`POST /invocations`), both ways.
//
// ParseScoringRequest turns a request body into an ml::Frame the way MLflow
// 3's pyfunc scoring server (mlflow/pyfunc/scoring_server, and
// mlflow/utils/proto_json_utils.py) turns it into a DataFrame or arrays:
//
//   application/json (an optional `charset=utf-8`): an object with exactly
//   one of
//     dataframe_split   {"columns"?: [..], "data": [[row], ..], "index"?: [..]}
//     dataframe_records [{"col": value, ..}, ..]   (a key missing in a record
//                       is a missing value, as pandas reads it)
//     instances         a list of records, or as `inputs`
//     inputs            a list of values (one column), a list of lists (one
//                       tensor column: rows = first dimension, width = the
//                       product of the others), a dict of named columns or
//                       tensors, or a list of records
//   and an optional `params` object (passed on as its JSON text). Other keys
//   are ignored, as MLflow ignores them.
//   text/csv: a header row, then rows, typed as pandas.read_csv types them
//   (every value an integer: long; every value a number: double; every
//   value true/false: boolean; otherwise string; empty and pandas' NA
//   words are missing). With a signature, columns it declares as string,
//   binary or datetime stay text.
//
// Values: JSON integers are long, numbers with a fraction or exponent
// double (a column holding both is double, as in pandas), true/false
// boolean, strings string, arrays and objects inside a cell JSON text
// (DataType::kJson; a cell that is a list of numbers makes a tensor column
// instead). null is a missing value and so are NaN: Slipway accepts
// Python's NaN, Infinity and -Infinity literals as MLflow does (its client
// writes them); ±Infinity are doubles. A missing value does not change a
// column's type, so an integer column with a gap stays long and the
// signature check reports the row. Strings and numbers (or booleans and
// numbers) in one column, ragged rows and unequal column lengths are
// BAD_REQUEST naming the field path, row and column.
//
// `inputs` (the model's input schema, may be null) is used only where the
// body alone cannot say: the type of a column whose values are all missing,
// the name of a single unnamed column when the schema has one named input
// (MLflow's rule for `inputs`/`instances` lists), and which CSV columns are
// text. Everything else the signature demands is ml::ConformToSchema's job,
// after this parse.
//
// Errors: slipway::Error with BAD_REQUEST (malformed bodies; messages begin
// "Invalid input." as MLflow's do, and malformed JSON names line, column and
// byte offset), INVALID_PARAMETER_VALUE (params that are not an object), or
// UNSUPPORTED_MEDIA_TYPE (415) for another content type, a charset other
// than UTF-8 or an unknown content-type parameter, naming what is accepted.
// MLflow's unwrapped LLM bodies (`messages`, `prompt`, `input`) and Parquet
// are not accepted (BAD_REQUEST and 415).
//
// WriteScoringResponse writes `{"predictions": ...}` byte for byte as MLflow
// does (json.dump with its default separators; floats in Python's repr; NaN
// and infinities as the literals NaN, Infinity, -Infinity; non-ASCII
// escaped): kVector as a list, kMatrix as a list of lists, kRecords as a
// list of objects (pandas' to_dict("records")); kJson cells are written
// verbatim, binary as base64.encodebytes text, datetimes in ISO format,
// missing strings as null.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "ml/frame.h"
#include "ml/mlmodel.h"

namespace slipway::http {

struct ScoringRequest {
  ml::Frame frame;
  // The `params` object's JSON text, or empty when there was none.
  std::string params_json;
};

inline constexpr std::string_view kScoringContentTypes = "application/json, text/csv";

ScoringRequest ParseScoringRequest(std::string_view content_type, std::string_view body,
                                   const ml::Schema* inputs);

std::string WriteScoringResponse(const ml::Predictions& predictions);

// One value of `column` at flat index `index` (row * width + k), as
// json.dumps writes it; shared with the OIP writer's JSON data.
void AppendScoringValue(std::string& out, const ml::Column& column, size_t index);

}  // namespace slipway::http
