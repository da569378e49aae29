// The most frequent values of a stream of strings (top-k categories).
//
// FrequentItems is a Misra-Gries summary with the batched purge of Agarwal et
// al., "Mergeable Summaries" (2012) and DataSketches' frequent items sketch.
// It keeps at most `capacity` counters. A value's counter counts its
// occurrences since it was last (re)admitted. When a new value would be the
// (capacity+1)-th counter, the median counter value m is subtracted from
// every counter, counters that reach 0 are dropped, and m is added to
// `max_error()`. Guarantees, for every value x with true count f(x):
//
//   LowerBound(x) = counter(x)            <= f(x)
//   UpperBound(x) = counter(x) + max_error >= f(x)
//   max_error <= 2 * total() / (capacity + 1)
//
// (a value without a counter has counter 0). As long as at most `capacity`
// distinct values have been seen, nothing is ever purged: max_error() is 0 and
// all counts are exact. Any value with f(x) > max_error is guaranteed to be
// tracked. Merging two summaries keeps these guarantees for the combined
// stream. Memory: `capacity` counters plus at most about twice the bytes of
// their values (and 4 KiB), and an index of 8 to 16 bytes per counter.
// AddBatch (below) uses 3 KiB of stack and an 8 KiB table per thread.
//
// AddBatch() counts up to kMaxBatch values at once, then, if more than
// `capacity` counters exist, subtracts the (capacity+1)-th largest counter t
// from every counter, drops those that reach 0 and adds t to max_error()
// (the merge step of Agarwal et al.). That takes at least t from each of
// capacity + 1 counters, so the guarantees above hold (and max_error <=
// total() / (capacity + 1) if every value came in such batches), and counts
// stay exact while at most `capacity` distinct values have been seen. For
// streams of mostly distinct values it is much cheaper than Add(): a value
// that does not survive its batch's purge never gets a counter, nor are its
// bytes copied. (Batches of fewer than capacity / 4 values are added one by
// one, as by Add.) The result may differ from adding the same values one by
// one (purges happen at other times), within the same guarantees.
//
// Not thread-safe for writes; const methods may run concurrently.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/hyperloglog.h"

namespace slipway::data {

class FrequentItems {
 public:
  static constexpr int kDefaultCapacity = 64;
  static constexpr int kMaxCapacity = 65534;
  // Values per purge in AddBatch (larger batches are cut into these).
  static constexpr size_t kMaxBatch = 256;
  // Above this capacity, AddBatch adds the values one by one.
  static constexpr int kMaxBatchCapacity = 256;

  // Throws INVALID_PARAMETER_VALUE if capacity is outside [2, kMaxCapacity].
  explicit FrequentItems(int capacity = kDefaultCapacity);

  int capacity() const { return capacity_; }
  // Sum of all counts added.
  int64_t total() const { return total_; }
  // Bound on how much any count may be under-estimated (see above).
  int64_t max_error() const { return offset_; }
  // True while every count is exact (no purge has happened).
  bool exact() const { return offset_ == 0; }
  // Number of values currently tracked.
  size_t size() const { return entries_.size(); }

  void Add(std::string_view value, int64_t count = 1) { AddHashed(value, HashBytes(value), count); }
  // As Add, with `hash` = HashBytes(value) computed by the caller.
  void AddHashed(std::string_view value, uint64_t hash, int64_t count = 1) {
    if (count <= 0) return;
    total_ += count;
    // Fast path: the value sits in its home slot (the common case for
    // repeated categories).
    const uint32_t slot = slots_[hash & (slots_.size() - 1)];
    if ((slot >> 16) == generation_) {
      Entry& e = entries_[slot & 0xFFFF];
      if (e.hash == hash && SameBytes(KeyOf(e), value)) {
        e.count += count;
        return;
      }
    }
    Insert(value, hash, count);
  }

  // Adds values[i], whose hash is hashes[i] = HashBytes(values[i]), for every
  // i (see the file comment). The spans must have the same size; the values
  // need to stay valid only during the call.
  void AddBatch(std::span<const std::string_view> values, std::span<const uint64_t> hashes);

  // Hints the CPU to load the index slot AddHashed(..., hash) will look at.
  void Prefetch(uint64_t hash) const {
    __builtin_prefetch(slots_.data() + (hash & (slots_.size() - 1)));
  }

  // Adds `other`'s stream. Capacities must match (else INVALID_PARAMETER_VALUE).
  void Merge(const FrequentItems& other);

  struct Item {
    std::string value;
    int64_t lower_bound = 0;  // counted occurrences: a guaranteed minimum
    int64_t upper_bound = 0;  // lower_bound + max_error(): a guaranteed maximum
  };
  // The tracked values with the largest lower bounds, at most `limit`, sorted
  // by lower bound descending, then by value ascending.
  std::vector<Item> Top(size_t limit) const;
  // Bounds for one value (lower bound 0 if it is not tracked).
  Item Lookup(std::string_view value) const;

  std::string Serialize() const;
  // Throws INVALID_PARAMETER_VALUE on malformed input.
  static FrequentItems Deserialize(std::string_view bytes);

 private:
  struct Entry {
    uint64_t hash;
    uint64_t key_offset;  // into keys_
    uint32_t key_size;
    int64_t count;
  };
  std::string_view KeyOf(const Entry& e) const { return {keys_.data() + e.key_offset, e.key_size}; }
  // Inline equality for the short values typical of categories (memcmp is a
  // library call).
  static bool SameBytes(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    const char* p = a.data();
    const char* q = b.data();
    size_t n = a.size();
    for (; n >= 8; n -= 8, p += 8, q += 8) {
      uint64_t x;
      uint64_t y;
      std::memcpy(&x, p, 8);
      std::memcpy(&y, q, 8);
      if (x != y) return false;
    }
    for (; n > 0; --n) {
      if (*p++ != *q++) return false;
    }
    return true;
  }
  int FindSlot(std::string_view value, uint64_t hash) const;
  void Insert(std::string_view value, uint64_t hash, int64_t count);
  void PurgeIfFull();
  // One AddBatch chunk of at most batch_limit_ values.
  void AddChunk(std::span<const std::string_view> values, std::span<const uint64_t> hashes);
  // Subtracts `m` from every counter and drops those that reach 0.
  void Subtract(int64_t m);
  // Rewrites keys_ without the bytes of dropped values, if they are most of it.
  void CompactKeys();
  void RebuildIndex();

  int capacity_;
  // Values per AddBatch chunk: kMaxBatch, or 0 (one by one) above
  // kMaxBatchCapacity.
  size_t batch_limit_;
  // Slots of the table that counts one AddBatch chunk.
  static constexpr size_t kChunkTableSize = 2048;
  int64_t total_ = 0;
  int64_t offset_ = 0;
  std::vector<Entry> entries_;  // at most capacity_ + 1
  // Bytes of the tracked values, and of dropped ones until those are most of
  // it (then a purge compacts it).
  std::string keys_;
  // Open-addressing index into entries_: generation << 16 | entry index; a
  // slot of another generation than generation_ is empty.
  std::vector<uint32_t> slots_;
  uint32_t generation_ = 1;
  // Reused by purges, so that a purge allocates nothing once warmed up.
  std::vector<int64_t> purge_counts_;
  std::string purge_keys_;
};

}  // namespace slipway::data
