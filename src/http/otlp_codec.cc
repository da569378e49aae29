#include "http/otlp_codec.h"

#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>

#include "core/base64.h"
#include "core/error.h"

namespace slipway::http {
namespace {

using google::protobuf::io::CodedInputStream;
using tracing::Attributes;
using tracing::OtelBatch;
using tracing::OtelEvent;
using tracing::OtelSpan;

[[noreturn]] void Invalid(const std::string& what) {
  ThrowInvalid("Invalid OpenTelemetry format: " + what);
}

// The fields of one protobuf message, in order, read in place: nested
// messages are views into the request body, which outlives the decoding.
class Fields {
 public:
  enum Wire { kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5 };

  explicit Fields(std::string_view bytes)
      : in_(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(Checked(bytes))),
        size_(static_cast<int>(bytes.size())) {}

  bool Next() {
    tag_ = in_.ReadTag();
    if (tag_ == 0) {
      if (in_.CurrentPosition() != size_) Invalid("a field has no valid tag");
      return false;
    }
    return true;
  }
  uint32_t number() const { return tag_ >> 3; }
  int wire() const { return static_cast<int>(tag_ & 7); }

  // A length-delimited field (a nested message) without copying it.
  std::string_view View(const char* what) {
    Expect(kLength, what);
    uint32_t length = 0;
    if (!in_.ReadVarint32(&length)) Invalid(std::string(what) + " is cut short");
    if (length == 0) return {};
    const void* data = nullptr;
    int available = 0;
    if (!in_.GetDirectBufferPointer(&data, &available) || static_cast<uint32_t>(available) < length)
      Invalid(std::string(what) + " is cut short");
    std::string_view view(static_cast<const char*>(data), length);
    in_.Skip(static_cast<int>(length));
    return view;
  }

  std::string Bytes(const char* what) {
    Expect(kLength, what);
    uint32_t length = 0;
    std::string out;
    if (!in_.ReadVarint32(&length) || !in_.ReadString(&out, static_cast<int>(length)))
      Invalid(std::string(what) + " is cut short");
    return out;
  }
  uint64_t Varint(const char* what) {
    Expect(kVarint, what);
    uint64_t v = 0;
    if (!in_.ReadVarint64(&v)) Invalid(std::string(what) + " is cut short");
    return v;
  }
  uint64_t Fixed64(const char* what) {
    Expect(kFixed64, what);
    uint64_t v = 0;
    if (!in_.ReadLittleEndian64(&v)) Invalid(std::string(what) + " is cut short");
    return v;
  }
  void Skip() {
    bool ok = false;
    switch (wire()) {
      case kVarint: {
        uint64_t v;
        ok = in_.ReadVarint64(&v);
        break;
      }
      case kFixed64: {
        uint64_t v;
        ok = in_.ReadLittleEndian64(&v);
        break;
      }
      case kFixed32: {
        uint32_t v;
        ok = in_.ReadLittleEndian32(&v);
        break;
      }
      case kLength: {
        uint32_t length = 0;
        ok = in_.ReadVarint32(&length) && in_.Skip(static_cast<int>(length));
        break;
      }
      default:
        Invalid("field " + std::to_string(number()) + " has wire type " + std::to_string(wire()) +
                ", which OTLP does not use");
    }
    if (!ok) Invalid("field " + std::to_string(number()) + " is cut short");
  }

 private:
  void Expect(Wire wire_type, const char* what) {
    if (wire() != wire_type)
      Invalid(std::string(what) + " has wire type " + std::to_string(wire()) + ", not " +
              std::to_string(wire_type));
  }

  static size_t Checked(std::string_view bytes) {
    if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
      Invalid("the message is larger than 2 GiB");
    return bytes.size();
  }

