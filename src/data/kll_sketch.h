// Quantiles of a stream of doubles: the KLL sketch.
//
// KllSketch implements Karnin, Lang and Liberty, "Optimal Quantile
// Approximation in Streams" (FOCS 2016), in the lazy-compaction form of
// Liberty's reference implementation and Apache DataSketches: a stack of
// compactors whose capacities shrink geometrically (factor 2/3) from the top
// level's k, down to a minimum of 8; level h holds items of weight 2^h. When
// the sketch is full, the lowest over-full level is sorted and every other
// item (even or odd positions, by a coin flip) moves up a level with double
// weight. The coin flips come from a seeded generator, so the same input in
// the same order gives the same sketch.
//
// Once the sketch has 8 or more levels (about 25,000 values at k = 200), new
// values go through the sampler of the KLL paper instead of the lowest
// levels: of each block of 2^s consecutive values (s = levels - 7, at most
// 6), one chosen at random enters level s with weight 2^s (the block being
// filled is kept exactly, with weight 1). This replaces sorting most values
// by one comparison each. It adds some variance (see AddLevel for the
// measurement) but stays within the bounds below (the tests check them).
//
// Error: with k = 200 (the default) the normalized rank error is about
// 1.33% for Rank() and 1.65% for differences of ranks (histogram bins), with
// 99% confidence (the bounds DataSketches publishes for this algorithm;
// NormalizedRankError() gives them for other k). That is, Quantile(q) returns
// a value whose true rank is within ~0.0165 of q. min() and max() are exact,
// and the retained weights always sum to exactly count(). Memory: about 3k
// doubles. Merging keeps the same bound for the combined stream.
//
// Not thread-safe for writes; const methods may run concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::data {

class KllSketch {
 public:
  static constexpr int kDefaultK = 200;
  static constexpr uint64_t kDefaultSeed = 0x5d1f'a3c7'0b29'64e1;

  // Throws INVALID_PARAMETER_VALUE if k is outside [8, 65535].
  explicit KllSketch(int k = kDefaultK, uint64_t seed = kDefaultSeed);

  int k() const { return k_; }
  int64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Exact extremes; NaN when empty.
  double min() const;
  double max() const;

  // Adds one value. NaN is ignored (it has no rank).
  void Add(double value) {
    if (value != value) return;
    if (value < min_) min_ = value;
    if (value > max_) max_ = value;
    ++count_;
    if (sample_shift_ == 0) {
      levels_[0].push_back(value);
      if (++retained_ >= capacity_) Compress();
      return;
    }
    block_.push_back(value);
    if (block_.size() == (size_t{1} << sample_shift_)) EmitBlock();
  }

  // Adds values[0], values[1], ... in order: the same sketch as Add() of each,
  // faster (whole sampler blocks are sampled from `values` in place).
  void AddBatch(std::span<const double> values);

  // Adds every value of `other`'s stream. The k values must match unless one
  // sketch is empty (else INVALID_PARAMETER_VALUE); merging into an empty
  // sketch copies `other`, its k and its random state included.
  void Merge(const KllSketch& other);

  // The smallest retained value whose inclusive normalized rank is >= q, for
  // q in [0, 1]; Quantile(0) = min(), Quantile(1) = max(). NaN when empty.
  // Throws INVALID_PARAMETER_VALUE if q is outside [0, 1].
  double Quantile(double q) const;
  std::vector<double> Quantiles(std::span<const double> qs) const;
  // Estimated fraction of values <= x (0 when empty).
  double Rank(double x) const;
  // Rank() at each of `split_points` (which must be ascending).
  std::vector<double> Cdf(std::span<const double> split_points) const;

  // The retained values, ascending, with their weights (which sum to
  // count()): the sketch's approximation of the stream, e.g. for tests of
  // distributions.
  struct WeightedValue {
    double value;
    uint64_t weight;
  };
  std::vector<WeightedValue> SortedView() const;
  // Number of values kept (the sketch's size).
  size_t retained() const { return retained_ + block_.size(); }

  // Normalized rank error at 99% confidence for this k: single-sided (Rank)
  // or for a difference of two ranks (PMF / histogram bins).
  static double NormalizedRankError(int k, bool pmf);

  std::string Serialize() const;
  // Throws INVALID_PARAMETER_VALUE on malformed input.
  static KllSketch Deserialize(std::string_view bytes);

 private:
  void Compress();
  void AddLevel();
  void EmitBlock();
  uint64_t NextRandom();
  uint32_t LevelCapacity(size_t level) const { return level_capacity_[level]; }
  bool NextCoin();
  // Sorts a level (merge sort with branch-free merges for mid-sized ones,
  // radix sort for large ones: few data-dependent branches).
  void SortLevel(size_t h);
  // Levels other than 0 and the sampler's are kept sorted at all times.
  bool KeptSorted(size_t h) const { return h > 0 && h != static_cast<size_t>(sample_shift_); }

  int k_;
  uint64_t rng_state_;
  int64_t count_ = 0;
  double min_;
  double max_;
  // Level h holds items of weight 2^h.
  std::vector<std::vector<double>> levels_;
  std::vector<uint32_t> level_capacity_;  // parallel to levels_
  size_t retained_ = 0;                   // total items in levels_
  size_t capacity_ = 0;                   // sum of level capacities
  // Sampler: values enter level sample_shift_ one per 2^sample_shift_; the
  // current block's values (weight 1 each) wait in block_.
  int sample_shift_ = 0;
  std::vector<double> block_;
  // Scratch space of compactions (contents meaningless between calls).
  std::vector<uint64_t> sort_keys_;
  std::vector<uint64_t> sort_buffer_;
  std::vector<double> merge_buffer_;
};

}  // namespace slipway::data
