#include "data/drift.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "data/profile.h"
#include "monitoring/drift_report.h"

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
  const auto rejected = [&](const std::function<void(DriftOptions&)>& change) {
    DriftOptions options;
    change(options);
    EXPECT_THROW(ComputeDrift(p.columns[0], p.columns[0], options), Error);
  };
  rejected([](DriftOptions& o) { o.numeric_bins = 1; });
  rejected([](DriftOptions& o) { o.epsilon = 0; });
  rejected([](DriftOptions& o) { o.numeric.threshold = -1; });
  rejected([](DriftOptions& o) { o.categorical = {DriftStatistic::kKs, 0.1}; });
  rejected([](DriftOptions& o) { o.missing_rate_threshold = 1.5; });
  rejected([](DriftOptions& o) { o.dataset_drift_share = 0; });
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

// --- Wasserstein, chi-square, missing rates, decisions

TEST(DriftTest, SmallColumnsGiveTheExactWassersteinDistance) {
  // scipy.stats.wasserstein_distance(1..100, 51..150) = 50; normed by
  // np.std(1..100) (population) = 28.866: 1.7321374166049877.
  std::vector<std::string> a, b;
  for (int i = 1; i <= 100; ++i) a.push_back(std::to_string(i));
  for (int i = 51; i <= 150; ++i) b.push_back(std::to_string(i));
  const ColumnDrift d = ComputeDrift(ProfileOf("x", a).columns[0], ProfileOf("x", b).columns[0]);
  ASSERT_TRUE(d.wasserstein.has_value());
  EXPECT_NEAR(*d.wasserstein, 50.0, 1e-9);
  EXPECT_NEAR(*d.wasserstein_normed, 1.7321374166049877, 1e-9);
  EXPECT_TRUE(d.exact);
  EXPECT_EQ(d.ks_error, 0.0);
  EXPECT_EQ(d.wasserstein_error, 0.0);
  EXPECT_FALSE(d.chi_square.has_value());
  EXPECT_TRUE(d.drifted);
  EXPECT_EQ(d.drift_statistic, "wasserstein_normed");
  EXPECT_DOUBLE_EQ(d.drift_threshold, 0.1);
}

// The exact W1 of two equal-size samples: the mean distance between their
// sorted values.
double ExactWasserstein(std::vector<double> a, std::vector<double> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += std::fabs(a[i] - b[i]);
  return sum / static_cast<double>(a.size());
}

TEST(DriftTest, SketchedWassersteinIsWithinItsStatedErrorOnLargeColumns) {
  const int n = 300000;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(0, 1);
  std::vector<double> a(n), b(n);
  for (double& v : a) v = normal(rng);
  for (double& v : b) v = normal(rng) * 1.1 + 0.15;
  DatasetProfileBuilder ref({"x"});
  DatasetProfileBuilder cur({"x"});
  for (int i = 0; i < n; ++i) {
    const std::string x = fmt::format("{:.17g}", a[i]);
    const std::string y = fmt::format("{:.17g}", b[i]);
    const std::string_view fx = x, fy = y;
    ref.AddRowOrThrow(std::span<const std::string_view>(&fx, 1));
    cur.AddRowOrThrow(std::span<const std::string_view>(&fy, 1));
  }
  const DatasetProfile rp = std::move(ref).Finish();
  const DatasetProfile cp = std::move(cur).Finish();
  const ColumnDrift d = ComputeDrift(rp.columns[0], cp.columns[0]);
  EXPECT_FALSE(d.exact);
  const double exact = ExactWasserstein(a, b);
  // The stated (worst-case) bound holds, and the error is far below it: well
  // under the 0.1 threshold of the normed distance.
  EXPECT_LE(std::fabs(*d.wasserstein - exact), d.wasserstein_error);
  EXPECT_NEAR(*d.wasserstein, exact, 0.01);
  double mean = 0;
  for (double v : a) mean += v / n;
  double var = 0;
  for (double v : a) var += (v - mean) * (v - mean) / n;
  EXPECT_NEAR(*d.wasserstein_normed, exact / std::sqrt(var), 0.01);
  EXPECT_GT(d.ks_error, 0.0);
  EXPECT_LT(d.ks_error, 0.03);
}