  CodedInputStream in_;
  int size_;
  uint32_t tag_ = 0;
};

Json DecodeAnyValue(std::string_view bytes, int depth);

std::pair<std::string, Json> DecodeKeyValue(std::string_view bytes, int depth) {
  std::pair<std::string, Json> kv{"", nullptr};
  Fields f(bytes);
  while (f.Next()) {
    if (f.number() == 1)
      kv.first = f.Bytes("KeyValue.key");
    else if (f.number() == 2)
      kv.second = DecodeAnyValue(f.View("KeyValue.value"), depth + 1);
    else
      f.Skip();
  }
  return kv;
}

Json DecodeAnyValue(std::string_view bytes, int depth) {
  if (depth > kMaxValueDepth)
    Invalid("attribute values nest deeper than " + std::to_string(kMaxValueDepth) + " levels");
  Json value = nullptr;
  Fields f(bytes);
  while (f.Next()) {
    switch (f.number()) {
      case 1:
        value = f.Bytes("AnyValue.string_value");
        break;
      case 2:
        value = f.Varint("AnyValue.bool_value") != 0;
        break;
      case 3:
        value = static_cast<int64_t>(f.Varint("AnyValue.int_value"));
        break;
      case 4: {
        const uint64_t bits = f.Fixed64("AnyValue.double_value");
        double d;
        std::memcpy(&d, &bits, sizeof d);
        value = d;
        break;
      }
      case 5: {
        value = Json::array();
        Fields items(f.View("AnyValue.array_value"));
        while (items.Next()) {
          if (items.number() == 1)
            value.push_back(DecodeAnyValue(items.View("ArrayValue.values"), depth + 1));
          else
            items.Skip();
        }
        break;
      }
      case 6: {
        value = Json::object();
        Fields items(f.View("AnyValue.kvlist_value"));
        while (items.Next()) {
          if (items.number() == 1) {
            auto [k, v] = DecodeKeyValue(items.View("KeyValueList.values"), depth + 1);
            value[k] = std::move(v);
          } else {
            items.Skip();
          }
        }
        break;
      }
      case 7:
        value = Base64Encode(f.Bytes("AnyValue.bytes_value"));
        break;
      default:
        f.Skip();
    }
  }
  return value;
}

void AddAttribute(Attributes& out, std::string_view bytes) {
  out.push_back(DecodeKeyValue(bytes, 0));
}

OtelEvent DecodeEvent(std::string_view bytes) {
  OtelEvent event;
  Fields f(bytes);
  while (f.Next()) {
    switch (f.number()) {
      case 1:
        event.time_ns = f.Fixed64("Event.time_unix_nano");
        break;
      case 2:
        event.name = f.Bytes("Event.name");
        break;
      case 3:
        AddAttribute(event.attributes, f.View("Event.attributes"));
        break;
      default:
        f.Skip();
    }
  }
  return event;
}

OtelSpan DecodeSpan(std::string_view bytes, size_t resource) {
  OtelSpan span;
  span.resource = resource;
  Fields f(bytes);
  while (f.Next()) {
    switch (f.number()) {
      case 1:
        span.trace_id = f.Bytes("Span.trace_id");
        break;
      case 2:
        span.span_id = f.Bytes("Span.span_id");
        break;
      case 4:
        span.parent_span_id = f.Bytes("Span.parent_span_id");
        break;
      case 5:
        span.name = f.Bytes("Span.name");
        break;
      case 7:
        span.start_ns = f.Fixed64("Span.start_time_unix_nano");
        break;
      case 8:
        span.end_ns = f.Fixed64("Span.end_time_unix_nano");
        break;
      case 9:
        AddAttribute(span.attributes, f.View("Span.attributes"));
        break;
      case 11:
        span.events.push_back(DecodeEvent(f.View("Span.events")));
        break;
      case 15: {
        Fields status(f.View("Span.status"));
        while (status.Next()) {
          if (status.number() == 2)
            span.status_message = status.Bytes("Status.message");
          else if (status.number() == 3)
            span.status_code = static_cast<int>(status.Varint("Status.code"));
          else
            status.Skip();
        }
        break;
      }
      default:
        f.Skip();
    }
  }
  return span;
}

// --- JSON -------------------------------------------------------------------

// The member named `camel` or `snake`, or null.
const Json* Member(const Json& object, const char* camel, const char* snake) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(camel);
  if (it == object.end()) it = object.find(snake);
  return it == object.end() ? nullptr : &*it;
}

const Json& Items(const Json& object, const char* camel, const char* snake, const char* what) {
  static const Json kEmpty = Json::array();
  const Json* list = Member(object, camel, snake);
  if (list == nullptr || list->is_null()) return kEmpty;
  if (!list->is_array()) Invalid(std::string(what) + " is not a list");
  return *list;
}

uint64_t JsonUint(const Json* value, const char* what) {
  if (value == nullptr || value->is_null()) return 0;
  if (value->is_number_unsigned()) return value->get<uint64_t>();
  if (value->is_number_integer() && value->get<int64_t>() >= 0) return value->get<uint64_t>();
  if (value->is_string()) {
    const std::string& s = value->get_ref<const std::string&>();
    if (!s.empty() && s.size() <= 20 &&
        std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      try {
        return std::stoull(s);
      } catch (const std::exception&) {
      }
    }
  }
  Invalid(std::string(what) + " is not a non-negative integer");
}

// OTLP JSON ids are hex; base64 (proto JSON's own bytes form) is taken too.
std::string JsonId(const Json* value, size_t bytes, const char* what) {
  if (value == nullptr || value->is_null()) return "";
  if (!value->is_string()) Invalid(std::string(what) + " is not a string");
  const std::string& text = value->get_ref<const std::string&>();
  if (text.empty()) return "";
  if (text.size() == 2 * bytes && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isxdigit(static_cast<unsigned char>(c)) != 0;
      })) {
    std::string out;
    for (size_t i = 0; i < text.size(); i += 2)
      out.push_back(static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16)));
    return out;
  }
  if (auto decoded = Base64Decode(text); decoded && decoded->size() == bytes) return *decoded;
  Invalid(std::string(what) + " '" + text.substr(0, 64) + "' is not " + std::to_string(bytes) +
          " bytes in hex");
}

