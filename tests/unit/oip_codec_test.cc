#include "http/oip_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace slipway::http {
namespace {

#include "testdata/tritonclient_bodies.inc"

using ml::Column;
using ml::DataType;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Thrown {
  ErrorCode code;
  std::string message;
};

Thrown ErrorOf(std::string_view body, std::optional<std::string_view> header = std::nullopt) {
  try {
    ParseInferRequest(body, header);
  } catch (const Error& e) {
    return {e.code(), e.what()};
  }
  ADD_FAILURE() << "no error for: " << body;
  return {ErrorCode::kInternalError, ""};
}

void ExpectNumbers(const Column& column, std::vector<double> want) {
  ASSERT_EQ(column.numbers.size(), want.size()) << column.name;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(column.numbers[i])) << column.name << "[" << i << "]";
    } else {
      EXPECT_EQ(column.numbers[i], want[i]) << column.name << "[" << i << "]";
    }
  }
}

template <class T>
std::string Bytes(std::initializer_list<T> values) {
  std::string out;
  for (T v : values) out.append(reinterpret_cast<const char*>(&v), sizeof v);
  return out;
}

// --- what tritonclient.http sends ------------------------------------------

TEST(OipCodecTest, DecodesTritonclientJsonRequest) {
  InferRequest r = ParseInferRequest(kTritonJsonBody, std::nullopt);
  EXPECT_EQ(r.id, "req-1");
  EXPECT_FALSE(r.binary_data_output);
  ASSERT_EQ(r.inputs.columns.size(), 3u);
  EXPECT_EQ(r.inputs.rows, 2u);
  const Column& features = r.inputs.columns[0];
  EXPECT_EQ(features.name, "features");
  EXPECT_EQ(features.type, DataType::kFloat);
  EXPECT_EQ(features.width, 3u);
  ExpectNumbers(features, {0.5, -1.25, 3.0, static_cast<double>(1e-3f), 2.5, kNaN});
  const Column& counts = r.inputs.columns[1];
  EXPECT_EQ(counts.type, DataType::kLong);
  EXPECT_EQ(counts.width, 1u);
  ExpectNumbers(counts, {7, -9});
  const Column& names = r.inputs.columns[2];
  EXPECT_EQ(names.type, DataType::kString);
  EXPECT_EQ(names.strings, (std::vector<std::string>{"alpha", "\xC3\xA9t\xC3\xA9"}));
  EXPECT_EQ(r.datatypes, (std::vector<std::string>{"FP32", "INT64", "BYTES"}));
  EXPECT_EQ(r.shapes[2], (std::vector<int64_t>{2, 1}));
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(r.outputs[0].name, "predictions");
  EXPECT_EQ(r.outputs[0].binary_data, std::optional<bool>(false));
}

TEST(OipCodecTest, DecodesTritonclientBinaryRequest) {
  const std::string header = std::to_string(kTritonBinaryHeaderLength);
  InferRequest r = ParseInferRequest(kTritonBinaryBody, header);
  EXPECT_EQ(r.id, "");
  EXPECT_TRUE(r.binary_data_output);  // no outputs named: the client asks for binary
  EXPECT_EQ(r.parameters_json, R"({"binary_data_output":true,"threshold":0.5})");
  EXPECT_TRUE(r.outputs.empty());
  ASSERT_EQ(r.inputs.columns.size(), 5u);
  EXPECT_EQ(r.inputs.rows, 2u);
  ExpectNumbers(r.inputs.columns[0], {0.5, -1.25, 3.0, static_cast<double>(1e-3f), 2.5, kNaN});
  EXPECT_EQ(r.inputs.columns[0].width, 3u);
  ExpectNumbers(r.inputs.columns[1], {7, -9});
  EXPECT_EQ(r.inputs.columns[2].strings, (std::vector<std::string>{"alpha", "\xC3\xA9t\xC3\xA9"}));
  EXPECT_EQ(r.inputs.columns[3].type, DataType::kBoolean);
  ExpectNumbers(r.inputs.columns[3], {1, 0});
  EXPECT_EQ(r.inputs.columns[4].type, DataType::kFloat);
  ExpectNumbers(r.inputs.columns[4], {1.5, -0.25});
}

