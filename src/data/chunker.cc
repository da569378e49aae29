#include "data/chunker.h"

#include <algorithm>
#include <array>
#include <bit>
#include <string>

#include "core/error.h"

namespace slipway::data {
namespace {

// The Gear table: 256 random 64-bit values, one per byte value. It is
// generated here with SplitMix64 from a fixed seed rather than pasted as 256
// constants, so that it is reproducible and reviewable; it must never change
// (see chunker.h: boundaries are part of the store format), which the tests
// pin by checking known boundaries. SplitMix64 passes BigCrush and is the
// usual seeder for xoshiro; any good mix of the 64 bits works for Gear.
constexpr uint64_t kGearSeed = 0x736c69707761792dULL;  // "slipway-"

constexpr std::array<uint64_t, 256> MakeGearTable() {
  std::array<uint64_t, 256> table{};
  uint64_t state = kGearSeed;
  for (auto& entry : table) {
    state += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    entry = z ^ (z >> 31);
  }
  return table;
}

constexpr std::array<uint64_t, 256> kGear = MakeGearTable();

// A mask of `bits` one bits spread over the top 48 bits of the hash. After
// `hash = (hash << 1) + gear[byte]`, bit k of the hash depends on the last
// k + 1 bytes only, so the high bits see a window of up to 64 bytes; spreading
// the mask bits (as the FastCDC paper does) keeps the cut condition from
// depending on the last few bytes alone.
constexpr uint64_t SpreadMask(int bits) {
  uint64_t mask = 0;
  for (int i = 0; i < bits; ++i) mask |= uint64_t{1} << (63 - (i * 48) / bits);
  return mask;
}

constexpr size_t kLargestMaxSize = size_t{64} << 20;

[[noreturn]] void RejectOptions(const std::string& what) {
  ThrowInvalid("invalid chunker options: " + what);
}

}  // namespace

void Chunker::Options::Validate() const {
  if (min_size < 64) {
    RejectOptions("min_size is " + std::to_string(min_size) + ", it must be at least 64");
  }
  if (!std::has_single_bit(avg_size)) {
    RejectOptions("avg_size is " + std::to_string(avg_size) + ", it must be a power of two");
  }
  if (avg_size < min_size) {
    RejectOptions("avg_size (" + std::to_string(avg_size) + ") is smaller than min_size (" +
                  std::to_string(min_size) + ")");
  }
  if (max_size < avg_size) {
    RejectOptions("max_size (" + std::to_string(max_size) + ") is smaller than avg_size (" +
                  std::to_string(avg_size) + ")");
  }
  if (max_size > kLargestMaxSize) {
    RejectOptions("max_size is " + std::to_string(max_size) + ", it must be at most " +
                  std::to_string(kLargestMaxSize));
  }
}

Chunker::Chunker() : Chunker(Options()) {}

Chunker::Chunker(const Options& options) : options_(options) {
  options_.Validate();
  // Normalized chunking level 2: two bits more than log2(avg_size) before
  // avg_size, two fewer after it. This narrows the spread of chunk sizes
  // around avg_size.
  int bits = std::countr_zero(options_.avg_size);
  mask_small_ = SpreadMask(std::min(bits + 2, 48));
  mask_large_ = SpreadMask(std::max(bits - 2, 1));
}

void Chunker::Feed(std::span<const uint8_t> data, std::vector<uint64_t>* cuts) {
  const uint8_t* bytes = data.data();
  const size_t n = data.size();
  const size_t min_size = options_.min_size;
  const size_t normal_size = options_.avg_size;
  const size_t max_size = options_.max_size;
  size_t length = chunk_length_;
  uint64_t hash = hash_;
  size_t i = 0;
  while (i < n) {
    if (length < min_size) {
      // Bytes before min_size are never hashed (FastCDC's cut-point skipping).
      size_t skip = std::min(min_size - length, n - i);
      i += skip;
      length += skip;
      continue;
    }
    bool cut = false;
    size_t j = i;
    if (length < normal_size) {
      const size_t end = i + std::min(normal_size - length, n - i);
      const uint64_t mask = mask_small_;
      while (j < end) {
        hash = (hash << 1) + kGear[bytes[j++]];
        if ((hash & mask) == 0) {
          cut = true;
          break;
        }
      }
      length += j - i;
    } else {
      const size_t end = i + std::min(max_size - length, n - i);
      const uint64_t mask = mask_large_;
      while (j < end) {
        hash = (hash << 1) + kGear[bytes[j++]];
        if ((hash & mask) == 0) {
          cut = true;
          break;
        }
      }
      length += j - i;
      if (length == max_size) cut = true;
    }
    i = j;
    if (cut) {
      cuts->push_back(offset_ + i);
      length = 0;
      hash = 0;
    }
  }
  offset_ += n;
  chunk_length_ = length;
  hash_ = hash;
}

void Chunker::Finish(std::vector<uint64_t>* cuts) {
  if (chunk_length_ > 0) cuts->push_back(offset_);
  chunk_length_ = 0;
  hash_ = 0;
  offset_ = 0;
}

std::vector<ChunkSpan> ChunkAll(std::span<const uint8_t> data, const Chunker::Options& options) {
  Chunker chunker(options);
  std::vector<uint64_t> cuts;
  chunker.Feed(data, &cuts);
  chunker.Finish(&cuts);
  std::vector<ChunkSpan> chunks;
  chunks.reserve(cuts.size());
  uint64_t start = 0;
  for (uint64_t cut : cuts) {
    chunks.push_back({start, cut - start});
    start = cut;
  }
  return chunks;
}

}  // namespace slipway::data
