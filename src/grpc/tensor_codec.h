// The Open Inference Protocol's tensors over gRPC, to and from ml::Frame.
//
// The rules are those of the HTTP side (http/oip_codec.h), so a model
// answers alike whichever way a request arrives: one Column per input
// tensor, named after it, rows = shape[0] (1 for a scalar), width = the
// product of the other dimensions, every input with the same shape[0];
// datatypes map to column types as MLflow's numpy dtypes do (BOOL boolean;
// UINT8, UINT16, INT8, INT16, INT32 integer; UINT32, INT64, UINT64 long;
// FP16, BF16, FP32 float; FP64 double; BYTES string).
//
// An input's elements come either from raw_input_contents (one entry per
// input, little-endian, row-major, BOOL one byte, BYTES each a 4-byte
// little-endian length then the bytes: what tritonclient sends) or from the
// typed `contents` field of its datatype; never both. Every count is checked
// against the shape before anything is allocated beyond the message itself.
// Shared-memory and classification parameters are refused.
//
// Replies carry their tensors in raw_output_contents, which is what
// tritonclient reads: by default one output `predictions` (shape [N] for
// kVector, [N, k] for kMatrix) or one per column for kRecords; requested
// outputs select and order them, and a single requested output of any name
// gets a single-output model's answer. Datatypes: FP64 for floats, INT64 for
// integers (FP64 when one is missing), BOOL, BYTES for text and JSON values.
//
// Errors are slipway::Error INVALID_PARAMETER_VALUE naming the input or
// output. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "inference.pb.h"
#include "ml/frame.h"
#include "ml/mlmodel.h"

namespace slipway::grpc {

struct DecodedRequest {
  ml::Frame inputs;
  // The request's parameters as a JSON object's text, or empty.
  std::string parameters_json;
};

DecodedRequest DecodeInferRequest(const inference::ModelInferRequest& request);

// Fills `reply`'s outputs and raw_output_contents (not its names or id).
void EncodeInferResponse(const ml::Predictions& predictions,
                         const inference::ModelInferRequest& request,
                         inference::ModelInferResponse* reply);

// The tensors a signature's schema advertises: one of shape [-1] per column
// of a column-based schema, a tensor spec's own shape otherwise. Unnamed
// specs are called `input_<i>`, and `predictions` (one output) or
// `output_<i>`, as the HTTP side names them.
void DescribeTensors(
    const ml::Schema* schema, bool is_output,
    google::protobuf::RepeatedPtrField<inference::ModelMetadataResponse::TensorMetadata>* out);

}  // namespace slipway::grpc