TEST(OipCodecTest, DecodesTritonclientBinaryOutputRequest) {
  InferRequest r = ParseInferRequest(kTritonBinaryOutputRequest, std::nullopt);
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(r.outputs[0].binary_data, std::optional<bool>(true));
  EXPECT_FALSE(r.binary_data_output);
}

// --- JSON tensors ----------------------------------------------------------

TEST(OipCodecTest, NestedAndFlatDataAreRowMajor) {
  const char* nested = R"({"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64",
                          "data": [[1, 2], [3, 4]]}]})";
  const char* flat = R"({"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64",
                        "data": [1, 2, 3, 4]}]})";
  InferRequest a = ParseInferRequest(nested, std::nullopt);
  InferRequest b = ParseInferRequest(flat, std::nullopt);
  ExpectNumbers(a.inputs.columns[0], {1, 2, 3, 4});
  EXPECT_EQ(a.inputs.columns[0].numbers, b.inputs.columns[0].numbers);
  EXPECT_EQ(a.inputs.columns[0].type, DataType::kDouble);
  EXPECT_EQ(a.inputs.columns[0].width, 2u);
}

TEST(OipCodecTest, DataBeforeDatatypeIsTypedAfterwards) {
  InferRequest r = ParseInferRequest(
      R"({"inputs": [{"data": [1, 2, 3], "name": "x", "datatype": "UINT8", "shape": [3]}]})",
      std::nullopt);
  EXPECT_EQ(r.inputs.columns[0].type, DataType::kInteger);
  ExpectNumbers(r.inputs.columns[0], {1, 2, 3});
  Thrown e = ErrorOf(
      R"({"inputs": [{"data": [1, 256], "name": "x", "datatype": "UINT8", "shape": [2]}]})");
  EXPECT_EQ(e.message, "input 'x': data[1] = 256 is out of range for UINT8");
}

TEST(OipCodecTest, DatatypesMapToColumnTypes) {
  const std::pair<const char*, DataType> cases[] = {
      {"BOOL", DataType::kBoolean},  {"UINT8", DataType::kInteger}, {"UINT16", DataType::kInteger},
      {"UINT32", DataType::kLong},   {"UINT64", DataType::kLong},   {"INT8", DataType::kInteger},
      {"INT16", DataType::kInteger}, {"INT32", DataType::kInteger}, {"INT64", DataType::kLong},
      {"FP16", DataType::kFloat},    {"FP32", DataType::kFloat},    {"FP64", DataType::kDouble},
      {"BYTES", DataType::kString},
  };
  for (const auto& [name, type] : cases) {
    std::string data = std::string(name) == "BOOL"    ? "[true]"
                       : std::string(name) == "BYTES" ? "[\"a\"]"
                                                      : "[1]";
    std::string body = std::string(R"({"inputs": [{"name": "x", "shape": [1], "datatype": ")") +
                       name + "\", \"data\": " + data + "}]}";
    InferRequest r = ParseInferRequest(body, std::nullopt);
    EXPECT_EQ(r.inputs.columns[0].type, type) << name;
  }
}

TEST(OipCodecTest, JsonValuesMustFitTheDatatype) {
  auto error = [](const char* datatype, const char* data) {
    std::string body = std::string(R"({"inputs": [{"name": "x", "shape": [2], "datatype": ")") +
                       datatype + "\", \"data\": " + data + "}]}";
    return ErrorOf(body).message;
  };
  EXPECT_EQ(error("INT32", "[1, 2.5]"), "input 'x': data[1] must be an integer for datatype INT32");
  EXPECT_EQ(error("INT8", "[1, -129]"), "input 'x': data[1] = -129 is out of range for INT8");
  EXPECT_EQ(error("UINT32", "[-1, 0]"), "input 'x': data[0] = -1 is out of range for UINT32");
  EXPECT_EQ(error("BOOL", "[1, 0]"), "input 'x': data[0] must be true or false for datatype BOOL");
  EXPECT_EQ(error("BYTES", "[\"a\", 1]"), "input 'x': data[1] must be a string for datatype BYTES");
  EXPECT_EQ(error("FP32", "[\"1\", 2]"), "input 'x': data[0] must be a number for datatype FP32");
  EXPECT_EQ(error("FP32", "[1, null]"), "input 'x': data[1] must be a number for datatype FP32");
}

