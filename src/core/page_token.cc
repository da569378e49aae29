#include "core/page_token.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/base64.h"
#include "core/error.h"

namespace slipway {
namespace {

std::string Printable(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

// An optionally signed decimal integer of at most 18 digits (fits int64).
bool IsInteger(std::string_view s) {
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  if (s.empty() || s.size() > 18) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

std::string EncodePageToken(int64_t offset) {
  return Base64Encode("{\"offset\": " + std::to_string(offset) + "}");
}

int64_t DecodePageToken(std::string_view token) {
  if (token.empty()) return 0;
  const auto decoded = Base64Decode(token);
  if (!decoded) ThrowInvalid("Invalid page token, could not base64-decode");
  const auto json = nlohmann::json::parse(*decoded, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    ThrowInvalid("Invalid page token, decoded value=" + Printable(*decoded));
  }
  const auto it = json.find("offset");
  std::optional<int64_t> offset;
  if (it != json.end()) {
    if (it->is_number_integer()) {
      offset = it->get<int64_t>();
    } else if (it->is_string() && IsInteger(it->get<std::string>())) {
      offset = std::stoll(it->get<std::string>());
    }
  }
  if (!offset || *offset < 0) ThrowInvalid("Invalid page token, parsed value=" + json.dump());
  return *offset;
}

}  // namespace slipway
