#include "grpc/tensor_codec.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace slipway::grpc {
namespace {

using ml::Column;
using ml::DataType;

static_assert(std::endian::native == std::endian::little,
              "raw tensor contents are little-endian; decoding copies bytes as they are");

[[noreturn]] void Invalid(const std::string& message) {
  throw Error(ErrorCode::kInvalidParameterValue, message);
}

std::string Quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

enum class Family : uint8_t { kBool, kUnsigned, kSigned, kFloat, kBytes };

struct Datatype {
  std::string_view name;
  size_t size;  // bytes per element when raw; 0 for BYTES
  Family family;
  DataType column_type;
  double min, max;  // the integer range; unused for other families
};

constexpr double kI64Max = 9223372036854775807.0;
// As http/oip_codec.cc's table: both protocols type columns alike.
constexpr Datatype kDatatypes[] = {
    {"BOOL", 1, Family::kBool, DataType::kBoolean, 0, 1},
    {"UINT8", 1, Family::kUnsigned, DataType::kInteger, 0, 255},
    {"UINT16", 2, Family::kUnsigned, DataType::kInteger, 0, 65535},
    {"UINT32", 4, Family::kUnsigned, DataType::kLong, 0, 4294967295.0},
    {"UINT64", 8, Family::kUnsigned, DataType::kLong, 0, 18446744073709551615.0},
    {"INT8", 1, Family::kSigned, DataType::kInteger, -128, 127},
    {"INT16", 2, Family::kSigned, DataType::kInteger, -32768, 32767},
    {"INT32", 4, Family::kSigned, DataType::kInteger, -2147483648.0, 2147483647.0},
    {"INT64", 8, Family::kSigned, DataType::kLong, -kI64Max - 1, kI64Max},
    {"FP16", 2, Family::kFloat, DataType::kFloat, 0, 0},
    {"BF16", 2, Family::kFloat, DataType::kFloat, 0, 0},
    {"FP32", 4, Family::kFloat, DataType::kFloat, 0, 0},
    {"FP64", 8, Family::kFloat, DataType::kDouble, 0, 0},
    {"BYTES", 0, Family::kBytes, DataType::kString, 0, 0},
};

const Datatype* FindDatatype(std::string_view name) {
  for (const Datatype& d : kDatatypes) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::string ShapeText(const google::protobuf::RepeatedField<int64_t>& shape) {
  std::string text = "[";
  for (int i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

// IEEE half and bfloat16 to float.
float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1F;
  uint32_t mantissa = h & 0x3FF;
  uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exponent = 127 - 15 + 1;
      while ((mantissa & 0x400) == 0) {
        mantissa <<= 1;
        --exponent;
      }
      mantissa &= 0x3FF;
      bits = sign | (exponent << 23) | (mantissa << 13);
    }
  } else if (exponent == 0x1F) {
    bits = sign | 0x7F800000 | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  return std::bit_cast<float>(bits);
}

float Bf16ToFloat(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

void ReadRaw(const Datatype& d, const std::string& label, const std::string& bytes,
             uint64_t elements, const std::string& shape, Column& column) {
  if (d.family == Family::kBytes) {
    column.strings.reserve(std::min<uint64_t>(elements, bytes.size() / 4));
    size_t pos = 0;
    while (pos < bytes.size()) {
      if (bytes.size() - pos < 4) {
        Invalid(label + ": BYTES element " + std::to_string(column.strings.size()) +
                " is cut off in its 4-byte length");
      }
      uint32_t length;
      std::memcpy(&length, bytes.data() + pos, 4);
      pos += 4;
      if (length > bytes.size() - pos) {
        Invalid(label + ": BYTES element " + std::to_string(column.strings.size()) + " declares " +
                std::to_string(length) + " bytes, but only " + std::to_string(bytes.size() - pos) +
                " remain in its raw contents");
      }
      if (column.strings.size() == elements) {
        Invalid(label + ": raw contents hold more than the " + std::to_string(elements) +
                " elements of shape " + shape);
      }
      column.strings.emplace_back(bytes, pos, length);
      pos += length;
    }
    if (column.strings.size() != elements) {
      Invalid(label + ": raw contents hold " + std::to_string(column.strings.size()) +
              " BYTES elements, but shape " + shape + " has " + std::to_string(elements));
    }
    return;
  }
  if (bytes.size() % d.size != 0 || elements != bytes.size() / d.size) {
    Invalid(label + ": raw contents are " + std::to_string(bytes.size()) + " bytes, but shape " +
            shape + " of " + std::string(d.name) + " needs " +
            (elements > std::numeric_limits<uint64_t>::max() / d.size
                 ? std::string("more than 2^64")
                 : std::to_string(elements * d.size)));
  }
  column.numbers.resize(elements);
  double* out = column.numbers.data();
  const char* p = bytes.data();
  auto load = [&](auto sample) {
    using T = decltype(sample);
    for (uint64_t i = 0; i < elements; ++i) {
      T value;
      std::memcpy(&value, p + i * sizeof(T), sizeof(T));
      out[i] = static_cast<double>(value);
    }
  };
  const std::string_view name = d.name;
  if (name == "BOOL") {
    for (uint64_t i = 0; i < elements; ++i) out[i] = p[i] != 0 ? 1.0 : 0.0;
  } else if (name == "UINT8") {
    load(uint8_t{});
  } else if (name == "UINT16") {
    load(uint16_t{});
  } else if (name == "UINT32") {
    load(uint32_t{});
  } else if (name == "UINT64") {
    load(uint64_t{});
  } else if (name == "INT8") {
    load(int8_t{});
  } else if (name == "INT16") {
    load(int16_t{});
  } else if (name == "INT32") {
    load(int32_t{});
  } else if (name == "INT64") {
    load(int64_t{});
  } else if (name == "FP32") {
    load(float{});
  } else if (name == "FP64") {
    load(double{});
  } else {
    const bool half = name == "FP16";
    for (uint64_t i = 0; i < elements; ++i) {
      uint16_t bits;
      std::memcpy(&bits, p + i * 2, 2);
      out[i] = half ? HalfToFloat(bits) : Bf16ToFloat(bits);
    }
  }
}

// The typed contents field of the datatype: counts checked, integers held
// to the datatype's range (the 32-bit fields carry the 8 and 16-bit types).
void ReadTyped(const Datatype& d, const std::string& label,
               const inference::InferTensorContents& contents, uint64_t elements,
               const std::string& shape, Column& column) {
  auto count = [&](uint64_t have, const char* field) {
    if (have != elements) {
      Invalid(label + ": contents." + field + " holds " + std::to_string(have) +
              " elements, but shape " + shape + " has " + std::to_string(elements));
    }
  };
  auto numbers = [&](const auto& values, const char* field) {
    count(static_cast<uint64_t>(values.size()), field);
    column.numbers.reserve(elements);
    for (auto v : values) {
      const double x = static_cast<double>(v);
      if ((d.family == Family::kSigned || d.family == Family::kUnsigned) &&
          (x < d.min || x > d.max)) {
        Invalid(label + ": contents." + field + "[" + std::to_string(column.numbers.size()) +
                "] = " + std::to_string(v) + " is out of range for " + std::string(d.name));
      }
      column.numbers.push_back(x);
    }
  };
  const std::string_view name = d.name;
  if (name == "BOOL") {
    numbers(contents.bool_contents(), "bool_contents");
  } else if (name == "UINT8" || name == "UINT16" || name == "UINT32") {
    numbers(contents.uint_contents(), "uint_contents");
  } else if (name == "UINT64") {
    numbers(contents.uint64_contents(), "uint64_contents");
  } else if (name == "INT8" || name == "INT16" || name == "INT32") {
    numbers(contents.int_contents(), "int_contents");
  } else if (name == "INT64") {
    numbers(contents.int64_contents(), "int64_contents");
  } else if (name == "FP32") {
    numbers(contents.fp32_contents(), "fp32_contents");
  } else if (name == "FP64") {
    numbers(contents.fp64_contents(), "fp64_contents");
  } else if (name == "BYTES") {
    count(static_cast<uint64_t>(contents.bytes_contents_size()), "bytes_contents");
    column.strings.assign(contents.bytes_contents().begin(), contents.bytes_contents().end());
  } else {
    Invalid(label + ": " + std::string(name) +
            " has no typed contents field; send it in raw_input_contents");
  }
}

nlohmann::json ParameterJson(const inference::InferParameter& p) {
  switch (p.parameter_choice_case()) {
    case inference::InferParameter::kBoolParam:
      return p.bool_param();
    case inference::InferParameter::kInt64Param:
      return p.int64_param();
    case inference::InferParameter::kStringParam:
      return p.string_param();
    case inference::InferParameter::kDoubleParam:
      return p.double_param();
    case inference::InferParameter::kUint64Param:
      return p.uint64_param();
    default:
      return nullptr;
  }
}

bool IsSharedMemory(const google::protobuf::Map<std::string, inference::InferParameter>& params) {
  for (const auto& [key, value] : params) {
    if (key.rfind("shared_memory_", 0) == 0) return true;
  }
  return false;
}

// One tensor the reply can carry.
struct OutputTensor {
  std::string name;
  const Column* column = nullptr;
  std::vector<int64_t> shape;
};

enum class WireType { kFp64, kInt64, kBool, kBytes };

WireType WireTypeOf(const Column& column) {
  switch (column.type) {
    case DataType::kLong:
    case DataType::kInteger:
    case DataType::kBoolean:
      // A missing value (NaN), or one beyond int64, has no INT64 form.
      for (double v : column.numbers) {
        if (!(std::fabs(v) < 9.2e18)) return WireType::kFp64;
      }
      return column.type == DataType::kBoolean ? WireType::kBool : WireType::kInt64;
    case DataType::kString:
    case DataType::kBinary:
    case DataType::kJson:
      return WireType::kBytes;
    default:
      return WireType::kFp64;
  }
}

const char* WireName(WireType type) {
  switch (type) {
    case WireType::kFp64:
      return "FP64";
    case WireType::kInt64:
      return "INT64";
    case WireType::kBool:
      return "BOOL";
    case WireType::kBytes:
      return "BYTES";
  }
  return "FP64";
}

void AppendRaw(std::string& out, const Column& column, WireType type) {
  switch (type) {
    case WireType::kFp64:
      out.reserve(out.size() + column.numbers.size() * 8);
      for (double v : column.numbers) out.append(reinterpret_cast<const char*>(&v), 8);
      break;
    case WireType::kInt64:
      out.reserve(out.size() + column.numbers.size() * 8);
      for (double v : column.numbers) {
        int64_t i = static_cast<int64_t>(v);
        out.append(reinterpret_cast<const char*>(&i), 8);
      }
      break;
    case WireType::kBool:
      for (double v : column.numbers) out.push_back(v != 0 ? 1 : 0);
      break;
    case WireType::kBytes:
      for (const std::string& s : column.strings) {
        uint32_t length = static_cast<uint32_t>(s.size());
        out.append(reinterpret_cast<const char*>(&length), 4);
        out += s;
      }
      break;
  }
}

// A matrix the model answered as several columns, gathered into one.
Column Gather(const ml::Frame& frame) {
  Column gathered;
  const Column& first = frame.columns.front();
  gathered.name = first.name;
  gathered.type = first.type;
  gathered.width = 0;
  for (const Column& c : frame.columns) {
    gathered.width += c.width;
    if (IsNumeric(c.type) != IsNumeric(gathered.type)) {
      Invalid("the model's matrix output mixes numbers and text");
    }
    if (c.type == DataType::kDouble || c.type == DataType::kFloat) gathered.type = c.type;
  }
  for (size_t r = 0; r < frame.rows; ++r) {
    for (const Column& c : frame.columns) {
      for (size_t k = 0; k < c.width; ++k) {
        if (IsNumeric(c.type)) {
          gathered.numbers.push_back(c.numbers[r * c.width + k]);
        } else {
          gathered.strings.push_back(c.strings[r * c.width + k]);
        }
      }
    }
  }
  return gathered;
}

std::string_view OipDatatype(DataType type) {
  switch (type) {
    case DataType::kDouble:
      return "FP64";
    case DataType::kFloat:
      return "FP32";
    case DataType::kLong:
      return "INT64";
    case DataType::kInteger:
      return "INT32";
    case DataType::kBoolean:
      return "BOOL";
    default:
      return "BYTES";
  }
}

}  // namespace

DecodedRequest DecodeInferRequest(const inference::ModelInferRequest& request) {
  DecodedRequest decoded;
  if (request.inputs_size() == 0) Invalid("the request has no inputs");
  const bool raw = request.raw_input_contents_size() > 0;
  if (raw && request.raw_input_contents_size() != request.inputs_size()) {
    Invalid("raw_input_contents has " + std::to_string(request.raw_input_contents_size()) +
            " entries for " + std::to_string(request.inputs_size()) +
            " inputs; give one per input, or none");
  }
  ml::Frame& frame = decoded.inputs;
  for (int i = 0; i < request.inputs_size(); ++i) {
    const auto& input = request.inputs(i);
    const std::string label = input.name().empty() ? "inputs[" + std::to_string(i) + "]"
                                                   : "input " + Quoted(input.name());
    const Datatype* d = FindDatatype(input.datatype());
    if (d == nullptr) {
      Invalid(label + ": unknown datatype " + Quoted(input.datatype()) +
              " (BOOL, UINT8..UINT64, INT8..INT64, FP16, BF16, FP32, FP64 or BYTES)");
    }
    if (IsSharedMemory(input.parameters())) {
      Invalid(label + ": shared-memory inputs are not supported; send the tensor in the request");
    }
    const std::string shape = ShapeText(input.shape());
    uint64_t elements = 1;
    for (int64_t dim : input.shape()) {
      if (dim < 0) Invalid(label + ": shape " + shape + " has a negative dimension");
      if (__builtin_mul_overflow(elements, static_cast<uint64_t>(dim), &elements)) {
        Invalid(label + ": shape " + shape + " is too large");
      }
    }
    const size_t rows = input.shape().empty() ? 1 : static_cast<size_t>(input.shape(0));
    uint64_t width = 1;
    for (int k = 1; k < input.shape_size(); ++k) {
      // Checked apart from `elements`: with zero rows, that product says nothing.
      if (__builtin_mul_overflow(width, static_cast<uint64_t>(input.shape(k)), &width) ||
          width > (uint64_t{1} << 32)) {
        Invalid(label + ": shape " + shape + " is too large");
      }
    }
    if (i == 0) {
      frame.rows = rows;
    } else if (rows != frame.rows) {
      Invalid(label + ": shape " + shape + " has " + std::to_string(rows) +
              " rows, but the first input has " + std::to_string(frame.rows) +
              "; every input needs the same first dimension");
    }
    Column column;
    column.name = input.name();
    column.type = d->column_type;
    column.width = static_cast<size_t>(width);
    if (raw) {
      if (input.has_contents()) {
        Invalid(label + ": give its elements in contents or in raw_input_contents, not both");
      }
      ReadRaw(*d, label, request.raw_input_contents(i), elements, shape, column);
    } else {
      ReadTyped(*d, label, input.contents(), elements, shape, column);
    }
    frame.columns.push_back(std::move(column));
  }
  if (!request.parameters().empty()) {
    nlohmann::json params = nlohmann::json::object();
    for (const auto& [key, value] : request.parameters()) params[key] = ParameterJson(value);
    decoded.parameters_json = params.dump();
  }
  return decoded;
}

void EncodeInferResponse(const ml::Predictions& predictions,
                         const inference::ModelInferRequest& request,
                         inference::ModelInferResponse* reply) {
  const ml::Frame& frame = predictions.frame;
  const auto rows = static_cast<int64_t>(frame.rows);
  Column gathered;
  std::vector<OutputTensor> available;
  if (predictions.layout == ml::OutputLayout::kRecords) {
    for (size_t c = 0; c < frame.columns.size(); ++c) {
      const Column& column = frame.columns[c];
      std::vector<int64_t> shape{rows};
      if (column.width != 1) shape.push_back(static_cast<int64_t>(column.width));
      available.push_back(
          {column.name.empty() ? "output_" + std::to_string(c) : column.name, &column, shape});
    }
  } else if (!frame.columns.empty()) {
    const Column* column = &frame.columns.front();
    if (predictions.layout == ml::OutputLayout::kMatrix && frame.columns.size() > 1) {
      gathered = Gather(frame);
      column = &gathered;
    }
    std::vector<int64_t> shape{rows};
    if (predictions.layout == ml::OutputLayout::kMatrix || column->width != 1) {
      shape.push_back(static_cast<int64_t>(column->width));
    }
    available.push_back({column->name.empty() ? "predictions" : column->name, column, shape});
  }

  std::vector<OutputTensor> chosen;
  if (request.outputs().empty()) {
    chosen = available;
  } else {
    for (const auto& want : request.outputs()) {
      for (const auto& [key, value] : want.parameters()) {
        if (key == "classification" || key.rfind("shared_memory_", 0) == 0) {
          Invalid("output " + Quoted(want.name()) + ": parameter " + Quoted(key) +
                  " is not supported");
        }
      }
      const OutputTensor* found = nullptr;
      for (const OutputTensor& t : available) {
        if (t.name == want.name()) found = &t;
      }
      OutputTensor tensor;
      if (found != nullptr) {
        tensor = *found;
      } else if (available.size() == 1 && request.outputs_size() == 1) {
        tensor = available.front();
        tensor.name = want.name();
      } else {
        std::string names;
        for (size_t i = 0; i < available.size(); ++i) {
          names += (i ? ", " : "") + Quoted(available[i].name);
        }
        Invalid("unexpected inference output " + Quoted(want.name()) + " for model " +
                Quoted(request.model_name()) + "; it has " + (names.empty() ? "none" : names));
      }
      chosen.push_back(std::move(tensor));
    }
  }
  for (const OutputTensor& tensor : chosen) {
    const WireType type = WireTypeOf(*tensor.column);
    auto* out = reply->add_outputs();
    out->set_name(tensor.name);
    out->set_datatype(WireName(type));
    for (int64_t dim : tensor.shape) out->add_shape(dim);
    AppendRaw(*reply->add_raw_output_contents(), *tensor.column, type);
  }
}

void DescribeTensors(
    const ml::Schema* schema, bool is_output,
    google::protobuf::RepeatedPtrField<inference::ModelMetadataResponse::TensorMetadata>* out) {
  if (schema == nullptr) return;
  const size_t total = schema->columns.size() + schema->tensors.size();
  auto entry = [&](const std::string& spec_name, DataType type, const std::vector<int64_t>& shape) {
    const size_t index = static_cast<size_t>(out->size());
    std::string fallback =
        is_output ? (total == 1 ? std::string("predictions") : "output_" + std::to_string(index))
                  : "input_" + std::to_string(index);
    auto* tensor = out->Add();
    tensor->set_name(spec_name.empty() ? fallback : spec_name);
    tensor->set_datatype(std::string(OipDatatype(type)));
    for (int64_t dim : shape) tensor->add_shape(dim);
  };
  for (const ml::ColumnSpec& spec : schema->columns) entry(spec.name, spec.type, {-1});
  for (const ml::TensorSpec& spec : schema->tensors) {
    entry(spec.name, spec.type, spec.shape.empty() ? std::vector<int64_t>{-1} : spec.shape);
  }
}

}  // namespace slipway::grpc
