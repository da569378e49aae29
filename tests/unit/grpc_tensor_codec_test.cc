#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "grpc/tensor_codec.h"

namespace slipway::grpc {
namespace {

using inference::ModelInferRequest;
using inference::ModelInferResponse;

template <typename T>
std::string Raw(std::initializer_list<T> values) {
  std::string out;
  for (T v : values) out.append(reinterpret_cast<const char*>(&v), sizeof(T));
  return out;
}

template <typename T>
void Fill(google::protobuf::RepeatedField<T>* field, std::initializer_list<T> values) {
  field->Add(values.begin(), values.end());
}

ModelInferRequest::InferInputTensor* AddInput(ModelInferRequest& request, const std::string& name,
                                              const std::string& datatype,
                                              std::initializer_list<int64_t> shape) {
  auto* input = request.add_inputs();
  input->set_name(name);
  input->set_datatype(datatype);
  for (int64_t dim : shape) input->add_shape(dim);
  return input;
}

std::string ErrorOf(const ModelInferRequest& request) {
  try {
    DecodeInferRequest(request);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error for: " << request.DebugString();
  return "";
}

TEST(GrpcTensorCodec, RawInputsBecomeColumnsWithTheirTypesAndWidths) {
  ModelInferRequest request;
  AddInput(request, "x", "FP32", {2, 3});
  AddInput(request, "flag", "BOOL", {2});
  AddInput(request, "text", "BYTES", {2, 1});
  AddInput(request, "half", "FP16", {2});
  request.add_raw_input_contents(Raw<float>({1.5f, 2, 3, 4, 5, -6.25f}));
  request.add_raw_input_contents(std::string("\x01\x00", 2));
  std::string text = Raw<uint32_t>({2}) + "ab" + Raw<uint32_t>({0});
  request.add_raw_input_contents(text);
  request.add_raw_input_contents(Raw<uint16_t>({0x3C00, 0xC000}));  // 1.0, -2.0
  DecodedRequest decoded = DecodeInferRequest(request);
  const ml::Frame& frame = decoded.inputs;
  ASSERT_EQ(frame.rows, 2u);
  ASSERT_EQ(frame.columns.size(), 4u);
  EXPECT_EQ(frame.columns[0].type, ml::DataType::kFloat);
  EXPECT_EQ(frame.columns[0].width, 3u);
  EXPECT_EQ(frame.columns[0].numbers, (std::vector<double>{1.5, 2, 3, 4, 5, -6.25}));
  EXPECT_EQ(frame.columns[1].type, ml::DataType::kBoolean);
  EXPECT_EQ(frame.columns[1].numbers, (std::vector<double>{1, 0}));
  EXPECT_EQ(frame.columns[2].strings, (std::vector<std::string>{"ab", ""}));
  EXPECT_EQ(frame.columns[3].numbers, (std::vector<double>{1.0, -2.0}));
  EXPECT_TRUE(decoded.parameters_json.empty());
}

TEST(GrpcTensorCodec, TypedContentsAreReadAndHeldToTheDatatype) {
  ModelInferRequest request;
  Fill<int64_t>(AddInput(request, "a", "INT64", {3})->mutable_contents()->mutable_int64_contents(),
                {1, -2, 3});
  Fill<double>(AddInput(request, "b", "FP64", {3, 1})->mutable_contents()->mutable_fp64_contents(),
               {0.5, 1.5, 2.5});
  (*request.mutable_parameters())["answer"].set_int64_param(42);
  DecodedRequest decoded = DecodeInferRequest(request);
  EXPECT_EQ(decoded.inputs.columns[0].type, ml::DataType::kLong);
  EXPECT_EQ(decoded.inputs.columns[0].numbers, (std::vector<double>{1, -2, 3}));
  EXPECT_EQ(decoded.inputs.columns[1].numbers, (std::vector<double>{0.5, 1.5, 2.5}));
  EXPECT_EQ(decoded.parameters_json, R"({"answer":42})");

  ModelInferRequest out_of_range;
  AddInput(out_of_range, "small", "INT8", {1})->mutable_contents()->add_int_contents(300);
  EXPECT_NE(ErrorOf(out_of_range).find("out of range for INT8"), std::string::npos);
}

TEST(GrpcTensorCodec, CountsAndShapesAreCheckedBeforeUse) {
  ModelInferRequest short_raw;
  AddInput(short_raw, "x", "FP32", {2, 2});
  short_raw.add_raw_input_contents(Raw<float>({1, 2, 3}));
  EXPECT_NE(ErrorOf(short_raw).find("input 'x': raw contents are 12 bytes"), std::string::npos);

  ModelInferRequest missing_raw;
  AddInput(missing_raw, "x", "FP32", {1});
  AddInput(missing_raw, "y", "FP32", {1});
  missing_raw.add_raw_input_contents(Raw<float>({1}));
  EXPECT_NE(ErrorOf(missing_raw).find("one per input"), std::string::npos);

  ModelInferRequest typed_count;
  AddInput(typed_count, "x", "FP64", {2})->mutable_contents()->add_fp64_contents(1);
  EXPECT_NE(ErrorOf(typed_count).find("holds 1 elements, but shape [2] has 2"), std::string::npos);

  ModelInferRequest rows;
  Fill<double>(AddInput(rows, "x", "FP64", {2})->mutable_contents()->mutable_fp64_contents(),
               {1, 2});
  Fill<double>(AddInput(rows, "y", "FP64", {3})->mutable_contents()->mutable_fp64_contents(),
               {1, 2, 3});
  EXPECT_NE(ErrorOf(rows).find("same first dimension"), std::string::npos);

  ModelInferRequest cut_bytes;
  AddInput(cut_bytes, "s", "BYTES", {1});
  cut_bytes.add_raw_input_contents(Raw<uint32_t>({100}) + "abc");
  EXPECT_NE(ErrorOf(cut_bytes).find("declares 100 bytes"), std::string::npos);

  ModelInferRequest unknown;
  AddInput(unknown, "x", "FP128", {1});
  EXPECT_NE(ErrorOf(unknown).find("unknown datatype 'FP128'"), std::string::npos);

  ModelInferRequest huge;
  AddInput(huge, "x", "FP32", {1LL << 40, 1LL << 40});
  EXPECT_NE(ErrorOf(huge).find("too large"), std::string::npos);
  ModelInferRequest wide_but_empty;
  AddInput(wide_but_empty, "x", "FP32", {0, 1LL << 40, 1LL << 40});
  wide_but_empty.add_raw_input_contents("");
  EXPECT_NE(ErrorOf(wide_but_empty).find("too large"), std::string::npos);

  ModelInferRequest shm;
  auto* input = AddInput(shm, "x", "FP32", {1});
  (*input->mutable_parameters())["shared_memory_region"].set_string_param("r");
  EXPECT_NE(ErrorOf(shm).find("shared-memory"), std::string::npos);
}

TEST(GrpcTensorCodec, RepliesCarryRawOutputsUnderTheRequestedNames) {
  ml::Predictions predictions;
  predictions.frame.rows = 2;
  ml::Column column;
  column.type = ml::DataType::kFloat;
  column.numbers = {0.25, -1.5};
  predictions.frame.columns.push_back(column);

  ModelInferRequest request;
  ModelInferResponse reply;
  EncodeInferResponse(predictions, request, &reply);
  ASSERT_EQ(reply.outputs_size(), 1);
  EXPECT_EQ(reply.outputs(0).name(), "predictions");
  EXPECT_EQ(reply.outputs(0).datatype(), "FP64");
  EXPECT_EQ(reply.outputs(0).shape_size(), 1);
  EXPECT_EQ(reply.outputs(0).shape(0), 2);
  ASSERT_EQ(reply.raw_output_contents_size(), 1);
  EXPECT_EQ(reply.raw_output_contents(0), Raw<double>({0.25, -1.5}));

  // One output of any name gets a single-output model's answer.
  request.add_outputs()->set_name("output__0");
  ModelInferResponse named;
  EncodeInferResponse(predictions, request, &named);
  EXPECT_EQ(named.outputs(0).name(), "output__0");

  // Two outputs of a single-output model name what it has.
  request.add_outputs()->set_name("other");
  ModelInferResponse refused;
  try {
    EncodeInferResponse(predictions, request, &refused);
    ADD_FAILURE() << "two outputs of a one-output model were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("it has 'predictions'"), std::string::npos) << e.what();
  }

  // Integers travel as INT64, unless one is missing.
  ml::Predictions labels;
  labels.frame.rows = 2;
  ml::Column ints;
  ints.type = ml::DataType::kLong;
  ints.numbers = {3, 4};
  labels.frame.columns.push_back(ints);
  ModelInferResponse int_reply;
  EncodeInferResponse(labels, ModelInferRequest(), &int_reply);
  EXPECT_EQ(int_reply.outputs(0).datatype(), "INT64");
  EXPECT_EQ(int_reply.raw_output_contents(0), Raw<int64_t>({3, 4}));
  labels.frame.columns[0].numbers[1] = std::nan("");
  ModelInferResponse nan_reply;
  EncodeInferResponse(labels, ModelInferRequest(), &nan_reply);
  EXPECT_EQ(nan_reply.outputs(0).datatype(), "FP64");
}

TEST(GrpcTensorCodec, MetadataDescribesTheSignature) {
  ml::Schema inputs;
  inputs.columns.push_back({"f0", ml::DataType::kDouble, true});
  inputs.columns.push_back({"", ml::DataType::kLong, true});
  ml::Schema outputs;
  outputs.tensors.push_back({"", ml::DataType::kFloat, {-1}});
  inference::ModelMetadataResponse reply;
  DescribeTensors(&inputs, false, reply.mutable_inputs());
  DescribeTensors(&outputs, true, reply.mutable_outputs());
  ASSERT_EQ(reply.inputs_size(), 2);
  EXPECT_EQ(reply.inputs(0).name(), "f0");
  EXPECT_EQ(reply.inputs(0).datatype(), "FP64");
  EXPECT_EQ(reply.inputs(1).name(), "input_1");
  EXPECT_EQ(reply.inputs(1).datatype(), "INT64");
  ASSERT_EQ(reply.outputs_size(), 1);
  EXPECT_EQ(reply.outputs(0).name(), "predictions");
  EXPECT_EQ(reply.outputs(0).datatype(), "FP32");
  EXPECT_EQ(reply.outputs(0).shape(0), -1);
}

}  // namespace
}  // namespace slipway::grpc
