#include "data/object_bundle.h"

#include <charconv>
#include <cstdint>

#include "core/error.h"
#include "data/content_store.h"

namespace slipway::data {

void AppendToBundle(std::string* bundle, std::string_view digest, std::string_view bytes) {
  bundle->append(digest);
  bundle->push_back(' ');
  bundle->append(std::to_string(bytes.size()));
  bundle->push_back('\n');
  bundle->append(bytes);
}

std::vector<BundleObject> ParseBundle(std::string_view body) {
  std::vector<BundleObject> objects;
  size_t at = 0;
  while (at < body.size()) {
    auto fail = [&](const std::string& why) {
      ThrowInvalid("invalid object bundle: object " + std::to_string(objects.size() + 1) +
                   " (at byte " + std::to_string(at) + "): " + why);
    };
    size_t end = body.find('\n', at);
    // 64 hex digits, a space and at most 20 digits.
    if (end == std::string_view::npos || end - at > 64 + 1 + 20) {
      fail("expected a header line '<sha256> <size>'");
    }
    std::string_view header = body.substr(at, end - at);
    if (header.size() < 66 || header[64] != ' ' || !IsValidDigest(header.substr(0, 64))) {
      fail("the header does not start with 64 lowercase hex digits and a space");
    }
    std::string_view size_text = header.substr(65);
    uint64_t size = 0;
    auto [next, error] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), size);
    if (error != std::errc() || next != size_text.data() + size_text.size()) {
      fail("the size '" + std::string(size_text) + "' is not a decimal number");
    }
    if (size > body.size() - end - 1) {
      fail("it declares " + std::to_string(size) + " bytes but the body ends after " +
           std::to_string(body.size() - end - 1));
    }
    objects.push_back({header.substr(0, 64), body.substr(end + 1, size)});
    at = end + 1 + size;
  }
  return objects;
}

}  // namespace slipway::data