TEST(OipCodecTest, NanAndInfinityAreAcceptedForFloats) {
  InferRequest r = ParseInferRequest(
      R"({"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [NaN, Infinity, -Infinity]}]})",
      std::nullopt);
  ExpectNumbers(r.inputs.columns[0], {kNaN, std::numeric_limits<double>::infinity(),
                                      -std::numeric_limits<double>::infinity()});
  Thrown e =
      ErrorOf(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [NaN]}]})");
  EXPECT_EQ(e.message, "input 'x': data[0] must be an integer for datatype INT64");
}

TEST(OipCodecTest, Fp32ValuesAreRoundedToFloat) {
  InferRequest r = ParseInferRequest(
      R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [0.1]},
                     {"name": "y", "shape": [1], "datatype": "FP64", "data": [0.1]}]})",
      std::nullopt);
  EXPECT_EQ(r.inputs.columns[0].numbers[0], static_cast<double>(0.1f));
  EXPECT_EQ(r.inputs.columns[1].numbers[0], 0.1);
}

TEST(OipCodecTest, ShapeMustMatchDataLength) {
  Thrown e = ErrorOf(
      R"({"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}]})");
  EXPECT_EQ(e.code, ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(e.message, "input 'x': shape [2, 3] has 6 elements, but 'data' has 5");
  e = ErrorOf(
      R"({"inputs": [{"name": "x", "shape": [2, -1], "datatype": "FP32", "data": [1, 2]}]})");
  EXPECT_EQ(e.message, "input 'x': shape[1] must be a non-negative integer");
  e = ErrorOf(
      R"({"inputs": [{"name": "x", "shape": [4611686018427387904, 4611686018427387904], "datatype": "FP32", "data": [1]}]})");
  EXPECT_EQ(e.message, "input 'x': shape [4611686018427387904, 4611686018427387904] is too large");
}

TEST(OipCodecTest, InputsMustShareTheBatchSize) {
  Thrown e = ErrorOf(R"({"inputs": [{"name": "a", "shape": [2], "datatype": "FP32", "data": [1, 2]},
                                    {"name": "b", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]}]})");
  EXPECT_EQ(e.message,
            "input 'b' has 3 rows (shape[0]), but input 'a' has 2: all inputs must have the same "
            "batch size");
}

TEST(OipCodecTest, ScalarShapeIsOneRow) {
  InferRequest r = ParseInferRequest(
      R"({"inputs": [{"name": "x", "shape": [], "datatype": "FP64", "data": [4.5]}]})",
      std::nullopt);
  EXPECT_EQ(r.inputs.rows, 1u);
  ExpectNumbers(r.inputs.columns[0], {4.5});
}

TEST(OipCodecTest, MalformedRequestsNameTheField) {
  EXPECT_EQ(ErrorOf(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP8", "data": [1]}]})")
                .message,
            "input 'x': unknown datatype 'FP8'; one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, "
            "INT16, INT32, INT64, FP16, BF16, FP32, FP64, BYTES");
  EXPECT_EQ(ErrorOf(R"({"inputs": [{"shape": [1], "datatype": "FP32", "data": [1]}]})").message,
            "inputs[0] has no 'name'");
  EXPECT_EQ(ErrorOf(R"({"inputs": [{"name": "x", "datatype": "FP32", "data": [1]}]})").message,
            "input 'x' has no 'shape'");
  EXPECT_EQ(ErrorOf(R"({"inputs": [{"name": "x", "shape": [1], "data": [1]}]})").message,
            "input 'x' has no 'datatype'");
  EXPECT_EQ(ErrorOf(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]})").message,
            "input 'x' has neither 'data' nor binary_data_size");
  EXPECT_EQ(ErrorOf(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": 1}]})")
                .message,
            "input 'x': 'data' must be a list");
  EXPECT_EQ(ErrorOf(R"({"id": "a"})").message, "the inference request has no 'inputs'");
  EXPECT_EQ(ErrorOf(R"({"inputs": []})").message, "'inputs' is empty");
  EXPECT_EQ(ErrorOf(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]},
                                   {"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]})")
                .message,
            "input 'x' appears twice in 'inputs'");
  EXPECT_EQ(ErrorOf(R"({"id": 5, "inputs": []})").message, "'id' must be a string");
  EXPECT_EQ(ErrorOf(R"([1])").message, "the inference request must be a JSON object");
  Thrown e = ErrorOf(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1})");
  EXPECT_EQ(e.code, ErrorCode::kBadRequest);
  EXPECT_EQ(e.message, "malformed JSON at line 1, column 71 (byte 70): expected ',' or ']'");
  EXPECT_EQ(ErrorOf(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1],
                       "parameters": {"shared_memory_region": "r"}}]})")
                .message,
            "input 'x': the shared-memory extension is not supported; send the data in the body");
  EXPECT_EQ(ErrorOf(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}],
                       "outputs": [{"name": "p", "parameters": {"class_count": 3}}]})")
                .message,
            "outputs[0]: the classification extension (class_count) is not supported");
  EXPECT_EQ(ErrorOf(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}],
                       "outputs": [{"parameters": {}}]})")
                .message,
            "outputs[0] has no 'name'");
}

