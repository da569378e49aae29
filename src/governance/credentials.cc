#include "governance/credentials.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <optional>
#include <vector>

#include "core/base64.h"
#include "core/error.h"
#include "core/sha256.h"

namespace slipway::governance {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr size_t kTokenSecretBytes = 32;
constexpr std::string_view kPasswordScheme = "pbkdf2-sha256";
constexpr std::string_view kTokenPrefix = "slw_";

std::string Base64Url(std::string_view bytes) {
  std::string text = Base64Encode(bytes);
  while (!text.empty() && text.back() == '=') text.pop_back();
  for (char& c : text) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return text;
}

std::string Pbkdf2(std::string_view password, std::string_view salt, int iterations) {
  std::string out(kHashBytes, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(out.size()),
                        reinterpret_cast<unsigned char*>(out.data())) != 1) {
    throw Error(ErrorCode::kInternalError, "PBKDF2 failed");
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t at = text.find(separator); at != std::string_view::npos;
       at = text.find(separator, start)) {
    parts.push_back(text.substr(start, at - start));
    start = at + 1;
  }
  parts.push_back(text.substr(start));
  return parts;
}

}  // namespace

std::string RandomBytes(size_t count) {
  std::string out(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) {
    throw Error(ErrorCode::kInternalError, "the random number generator failed");
  }
  return out;
}

bool SecretsEqual(std::string_view a, std::string_view b) {
  // Compare digests so that neither the contents nor the length leak timing.
  Sha256::Digest da = Sha256::Of(a);
  Sha256::Digest db = Sha256::Of(b);
  return CRYPTO_memcmp(da.data(), db.data(), da.size()) == 0;
}

std::string HashPassword(std::string_view password, int iterations) {
  std::string salt = RandomBytes(kSaltBytes);
  return std::string(kPasswordScheme) + "$" + std::to_string(iterations) + "$" +
         Base64Encode(salt) + "$" + Base64Encode(Pbkdf2(password, salt, iterations));
}

bool VerifyPassword(std::string_view password, const std::string& encoded_hash) {
  std::vector<std::string_view> parts = Split(encoded_hash, '$');
  if (parts.size() != 4 || parts[0] != kPasswordScheme) return false;
  int iterations = 0;
  auto [end, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), iterations);
  if (ec != std::errc() || end != parts[1].data() + parts[1].size() || iterations < 1) {
    return false;
  }
  if (parts[2].empty()) return false;  // a hash always has a salt
  std::optional<std::string> salt = Base64Decode(parts[2]);
  std::optional<std::string> expected = Base64Decode(parts[3]);
  if (!salt || !expected || expected->size() != kHashBytes) return false;
  std::string actual = Pbkdf2(password, *salt, iterations);
  return CRYPTO_memcmp(actual.data(), expected->data(), kHashBytes) == 0;
}

IssuedToken IssueToken() {
  IssuedToken issued;
  issued.id = ToHex(RandomBytes(8));
  std::string secret = Base64Url(RandomBytes(kTokenSecretBytes));
  std::string salt = RandomBytes(kSaltBytes);
  issued.token = std::string(kTokenPrefix) + issued.id + "_" + secret;
  issued.salt = ToHex(salt);
  issued.secret_hash = Sha256::Hex(salt + secret);
  return issued;
}

bool ParseToken(std::string_view token, std::string* id, std::string* secret) {
  if (token.substr(0, kTokenPrefix.size()) != kTokenPrefix) return false;
  token.remove_prefix(kTokenPrefix.size());
  constexpr size_t kIdLength = 16;
  if (token.size() <= kIdLength + 1 || token[kIdLength] != '_') return false;
  for (char c : token.substr(0, kIdLength)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  *id = std::string(token.substr(0, kIdLength));
  *secret = std::string(token.substr(kIdLength + 1));
  return true;
}

bool VerifyTokenSecret(std::string_view secret, const std::string& salt,
                       const std::string& secret_hash) {
  if (salt.size() != 2 * kSaltBytes || secret_hash.size() != 2 * kHashBytes) return false;
  std::string salt_bytes;
  for (size_t i = 0; i < salt.size(); i += 2) {
    int value = 0;
    auto [end, ec] = std::from_chars(salt.data() + i, salt.data() + i + 2, value, 16);
    if (ec != std::errc() || end != salt.data() + i + 2) return false;
    salt_bytes.push_back(static_cast<char>(value));
  }
  std::string actual = Sha256::Hex(salt_bytes + std::string(secret));
  return CRYPTO_memcmp(actual.data(), secret_hash.data(), actual.size()) == 0;
}

}  // namespace slipway::governance
