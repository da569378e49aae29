#include "tracing/span_content.h"

#include <algorithm>
#include <vector>

#include "core/base64.h"

namespace slipway::tracing {
namespace {

using Json = nlohmann::json;

// The length of the valid UTF-8 sequence starting at text[i] (RFC 3629: no
// overlong forms, no surrogates, at most U+10FFFF), or 0.
size_t Utf8Length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // the bounds of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return n;
}

// A value as MLflow keeps attribute values: its JSON text.
void AppendDumped(std::string& out, const Json& value, std::string& scratch) {
  scratch.clear();
  if (value.is_string()) {
    AppendJsonString(scratch, value.get_ref<const std::string&>());
  } else {
    scratch = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  AppendJsonString(out, scratch);
}

// The attributes in key order, a repeated key's last value, as a JSON
// object whose values `write` appends.
template <typename Write>
void AppendAttributes(std::string& out, const Attributes& attributes, Write write) {
  std::vector<const std::pair<std::string, Json>*> sorted;
  sorted.reserve(attributes.size());
  for (const auto& kv : attributes) sorted.push_back(&kv);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto* a, const auto* b) { return a->first < b->first; });
  out += '{';
  bool first = true;
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i + 1 < sorted.size() && sorted[i + 1]->first == sorted[i]->first) continue;
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, sorted[i]->first);
    out += ':';
    write(sorted[i]->second);
  }
  out += '}';
}

const char* StatusCodeName(int code) {
  switch (code) {
    case 1:
      return "STATUS_CODE_OK";
    case 2:
      return "STATUS_CODE_ERROR";
    default:
      return "STATUS_CODE_UNSET";
  }
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  const size_t start = out.size();
  out += '"';
  size_t i = 0;
  while (i < text.size()) {
    // The run of bytes that need no escape, appended at once.
    size_t plain = i;
    while (plain < text.size()) {
      const unsigned char c = static_cast<unsigned char>(text[plain]);
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
      ++plain;
    }
    out.append(text.data() + i, plain - i);
    i = plain;
    if (i == text.size()) break;
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t n = Utf8Length(text, i);
      if (n == 0) {
        // Rare: nlohmann's replacement of invalid UTF-8, exactly.
        out.resize(start);
        out += Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
        return;
      }
      out.append(text.data() + i, n);
      i += n;
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
    ++i;
  }
  out += '"';
}

std::string SpanContent(const OtelSpan& span, const std::string& trace_id) {
  std::string out;
  size_t estimate = 512 + span.name.size();
  for (const auto& [key, value] : span.attributes)
    estimate += key.size() + 16 +
                (value.is_string() ? value.get_ref<const std::string&>().size() * 5 / 4 : 32);
  out.reserve(estimate);
  std::string scratch;

  // Keys in nlohmann's (sorted) order.
  out += "{\"attributes\":";
  Attributes attributes;
  attributes.reserve(span.attributes.size() + 1);
  for (const auto& kv : span.attributes)
    if (kv.first != "mlflow.traceRequestId") attributes.push_back(kv);
  attributes.emplace_back("mlflow.traceRequestId", Json(trace_id));
  AppendAttributes(out, attributes, [&](const Json& value) { AppendDumped(out, value, scratch); });
  out += ",\"end_time_unix_nano\":";
  out += span.end_ns == 0 ? "null" : std::to_string(span.end_ns);
  out += ",\"events\":[";
  for (size_t i = 0; i < span.events.size(); ++i) {
    const OtelEvent& event = span.events[i];
    out += i ? ",{\"attributes\":" : "{\"attributes\":";
    AppendAttributes(out, event.attributes, [&](const Json& value) {
      out += value.dump(-1, ' ', false, Json::error_handler_t::replace);
    });
    out += ",\"name\":";
    AppendJsonString(out, event.name);
    out += ",\"time_unix_nano\":";
    out += std::to_string(event.time_ns);
    out += '}';
  }
  out += "],\"links\":[],\"name\":";
  AppendJsonString(out, span.name);
  out += ",\"parent_span_id\":";
  if (span.parent_span_id.empty())
    out += "null";
  else
    AppendJsonString(out, Base64Encode(span.parent_span_id));
  out += ",\"span_id\":";
  AppendJsonString(out, Base64Encode(span.span_id));
  out += ",\"start_time_unix_nano\":";
  out += std::to_string(span.start_ns);
  out += ",\"status\":{\"code\":\"";
  out += StatusCodeName(span.status_code);
  out += "\",\"message\":";
  AppendJsonString(out, span.status_message);
  out += "},\"trace_id\":";
  AppendJsonString(out, Base64Encode(span.trace_id));
  out += '}';
  return out;
}

}  // namespace slipway::tracing
