#include "http/oip_codec.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "http/scoring_codec.h"
#include "http/wire_json.h"

namespace slipway::http {
namespace {

using ml::Column;
using ml::DataType;

static_assert(std::endian::native == std::endian::little,
              "the binary tensor extension is little-endian; decoding copies bytes as they are");

[[noreturn]] void Invalid(const std::string& message) { ThrowInvalid(message); }

std::string Quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

enum class Family : uint8_t { kBool, kUnsigned, kSigned, kFloat, kBytes };

struct Datatype {
  std::string_view name;
  size_t size;  // bytes per element in binary form; 0 for BYTES
  Family family;
  DataType column_type;
  double min, max;  // the integer range; unused for other families
};

constexpr double kI64Max = 9223372036854775807.0;
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

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
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

// The value a JSON number has once stored as the datatype (FP16 and BF16
// rounded through float, which is close enough for a tree's thresholds and
// what the binary form would carry at FP32).
double RoundTo(const Datatype& d, double value) {
  if (d.name == "FP64") return value;
  return static_cast<double>(static_cast<float>(value));
}

// One input tensor while its JSON object is read.
struct PendingInput {
  std::string name;
  std::optional<std::vector<int64_t>> shape;
  const Datatype* datatype = nullptr;
  std::optional<uint64_t> binary_size;
  size_t data_offset = std::string_view::npos;  // `data` seen before `datatype`
  bool has_data = false;
  Column column;
  size_t count = 0;  // elements read from `data`
};

std::string InputLabel(const PendingInput& in, size_t index) {
  return in.name.empty() ? "inputs[" + std::to_string(index) + "]" : "input " + Quoted(in.name);
}

// Element count of a shape, or nullopt when it overflows.
std::optional<uint64_t> Elements(const std::vector<int64_t>& shape) {
  uint64_t product = 1;
  for (int64_t dim : shape) {
    if (__builtin_mul_overflow(product, static_cast<uint64_t>(dim), &product)) return std::nullopt;
  }
  return product;
}

// A float tensor's `data` given flat, as tritonclient sends it: the whole
// list read in one call when it holds exactly the shape's element count of
// plain numbers; false (nothing read) otherwise, and ReadData reads it value
// by value, which also reports what is wrong. The count is believed only as
// far as the body could hold it (two bytes per number at least), so a huge
// shape allocates nothing.
bool ReadFlatFloats(JsonScanner& s, PendingInput& in) {
  const std::optional<uint64_t> count = Elements(*in.shape);
  // (A negative dimension makes the count huge, so it fails this too.)
  if (!count || *count == 0 || *count > (s.text().size() - s.Offset()) / 2) return false;
  const size_t elements = *count;
  std::vector<double>& numbers = in.column.numbers;
  const size_t at = numbers.size();
  numbers.resize(at + elements);
  if (!s.TryReadNumberList(numbers.data() + at, elements, /*nulls=*/false)) {
    numbers.resize(at);
    return false;
  }
  for (size_t i = at; i < numbers.size(); ++i) numbers[i] = RoundTo(*in.datatype, numbers[i]);
  in.count += elements;
  return true;
}

// Reads `data` (nested lists, row-major) into the column.
void ReadData(JsonScanner& s, PendingInput& in, size_t index) {
  const Datatype& d = *in.datatype;
  Column& column = in.column;
  std::string scratch;
  auto element = [&]() {
    auto bad = [&](const char* what) {
      Invalid(InputLabel(in, index) + ": data[" + std::to_string(in.count) + "] must be " + what +
              " for datatype " + std::string(d.name));
    };
    switch (d.family) {
      case Family::kBool:
        if (s.Peek() != JsonScanner::Kind::kBool) bad("true or false");
        column.numbers.push_back(s.ReadBool() ? 1.0 : 0.0);
        break;
      case Family::kUnsigned:
      case Family::kSigned: {
        if (s.Peek() != JsonScanner::Kind::kNumber) bad("an integer");
        JsonScanner::Number n = s.ReadNumber();
        if (!n.integer) bad("an integer");
        if (n.value < d.min || n.value > d.max) {
          Invalid(InputLabel(in, index) + ": data[" + std::to_string(in.count) + "] = " +
                  std::to_string(n.int_value) + " is out of range for " + std::string(d.name));
        }
        column.numbers.push_back(n.value);
        break;
      }
      case Family::kFloat: {
        if (s.Peek() != JsonScanner::Kind::kNumber) bad("a number");
        column.numbers.push_back(RoundTo(d, s.ReadNumber().value));
        break;
      }
      case Family::kBytes:
        if (s.Peek() != JsonScanner::Kind::kString) bad("a string");
        column.strings.emplace_back(s.ReadString(scratch));
        break;
    }
    ++in.count;
  };
  if (s.Peek() != JsonScanner::Kind::kArray) {
    Invalid(InputLabel(in, index) + ": 'data' must be a list");
  }
  if (d.family == Family::kFloat && in.shape && ReadFlatFloats(s, in)) return;
  auto nested = [&](auto& self) -> void {
    s.BeginArray();
    while (s.NextItem()) {
      if (s.Peek() == JsonScanner::Kind::kArray) {
        self(self);
      } else {
        element();
      }
    }
  };
  nested(nested);
}

void ReadBinary(PendingInput& in, size_t index, std::string_view bytes, uint64_t elements) {
  const Datatype& d = *in.datatype;
  Column& column = in.column;
  const std::string label = InputLabel(in, index);
  if (d.family == Family::kBytes) {
    // Each element: a 4-byte little-endian length, then that many bytes.
    column.strings.reserve(std::min<uint64_t>(elements, bytes.size() / 4));
    size_t pos = 0;
    while (pos < bytes.size()) {
      if (bytes.size() - pos < 4) {
        Invalid(label + ": BYTES element " + std::to_string(column.strings.size()) +
                " is cut off in its 4-byte length (binary_data_size " +
                std::to_string(bytes.size()) + ")");
      }
      uint32_t length;
      std::memcpy(&length, bytes.data() + pos, 4);
      pos += 4;
      if (length > bytes.size() - pos) {
        Invalid(label + ": BYTES element " + std::to_string(column.strings.size()) + " declares " +
                std::to_string(length) + " bytes, but only " + std::to_string(bytes.size() - pos) +
                " remain in its binary data");
      }
      if (column.strings.size() == elements) {
        Invalid(label + ": binary data holds more than the " + std::to_string(elements) +
                " elements of shape " + ShapeText(*in.shape));
      }
      column.strings.emplace_back(bytes.substr(pos, length));
      pos += length;
    }
    if (column.strings.size() != elements) {
      Invalid(label + ": binary data holds " + std::to_string(column.strings.size()) +
              " BYTES elements, but shape " + ShapeText(*in.shape) + " has " +
              std::to_string(elements));
    }
    return;
  }
  if (elements != bytes.size() / d.size || bytes.size() % d.size != 0) {
    Invalid(label + ": binary_data_size is " + std::to_string(bytes.size()) + " bytes, but shape " +
            ShapeText(*in.shape) + " of " + std::string(d.name) + " needs " +
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

void ReadInputParameters(JsonScanner& s, PendingInput& in, size_t index) {
  if (s.Peek() != JsonScanner::Kind::kObject) {
    Invalid(InputLabel(in, index) + ": 'parameters' must be an object");
  }
  s.BeginObject();
  std::string_view key;
  std::string scratch;
  while (s.NextKey(key, scratch)) {
    if (key == "binary_data_size") {
      if (s.Peek() != JsonScanner::Kind::kNumber) {
        Invalid(InputLabel(in, index) + ": binary_data_size must be a non-negative integer");
      }
      JsonScanner::Number n = s.ReadNumber();
      if (!n.integer || n.int_value < 0) {
        Invalid(InputLabel(in, index) + ": binary_data_size must be a non-negative integer");
      }
      in.binary_size = static_cast<uint64_t>(n.int_value);
    } else if (key.substr(0, 14) == "shared_memory_") {
      Invalid(InputLabel(in, index) +
              ": the shared-memory extension is not supported; send the data in the body");
    } else {
      s.SkipValue();
    }
  }
}

std::vector<int64_t> ReadShape(JsonScanner& s, const PendingInput& in, size_t index) {
  if (s.Peek() != JsonScanner::Kind::kArray) {
    Invalid(InputLabel(in, index) + ": 'shape' must be a list of dimensions");
  }
  std::vector<int64_t> shape;
  s.BeginArray();
  while (s.NextItem()) {
    if (s.Peek() != JsonScanner::Kind::kNumber) {
      Invalid(InputLabel(in, index) + ": shape[" + std::to_string(shape.size()) +
              "] must be a non-negative integer");
    }
    JsonScanner::Number n = s.ReadNumber();
    if (!n.integer || n.int_value < 0) {
      Invalid(InputLabel(in, index) + ": shape[" + std::to_string(shape.size()) +
              "] must be a non-negative integer");
    }
    shape.push_back(n.int_value);
  }
  return shape;
}

void ReadOutputs(JsonScanner& s, InferRequest& request) {
  if (s.Peek() != JsonScanner::Kind::kArray) Invalid("'outputs' must be a list");
  std::string scratch;
  s.BeginArray();
  while (s.NextItem()) {
    const std::string label = "outputs[" + std::to_string(request.outputs.size()) + "]";
    if (s.Peek() != JsonScanner::Kind::kObject) Invalid(label + " must be an object");
    RequestedOutput output;
    bool named = false;
    s.BeginObject();
    std::string_view key;
    while (s.NextKey(key, scratch)) {
      if (key == "name") {
        if (s.Peek() != JsonScanner::Kind::kString) Invalid(label + ": 'name' must be a string");
        output.name = std::string(s.ReadString(scratch));
        named = true;
      } else if (key == "parameters") {
        if (s.Peek() != JsonScanner::Kind::kObject)
          Invalid(label + ": 'parameters' must be an object");
        s.BeginObject();
        while (s.NextKey(key, scratch)) {
          if (key == "binary_data") {
            if (s.Peek() != JsonScanner::Kind::kBool) {
              Invalid(label + ": binary_data must be true or false");
            }
            output.binary_data = s.ReadBool();
          } else if (key == "class_count") {
            Invalid(label + ": the classification extension (class_count) is not supported");
          } else if (key.substr(0, 14) == "shared_memory_") {
            Invalid(label + ": the shared-memory extension is not supported");
          } else {
            s.SkipValue();
          }
        }
      } else {
        s.SkipValue();
      }
    }
    if (!named) Invalid(label + " has no 'name'");
    request.outputs.push_back(std::move(output));
  }
}

}  // namespace

InferRequest ParseInferRequest(std::string_view body,
                               std::optional<std::string_view> header_length) {
  size_t json_length = body.size();
  if (header_length) {
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(header_length->data(),
                                     header_length->data() + header_length->size(), value);
    if (header_length->empty() || ec != std::errc() ||
        ptr != header_length->data() + header_length->size()) {
      Invalid("Inference-Header-Content-Length must be a non-negative integer, not '" +
              std::string(*header_length) + "'");
    }
    if (value > body.size()) {
      Invalid("Inference-Header-Content-Length " + std::to_string(value) +
              " is past the end of the " + std::to_string(body.size()) + "-byte body");
    }
    json_length = static_cast<size_t>(value);
  }
  const std::string_view json = body.substr(0, json_length);
  const std::string_view binary = body.substr(json_length);
  size_t binary_used = 0;

  InferRequest request;
  JsonScanner s(json, "");
  if (s.Peek() != JsonScanner::Kind::kObject) {
    s.SkipValue();
    s.ExpectEnd();
    Invalid("the inference request must be a JSON object");
  }
  bool has_inputs = false;
  std::string scratch;
  s.BeginObject();
  std::string_view key;
  while (s.NextKey(key, scratch)) {
    if (key == "id") {
      if (s.Peek() != JsonScanner::Kind::kString) Invalid("'id' must be a string");
      request.id = std::string(s.ReadString(scratch));
    } else if (key == "parameters") {
      if (s.Peek() != JsonScanner::Kind::kObject) Invalid("'parameters' must be an object");
      // Kept as text for the model; read again for binary_data_output.
      const size_t start = s.Offset();
      request.parameters_json = std::string(s.SkipValue());
      JsonScanner inner(json, "", start);
      inner.BeginObject();
      std::string_view name;
      while (inner.NextKey(name, scratch)) {
        if (name == "binary_data_output") {
          if (inner.Peek() != JsonScanner::Kind::kBool) {
            Invalid("parameters.binary_data_output must be true or false");
          }
          request.binary_data_output = inner.ReadBool();
        } else {
          inner.SkipValue();
        }
      }
    } else if (key == "inputs") {
      if (has_inputs) Invalid("'inputs' appears twice");
      has_inputs = true;
      if (s.Peek() != JsonScanner::Kind::kArray) Invalid("'inputs' must be a list of tensors");
      s.BeginArray();
      size_t index = 0;
      while (s.NextItem()) {
        if (s.Peek() != JsonScanner::Kind::kObject) {
          Invalid("inputs[" + std::to_string(index) + "] must be an object");
        }
        PendingInput in;
        s.BeginObject();
        std::string_view field;
        while (s.NextKey(field, scratch)) {
          if (field == "name") {
            if (s.Peek() != JsonScanner::Kind::kString) {
              Invalid(InputLabel(in, index) + ": 'name' must be a string");
            }
            in.name = std::string(s.ReadString(scratch));
          } else if (field == "shape") {
            in.shape = ReadShape(s, in, index);
          } else if (field == "datatype") {
            if (s.Peek() != JsonScanner::Kind::kString) {
              Invalid(InputLabel(in, index) + ": 'datatype' must be a string");
            }
            std::string_view text = s.ReadString(scratch);
            in.datatype = FindDatatype(text);
            if (in.datatype == nullptr) {
              Invalid(InputLabel(in, index) + ": unknown datatype '" + std::string(text) +
                      "'; one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, "
                      "FP16, BF16, FP32, FP64, BYTES");
            }
          } else if (field == "parameters") {
            ReadInputParameters(s, in, index);
          } else if (field == "data") {
            in.has_data = true;
            if (in.datatype != nullptr) {
              ReadData(s, in, index);
            } else {
              in.data_offset = s.Offset();  // typed once the datatype is known
              s.SkipValue();
            }
          } else {
            s.SkipValue();
          }
        }
        const std::string label = InputLabel(in, index);
        if (in.name.empty()) Invalid(label + " has no 'name'");
        if (!in.shape) Invalid(label + " has no 'shape'");
        if (in.datatype == nullptr) Invalid(label + " has no 'datatype'");
        for (const Column& other : request.inputs.columns) {
          if (other.name == in.name) Invalid(label + " appears twice in 'inputs'");
        }
        std::optional<uint64_t> elements = Elements(*in.shape);
        if (!elements || *elements > (uint64_t{1} << 62)) {
          Invalid(label + ": shape " + ShapeText(*in.shape) + " is too large");
        }
        if (in.has_data && in.binary_size) {
          Invalid(label + " has both 'data' and binary_data_size");
        }
        if (in.binary_size) {
          if (!header_length) {
            Invalid(label +
                    " has binary_data_size, but the request has no "
                    "Inference-Header-Content-Length header");
          }
          const uint64_t remaining = binary.size() - binary_used;
          if (*in.binary_size > remaining) {
            Invalid(label + ": binary_data_size " + std::to_string(*in.binary_size) +
                    " is past the end of the body: " + std::to_string(remaining) +
                    " bytes of binary data remain");
          }
          ReadBinary(in, index, binary.substr(binary_used, *in.binary_size), *elements);
          binary_used += *in.binary_size;
        } else {
          if (!in.has_data) Invalid(label + " has neither 'data' nor binary_data_size");
          if (in.data_offset != std::string_view::npos) {
            JsonScanner later(json, "", in.data_offset);
            ReadData(later, in, index);
          }
          if (in.count != *elements) {
            Invalid(label + ": shape " + ShapeText(*in.shape) + " has " +
                    std::to_string(*elements) + " elements, but 'data' has " +
                    std::to_string(in.count));
          }
        }
        const std::vector<int64_t>& shape = *in.shape;
        const size_t rows = shape.empty() ? 1 : static_cast<size_t>(shape[0]);
        size_t width = 1;
        for (size_t d = 1; d < shape.size(); ++d) width *= static_cast<size_t>(shape[d]);
        if (!request.inputs.columns.empty() && rows != request.inputs.rows) {
          Invalid(label + " has " + std::to_string(rows) + " rows (shape[0]), but input " +
                  Quoted(request.inputs.columns.front().name) + " has " +
                  std::to_string(request.inputs.rows) +
                  ": all inputs must have the same batch size");
        }
        request.inputs.rows = rows;
        in.column.name = in.name;
        in.column.type = in.datatype->column_type;
        in.column.width = width;
        request.inputs.columns.push_back(std::move(in.column));
        request.datatypes.emplace_back(in.datatype->name);
        request.shapes.push_back(shape);
        ++index;
      }
    } else if (key == "outputs") {
      ReadOutputs(s, request);
    } else {
      s.SkipValue();
    }
  }
  s.ExpectEnd();
  if (!has_inputs) Invalid("the inference request has no 'inputs'");
  if (request.inputs.columns.empty()) Invalid("'inputs' is empty");
  if (binary_used != binary.size()) {
    Invalid("the body has " + std::to_string(binary.size() - binary_used) +
            " bytes of binary data after the tensors' binary_data_size add up");
  }
  return request;
}

namespace {

struct OutputTensor {
  std::string name;
  const Column* column;
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

std::string_view WireName(WireType type) {
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

void AppendShape(std::string& out, const std::vector<int64_t>& shape) {
  out.push_back('[');
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out.push_back(',');
    AppendInt(out, shape[i]);
  }
  out.push_back(']');
}

void AppendJsonData(std::string& out, const Column& column, WireType type) {
  out.push_back('[');
  const size_t n = IsNumeric(column.type) ? column.numbers.size() : column.strings.size();
  for (size_t i = 0; i < n; ++i) {
    if (i) out.push_back(',');
    switch (type) {
      case WireType::kFp64:
        AppendPythonFloat(out, column.numbers[i]);
        break;
      case WireType::kInt64:
        AppendInt(out, static_cast<int64_t>(column.numbers[i]));
        break;
      case WireType::kBool:
        out += column.numbers[i] != 0 ? "true" : "false";
        break;
      case WireType::kBytes:
        AppendPythonString(out, column.strings[i]);
        break;
    }
  }
  out.push_back(']');
}

void AppendBinaryData(std::string& out, const Column& column, WireType type) {
  switch (type) {
    case WireType::kFp64:
      for (double v : column.numbers) out.append(reinterpret_cast<const char*>(&v), 8);
      break;
    case WireType::kInt64:
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

}  // namespace

InferResponse WriteInferResponse(std::string_view model_name, std::string_view model_version,
                                 std::string_view id, const ml::Predictions& predictions,
                                 const std::vector<RequestedOutput>& requested,
                                 bool binary_data_output) {
  const ml::Frame& frame = predictions.frame;
  const auto rows = static_cast<int64_t>(frame.rows);
  // A matrix given as several columns is gathered into one.
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
      gathered.name = column->name;
      gathered.type = column->type;
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
      column = &gathered;
    }
    std::vector<int64_t> shape{rows};
    if (predictions.layout == ml::OutputLayout::kMatrix || column->width != 1) {
      shape.push_back(static_cast<int64_t>(column->width));
    }
    available.push_back({column->name.empty() ? "predictions" : column->name, column, shape});
  }

  std::vector<std::pair<OutputTensor, bool>> chosen;  // tensor, binary
  if (requested.empty()) {
    for (const OutputTensor& t : available) chosen.emplace_back(t, binary_data_output);
  } else {
    for (const RequestedOutput& want : requested) {
      const OutputTensor* found = nullptr;
      for (const OutputTensor& t : available) {
        if (t.name == want.name) found = &t;
      }
      OutputTensor tensor;
      if (found != nullptr) {
        tensor = *found;
      } else if (available.size() == 1 && requested.size() == 1) {
        tensor = available.front();
        tensor.name = want.name;
      } else {
        std::string names;
        for (size_t i = 0; i < available.size(); ++i) {
          names += (i ? ", " : "") + Quoted(available[i].name);
        }
        Invalid("unexpected inference output " + Quoted(want.name) + " for model " +
                Quoted(model_name) + "; it has " + (names.empty() ? "none" : names));
      }
      chosen.emplace_back(tensor, want.binary_data.value_or(binary_data_output));
    }
  }

  InferResponse response;
  std::string& out = response.body;
  std::string binary;
  out += "{\"model_name\":";
  AppendPythonString(out, model_name);
  if (!model_version.empty()) {
    out += ",\"model_version\":";
    AppendPythonString(out, model_version);
  }
  if (!id.empty()) {
    out += ",\"id\":";
    AppendPythonString(out, id);
  }
  out += ",\"outputs\":[";
  for (size_t i = 0; i < chosen.size(); ++i) {
    const auto& [tensor, as_binary] = chosen[i];
    const WireType type = WireTypeOf(*tensor.column);
    if (i) out.push_back(',');
    out += "{\"name\":";
    AppendPythonString(out, tensor.name);
    out += ",\"datatype\":\"";
    out += WireName(type);
    out += "\",\"shape\":";
    AppendShape(out, tensor.shape);
    if (as_binary) {
      const size_t before = binary.size();
      AppendBinaryData(binary, *tensor.column, type);
      out += ",\"parameters\":{\"binary_data_size\":";
      AppendInt(out, static_cast<int64_t>(binary.size() - before));
      out += "}}";
    } else {
      out += ",\"data\":";
      AppendJsonData(out, *tensor.column, type);
      out.push_back('}');
    }
  }
  out += "]}";
  bool any_binary = false;
  for (const auto& [tensor, as_binary] : chosen) any_binary = any_binary || as_binary;
  if (any_binary) {
    response.json_header_length = out.size();
    out += binary;
  }
  return response;
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

std::string WriteModelMetadata(std::string_view name, const std::vector<std::string>& versions,
                               std::string_view platform, const ml::Schema* inputs,
                               const ml::Schema* outputs) {
  std::string out = "{\"name\":";
  AppendPythonString(out, name);
  out += ",\"versions\":[";
  for (size_t i = 0; i < versions.size(); ++i) {
    if (i) out.push_back(',');
    AppendPythonString(out, versions[i]);
  }
  out += "],\"platform\":";
  AppendPythonString(out, platform);
  // Unnamed specs are advertised under the names the other functions use:
  // `input_<i>` (any name is taken by position), and `predictions` for a
  // single output (`output_<i>` for several), as WriteInferResponse names them.
  auto tensors = [&](const char* field, const ml::Schema* schema, bool is_output) {
    out += ",\"";
    out += field;
    out += "\":[";
    if (schema != nullptr) {
      const size_t total = schema->columns.size() + schema->tensors.size();
      size_t count = 0;
      auto entry = [&](const std::string& spec_name, DataType type,
                       const std::vector<int64_t>& shape) {
        if (count) out.push_back(',');
        std::string fallback = is_output ? (total == 1 ? std::string("predictions")
                                                       : "output_" + std::to_string(count))
                                         : "input_" + std::to_string(count);
        out += "{\"name\":";
        AppendPythonString(out, spec_name.empty() ? fallback : spec_name);
        out += ",\"datatype\":\"";
        out += OipDatatype(type);
        out += "\",\"shape\":";
        AppendShape(out, shape);
        out.push_back('}');
        ++count;
      };
      for (const ml::ColumnSpec& spec : schema->columns) entry(spec.name, spec.type, {-1});
      for (const ml::TensorSpec& spec : schema->tensors) {
        entry(spec.name, spec.type, spec.shape.empty() ? std::vector<int64_t>{-1} : spec.shape);
      }
    }
    out.push_back(']');
  };
  tensors("inputs", inputs, false);
  tensors("outputs", outputs, true);
  out.push_back('}');
  return out;
}

}  // namespace slipway::http