// --- binary tensors --------------------------------------------------------

std::string BinaryRequest(const std::string& inputs_json, const std::string& tensors,
                          size_t* header) {
  std::string json = R"({"inputs": [)" + inputs_json + "]}";
  *header = json.size();
  return json + tensors;
}

TEST(OipCodecTest, BinaryTensorsOfEveryFixedSizeType) {
  size_t header;
  std::string body = BinaryRequest(
      R"({"name": "i8", "shape": [2], "datatype": "INT8", "parameters": {"binary_data_size": 2}},
         {"name": "u16", "shape": [2], "datatype": "UINT16", "parameters": {"binary_data_size": 4}},
         {"name": "i32", "shape": [2], "datatype": "INT32", "parameters": {"binary_data_size": 8}},
         {"name": "u64", "shape": [2], "datatype": "UINT64", "parameters": {"binary_data_size": 16}},
         {"name": "f64", "shape": [2], "datatype": "FP64", "parameters": {"binary_data_size": 16}},
         {"name": "bf16", "shape": [2], "datatype": "BF16", "parameters": {"binary_data_size": 4}},
         {"name": "f16", "shape": [2], "datatype": "FP16", "parameters": {"binary_data_size": 4}})",
      Bytes<int8_t>({-5, 7}) + Bytes<uint16_t>({65535, 1}) + Bytes<int32_t>({-2147483647, 3}) +
          Bytes<uint64_t>({1ull << 40, 9}) + Bytes<double>({0.1, -1e300}) +
          Bytes<uint16_t>({0x3FC0, 0xC000}) +  // bf16 1.5, -2
          Bytes<uint16_t>({0x0001, 0x7C00}),   // fp16 smallest subnormal, +inf
      &header);
  InferRequest r = ParseInferRequest(body, std::to_string(header));
  ASSERT_EQ(r.inputs.columns.size(), 7u);
  ExpectNumbers(r.inputs.columns[0], {-5, 7});
  ExpectNumbers(r.inputs.columns[1], {65535, 1});
  ExpectNumbers(r.inputs.columns[2], {-2147483647, 3});
  ExpectNumbers(r.inputs.columns[3], {static_cast<double>(1ull << 40), 9});
  ExpectNumbers(r.inputs.columns[4], {0.1, -1e300});
  ExpectNumbers(r.inputs.columns[5], {1.5, -2});
  ExpectNumbers(r.inputs.columns[6],
                {std::ldexp(1.0, -24), std::numeric_limits<double>::infinity()});
}

TEST(OipCodecTest, BinaryAndJsonInputsMix) {
  size_t header;
  std::string body = BinaryRequest(
      R"({"name": "a", "shape": [2], "datatype": "FP32", "data": [1, 2]},
         {"name": "b", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}})",
      Bytes<float>({3, 4}), &header);
  InferRequest r = ParseInferRequest(body, std::to_string(header));
  ExpectNumbers(r.inputs.columns[1], {3, 4});
}

