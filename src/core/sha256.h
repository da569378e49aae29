// SHA-256 (FIPS 180-4) and lowercase hex, the form digests are written in.
//
// One implementation for every subsystem that hashes: content addresses of
// dataset chunks and manifests, pack index checksums, the audit hash chain,
// request digests, API token hashes. OpenSSL's EVP interface underneath (its
// assembly uses the CPU's SHA extensions where there are any).
//
// Sha256 is an incremental hasher: not thread-safe, one per stream. The free
// and static functions are thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace slipway {

class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  // The digest of everything updated since construction or the last Finish;
  // the hasher then starts over.
  Digest Finish();

  // The raw 32-byte digest of a whole buffer.
  static Digest Of(std::string_view data);
  // Lowercase hex of a whole buffer's digest (64 characters).
  static std::string Hex(std::string_view data);

 private:
  EVP_MD_CTX* context_;
};

// 64 lowercase hex digits.
std::string ToHex(const Sha256::Digest& digest);
// Two lowercase hex digits per byte of `bytes`.
std::string ToHex(std::string_view bytes);

}  // namespace slipway