TEST(DriftTest, ChiSquarePValueMatchesScipy) {
  // scipy.stats.chi2.sf(x, dof).
  EXPECT_NEAR(ChiSquarePValue(3.841458820694124, 1), 0.05, 1e-12);
  EXPECT_NEAR(ChiSquarePValue(18.307038053275146, 10), 0.05, 1e-12);
  EXPECT_NEAR(ChiSquarePValue(100, 50) / 3.454931382984871e-05, 1.0, 1e-9);
  EXPECT_NEAR(ChiSquarePValue(0.5, 3), 0.9188914116546758, 1e-12);
  EXPECT_NEAR(ChiSquarePValue(1500, 1000) / 1.0454640385980825e-22, 1.0, 1e-8);
  EXPECT_DOUBLE_EQ(ChiSquarePValue(0, 3), 1.0);
  EXPECT_DOUBLE_EQ(ChiSquarePValue(5, 0), 1.0);
}

TEST(DriftTest, CategoricalChiSquareMatchesScipyContingency) {
  // scipy.stats.chi2_contingency([[50, 30, 20], [45, 30, 25]],
  // correction=False): 0.8187134502923976, dof 2, p 0.6640772969934772.
  const DatasetProfile a = ProfileOf("c", Categories({{"a", 50}, {"b", 30}, {"c", 20}}));
  const DatasetProfile b = ProfileOf("c", Categories({{"a", 45}, {"b", 30}, {"c", 25}}));
  const ColumnDrift d = ComputeDrift(a.columns[0], b.columns[0]);
  ASSERT_TRUE(d.chi_square.has_value());
  EXPECT_NEAR(*d.chi_square, 0.8187134502923976, 1e-12);
  EXPECT_EQ(*d.chi_square_dof, 2);
  EXPECT_NEAR(*d.chi_square_p_value, 0.6640772969934772, 1e-12);
  EXPECT_TRUE(d.exact);
  EXPECT_FALSE(d.wasserstein.has_value());
  EXPECT_EQ(d.drift_statistic, "js");
  EXPECT_DOUBLE_EQ(d.drift_threshold, kDefaultJsThreshold);
  EXPECT_FALSE(d.drifted);
}

TEST(DriftTest, MissingRatesAndTheirChangeAreReported) {
  const DatasetProfile a = ProfileOf("x", {"1", "", "2", "3"});
  const DatasetProfile b = ProfileOf("x", {"1", "", "", "2", "3", "", "4", ""});
  const ColumnDrift d = ComputeDrift(a.columns[0], b.columns[0]);
  EXPECT_EQ(d.reference_missing, 1);
  EXPECT_EQ(d.current_missing, 4);
  EXPECT_DOUBLE_EQ(d.reference_missing_rate, 0.25);
  EXPECT_DOUBLE_EQ(d.current_missing_rate, 0.5);
  EXPECT_DOUBLE_EQ(d.missing_rate_change, 0.25);
  const nlohmann::json json = d.ToJson();
  EXPECT_DOUBLE_EQ(json["missing"]["rate_change"].get<double>(), 0.25);

  // The missing-rate rule decides when set.
  DriftOptions options;
  options.missing_rate_threshold = 0.2;
  const ColumnDrift m = ComputeDrift(a.columns[0], b.columns[0], options);
  EXPECT_TRUE(m.drifted);
  EXPECT_EQ(m.drift_statistic, "missing_rate");
  EXPECT_DOUBLE_EQ(m.drift_value, 0.25);
}

TEST(DriftTest, DecisionUsesEffectSizesNotPValues) {
  // A shift of 0.05 standard deviations on 200k rows: KS's p-value is tiny,
  // yet the normed Wasserstein distance (0.05) stays under 0.1.
  const DatasetProfile a = ProfileOf("x", Normal(200000, 0, 1, 1));
  const DatasetProfile b = ProfileOf("x", Normal(200000, 0.05, 1, 2));
  const ColumnDrift d = ComputeDrift(a.columns[0], b.columns[0]);
  EXPECT_LT(*d.ks_p_value, 1e-6);
  EXPECT_NEAR(*d.wasserstein_normed, 0.05, 0.015);
  EXPECT_FALSE(d.drifted);
  // A shift of 0.3 standard deviations drifts.
  const DatasetProfile c = ProfileOf("x", Normal(200000, 0.3, 1, 3));
  const ColumnDrift e = ComputeDrift(a.columns[0], c.columns[0]);
  EXPECT_TRUE(e.drifted);
  EXPECT_NEAR(e.drift_value, 0.3, 0.02);
}

