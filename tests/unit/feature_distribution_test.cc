// The distributions the monitoring page overlays: the reference and the
// current range on shared bins, numeric and categorical.
#include "monitoring/live/feature_distribution.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "data/profile.h"

namespace slipway::monitoring::live {
namespace {

// A profile of columns "x" (numeric) and "color" (text), one row per pair.
data::DatasetProfile Profile(const std::vector<double>& xs,
                             const std::vector<std::string>& colors) {
  data::DatasetProfileBuilder builder({"x", "color"});
  for (size_t i = 0; i < xs.size(); ++i) {
    std::string x = std::to_string(xs[i]);
    std::vector<std::string_view> fields = {x, colors[i % colors.size()]};
    builder.AddRowOrThrow(fields);
  }
  return std::move(builder).Finish();
}

std::vector<double> Normal(double mean, int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> dist(mean, 1.0);
  std::vector<double> out;
  for (int i = 0; i < n; ++i) out.push_back(dist(rng));
  return out;
}

double Sum(const FeatureDistribution& d, bool reference) {
  double total = 0;
  for (const DistributionBin& bin : d.bins) total += reference ? bin.reference : bin.current;
  return total;
}

double Mean(const FeatureDistribution& d, bool reference) {
  double total = 0;
  for (const DistributionBin& bin : d.bins) {
    total += (reference ? bin.reference : bin.current) * (bin.lower + bin.upper) / 2;
  }
  return total;
}

TEST(FeatureDistributionTest, NumericSidesShareBinsOverBothRanges) {
  data::DatasetProfile reference = Profile(Normal(0, 2000, 1), {"red"});
  data::DatasetProfile current = Profile(Normal(3, 2000, 2), {"red"});
  std::vector<FeatureDistribution> out = FeatureDistributions(reference, current, {"x"});
  ASSERT_EQ(out.size(), 1u);
  const FeatureDistribution& x = out[0];
  EXPECT_TRUE(x.numeric);
  EXPECT_EQ(x.reference_count, 2000);
  EXPECT_EQ(x.current_count, 2000);
  ASSERT_EQ(x.bins.size(), static_cast<size_t>(kDistributionBins));
  const data::ColumnProfile& ref = *reference.Find("x");
  const data::ColumnProfile& cur = *current.Find("x");
  EXPECT_DOUBLE_EQ(x.bins.front().lower, std::min(ref.min, cur.min));
  EXPECT_DOUBLE_EQ(x.bins.back().upper, std::max(ref.max, cur.max));
  for (size_t i = 1; i < x.bins.size(); ++i) EXPECT_DOUBLE_EQ(x.bins[i].lower, x.bins[i - 1].upper);
  EXPECT_NEAR(Sum(x, true), 1.0, 1e-9);
  EXPECT_NEAR(Sum(x, false), 1.0, 1e-9);
  // The shift shows: bin midpoints weighted by the shares, within a bin's width.
  const double width = x.bins[0].upper - x.bins[0].lower;
  EXPECT_NEAR(Mean(x, true), ref.mean, width);
  EXPECT_NEAR(Mean(x, false), cur.mean, width);
  EXPECT_GT(Mean(x, false) - Mean(x, true), 2.0);

  nlohmann::json json = x.ToJson();
  EXPECT_EQ(json["kind"], "numeric");
  EXPECT_EQ(json["bins"].size(), x.bins.size());
  EXPECT_TRUE(json["bins"][0].contains("lower"));
  EXPECT_FALSE(json["bins"][0].contains("value"));
}

TEST(FeatureDistributionTest, CategoriesOfEitherSideWithTheirShares) {
  std::vector<double> xs(100, 1.0);
  data::DatasetProfile reference = Profile(xs, {"red", "red", "red", "blue"});
  data::DatasetProfile current = Profile(xs, {"red", "purple"});
  FeatureDistribution color = FeatureDistributions(reference, current, {"color"})[0];
  EXPECT_FALSE(color.numeric);
  std::map<std::string, std::pair<double, double>> shares;
  for (const DistributionBin& bin : color.bins) {
    EXPECT_FALSE(bin.other) << "every category is listed, nothing is left for 'other'";
    shares[bin.value] = {bin.reference, bin.current};
  }
  EXPECT_DOUBLE_EQ(shares["red"].first, 0.75);
  EXPECT_DOUBLE_EQ(shares["red"].second, 0.5);
  EXPECT_DOUBLE_EQ(shares["blue"].first, 0.25);
  EXPECT_DOUBLE_EQ(shares["blue"].second, 0.0);
  EXPECT_DOUBLE_EQ(shares["purple"].first, 0.0);
  EXPECT_DOUBLE_EQ(shares["purple"].second, 0.5);
  EXPECT_EQ(shares.size(), 3u);
  // By the larger of a category's two shares; ties by name.
  EXPECT_EQ(color.bins[0].value, "red");
  EXPECT_EQ(color.bins[1].value, "purple");
  EXPECT_EQ(color.bins[2].value, "blue");
  EXPECT_EQ(color.ToJson()["bins"][0]["value"], "red");
}

TEST(FeatureDistributionTest, ManyCategoriesKeepTheLargestAndTheRestAsOther) {
  std::vector<std::string> many;
  for (int i = 0; i < 40; ++i) many.push_back("c" + std::to_string(i));
  std::vector<double> xs(400, 1.0);
  FeatureDistribution color =
      FeatureDistributions(Profile(xs, many), Profile(xs, many), {"color"})[0];
  ASSERT_EQ(color.bins.size(), kDistributionCategories + 1);
  EXPECT_TRUE(color.bins.back().other);
  EXPECT_NEAR(color.bins.back().reference, 0.5, 1e-9);
  EXPECT_NEAR(Sum(color, true), 1.0, 1e-9);
  EXPECT_EQ(color.ToJson()["bins"].back()["other"], true);
}

TEST(FeatureDistributionTest, AFeatureWithoutLiveValuesHasReferenceSharesOnly) {
  data::DatasetProfile reference = Profile(Normal(0, 500, 3), {"red"});
  data::DatasetProfile current;  // no window yet
  std::vector<FeatureDistribution> out = FeatureDistributions(reference, current, {"x", "color"});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].numeric);
  EXPECT_EQ(out[0].current_count, 0);
  EXPECT_NEAR(Sum(out[0], true), 1.0, 1e-9);
  EXPECT_EQ(Sum(out[0], false), 0.0);
  EXPECT_FALSE(out[1].numeric);
  EXPECT_DOUBLE_EQ(out[1].bins.at(0).reference, 1.0);
  EXPECT_EQ(out[1].bins.at(0).current, 0.0);
}

}  // namespace
}  // namespace slipway::monitoring::live
