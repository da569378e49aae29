// The Open Inference Protocol v2 over HTTP (KServe's inference_rest.md),
// with Triton's binary tensor data extension, both ways.
//
// ParseInferRequest reads `{"id"?, "parameters"?, "inputs": [{"name",
// "shape", "datatype", "parameters"?, "data"?}], "outputs"?: [{"name",
// "parameters"?}]}` into an ml::Frame: one Column per input tensor, named
// after it, with rows = shape[0] (1 for a scalar) and width = the product of
// the other dimensions; every input must have the same shape[0]. `data` is
// row-major, flat or nested (only its element count is checked against the
// shape, as Triton does). Datatypes map to column types as the MLflow
// signature's numpy dtypes do (mlmodel.cc, TensorType): BOOL boolean;
// UINT8, UINT16, INT8, INT16, INT32 integer; UINT32, INT64, UINT64 long;
// FP16, BF16, FP32 float (JSON values rounded to the datatype's precision);
// FP64 double; BYTES string. JSON values must fit the datatype (integers in
// range, booleans for BOOL, strings for BYTES); NaN, Infinity and -Infinity
// literals are accepted for the FP types, as tritonclient's json.dumps
// writes them.
//
// Binary extension: when an input's parameters carry `binary_data_size`, its
// bytes follow the JSON header (whose length the Inference-Header-Content-
// Length header gives) in input order: little-endian, row-major, BOOL one
// byte, BYTES each a 4-byte little-endian length and the bytes. Every size
// is checked against the shape and against the bytes present before
// anything is allocated, and the binary section must be used up exactly.
// Shared-memory and classification parameters are refused.
//
// Errors are slipway::Error (INVALID_PARAMETER_VALUE, or BAD_REQUEST for
// malformed JSON with line, column and byte) whose message names the input
// or output and the field; the route writes them as `{"error": "..."}`.
//
// WriteInferResponse writes the reply: by default one output `predictions`
// (shape [N] for kVector, [N, k] for kMatrix) or one output per column for
// kRecords ([N], or [N, width]); a column's own name wins over
// `predictions`. Requested outputs select and order them; when the model has
// a single output, a request for one output of any name gets it under that
// name (clients ask for the name the model metadata advertises). Datatypes:
// FP64 for floats, INT64 for integers (FP64 when one is missing), BOOL,
// BYTES for text, binary and JSON values. An output is binary when its
// request says binary_data, else when the request's binary_data_output
// does; the body is then the JSON header followed by the tensors and
// `json_header_length` is the Inference-Header-Content-Length to send.
//
// WriteModelMetadata writes `{"name", "versions", "platform", "inputs",
// "outputs"}` from the signature: one tensor of shape [-1] per column of a
// column-based schema, a tensor spec's own shape otherwise (-1 variable).
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ml/frame.h"
#include "ml/mlmodel.h"

namespace slipway::http {

struct RequestedOutput {
  std::string name;
  // The output's `binary_data` parameter, when given.
  std::optional<bool> binary_data;
};

struct InferRequest {
  std::string id;
  // The request's `parameters` object as JSON text, or empty.
  std::string parameters_json;
  ml::Frame inputs;
  // Each input's datatype ("FP32") and shape, parallel to inputs.columns.
  std::vector<std::string> datatypes;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<RequestedOutput> outputs;
  // parameters.binary_data_output: the default for outputs.
  bool binary_data_output = false;
};

// `header_length` is the Inference-Header-Content-Length header's value
// when the request has one.
InferRequest ParseInferRequest(std::string_view body,
                               std::optional<std::string_view> header_length);

struct InferResponse {
  std::string body;
  // Set when the body carries binary tensors after the JSON header.
  std::optional<size_t> json_header_length;
};

InferResponse WriteInferResponse(std::string_view model_name, std::string_view model_version,
                                 std::string_view id, const ml::Predictions& predictions,
                                 const std::vector<RequestedOutput>& requested,
                                 bool binary_data_output);

std::string WriteModelMetadata(std::string_view name, const std::vector<std::string>& versions,
                               std::string_view platform, const ml::Schema* inputs,
                               const ml::Schema* outputs);

// The OIP datatype a signature type is advertised as ("FP64", "INT64", ...).
std::string_view OipDatatype(ml::DataType type);

}  // namespace slipway::http