TEST(DriftTest, FewValuedNumericColumnsAreDecidedAsCategories) {
  const DatasetProfile a = ProfileOf("n", Categories({{"0", 700}, {"1", 300}}));
  const DatasetProfile b = ProfileOf("n", Categories({{"0", 500}, {"1", 500}}));
  const ColumnDrift d = ComputeDrift(a.columns[0], b.columns[0]);
  EXPECT_EQ(d.kind, DriftKind::kNumeric);
  EXPECT_TRUE(d.decided_as_categories);
  EXPECT_EQ(d.drift_statistic, "js");
  // JS distance (base 2) of (0.7, 0.3) and (0.5, 0.5).
  const double m0 = 0.6, m1 = 0.4;
  const double jsd = 0.5 * (0.7 * std::log2(0.7 / m0) + 0.3 * std::log2(0.3 / m1)) +
                     0.5 * (0.5 * std::log2(0.5 / m0) + 0.5 * std::log2(0.5 / m1));
  EXPECT_NEAR(d.drift_value, std::sqrt(jsd), 1e-12);
  EXPECT_TRUE(d.drifted);
  DriftOptions off;
  off.few_values = 0;
  EXPECT_EQ(ComputeDrift(a.columns[0], b.columns[0], off).drift_statistic, "wasserstein_normed");
}

TEST(DriftTest, ThresholdsApplyPerKindAndPerColumn) {
  DriftOptions options;
  ApplyDriftThreshold(options, "psi=0.2");
  EXPECT_EQ(options.numeric.statistic, DriftStatistic::kPsi);
  EXPECT_EQ(options.categorical.statistic, DriftStatistic::kPsi);
  EXPECT_DOUBLE_EQ(options.categorical.threshold, 0.2);
  ApplyDriftThreshold(options, "wasserstein_normed=0.15");
  EXPECT_EQ(options.numeric.statistic, DriftStatistic::kWassersteinNormed);
  EXPECT_EQ(options.categorical.statistic, DriftStatistic::kPsi);  // ks etc. are numeric only
  ApplyDriftThreshold(options, "categorical:js=0.05");
  EXPECT_EQ(options.categorical.statistic, DriftStatistic::kJs);
  ApplyDriftThreshold(options, "income:ks=0.2");
  ApplyDriftThreshold(options, "a:b:psi=0.3");  // the column is what precedes the last ':'
  EXPECT_EQ(options.columns.at("income").statistic, DriftStatistic::kKs);
  EXPECT_DOUBLE_EQ(options.columns.at("a:b").threshold, 0.3);
  ApplyDriftThreshold(options, "missing_rate=0.1");
  ApplyDriftThreshold(options, "dataset_share=0.3");
  EXPECT_DOUBLE_EQ(*options.missing_rate_threshold, 0.1);
  EXPECT_DOUBLE_EQ(options.dataset_drift_share, 0.3);
  for (const char* bad : {"psi", "psi=", "psi=x", "psi=-1", "p_value=0.05", "categorical:ks=0.1",
                          ":psi=0.1", "missing_rate=2", "dataset_share=0", "psi=nan"}) {
    EXPECT_THROW(ApplyDriftThreshold(options, bad), Error) << bad;
  }
  try {
    ApplyDriftThreshold(options, "income:pvalue=0.05");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown statistic 'pvalue'"), std::string::npos);
  }
}

