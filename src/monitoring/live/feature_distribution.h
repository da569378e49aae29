// The distribution of a monitored feature in the reference and in live
// traffic, side by side on the same bins, for charts (the web UI's
// monitoring page overlays them).
//
// Numeric features (numeric on both sides): `kBins` equal-width bins over
// the range both sides span, each side's share of its non-missing values
// per bin from its KLL sketch (Rank at the bin edges: values in
// (lower, upper], the first bin also holds `lower`; within the sketch's
// rank error, ~1.65% per bin at k = 200). Categorical features (either side
// not numeric): the categories most frequent on either side (at most
// kCategories, from the top-values sketches: exact while a side has at most
// 64 distinct values, else lower bounds), each side's share of its
// non-missing values, and the rest as one "other" entry.
//
// Only display: drift decisions are data::DatasetDrift's, on its own bins.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "data/profile.h"

namespace slipway::monitoring::live {

struct DistributionBin {
  double lower = 0;      // numeric
  double upper = 0;      // numeric
  std::string value;     // categorical: the category ("" with other)
  bool other = false;    // categorical: every category not listed
  double reference = 0;  // share of the reference's non-missing values
  double current = 0;    // share of the current range's non-missing values
};

struct FeatureDistribution {
  std::string feature;
  bool numeric = false;
  int64_t reference_count = 0;  // non-missing values on each side
  int64_t current_count = 0;
  std::vector<DistributionBin> bins;

  nlohmann::json ToJson() const;
};

inline constexpr int kDistributionBins = 20;
inline constexpr size_t kDistributionCategories = 20;

// One entry per feature, in `features` order; a feature missing from a
// profile counts as having no values there (its bins are empty when
// neither side has any).
std::vector<FeatureDistribution> FeatureDistributions(const data::DatasetProfile& reference,
                                                      const data::DatasetProfile& current,
                                                      const std::vector<std::string>& features);

}  // namespace slipway::monitoring::live
