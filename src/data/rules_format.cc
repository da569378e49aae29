#include "data/rules_format.h"

#include <charconv>
#include <cstdio>

namespace slipway::data::rules_internal {

// Shortest text that parses back to the same double.
std::string FormatNumber(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string FormatShare(double share) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g%%", share * 100);
  return buffer;
}

std::string FormatMetric(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", value);
  return buffer;
}

// A value quoted for a message: control characters escaped, long texts cut.
std::string Quote(std::string_view text, size_t limit) {
  std::string out = "'";
  for (unsigned char c : text.substr(0, limit)) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > limit) out += "...";
  return out + "'";
}

std::string Bounds(const std::optional<double>& min, const std::optional<double>& max) {
  if (min && max) return "[" + FormatNumber(*min) + ", " + FormatNumber(*max) + "]";
  if (min) return ">= " + FormatNumber(*min);
  return "<= " + FormatNumber(*max);
}

std::string Bounds(const std::optional<int64_t>& min, const std::optional<int64_t>& max) {
  if (min && max) return "[" + std::to_string(*min) + ", " + std::to_string(*max) + "]";
  if (min) return ">= " + std::to_string(*min);
  return "<= " + std::to_string(*max);
}

}  // namespace slipway::data::rules_internal