Json JsonAnyValue(const Json& v, int depth);

Attributes JsonAttributes(const Json& list, int depth) {
  Attributes out;
  if (list.is_null()) return out;
  if (!list.is_array()) Invalid("attributes is not a list");
  for (const Json& kv : list) {
    const Json* key = Member(kv, "key", "key");
    if (key == nullptr || !key->is_string()) Invalid("an attribute has no key");
    const Json* value = Member(kv, "value", "value");
    out.emplace_back(key->get<std::string>(),
                     value ? JsonAnyValue(*value, depth + 1) : Json(nullptr));
  }
  return out;
}

Json JsonAnyValue(const Json& v, int depth) {
  if (depth > kMaxValueDepth)
    Invalid("attribute values nest deeper than " + std::to_string(kMaxValueDepth) + " levels");
  if (!v.is_object()) Invalid("an attribute value is not an AnyValue object");
  if (const Json* s = Member(v, "stringValue", "string_value")) return *s;
  if (const Json* b = Member(v, "boolValue", "bool_value")) return *b;
  if (const Json* i = Member(v, "intValue", "int_value")) {
    if (i->is_number_integer()) return *i;
    if (i->is_string()) {
      try {
        size_t used = 0;
        const int64_t n = std::stoll(i->get<std::string>(), &used);
        if (used == i->get<std::string>().size()) return n;
      } catch (const std::exception&) {
      }
    }
    Invalid("intValue is not an integer");
  }
  if (const Json* d = Member(v, "doubleValue", "double_value")) return *d;
  if (const Json* a = Member(v, "arrayValue", "array_value")) {
    Json out = Json::array();
    for (const Json& item : Items(*a, "values", "values", "arrayValue.values"))
      out.push_back(JsonAnyValue(item, depth + 1));
    return out;
  }
  if (const Json* kv = Member(v, "kvlistValue", "kvlist_value")) {
    Json out = Json::object();
    for (auto& [key, value] :
         JsonAttributes(Items(*kv, "values", "values", "kvlistValue.values"), depth))
      out[key] = std::move(value);
    return out;
  }
  if (const Json* bytes = Member(v, "bytesValue", "bytes_value")) return *bytes;
  return nullptr;
}