TEST(DriftTest, DatasetDriftCountsDriftedColumnsAndChecksPerColumnThresholds) {
  DatasetProfileBuilder ref({"x", "y", "plan"});
  DatasetProfileBuilder cur({"x", "y", "plan"});
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0, 1);
  for (int i = 0; i < 5000; ++i) {
    const std::string x1 = std::to_string(normal(rng)), y1 = std::to_string(normal(rng));
    const std::string x2 = std::to_string(normal(rng) + 1), y2 = std::to_string(normal(rng));
    const std::string_view r[] = {x1, y1, i % 2 ? "a" : "b"};
    const std::string_view c[] = {x2, y2, i % 4 ? "a" : "b"};
    ref.AddRowOrThrow(r);
    cur.AddRowOrThrow(c);
  }
  const DatasetProfile rp = std::move(ref).Finish();
  const DatasetProfile cp = std::move(cur).Finish();
  const DriftReport report = DatasetDrift(rp, cp);
  EXPECT_TRUE(report.Find("x")->drifted);
  EXPECT_FALSE(report.Find("y")->drifted);
  EXPECT_TRUE(report.Find("plan")->drifted);  // 50/50 -> 75/25
  EXPECT_EQ(report.drifted_count, 2);
  EXPECT_TRUE(report.dataset_drift);  // 2 of 3 >= 50%
  const nlohmann::json json = report.ToJson();
  EXPECT_EQ(json["summary"]["drifted"], 2);
  EXPECT_EQ(json["summary"]["drifted_columns"], nlohmann::json({"x", "plan"}));

  DriftOptions options;
  options.columns["x"] = {DriftStatistic::kWassersteinNormed, 5.0};
  const DriftReport relaxed = DatasetDrift(rp, cp, options);
  EXPECT_FALSE(relaxed.Find("x")->drifted);
  EXPECT_DOUBLE_EQ(relaxed.Find("x")->drift_threshold, 5.0);
  EXPECT_FALSE(relaxed.dataset_drift);  // 1 of 3

  options.columns = {{"nope", {DriftStatistic::kPsi, 0.1}}};
  EXPECT_THROW(DatasetDrift(rp, cp, options), Error);
  options.columns = {{"plan", {DriftStatistic::kKs, 0.1}}};
  EXPECT_THROW(DatasetDrift(rp, cp, options), Error);
}

TEST(DriftReportTest, HtmlIsStandaloneAndJsonCarriesDistributions) {
  DatasetProfileBuilder ref({"x", "plan"});
  DatasetProfileBuilder cur({"x", "plan"});
  for (int i = 0; i < 1000; ++i) {
    const std::string x1 = std::to_string(i % 100), x2 = std::to_string(i % 100 + 30);
    const std::string_view r[] = {x1, i % 3 ? "basic" : "<pro>"};
    const std::string_view c[] = {x2, i % 3 ? "basic" : "new"};
    ref.AddRowOrThrow(r);
    cur.AddRowOrThrow(c);
  }
  monitoring::BatchDriftOptions options;
  options.reference_name = "ref.csv";
  options.current_name = "cur.csv";
  const monitoring::BatchDriftReport report =
      monitoring::BuildBatchDriftReport(std::move(ref).Finish(), std::move(cur).Finish(), options);
  ASSERT_EQ(report.charts.size(), 2u);
  EXPECT_TRUE(report.charts[0].numeric);
  EXPECT_EQ(report.charts[0].labels.size(), 20u);
  double total = 0;
  for (double s : report.charts[0].current) total += s;
  EXPECT_NEAR(total, 1.0, 1e-9);
  EXPECT_FALSE(report.charts[1].numeric);

  const nlohmann::json json = report.ToJson();
  EXPECT_EQ(json["reference"]["source"], "ref.csv");
  EXPECT_EQ(json["reference"]["rows"], 1000);
  EXPECT_EQ(json["columns"][0]["distribution"]["reference"].size(), 20u);
  EXPECT_EQ(json["summary"]["drifted"], 2);

  const std::string html = report.ToHtml();
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("2 of 2 columns drifted"), std::string::npos);
  EXPECT_NE(html.find("&lt;pro&gt;"), std::string::npos);  // escaped
  EXPECT_EQ(html.find("<pro>"), std::string::npos);

  options.columns = {"x", "absent"};
  EXPECT_THROW(
      monitoring::BuildBatchDriftReport(ProfileOf("x", {"1"}), ProfileOf("x", {"2"}), options),
      Error);
  options.columns.clear();
  EXPECT_THROW(
      monitoring::BuildBatchDriftReport(ProfileOf("x", {"1"}), ProfileOf("y", {"2"}), options),
      Error);
}

}  // namespace
}  // namespace slipway::data
