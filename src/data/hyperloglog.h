// Distinct-count estimation: HyperLogLog, and the 64-bit hash the data
// sketches share.
//
// HyperLogLog (Flajolet et al. 2007) keeps 2^p one-byte registers; each
// holds the largest "leading zeros + 1" seen among the hashes routed to it.
// The estimate uses Ertl's improved estimator ("New cardinality estimation
// algorithms for HyperLogLog sketches", 2017), which is unbiased over the
// whole range without empirical bias tables: for small cardinalities it
// reduces to linear counting (m ln(m / empty registers)), which is the
// small-range correction. Relative standard error is ~1.04 / sqrt(2^p):
// 0.81% at the default p = 14 (16 KiB of registers); a few distinct values
// are counted practically exactly. Mergeable: the merge of the sketches of
// two streams is the sketch of their concatenation (register-wise max), so
// merging is exact, associative and commutative.
//
// Not thread-safe for writes; const methods may run concurrently.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::data {

// A 64-bit hash of `bytes` in the style of wyhash (Wang Yi, final version 4;
// public domain), reimplemented here because libxxhash-dev is not among the
// project's Debian packages. Fast (one 64x64->128 multiply per 16 bytes) and
// well mixed in every output bit, which HyperLogLog relies on. Stable across
// platforms and releases: serialized sketches depend on it, so changing it
// requires a new sketch format version. Inline: the data sketches hash every
// value.
inline uint64_t HashBytes(std::string_view bytes, uint64_t seed = 0);

class HyperLogLog {
 public:
  static constexpr int kDefaultPrecision = 14;
  static constexpr int kMinPrecision = 4;
  static constexpr int kMaxPrecision = 18;

  // Throws INVALID_PARAMETER_VALUE if `precision` is outside [4, 18].
  explicit HyperLogLog(int precision = kDefaultPrecision);

  int precision() const { return precision_; }

  void Add(std::string_view value) { AddHash(HashBytes(value)); }
  // Adds a value by its HashBytes() hash (to share one hash among sketches).
  void AddHash(uint64_t hash) {
    const uint32_t index = static_cast<uint32_t>(hash >> (64 - precision_));
    // Rank of the remaining 64 - p bits: leading zeros + 1, at most 65 - p.
    const uint64_t rest = (hash << precision_) | (uint64_t{1} << (precision_ - 1));
    const uint8_t rank = static_cast<uint8_t>(std::countl_zero(rest) + 1);
    if (rank > registers_[index]) registers_[index] = rank;
  }

  // Hints the CPU to load the register AddHash(hash) will update.
  void Prefetch(uint64_t hash) const {
    __builtin_prefetch(registers_.data() + (hash >> (64 - precision_)));
  }

  // Estimated number of distinct values added.
  double Estimate() const;
  // 1.04 / sqrt(2^p): the estimate's relative standard error.
  double RelativeStandardError() const;

  // Adds `other`'s values to this sketch. Throws INVALID_PARAMETER_VALUE if
  // the precisions differ.
  void Merge(const HyperLogLog& other);

  // Compact bytes: a sparse list of non-zero registers when that is smaller
  // (small cardinalities), else 6 bits per register (12 KiB at p = 14).
  std::string Serialize() const;
  // Throws INVALID_PARAMETER_VALUE on malformed input.
  static HyperLogLog Deserialize(std::string_view bytes);

  bool operator==(const HyperLogLog& other) const = default;

 private:
  int precision_;
  std::vector<uint8_t> registers_;
};

// ----- implementation

namespace hash_internal {

inline constexpr uint64_t kSecret[4] = {0x2d358dccaa6c78a5ULL, 0x8bb84b93962eacc9ULL,
                                        0x4b33a62ed433d4a3ULL, 0x4d5a2da51de1aa47ULL};

inline void Mum(uint64_t* a, uint64_t* b) {
  const unsigned __int128 r = static_cast<unsigned __int128>(*a) * *b;
  *a = static_cast<uint64_t>(r);
  *b = static_cast<uint64_t>(r >> 64);
}
inline uint64_t Mix(uint64_t a, uint64_t b) {
  Mum(&a, &b);
  return a ^ b;
}
inline uint64_t Read8(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint64_t Read4(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
// Past 16 bytes (rare in tables of short fields): out of line.
uint64_t HashLong(const unsigned char* p, size_t len, uint64_t seed);

}  // namespace hash_internal

inline uint64_t HashBytes(std::string_view bytes, uint64_t seed) {
  using namespace hash_internal;
  static_assert(std::endian::native == std::endian::little,
                "the hash and the sketch formats read little-endian words");
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t len = bytes.size();
  if (len > 16) return HashLong(p, len, seed);
  seed ^= Mix(seed ^ kSecret[0], kSecret[1]);
  uint64_t a;
  uint64_t b;
  if (len >= 4) {
    a = (Read4(p) << 32) | Read4(p + ((len >> 3) << 2));
    b = (Read4(p + len - 4) << 32) | Read4(p + len - 4 - ((len >> 3) << 2));
  } else if (len > 0) {
    a = (static_cast<uint64_t>(p[0]) << 16) | (static_cast<uint64_t>(p[len >> 1]) << 8) |
        p[len - 1];
    b = 0;
  } else {
    a = b = 0;
  }
  a ^= kSecret[1];
  b ^= seed;
  Mum(&a, &b);
  return Mix(a ^ kSecret[0] ^ len, b ^ kSecret[1]);
}

}  // namespace slipway::data