TEST(OipCodecTest, BinarySizeMismatchesAreRefused) {
  size_t header;
  // The size disagrees with the shape.
  std::string body = BinaryRequest(
      R"({"name": "x", "shape": [3], "datatype": "FP32", "parameters": {"binary_data_size": 8}})",
      Bytes<float>({1, 2}), &header);
  Thrown e = ErrorOf(body, std::to_string(header));
  EXPECT_EQ(e.code, ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(e.message, "input 'x': binary_data_size is 8 bytes, but shape [3] of FP32 needs 12");
  // The size runs past the body.
  body = BinaryRequest(
      R"({"name": "x", "shape": [4], "datatype": "FP32", "parameters": {"binary_data_size": 16}})",
      Bytes<float>({1, 2}), &header);
  e = ErrorOf(body, std::to_string(header));
  EXPECT_EQ(e.message,
            "input 'x': binary_data_size 16 is past the end of the body: 8 bytes of binary data "
            "remain");
  // Bytes left over.
  body = BinaryRequest(
      R"({"name": "x", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": 4}})",
      Bytes<float>({1, 2}), &header);
  e = ErrorOf(body, std::to_string(header));
  EXPECT_EQ(e.message,
            "the body has 4 bytes of binary data after the tensors' binary_data_size add up");
  // Binary data without the header.
  e = ErrorOf(body);
  EXPECT_EQ(e.message.rfind("input 'x' has binary_data_size, but the request has no "
                            "Inference-Header-Content-Length header",
                            0),
            0u)
      << e.message;
  // Both data and binary_data_size.
  body = BinaryRequest(
      R"({"name": "x", "shape": [1], "datatype": "FP32", "data": [1], "parameters": {"binary_data_size": 4}})",
      Bytes<float>({1}), &header);
  e = ErrorOf(body, std::to_string(header));
  EXPECT_EQ(e.message, "input 'x' has both 'data' and binary_data_size");
}

TEST(OipCodecTest, HeaderLengthPastTheBodyOrNotANumber) {
  const std::string body = R"({"inputs": []})";
  Thrown e = ErrorOf(body, "5000");
  EXPECT_EQ(e.message, "Inference-Header-Content-Length 5000 is past the end of the 14-byte body");
  e = ErrorOf(body, "-1");
  EXPECT_EQ(e.message, "Inference-Header-Content-Length must be a non-negative integer, not '-1'");
  e = ErrorOf(body, "");
  EXPECT_NE(e.message.find("must be a non-negative integer"), std::string::npos);
  e = ErrorOf(body, "99999999999999999999999");
  EXPECT_NE(e.message.find("must be a non-negative integer"), std::string::npos);
  // A header shorter than the JSON cuts it: malformed JSON.
  e = ErrorOf(body, "5");
  EXPECT_EQ(e.code, ErrorCode::kBadRequest);
}

TEST(OipCodecTest, HugeDeclaredSizesDoNotAllocate) {
  size_t header;
  // Shape claims 2^40 floats and binary_data_size agrees, but the body has 4
  // bytes: refused before any allocation (a 4 TiB reserve would throw
  // bad_alloc, not an Error).
  std::string body = BinaryRequest(
      R"({"name": "x", "shape": [1099511627776], "datatype": "FP32", "parameters": {"binary_data_size": 4398046511104}})",
      Bytes<float>({1}), &header);
  Thrown e = ErrorOf(body, std::to_string(header));
  EXPECT_EQ(e.message,
            "input 'x': binary_data_size 4398046511104 is past the end of the body: 4 bytes of "
            "binary data remain");
  // BYTES: an element declaring 4 GiB in a 12-byte tensor.
  body = BinaryRequest(
      R"({"name": "s", "shape": [1099511627776], "datatype": "BYTES", "parameters": {"binary_data_size": 12}})",
      Bytes<uint32_t>({4, 0x64636261, 0xFFFFFFFF}), &header);
  e = ErrorOf(body, std::to_string(header));
  EXPECT_EQ(e.message,
            "input 's': BYTES element 1 declares 4294967295 bytes, but only 0 remain in its binary "
            "data");
  // A JSON tensor claiming a huge shape with little data: a count mismatch.
  e = ErrorOf(
      R"({"inputs": [{"name": "x", "shape": [1099511627776], "datatype": "FP32", "data": [1]}]})");
  EXPECT_EQ(e.message,
            "input 'x': shape [1099511627776] has 1099511627776 elements, but 'data' has 1");
}

