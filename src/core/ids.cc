#include "core/ids.h"

#include <openssl/rand.h>

#include <array>

#include "core/error.h"
#include "core/sha256.h"

namespace slipway {
namespace {

std::string RandomHex32() {
  std::array<unsigned char, 16> bytes;
  if (RAND_bytes(bytes.data(), bytes.size()) != 1) {
    throw Error(ErrorCode::kInternalError, "the system random number generator failed");
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x40;  // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80;  // RFC 4122 variant
  return ToHex(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace

std::string NewRunId() { return RandomHex32(); }

std::string NewModelId() { return "m-" + RandomHex32(); }

std::string NewAssessmentId() { return "a-" + RandomHex32(); }

std::string NewEvaluationDatasetId() { return "d-" + RandomHex32(); }

std::string NewDatasetRecordId() { return "dr-" + RandomHex32(); }

std::string NewIssueId() { return "iss-" + RandomHex32(); }

std::string NewUuid() {
  std::string hex = RandomHex32();
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

}  // namespace slipway
