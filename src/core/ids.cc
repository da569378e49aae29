#include "core/ids.h"

#include <openssl/rand.h>

#include <array>

#include "core/error.h"

namespace slipway {
namespace {

std::string RandomHex32() {
  std::array<unsigned char, 16> bytes;
  if (RAND_bytes(bytes.data(), bytes.size()) != 1) {
    throw Error(ErrorCode::kInternalError, "the system random number generator failed");
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x40;  // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80;  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string NewRunId() { return RandomHex32(); }

std::string NewModelId() { return "m-" + RandomHex32(); }

}  // namespace slipway