int JsonStatusCode(const Json* code) {
  if (code == nullptr || code->is_null()) return 0;
  if (code->is_number_integer()) return static_cast<int>(code->get<int64_t>());
  if (code->is_string()) {
    const std::string& name = code->get_ref<const std::string&>();
    if (name == "STATUS_CODE_OK") return 1;
    if (name == "STATUS_CODE_ERROR") return 2;
    if (name == "STATUS_CODE_UNSET") return 0;
  }
  Invalid("status.code is not a status code");
}

// --- Out ----------------------------------------------------------------

Json AnyValueJson(const Json& v) {
  if (v.is_string()) return {{"string_value", v}};
  if (v.is_boolean()) return {{"bool_value", v}};
  if (v.is_number_integer()) return {{"int_value", v}};
  if (v.is_number()) return {{"double_value", v}};
  if (v.is_array()) {
    Json values = Json::array();
    for (const Json& item : v) values.push_back(AnyValueJson(item));
    return {{"array_value", {{"values", std::move(values)}}}};
  }
  if (v.is_object()) {
    Json values = Json::array();
    for (const auto& [key, item] : v.items())
      values.push_back({{"key", key}, {"value", AnyValueJson(item)}});
    return {{"kvlist_value", {{"values", std::move(values)}}}};
  }
  return Json::object();
}

}  // namespace

OtelBatch DecodeOtlpProtobuf(std::string_view body) {
  OtelBatch batch;
  Fields request(body);
  while (request.Next()) {
    if (request.number() != 1) {
      request.Skip();
      continue;
    }
    const size_t resource = batch.resources.size();
    batch.resources.emplace_back();
    Fields resource_spans(request.View("ExportTraceServiceRequest.resource_spans"));
    while (resource_spans.Next()) {
      if (resource_spans.number() == 1) {
        Fields r(resource_spans.View("ResourceSpans.resource"));
        while (r.Next()) {
          if (r.number() == 1)
            AddAttribute(batch.resources[resource], r.View("Resource.attributes"));
          else
            r.Skip();
        }
      } else if (resource_spans.number() == 2) {
        Fields scope(resource_spans.View("ResourceSpans.scope_spans"));
        while (scope.Next()) {
          if (scope.number() == 2)
            batch.spans.push_back(DecodeSpan(scope.View("ScopeSpans.spans"), resource));
          else
            scope.Skip();
        }
      } else {
        resource_spans.Skip();
      }
    }
  }
  return batch;
}