TEST(OipCodecTest, BinaryBytesElementCounts) {
  size_t header;
  std::string tensor =
      Bytes<uint32_t>({1}) + "a" + Bytes<uint32_t>({0}) + Bytes<uint32_t>({2}) + "bc";
  std::string body = BinaryRequest(
      R"({"name": "s", "shape": [3], "datatype": "BYTES", "parameters": {"binary_data_size": 15}})",
      tensor, &header);
  InferRequest r = ParseInferRequest(body, std::to_string(header));
  EXPECT_EQ(r.inputs.columns[0].strings, (std::vector<std::string>{"a", "", "bc"}));
  body = BinaryRequest(
      R"({"name": "s", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 15}})",
      tensor, &header);
  EXPECT_EQ(ErrorOf(body, std::to_string(header)).message,
            "input 's': binary data holds more than the 2 elements of shape [2]");
  body = BinaryRequest(
      R"({"name": "s", "shape": [4], "datatype": "BYTES", "parameters": {"binary_data_size": 15}})",
      tensor, &header);
  EXPECT_EQ(ErrorOf(body, std::to_string(header)).message,
            "input 's': binary data holds 3 BYTES elements, but shape [4] has 4");
  body = BinaryRequest(
      R"({"name": "s", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 2}})",
      "ab", &header);
  EXPECT_EQ(ErrorOf(body, std::to_string(header)).message,
            "input 's': BYTES element 0 is cut off in its 4-byte length (binary_data_size 2)");
}

// --- responses -------------------------------------------------------------

ml::Predictions Vector(std::vector<double> values, DataType type = DataType::kDouble) {
  ml::Predictions p;
  p.layout = ml::OutputLayout::kVector;
  p.frame.rows = values.size();
  Column c;
  c.type = type;
  c.numbers = std::move(values);
  p.frame.columns.push_back(std::move(c));
  return p;
}

TEST(OipCodecTest, WritesJsonResponse) {
  InferResponse r = WriteInferResponse("churn", "3", "req-1", Vector({0.25, kNaN, 1.0}), {}, false);
  EXPECT_EQ(r.body,
            R"({"model_name":"churn","model_version":"3","id":"req-1","outputs":[)"
            R"({"name":"predictions","datatype":"FP64","shape":[3],"data":[0.25,NaN,1.0]}]})");
  EXPECT_FALSE(r.json_header_length.has_value());
  r = WriteInferResponse("churn", "", "", Vector({1, 0}, DataType::kLong), {}, false);
  EXPECT_EQ(r.body, R"({"model_name":"churn","outputs":[)"
                    R"({"name":"predictions","datatype":"INT64","shape":[2],"data":[1,0]}]})");
  // An integer column with a missing value cannot be INT64.
  r = WriteInferResponse("m", "", "", Vector({1, kNaN}, DataType::kLong), {}, false);
  EXPECT_NE(r.body.find(R"("datatype":"FP64","shape":[2],"data":[1.0,NaN])"), std::string::npos)
      << r.body;
}

TEST(OipCodecTest, WritesBinaryResponseAsTritonclientReadsIt) {
  // The bytes were checked with tritonclient.http.InferResult.from_response_body
  // (header_length=...).as_numpy("predictions") == [[0.25, 0.75], [1.0, 0.0]].
  ml::Predictions p;
  p.layout = ml::OutputLayout::kMatrix;
  p.frame.rows = 2;
  Column c;
  c.type = DataType::kFloat;
  c.width = 2;
  c.numbers = {0.25, 0.75, 1.0, 0.0};
  p.frame.columns.push_back(c);
  InferResponse r = WriteInferResponse("m", "1", "", p, {{"predictions", true}}, false);
  const std::string json =
      R"({"model_name":"m","model_version":"1","outputs":[)"
      R"({"name":"predictions","datatype":"FP64","shape":[2,2],"parameters":{"binary_data_size":32}}]})";
  ASSERT_TRUE(r.json_header_length.has_value());
  EXPECT_EQ(*r.json_header_length, json.size());
  EXPECT_EQ(r.body, json + Bytes<double>({0.25, 0.75, 1.0, 0.0}));
}

