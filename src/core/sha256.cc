#include "core/sha256.h"

#include <openssl/evp.h>

#include "core/error.h"

namespace slipway {
namespace {

const EVP_MD* Sha256Algorithm() {
  // Fetched once: an implicit fetch on every init costs more than hashing a
  // small chunk. Never freed (it lives as long as the process).
  static const EVP_MD* algorithm = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (algorithm == nullptr) throw Error(ErrorCode::kInternalError, "OpenSSL provides no SHA-256");
  return algorithm;
}

}  // namespace

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (context_ == nullptr || EVP_DigestInit_ex2(context_, Sha256Algorithm(), nullptr) != 1) {
    EVP_MD_CTX_free(context_);
    throw Error(ErrorCode::kInternalError, "cannot initialise SHA-256");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(context_); }

void Sha256::Update(const void* data, size_t size) {
  if (size > 0 && EVP_DigestUpdate(context_, data, size) != 1) {
    throw Error(ErrorCode::kInternalError, "SHA-256 update failed");
  }
}

Sha256::Digest Sha256::Finish() {
  Digest digest;
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context_, digest.data(), &length) != 1 || length != digest.size() ||
      EVP_DigestInit_ex2(context_, Sha256Algorithm(), nullptr) != 1) {
    throw Error(ErrorCode::kInternalError, "SHA-256 finish failed");
  }
  return digest;
}

Sha256::Digest Sha256::Of(std::string_view data) {
  Sha256 hasher;
  hasher.Update(data.data(), data.size());
  return hasher.Finish();
}

std::string Sha256::Hex(std::string_view data) { return ToHex(Of(data)); }

std::string ToHex(const Sha256::Digest& digest) {
  return ToHex(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(2 * bytes.size(), '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    hex[2 * i] = kDigits[byte >> 4];
    hex[2 * i + 1] = kDigits[byte & 0xf];
  }
  return hex;
}

}  // namespace slipway
