#include "data/drift.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "data/profile.h"

namespace slipway::data {
namespace {

// A profile of one column built from texts.
DatasetProfile ProfileOf(const std::string& column, const std::vector<std::string>& values) {
  DatasetProfileBuilder builder({column});
  for (const std::string& v : values) {
    const std::string_view field = v;
    builder.AddRowOrThrow(std::span<const std::string_view>(&field, 1));
  }
  return std::move(builder).Finish();
}

std::vector<std::string> Normal(int n, double mean, double sd, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(mean, sd);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(std::to_string(dist(rng)));
  return out;
}

std::vector<std::string> Categories(const std::vector<std::pair<std::string, int>>& counts) {
  std::vector<std::string> out;
  for (const auto& [value, n] : counts) {
    for (int i = 0; i < n; ++i) out.push_back(value);
  }
  std::shuffle(out.begin(), out.end(), std::mt19937_64(7));
  return out;
}

TEST(DriftTest, IdenticalProfileHasZeroDrift) {
  const DatasetProfile p = ProfileOf("x", Normal(20000, 0, 1, 1));
  const ColumnDrift d = ComputeDrift(p.columns[0], p.columns[0]);
  EXPECT_EQ(d.kind, DriftKind::kNumeric);
  EXPECT_TRUE(d.comparable);
  EXPECT_DOUBLE_EQ(d.psi, 0.0);
  ASSERT_TRUE(d.ks.has_value());
  EXPECT_DOUBLE_EQ(*d.ks, 0.0);
  EXPECT_DOUBLE_EQ(*d.ks_p_value, 1.0);
  EXPECT_NEAR(d.js, 0.0, 1e-9);
  EXPECT_EQ(d.bins, 10);
}

TEST(DriftTest, TwoSamplesOfOneDistributionHaveSmallDrift) {
  const DatasetProfile a = ProfileOf("x", Normal(20000, 5, 2, 1));
  const DatasetProfile b = ProfileOf("x", Normal(30000, 5, 2, 2));
  const ColumnDrift d = ComputeDrift(a.columns[0], b.columns[0]);
  EXPECT_LT(d.psi, 0.02);
  EXPECT_LT(*d.ks, 0.04);
  EXPECT_LT(d.js, 0.06);
  EXPECT_EQ(d.reference_count, 20000);
  EXPECT_EQ(d.current_count, 30000);
}

TEST(DriftTest, MeanShiftOfOneStandardDeviationIsDetected) {
  const DatasetProfile a = ProfileOf("x", Normal(20000, 5, 2, 1));
  const DatasetProfile b = ProfileOf("x", Normal(20000, 7, 2, 2));
  const ColumnDrift d = ComputeDrift(a.columns[0], b.columns[0]);
  EXPECT_GT(d.psi, 0.2);
  // The exact two-sample D of N(0,1) vs N(1,1) is 2 Phi(0.5) - 1 = 0.383.
  EXPECT_GT(*d.ks, 0.3);
  EXPECT_NEAR(*d.ks, 0.383, 0.04);
  EXPECT_LT(*d.ks_p_value, 1e-6);
  EXPECT_GT(d.js, 0.15);
  EXPECT_LE(d.js, 1.0);
}

TEST(DriftTest, SmallColumnsGiveTheExactKsStatistic) {
  // 1..100 against 51..150: the CDFs differ by at most 0.5 (at x = 50..100).
  std::vector<std::string> a, b;
  for (int i = 1; i <= 100; ++i) a.push_back(std::to_string(i));
  for (int i = 51; i <= 150; ++i) b.push_back(std::to_string(i));
  const ColumnDrift d = ComputeDrift(ProfileOf("x", a).columns[0], ProfileOf("x", b).columns[0]);
  EXPECT_DOUBLE_EQ(*d.ks, 0.5);
  // Half the current values lie above every reference decile: the last bin
  // holds 10% of the reference and 60% of the current values.
  EXPECT_GT(d.psi, 1.0);
}

TEST(DriftTest, DisjointNumericRangesHaveMaximalDistances) {
  std::vector<std::string> a, b;
  for (int i = 0; i < 1000; ++i) {
    a.push_back(std::to_string(i));
    b.push_back(std::to_string(5000 + i));
  }
  const ColumnDrift d = ComputeDrift(ProfileOf("x", a).columns[0], ProfileOf("x", b).columns[0]);
  EXPECT_DOUBLE_EQ(*d.ks, 1.0);
  // All current values fall into the last bin, where the reference has 10%.
  EXPECT_GT(d.psi, 2.0);
  EXPECT_GT(d.js, 0.8);
}

TEST(DriftTest, KsPValueMatchesKolmogorovDistribution) {
  // Q_KS(1.358) = 0.05 and Q_KS(1.628) = 0.01 (Kolmogorov's table); large
  // equal samples make the Stephens correction negligible.
  const int64_t n = 2'000'000;  // effective n = 1e6
  EXPECT_NEAR(KsPValue(1.358 / 1000, n, n), 0.05, 0.002);
  EXPECT_NEAR(KsPValue(1.628 / 1000, n, n), 0.01, 0.001);
  // Continuity across the switch between the two series (lambda = 1.18).
  EXPECT_NEAR(KsPValue(1.1799 / 1000, n, n), KsPValue(1.1801 / 1000, n, n), 1e-3);
  EXPECT_NEAR(KsPValue(0.5 / 1000, n, n), 0.9639, 0.001);
  EXPECT_DOUBLE_EQ(KsPValue(0, 10, 10), 1.0);
  EXPECT_DOUBLE_EQ(KsPValue(0.5, 0, 10), 1.0);
  EXPECT_LT(KsPValue(1.0, 1000, 1000), 1e-100);
}

TEST(DriftTest, CategoricalPsiAndJsMatchHandComputedValues) {
  const DatasetProfile a = ProfileOf("c", Categories({{"a", 500}, {"b", 500}}));
  const DatasetProfile b = ProfileOf("c", Categories({{"a", 750}, {"b", 250}}));
  const ColumnDrift d = ComputeDrift(a.columns[0], b.columns[0]);
  EXPECT_EQ(d.kind, DriftKind::kCategorical);
  EXPECT_FALSE(d.ks.has_value());
  EXPECT_FALSE(d.ks_p_value.has_value());
  EXPECT_EQ(d.bins, 2);
  // PSI = 0.25 ln(1.5) + 0.25 ln(2)
  EXPECT_NEAR(d.psi, 0.25 * std::log(1.5) + 0.25 * std::log(2.0), 1e-3);
  // JSD with M = (0.625, 0.375).
  const double jsd = 0.5 * (0.5 * std::log2(0.5 / 0.625) + 0.5 * std::log2(0.5 / 0.375)) +
                     0.5 * (0.75 * std::log2(0.75 / 0.625) + 0.25 * std::log2(0.25 / 0.375));
  EXPECT_NEAR(d.js, std::sqrt(jsd), 1e-9);
  EXPECT_TRUE(d.new_categories.empty());
  EXPECT_TRUE(d.missing_categories.empty());
}

TEST(DriftTest, SameCategoriesHaveNoDrift) {
  const DatasetProfile a = ProfileOf("c", Categories({{"x", 300}, {"y", 200}, {"z", 100}}));
  const DatasetProfile b = ProfileOf("c", Categories({{"x", 600}, {"y", 400}, {"z", 200}}));
  const ColumnDrift d = ComputeDrift(a.columns[0], b.columns[0]);
  EXPECT_NEAR(d.psi, 0.0, 1e-12);
  EXPECT_NEAR(d.js, 0.0, 1e-6);
}

TEST(DriftTest, NewAndVanishedCategoriesAreReported) {
  const DatasetProfile a =
      ProfileOf("plan", Categories({{"basic", 500}, {"pro", 300}, {"old", 200}}));
  const DatasetProfile b = ProfileOf(
      "plan", Categories({{"basic", 500}, {"pro", 300}, {"premium", 150}, {"trial", 50}}));
  const ColumnDrift d = ComputeDrift(a.columns[0], b.columns[0]);
  EXPECT_EQ(d.new_categories, (std::vector<std::string>{"premium", "trial"}));
  EXPECT_EQ(d.missing_categories, (std::vector<std::string>{"old"}));
  EXPECT_GT(d.psi, 1.0);  // 20% of each side in a bin the other lacks
  EXPECT_GT(d.js, 0.3);
}

TEST(DriftTest, CategoriesBeyondTheTopItemsArePooled) {
  // 1000 distinct ids on both sides: neither summary is exact, the rest is
  // pooled as "other", and nothing is claimed to be new or vanished.
  std::vector<std::string> a, b;
  for (int i = 0; i < 5000; ++i) {
    a.push_back("id" + std::to_string(i % 1000));
    b.push_back("id" + std::to_string(i % 1000 + 500));
  }
  const ColumnDrift d = ComputeDrift(ProfileOf("c", a).columns[0], ProfileOf("c", b).columns[0]);
  EXPECT_EQ(d.kind, DriftKind::kCategorical);
  EXPECT_TRUE(d.new_categories.empty());
  EXPECT_TRUE(d.missing_categories.empty());
  EXPECT_GE(d.psi, 0.0);
  EXPECT_LE(d.js, 1.0);
}

TEST(DriftTest, BoolAndTypeChangedColumnsAreCategorical) {
  const DatasetProfile a = ProfileOf("f", Categories({{"true", 900}, {"false", 100}}));
  const DatasetProfile b = ProfileOf("f", Categories({{"true", 500}, {"false", 500}}));
  ASSERT_EQ(a.columns[0].type, ColumnType::kBool);
  const ColumnDrift d = ComputeDrift(a.columns[0], b.columns[0]);
  EXPECT_EQ(d.kind, DriftKind::kCategorical);
  EXPECT_GT(d.psi, 0.2);

  const DatasetProfile ints = ProfileOf("v", Categories({{"1", 50}, {"2", 50}}));
  const DatasetProfile texts = ProfileOf("v", Categories({{"1", 50}, {"two", 50}}));
  const ColumnDrift t = ComputeDrift(ints.columns[0], texts.columns[0]);
  EXPECT_EQ(t.kind, DriftKind::kCategorical);
  EXPECT_EQ(t.new_categories, std::vector<std::string>{"two"});
  EXPECT_EQ(t.missing_categories, std::vector<std::string>{"2"});
}

TEST(DriftTest, DiscreteNumericColumnsUseOneBinPerDistinctDecile) {
  // 70% zeros, 30% ones: deciles are {0, 1}, so bins (-inf,0], (0,1], (1,inf).
  // 100 values: fewer than KLL's k, so the sketches hold every value.
  const DatasetProfile a = ProfileOf("n", Categories({{"0", 70}, {"1", 30}}));
  const DatasetProfile b = ProfileOf("n", Categories({{"0", 70}, {"1", 20}, {"2", 10}}));
  const ColumnDrift d = ComputeDrift(a.columns[0], b.columns[0]);
  EXPECT_EQ(d.kind, DriftKind::kNumeric);
  EXPECT_EQ(d.bins, 3);
  // Bin shares (0.7, 0.3, 0) vs (0.7, 0.2, 0.1); the empty bin is smoothed.
  const double eps = 1e-4;
  const double norm = 1 + 3 * eps;
  const auto s = [&](double p) { return (p + eps) / norm; };
  const double expected =
      (s(0.2) - s(0.3)) * std::log(s(0.2) / s(0.3)) + (s(0.1) - s(0)) * std::log(s(0.1) / s(0));
  EXPECT_NEAR(d.psi, expected, 1e-9);
  EXPECT_NEAR(*d.ks, 0.1, 1e-12);
}

TEST(DriftTest, EmptySideIsNotComparable) {
  DatasetProfileBuilder builder({"x"});
  const std::string_view empty = "";
  builder.AddRowOrThrow(std::span<const std::string_view>(&empty, 1));
  const DatasetProfile none = std::move(builder).Finish();
  const DatasetProfile some = ProfileOf("x", {"1", "2"});
  const ColumnDrift d = ComputeDrift(none.columns[0], some.columns[0]);
  EXPECT_FALSE(d.comparable);
  EXPECT_NE(d.note.find("reference"), std::string::npos);
  EXPECT_FALSE(d.ks.has_value());
}

TEST(DriftTest, InvalidOptionsAreRejected) {
  const DatasetProfile p = ProfileOf("x", {"1", "2"});
  EXPECT_THROW(ComputeDrift(p.columns[0], p.columns[0], {.numeric_bins = 1}), Error);
  EXPECT_THROW(ComputeDrift(p.columns[0], p.columns[0], {.epsilon = 0}), Error);
}

TEST(DriftTest, DatasetDriftCoversCommonColumnsFromCsvFiles) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("slipway_drift_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal(0, 1);
  const auto write = [&](const std::filesystem::path& path, bool shifted) {
    std::ofstream out(path);
    out << (shifted ? "income,plan,extra\n" : "income,plan,legacy\n");
    for (int i = 0; i < 3000; ++i) {
      const double income = 50000 + 10000 * normal(rng) + (shifted ? 10000 : 0);
      const char* plan = i % 10 < 6 ? "basic" : (i % 10 < 9 ? "pro" : "enterprise");
      out << income << "," << plan << "," << i << "\n";
    }
  };
  write(dir / "ref.csv", false);
  write(dir / "cur.csv", true);
  const DatasetProfile ref = ProfileCsv(dir / "ref.csv");
  const DatasetProfile cur = ProfileCsv(dir / "cur.csv");
  const DriftReport report = DatasetDrift(ref, cur);
  ASSERT_EQ(report.columns.size(), 2u);
  EXPECT_EQ(report.only_in_reference, std::vector<std::string>{"legacy"});
  EXPECT_EQ(report.only_in_current, std::vector<std::string>{"extra"});
  const ColumnDrift* income = report.Find("income");
  ASSERT_NE(income, nullptr);
  EXPECT_GT(income->psi, 0.2);
  EXPECT_GT(*income->ks, 0.3);
  const ColumnDrift* plan = report.Find("plan");
  ASSERT_NE(plan, nullptr);
  EXPECT_LT(plan->psi, 1e-9);

  const nlohmann::json json = report.ToJson();
  ASSERT_EQ(json["columns"].size(), 2u);
  EXPECT_EQ(json["columns"][0]["column"], "income");
  EXPECT_EQ(json["columns"][0]["kind"], "numeric");
  EXPECT_TRUE(json["columns"][0].contains("ks"));
  EXPECT_TRUE(json["columns"][0].contains("ks_p_value"));
  EXPECT_EQ(json["columns"][1]["kind"], "categorical");
  EXPECT_FALSE(json["columns"][1].contains("ks"));
  EXPECT_EQ(json["only_in_current"][0], "extra");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace slipway::data
