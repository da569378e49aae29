#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <span>
#include <unordered_set>

#include "core/error.h"
#include "data/frequent_items.h"
#include "data/hyperloglog.h"
#include "data/kll_sketch.h"

namespace slipway::data {
namespace {

// ----- hash

TEST(HashBytesTest, StableAndCollisionFree) {
  EXPECT_EQ(HashBytes("slipway"), HashBytes(std::string("slipway")));
  EXPECT_NE(HashBytes("slipway"), HashBytes("slipway", 1));
  EXPECT_NE(HashBytes(""), HashBytes(std::string_view("\0", 1)));
  // Every length class (0-3, 4-16, 17-48, > 48) and one-byte differences.
  std::unordered_set<uint64_t> seen;
  std::string base(200, 'a');
  for (size_t len = 0; len <= base.size(); ++len) {
    for (int c = 0; c < 50; ++c) {
      std::string s = base.substr(0, len);
      if (len > 0) s[static_cast<size_t>(c) % len] = static_cast<char>('b' + c);
      s += std::to_string(c);
      seen.insert(HashBytes(s));
    }
  }
  EXPECT_EQ(seen.size(), 201u * 50u);
}

TEST(HashBytesTest, ValuesArePinned) {
  // Serialized sketches depend on these: a change needs a new format version.
  EXPECT_EQ(HashBytes(""), 0x93228a4de0eec5a2ULL);
  EXPECT_EQ(HashBytes("a"), 0xaced12527fe5bff8ULL);
  EXPECT_EQ(HashBytes("slipway"), 0xc41746f49f430183ULL);
  EXPECT_EQ(HashBytes("0123456789abcdef"), 0x88de385a856cfb95ULL);
  EXPECT_EQ(HashBytes("0123456789abcdefg"), 0x14f37288a5f8073aULL);
  EXPECT_EQ(HashBytes("The quick brown fox jumps over the lazy dog, again and again"),
            0xe75af8093d9cfb2cULL);
}

TEST(HashBytesTest, BitsAreBalanced) {
  // Each output bit is set for about half of the inputs "0", "1", ...
  constexpr int kN = 100000;
  int ones[64] = {};
  for (int i = 0; i < kN; ++i) {
    const uint64_t h = HashBytes(std::to_string(i));
    for (int b = 0; b < 64; ++b) ones[b] += (h >> b) & 1;
  }
  for (int b = 0; b < 64; ++b) {
    EXPECT_NEAR(ones[b], kN / 2, 5 * std::sqrt(kN / 4.0)) << "bit " << b;
  }
}

// ----- HyperLogLog

TEST(HyperLogLogTest, EstimatesWithinThreeStandardErrors) {
  for (int n : {10, 1000, 100000, 1000000}) {
    HyperLogLog hll;
    for (int i = 0; i < n; ++i) {
      const std::string value = "user-" + std::to_string(i);
      hll.Add(value);
      if (i % 3 == 0) hll.Add(value);  // repeats do not count
    }
    const double tolerance = 3 * hll.RelativeStandardError() * n;
    EXPECT_NEAR(hll.Estimate(), n, tolerance) << n << " distinct";
  }
}

TEST(HyperLogLogTest, SmallAndEmpty) {
  HyperLogLog hll;
  EXPECT_EQ(hll.Estimate(), 0.0);
  hll.Add("x");
  EXPECT_NEAR(hll.Estimate(), 1.0, 0.01);
  HyperLogLog low(4);  // 16 registers: ~26% error, still unbiased-ish
  for (int i = 0; i < 1000; ++i) low.Add(std::to_string(i));
  EXPECT_NEAR(low.Estimate(), 1000, 3 * low.RelativeStandardError() * 1000);
  EXPECT_THROW(HyperLogLog(3), Error);
  EXPECT_THROW(HyperLogLog(19), Error);
}

TEST(HyperLogLogTest, MergeEqualsSketchOfUnion) {
  HyperLogLog a, b, whole;
  for (int i = 0; i < 60000; ++i) {
    const std::string v = std::to_string(i);
    (i < 40000 ? a : b).Add(v);
    if (i >= 20000 && i < 30000) b.Add(v);  // overlap
    whole.Add(v);
  }
  HyperLogLog merged = a;
  merged.Merge(b);
  EXPECT_EQ(merged, whole);  // register-wise max: exact
  EXPECT_NEAR(merged.Estimate(), 60000, 3 * merged.RelativeStandardError() * 60000);
  HyperLogLog other(12);
  EXPECT_THROW(merged.Merge(other), Error);
}

TEST(HyperLogLogTest, SerializationRoundTrips) {
  for (int n : {0, 5, 300, 200000}) {
    HyperLogLog hll;
    for (int i = 0; i < n; ++i) hll.Add(std::to_string(i));
    const std::string bytes = hll.Serialize();
    if (n <= 300) {
      EXPECT_LT(bytes.size(), 1000u) << "small sketches are sparse";
    } else {
      EXPECT_EQ(bytes.size(), 4u + 16384u * 6 / 8) << "6 bits per register";
    }
    const HyperLogLog back = HyperLogLog::Deserialize(bytes);
    EXPECT_EQ(back, hll);
    EXPECT_EQ(back.Estimate(), hll.Estimate());
  }
  EXPECT_THROW(HyperLogLog::Deserialize(""), Error);
  EXPECT_THROW(HyperLogLog::Deserialize("H\x01\x0e\x00"), Error);  // dense, too short
  std::string bytes = HyperLogLog().Serialize();
  bytes[1] = 9;
  EXPECT_THROW(HyperLogLog::Deserialize(bytes), Error);
}

// ----- KLL

// Exact normalized rank range [lower, upper] of value v in sorted data:
// the fraction of values < v and <= v.
std::pair<double, double> ExactRank(const std::vector<double>& sorted, double v) {
  const auto lower = std::lower_bound(sorted.begin(), sorted.end(), v) - sorted.begin();
  const auto upper = std::upper_bound(sorted.begin(), sorted.end(), v) - sorted.begin();
  const auto n = static_cast<double>(sorted.size());
  return {lower / n, upper / n};
}

void ExpectWithinRankError(const KllSketch& sketch, std::vector<double> data, double eps,
                           const std::string& label) {
  std::sort(data.begin(), data.end());
  ASSERT_EQ(sketch.count(), static_cast<int64_t>(data.size()));
  EXPECT_EQ(sketch.min(), data.front());
  EXPECT_EQ(sketch.max(), data.back());
  double worst = 0;
  for (int i = 1; i < 100; ++i) {
    const double q = i / 100.0;
    const double v = sketch.Quantile(q);
    const auto [lo, hi] = ExactRank(data, v);
    // The true rank of the returned value is within eps of q.
    const double error = q < lo ? lo - q : (q > hi ? q - hi : 0.0);
    worst = std::max(worst, error);
    // Rank() of a data value is within eps of its true (inclusive) rank.
    const double x = data[static_cast<size_t>(q * (data.size() - 1))];
    EXPECT_NEAR(sketch.Rank(x), ExactRank(data, x).second, eps) << label << " x=" << x;
  }
  EXPECT_LE(worst, eps) << label;
  EXPECT_EQ(sketch.Quantile(0), data.front());
  EXPECT_EQ(sketch.Quantile(1), data.back());
}

std::vector<double> Generate(const std::string& kind, int n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> data(static_cast<size_t>(n));
  if (kind == "uniform") {
    std::uniform_real_distribution<double> d(-5, 1000);
    for (double& v : data) v = d(rng);
  } else if (kind == "normal") {
    std::normal_distribution<double> d(50, 12);
    for (double& v : data) v = d(rng);
  } else if (kind == "sorted") {
    for (int i = 0; i < n; ++i) data[static_cast<size_t>(i)] = i * 0.5;
  } else if (kind == "reversed") {
    for (int i = 0; i < n; ++i) data[static_cast<size_t>(i)] = (n - i) * 0.5;
  } else if (kind == "few_values") {
    for (double& v : data) v = static_cast<double>(rng() % 7);
  }
  return data;
}

TEST(KllSketchTest, QuantilesWithinRankError) {
  EXPECT_NEAR(KllSketch::NormalizedRankError(200, true), 0.0165, 0.0005);
  EXPECT_NEAR(KllSketch::NormalizedRankError(200, false), 0.0133, 0.0005);
  for (const char* kind : {"uniform", "normal", "sorted", "reversed", "few_values"}) {
    for (int n : {1000, 100000, 1000000}) {
      const std::vector<double> data = Generate(kind, n, 11);
      KllSketch sketch;
      for (double v : data) sketch.Add(v);
      EXPECT_LT(sketch.retained(), 3000u) << kind << n;
      ExpectWithinRankError(sketch, data, 0.02, std::string(kind) + " n=" + std::to_string(n));
    }
  }
}

TEST(KllSketchTest, SmallStreamsAreExact) {
  KllSketch sketch;
  for (int i = 1; i <= 100; ++i) sketch.Add(i);
  EXPECT_EQ(sketch.Quantile(0.5), 50);
  EXPECT_EQ(sketch.Quantile(0.01), 1);
  EXPECT_DOUBLE_EQ(sketch.Rank(25), 0.25);
  EXPECT_EQ(sketch.Cdf(std::vector<double>{0, 10, 100}), (std::vector<double>{0, 0.1, 1.0}));
  KllSketch empty;
  EXPECT_TRUE(std::isnan(empty.Quantile(0.5)));
  EXPECT_EQ(empty.Rank(1), 0.0);
  EXPECT_THROW(sketch.Quantile(1.5), Error);
  sketch.Add(std::nan(""));  // ignored
  EXPECT_EQ(sketch.count(), 100);
}

TEST(KllSketchTest, WeightsSumToCount) {
  KllSketch sketch;
  const std::vector<double> data = Generate("normal", 123457, 3);
  for (double v : data) sketch.Add(v);
  uint64_t total = 0;
  double previous = -INFINITY;
  for (const auto& w : sketch.SortedView()) {
    total += w.weight;
    EXPECT_GE(w.value, previous);
    previous = w.value;
  }
  EXPECT_EQ(total, 123457u);
}

TEST(KllSketchTest, MergeStaysWithinBounds) {
  for (const char* kind : {"uniform", "normal", "sorted"}) {
    const std::vector<double> data = Generate(kind, 400000, 5);
    KllSketch whole, first, second;
    for (size_t i = 0; i < data.size(); ++i) {
      whole.Add(data[i]);
      (i < data.size() / 3 ? first : second).Add(data[i]);
    }
    KllSketch merged = first;
    merged.Merge(second);
    EXPECT_EQ(merged.count(), whole.count());
    ExpectWithinRankError(merged, data, 0.02, std::string("merged ") + kind);
    for (double q : {0.1, 0.5, 0.9}) {
      // Both approximate the same stream: their answers are close in rank.
      EXPECT_NEAR(whole.Rank(merged.Quantile(q)), q, 0.03);
    }
  }
}

TEST(KllSketchTest, ManySmallMerges) {
  const std::vector<double> data = Generate("uniform", 300000, 9);
  KllSketch total;
  for (size_t start = 0; start < data.size(); start += 3000) {
    KllSketch part(KllSketch::kDefaultK, start);
    for (size_t i = start; i < start + 3000; ++i) part.Add(data[i]);
    total.Merge(part);
  }
  ExpectWithinRankError(total, data, 0.02, "100 merged parts");
  KllSketch other_k(100);
  other_k.Add(1);
  EXPECT_THROW(total.Merge(other_k), Error);
}

TEST(KllSketchTest, AddBatchEqualsAddingOneByOne) {
  for (const char* kind : {"normal", "sorted", "few_values"}) {
    for (int n : {0, 7, 1000, 300001}) {
      std::vector<double> data = Generate(kind, n, 17);
      // NaN is skipped by both (it shifts the sampler's blocks).
      for (size_t i = 0; i < data.size(); i += 997) data[i] = std::nan("");
      KllSketch one, batched;
      for (double v : data) one.Add(v);
      // Batches of varying sizes, as profiles give them.
      std::mt19937 rng(5);
      for (size_t i = 0; i < data.size();) {
        const size_t size = std::min<size_t>(data.size() - i, rng() % 300);
        batched.AddBatch(std::span(data.data() + i, size));
        i += size;
      }
      EXPECT_EQ(batched.Serialize(), one.Serialize()) << kind << " n=" << n;
    }
  }
}

TEST(KllSketchTest, SerializationRoundTripsAndIsDeterministic) {
  for (int n : {0, 10, 5000, 300001}) {
    const std::vector<double> data = Generate("normal", n, 21);
    KllSketch a, b;
    for (double v : data) {
      a.Add(v);
      b.Add(v);
    }
    EXPECT_EQ(a.Serialize(), b.Serialize()) << "same seed, same input, same sketch";
    const KllSketch back = KllSketch::Deserialize(a.Serialize());
    EXPECT_EQ(back.Serialize(), a.Serialize());
    EXPECT_EQ(back.count(), a.count());
    for (double q : {0.0, 0.05, 0.5, 0.95, 1.0}) {
      if (n > 0) {
        EXPECT_EQ(back.Quantile(q), a.Quantile(q));
      }
    }
    // The restored sketch keeps working like the original.
    KllSketch a2 = a;
    KllSketch back2 = back;
    for (int i = 0; i < 10000; ++i) {
      a2.Add(i);
      back2.Add(i);
    }
    EXPECT_EQ(a2.Serialize(), back2.Serialize());
  }
  EXPECT_THROW(KllSketch::Deserialize("K"), Error);
  std::string bytes = KllSketch().Serialize();
  bytes += "x";
  EXPECT_THROW(KllSketch::Deserialize(bytes), Error);
}

// ----- frequent items

TEST(FrequentItemsTest, ExactUnderCapacity) {
  FrequentItems items(64);
  std::map<std::string, int64_t> truth;
  std::mt19937 rng(1);
  for (int i = 0; i < 100000; ++i) {
    const std::string v = "cat" + std::to_string(rng() % 64);
    items.Add(v);
    ++truth[v];
  }
  EXPECT_TRUE(items.exact());
  EXPECT_EQ(items.max_error(), 0);
  EXPECT_EQ(items.size(), 64u);
  EXPECT_EQ(items.total(), 100000);
  const auto top = items.Top(100);
  ASSERT_EQ(top.size(), 64u);
  for (size_t i = 0; i < top.size(); ++i) {
    EXPECT_EQ(top[i].lower_bound, truth[top[i].value]);
    EXPECT_EQ(top[i].upper_bound, truth[top[i].value]);
    if (i > 0) {
      EXPECT_GE(top[i - 1].lower_bound, top[i].lower_bound);
    }
  }
  EXPECT_EQ(items.Top(3).size(), 3u);
  EXPECT_EQ(items.Lookup("absent").lower_bound, 0);
}

TEST(FrequentItemsTest, BoundsHoldOverCapacity) {
  // Zipf-like: value i has weight ~ 1/(i+1).
  FrequentItems items(64);
  std::map<std::string, int64_t> truth;
  std::mt19937 rng(2);
  std::vector<double> weights;
  for (int i = 0; i < 20000; ++i) weights.push_back(1.0 / (i + 1));
  std::discrete_distribution<int> zipf(weights.begin(), weights.end());
  constexpr int kN = 300000;
  for (int i = 0; i < kN; ++i) {
    const std::string v = "v" + std::to_string(zipf(rng));
    items.Add(v);
    ++truth[v];
  }
  EXPECT_FALSE(items.exact());
  EXPECT_LE(items.max_error(), 2 * kN / (64 + 1));
  for (const auto& [value, count] : truth) {
    const auto bounds = items.Lookup(value);
    EXPECT_LE(bounds.lower_bound, count) << value;
    EXPECT_GE(bounds.upper_bound, count) << value;
    // Anything above the error bound is tracked.
    if (count > items.max_error()) {
      EXPECT_GT(bounds.lower_bound, 0) << value;
    }
  }
  // The heaviest values come out on top.
  const auto top = items.Top(3);
  EXPECT_EQ(top[0].value, "v0");
  EXPECT_EQ(top[1].value, "v1");
}

TEST(FrequentItemsTest, MergeKeepsBounds) {
  FrequentItems a(32), b(32), small_a(32), small_b(32);
  std::map<std::string, int64_t> truth;
  std::mt19937 rng(3);
  for (int i = 0; i < 200000; ++i) {
    const int r = static_cast<int>(rng() % 1000);
    const std::string v = std::to_string(r < 500 ? r % 10 : r);  // 10 heavy values
    (i % 2 == 0 ? a : b).Add(v);
    ++truth[v];
  }
  FrequentItems merged = a;
  merged.Merge(b);
  EXPECT_EQ(merged.total(), 200000);
  EXPECT_LE(merged.max_error(), 2 * 200000 / 33);
  for (const auto& [value, count] : truth) {
    const auto bounds = merged.Lookup(value);
    EXPECT_LE(bounds.lower_bound, count);
    EXPECT_GE(bounds.upper_bound, count);
  }
  // Exact stays exact when the union has at most `capacity` values.
  for (int i = 0; i < 1000; ++i) {
    small_a.Add(std::to_string(i % 20));
    small_b.Add(std::to_string(10 + i % 20));
  }
  small_a.Merge(small_b);
  EXPECT_TRUE(small_a.exact());
  EXPECT_EQ(small_a.size(), 30u);
  EXPECT_EQ(small_a.Lookup("15").lower_bound, 100);
  EXPECT_EQ(small_a.Lookup("5").lower_bound, 50);
  EXPECT_THROW(a.Merge(FrequentItems(64)), Error);
}

// Adds `values` to `items` with AddBatch, in batches of `min_size` to 700
// values.
void AddInBatches(FrequentItems& items, const std::vector<std::string>& values, uint32_t seed,
                  size_t min_size = 1) {
  std::mt19937 rng(seed);
  for (size_t i = 0; i < values.size();) {
    const size_t size = std::min<size_t>(values.size() - i, min_size + rng() % 700);
    std::vector<std::string_view> views(values.begin() + static_cast<std::ptrdiff_t>(i),
                                        values.begin() + static_cast<std::ptrdiff_t>(i + size));
    std::vector<uint64_t> hashes;
    for (std::string_view v : views) hashes.push_back(HashBytes(v));
    items.AddBatch(views, hashes);
    i += size;
  }
}

TEST(FrequentItemsTest, AddBatchIsExactUnderCapacity) {
  std::vector<std::string> values;
  std::map<std::string, int64_t> truth;
  std::mt19937 rng(11);
  for (int i = 0; i < 50000; ++i) {
    values.push_back("cat" + std::to_string(rng() % 64));
    ++truth[values.back()];
  }
  FrequentItems items(64);
  AddInBatches(items, values, 1);
  EXPECT_TRUE(items.exact());
  EXPECT_EQ(items.size(), 64u);
  EXPECT_EQ(items.total(), 50000);
  for (const auto& [value, count] : truth) EXPECT_EQ(items.Lookup(value).lower_bound, count);
}

TEST(FrequentItemsTest, AddBatchKeepsBoundsOverCapacity) {
  // Zipf-like, as in BoundsHoldOverCapacity, plus a run of distinct values
  // (each seen once) and a capacity above the batched one (added one by one).
  std::mt19937 rng(12);
  std::vector<double> weights;
  for (int i = 0; i < 20000; ++i) weights.push_back(1.0 / (i + 1));
  std::discrete_distribution<int> zipf(weights.begin(), weights.end());
  std::vector<std::string> values;
  std::map<std::string, int64_t> truth;
  for (int i = 0; i < 300000; ++i) {
    values.push_back(i % 3 == 0 ? "u" + std::to_string(i) : "v" + std::to_string(zipf(rng)));
    ++truth[values.back()];
  }
  for (int capacity : {16, 64, FrequentItems::kMaxBatchCapacity + 1}) {
    FrequentItems items(capacity);
    AddInBatches(items, values, static_cast<uint32_t>(capacity));
    // Some values one by one in between: the two ways mix.
    for (int i = 0; i < 1000; ++i) items.Add(values[static_cast<size_t>(i)]);
    const auto total = static_cast<int64_t>(values.size()) + 1000;
    EXPECT_EQ(items.total(), total);
    EXPECT_FALSE(items.exact());
    EXPECT_LE(items.max_error(), 2 * total / (capacity + 1)) << capacity;
    EXPECT_LE(items.size(), static_cast<size_t>(capacity));
    std::map<std::string, int64_t> counts = truth;
    for (int i = 0; i < 1000; ++i) ++counts[values[static_cast<size_t>(i)]];
    for (const auto& [value, count] : counts) {
      const auto bounds = items.Lookup(value);
      ASSERT_LE(bounds.lower_bound, count) << value << " capacity " << capacity;
      ASSERT_GE(bounds.upper_bound, count) << value << " capacity " << capacity;
      if (count > items.max_error()) {
        EXPECT_GT(bounds.lower_bound, 0) << value;
      }
    }
    EXPECT_EQ(items.Top(1)[0].value, "v0");
    // The sketch keeps working (its index is right) and round-trips.
    const FrequentItems back = FrequentItems::Deserialize(items.Serialize());
    EXPECT_EQ(back.Serialize(), items.Serialize());
  }
  // Batches only: subtracting the (capacity+1)-th largest counter takes
  // the error bound down to total / (capacity + 1).
  FrequentItems batched(64);
  AddInBatches(batched, values, 3, 16);
  EXPECT_LE(batched.max_error(), static_cast<int64_t>(values.size()) / 65);
}

TEST(FrequentItemsTest, SerializationRoundTrips) {
  FrequentItems items(16);
  for (int i = 0; i < 5000; ++i) items.Add("k" + std::to_string(i % 37 == 0 ? 1 : i % 97));
  const FrequentItems back = FrequentItems::Deserialize(items.Serialize());
  EXPECT_EQ(back.Serialize(), items.Serialize());
  EXPECT_EQ(back.total(), items.total());
  EXPECT_EQ(back.max_error(), items.max_error());
  const auto a = items.Top(16);
  const auto b = back.Top(16);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].value, b[i].value);
    EXPECT_EQ(a[i].lower_bound, b[i].lower_bound);
  }
  // Values with any bytes survive.
  FrequentItems binary;
  binary.Add(std::string("a\0b", 3), 5);
  EXPECT_EQ(FrequentItems::Deserialize(binary.Serialize()).Top(1)[0].value, std::string("a\0b", 3));
  EXPECT_THROW(FrequentItems::Deserialize("F\x01"), Error);
  EXPECT_THROW(FrequentItems::Deserialize("nope"), Error);
}

}  // namespace
}  // namespace slipway::data
