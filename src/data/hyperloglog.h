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
#include <string>
#include <string_view>
#include <vector>

namespace slipway::data {

// A 64-bit hash of `bytes` in the style of wyhash (Wang Yi, final version 4;
// public domain), reimplemented here because libxxhash-dev is not among the
// project's Debian packages. Fast (one 64x64->128 multiply per 16 bytes) and
// well mixed in every output bit, which HyperLogLog relies on. Stable across
// platforms and releases: serialized sketches depend on it, so changing it
// requires a new sketch format version.
uint64_t HashBytes(std::string_view bytes, uint64_t seed = 0);

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

}  // namespace slipway::data