TEST(OipCodecTest, RecordsBecomeOneOutputPerColumn) {
  ml::Predictions p;
  p.layout = ml::OutputLayout::kRecords;
  p.frame.rows = 2;
  Column label;
  label.name = "label";
  label.type = DataType::kString;
  label.strings = {"yes", "no"};
  Column score;
  score.name = "score";
  score.type = DataType::kDouble;
  score.numbers = {0.9, 0.1};
  Column flag;
  flag.name = "flag";
  flag.type = DataType::kBoolean;
  flag.numbers = {1, 0};
  p.frame.columns = {label, score, flag};
  InferResponse r = WriteInferResponse("m", "", "", p, {}, false);
  EXPECT_EQ(r.body, R"({"model_name":"m","outputs":[)"
                    R"({"name":"label","datatype":"BYTES","shape":[2],"data":["yes","no"]},)"
                    R"({"name":"score","datatype":"FP64","shape":[2],"data":[0.9,0.1]},)"
                    R"({"name":"flag","datatype":"BOOL","shape":[2],"data":[true,false]}]})");
  // Requested outputs select and order; each chooses binary or JSON.
  r = WriteInferResponse("m", "", "", p, {{"flag", std::nullopt}, {"label", true}}, false);
  const std::string json =
      R"({"model_name":"m","outputs":[)"
      R"({"name":"flag","datatype":"BOOL","shape":[2],"data":[true,false]},)"
      R"({"name":"label","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":13}}]})";
  EXPECT_EQ(r.body, json + Bytes<uint32_t>({3}) + "yes" + Bytes<uint32_t>({2}) + "no");
  EXPECT_EQ(r.json_header_length, std::optional<size_t>(json.size()));
  // binary_data_output is the default for outputs that do not say.
  r = WriteInferResponse("m", "", "", p, {{"score", std::nullopt}}, true);
  EXPECT_EQ(r.body.substr(*r.json_header_length), Bytes<double>({0.9, 0.1}));
  // An output the model does not have.
  try {
    WriteInferResponse("m", "", "", p, {{"nope", std::nullopt}}, false);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
    EXPECT_EQ(std::string(e.what()),
              "unexpected inference output 'nope' for model 'm'; it has 'label', 'score', 'flag'");
  }
}

TEST(OipCodecTest, SingleOutputTakesTheRequestedName) {
  InferResponse r =
      WriteInferResponse("m", "", "", Vector({0.5}), {{"output_0", std::nullopt}}, false);
  EXPECT_EQ(r.body, R"({"model_name":"m","outputs":[)"
                    R"({"name":"output_0","datatype":"FP64","shape":[1],"data":[0.5]}]})");
}

TEST(OipCodecTest, ResponseRoundTripsThroughTheParser) {
  // A response's outputs, sent back as a request's inputs, give the same
  // values: JSON and binary forms agree.
  ml::Predictions p = Vector({0.1, 1.0 / 3.0, -2.5e-300, 6.02214076e23});
  for (bool binary : {false, true}) {
    InferResponse r = WriteInferResponse("m", "", "", p, {}, binary);
    const size_t json_end = r.json_header_length.value_or(r.body.size());
    const size_t list = r.body.find("\"outputs\":") + 10;
    // {"inputs": <the outputs list>} followed by the same binary section.
    std::string json = "{\"inputs\":" + r.body.substr(list, json_end - list - 1) + "}";
    std::string request = json + r.body.substr(json_end);
    InferRequest back = ParseInferRequest(
        request,
        binary ? std::optional<std::string_view>(std::to_string(json.size())) : std::nullopt);
    EXPECT_EQ(back.inputs.columns[0].numbers, p.frame.columns[0].numbers) << binary;
  }
}

// --- metadata --------------------------------------------------------------

TEST(OipCodecTest, WritesModelMetadata) {
  ml::Schema in;
  in.columns.push_back({"age", DataType::kLong, true});
  in.columns.push_back({"city", DataType::kString, true});
  ml::Schema out;
  out.tensors.push_back({"", DataType::kDouble, {-1, 3}});
  EXPECT_EQ(WriteModelMetadata("churn", {"1", "2"}, "xgboost", &in, &out),
            R"({"name":"churn","versions":["1","2"],"platform":"xgboost","inputs":[)"
            R"({"name":"age","datatype":"INT64","shape":[-1]},)"
            R"({"name":"city","datatype":"BYTES","shape":[-1]}],)"
            R"("outputs":[{"name":"predictions","datatype":"FP64","shape":[-1,3]}]})");
  ml::Schema tensor;
  tensor.tensors.push_back({"", DataType::kFloat, {-1, 28, 28}});
  tensor.tensors.push_back({"mask", DataType::kBoolean, {}});
  EXPECT_EQ(WriteModelMetadata("m", {}, "python_function", &tensor, nullptr),
            R"({"name":"m","versions":[],"platform":"python_function","inputs":[)"
            R"({"name":"input_0","datatype":"FP32","shape":[-1,28,28]},)"
            R"({"name":"mask","datatype":"BOOL","shape":[-1]}],"outputs":[]})");
}

}  // namespace
}  // namespace slipway::http