OtelBatch DecodeOtlpJson(std::string_view body) {
  const Json root = Json::parse(body, nullptr, false);
  if (root.is_discarded() || !root.is_object()) Invalid("the body is not a JSON object");
  OtelBatch batch;
  for (const Json& rs : Items(root, "resourceSpans", "resource_spans", "resourceSpans")) {
    const size_t resource = batch.resources.size();
    if (const Json* r = Member(rs, "resource", "resource"))
      batch.resources.push_back(JsonAttributes(
          r->is_object() && r->contains("attributes") ? (*r)["attributes"] : Json(nullptr), 0));
    else
      batch.resources.emplace_back();
    for (const Json& ss : Items(rs, "scopeSpans", "scope_spans", "scopeSpans")) {
      for (const Json& s : Items(ss, "spans", "spans", "spans")) {
        if (!s.is_object()) Invalid("a span is not an object");
        OtelSpan span;
        span.resource = resource;
        span.trace_id = JsonId(Member(s, "traceId", "trace_id"), 16, "traceId");
        span.span_id = JsonId(Member(s, "spanId", "span_id"), 8, "spanId");
        span.parent_span_id =
            JsonId(Member(s, "parentSpanId", "parent_span_id"), 8, "parentSpanId");
        if (const Json* name = Member(s, "name", "name"); name && name->is_string())
          span.name = name->get<std::string>();
        span.start_ns =
            JsonUint(Member(s, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano");
        span.end_ns =
            JsonUint(Member(s, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano");
        if (const Json* attributes = Member(s, "attributes", "attributes"))
          span.attributes = JsonAttributes(*attributes, 0);
        for (const Json& e : Items(s, "events", "events", "events")) {
          OtelEvent event;
          if (const Json* name = Member(e, "name", "name"); name && name->is_string())
            event.name = name->get<std::string>();
          event.time_ns = JsonUint(Member(e, "timeUnixNano", "time_unix_nano"), "timeUnixNano");
          if (const Json* attributes = Member(e, "attributes", "attributes"))
            event.attributes = JsonAttributes(*attributes, 0);
          span.events.push_back(std::move(event));
        }
        if (const Json* status = Member(s, "status", "status"); status && status->is_object()) {
          span.status_code = JsonStatusCode(Member(*status, "code", "code"));
          if (const Json* message = Member(*status, "message", "message");
              message && message->is_string())
            span.status_message = message->get<std::string>();
        }
        batch.spans.push_back(std::move(span));
      }
    }
  }
  return batch;
}

Json SpanToOtelJson(const tracing::Span& span) {
  const Json dict = Json::parse(span.content, nullptr, false);
  if (!dict.is_object()) throw Error(ErrorCode::kInternalError, "a stored span is not JSON");
  Json out = Json::object();
  out["trace_id"] = dict.value("trace_id", "");
  out["span_id"] = dict.value("span_id", "");
  if (dict.contains("parent_span_id") && dict["parent_span_id"].is_string())
    out["parent_span_id"] = dict["parent_span_id"];
  out["name"] = dict.value("name", "");
  out["start_time_unix_nano"] = span.start_ns;
  if (span.end_ns != 0) out["end_time_unix_nano"] = span.end_ns;
  Json attributes = Json::array();
  if (dict.contains("attributes") && dict["attributes"].is_object()) {
    for (const auto& [key, text] : dict["attributes"].items()) {
      Json value = text.is_string() ? Json::parse(text.get<std::string>(), nullptr, false) : text;
      if (value.is_discarded()) value = text;  // not JSON text: the string itself
      attributes.push_back({{"key", key}, {"value", AnyValueJson(value)}});
    }
  }
  out["attributes"] = std::move(attributes);
  if (dict.contains("events") && dict["events"].is_array() && !dict["events"].empty()) {
    Json events = Json::array();
    for (const Json& e : dict["events"]) {
      Json event = {{"name", e.value("name", "")}};
      if (e.contains("time_unix_nano")) event["time_unix_nano"] = e["time_unix_nano"];
      Json attrs = Json::array();
      if (e.contains("attributes") && e["attributes"].is_object())
        for (const auto& [key, value] : e["attributes"].items())
          attrs.push_back({{"key", key}, {"value", AnyValueJson(value)}});
      if (!attrs.empty()) event["attributes"] = std::move(attrs);
      events.push_back(std::move(event));
    }
    out["events"] = std::move(events);
  }
  Json status = Json::object();
  if (dict.contains("status") && dict["status"].is_object()) {
    const std::string code = dict["status"].value("code", "STATUS_CODE_UNSET");
    const std::string message = dict["status"].value("message", "");
    if (code != "STATUS_CODE_UNSET") status["code"] = code;
    if (!message.empty()) status["message"] = message;
  }
  out["status"] = std::move(status);
  return out;
}

}  // namespace slipway::http
