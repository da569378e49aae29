// Secrets at rest and on the wire: password hashes and API tokens.
//
// Passwords are stored as salted PBKDF2-HMAC-SHA256 hashes (OWASP's 2023
// figure of 600,000 iterations) in the self-describing form
// "pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>", so the work factor can
// be raised later without invalidating old hashes. API tokens carry 256
// random bits, so one salted SHA-256 protects them at rest: a slow hash adds
// nothing against guessing a secret that large. Every comparison of secrets
// runs in constant time (CRYPTO_memcmp).
//
// All functions are thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace slipway::governance {

inline constexpr int kPasswordIterations = 600000;

std::string HashPassword(std::string_view password, int iterations = kPasswordIterations);
// False for a wrong password or a malformed hash; never throws on either.
bool VerifyPassword(std::string_view password, const std::string& encoded_hash);

// A freshly issued API token: `token` is shown to its owner once and never
// stored; `id` is its public half, `salt` and `secret_hash` what the store keeps.
struct IssuedToken {
  std::string id;           // 16 hex digits, also the token's prefix
  std::string token;        // "slw_<id>_<43 characters of base64url secret>"
  std::string salt;         // hex
  std::string secret_hash;  // hex SHA-256 of salt || secret
};
IssuedToken IssueToken();

// Splits a presented token into its id and secret; false if it does not have
// the form IssueToken gives.
bool ParseToken(std::string_view token, std::string* id, std::string* secret);
// Whether `secret` hashes with `salt` to `secret_hash` (constant time).
bool VerifyTokenSecret(std::string_view secret, const std::string& salt,
                       const std::string& secret_hash);

// Constant-time equality of two byte strings of any lengths.
bool SecretsEqual(std::string_view a, std::string_view b);

// `count` random bytes from OpenSSL's CSPRNG.
std::string RandomBytes(size_t count);

}  // namespace slipway::governance
