#include "monitoring/live/feature_distribution.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

namespace slipway::monitoring::live {
namespace {

using json = nlohmann::json;

bool HasNumbers(const data::ColumnProfile* column) {
  return column != nullptr && column->count > 0 && data::IsNumeric(column->type) &&
         !column->quantiles.empty();
}

// Each side's share per bin of `edges` (kDistributionBins + 1 ascending).
std::vector<double> Shares(const data::ColumnProfile* column, const std::vector<double>& edges) {
  std::vector<double> shares(edges.size() - 1, 0.0);
  if (!HasNumbers(column)) return shares;
  std::vector<double> inner(edges.begin() + 1, edges.end() - 1);
  std::vector<double> cdf = column->quantiles.Cdf(inner);
  double below = 0;
  for (size_t i = 0; i < shares.size(); ++i) {
    double upto = i < cdf.size() ? cdf[i] : 1.0;
    shares[i] = std::max(0.0, upto - below);
    below = std::max(below, upto);
  }
  return shares;
}

void NumericBins(const data::ColumnProfile* ref, const data::ColumnProfile* cur,
                 FeatureDistribution& out) {
  double lo = 0, hi = 0;
  bool any = false;
  for (const data::ColumnProfile* side : {ref, cur}) {
    if (!HasNumbers(side)) continue;
    lo = any ? std::min(lo, side->min) : side->min;
    hi = any ? std::max(hi, side->max) : side->max;
    any = true;
  }
  if (!any) return;
  if (!(hi > lo)) {
    // Every value equal: one bin holding all of them.
    out.bins.push_back(
        {lo, hi, "", false, HasNumbers(ref) ? 1.0 : 0.0, HasNumbers(cur) ? 1.0 : 0.0});
    return;
  }
  std::vector<double> edges(kDistributionBins + 1);
  const double width = (hi - lo) / kDistributionBins;
  for (int i = 0; i <= kDistributionBins; ++i) edges[i] = lo + width * i;
  edges.back() = hi;
  std::vector<double> ref_shares = Shares(ref, edges);
  std::vector<double> cur_shares = Shares(cur, edges);
  for (int i = 0; i < kDistributionBins; ++i) {
    out.bins.push_back({edges[i], edges[i + 1], "", false, ref_shares[i], cur_shares[i]});
  }
}

double ShareOf(const data::ColumnProfile* column, const std::string& value) {
  if (column == nullptr || column->count <= 0) return 0.0;
  return static_cast<double>(column->top_items.Lookup(value).lower_bound) /
         static_cast<double>(column->count);
}

void CategoricalBins(const data::ColumnProfile* ref, const data::ColumnProfile* cur,
                     FeatureDistribution& out) {
  // The most frequent categories of either side, by the larger of their
  // two shares (ties by name).
  std::map<std::string, double> score;
  for (const data::ColumnProfile* side : {ref, cur}) {
    if (side == nullptr || side->count <= 0) continue;
    for (const data::FrequentItems::Item& item : side->top_items.Top(kDistributionCategories)) {
      score[item.value] = std::max(score[item.value], ShareOf(side, item.value));
    }
  }
  std::vector<std::pair<std::string, double>> ranked(score.begin(), score.end());
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (ranked.size() > kDistributionCategories) ranked.resize(kDistributionCategories);
  double ref_listed = 0, cur_listed = 0;
  for (const auto& [value, unused] : ranked) {
    DistributionBin bin;
    bin.value = value;
    bin.reference = ShareOf(ref, value);
    bin.current = ShareOf(cur, value);
    ref_listed += bin.reference;
    cur_listed += bin.current;
    out.bins.push_back(std::move(bin));
  }
  DistributionBin rest;
  rest.other = true;
  rest.reference = out.reference_count > 0 ? std::max(0.0, 1.0 - ref_listed) : 0.0;
  rest.current = out.current_count > 0 ? std::max(0.0, 1.0 - cur_listed) : 0.0;
  // Shares below rounding noise are no category of their own.
  if (rest.reference > 1e-9 || rest.current > 1e-9) out.bins.push_back(std::move(rest));
}

}  // namespace

json FeatureDistribution::ToJson() const {
  json list = json::array();
  for (const DistributionBin& bin : bins) {
    json item = {{"reference", bin.reference}, {"current", bin.current}};
    if (numeric) {
      item["lower"] = bin.lower;
      item["upper"] = bin.upper;
    } else if (bin.other) {
      item["other"] = true;
    } else {
      item["value"] = bin.value;
    }
    list.push_back(std::move(item));
  }
  return {{"feature", feature},
          {"kind", numeric ? "numeric" : "categorical"},
          {"reference_count", reference_count},
          {"current_count", current_count},
          {"bins", std::move(list)}};
}

std::vector<FeatureDistribution> FeatureDistributions(const data::DatasetProfile& reference,
                                                      const data::DatasetProfile& current,
                                                      const std::vector<std::string>& features) {
  std::vector<FeatureDistribution> out;
  for (const std::string& feature : features) {
    const data::ColumnProfile* ref = reference.Find(feature);
    const data::ColumnProfile* cur = current.Find(feature);
    FeatureDistribution distribution;
    distribution.feature = feature;
    distribution.reference_count = ref ? ref->count : 0;
    distribution.current_count = cur ? cur->count : 0;
    // A side without values does not decide the kind: the other one does.
    const bool ref_numeric = ref == nullptr || ref->count == 0 || HasNumbers(ref);
    const bool cur_numeric = cur == nullptr || cur->count == 0 || HasNumbers(cur);
    distribution.numeric = ref_numeric && cur_numeric && (HasNumbers(ref) || HasNumbers(cur));
    if (distribution.numeric) {
      NumericBins(ref, cur, distribution);
    } else {
      CategoricalBins(ref, cur, distribution);
    }
    out.push_back(std::move(distribution));
  }
  return out;
}

}  // namespace slipway::monitoring::live
