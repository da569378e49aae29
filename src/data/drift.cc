#include "data/drift.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <numbers>

#include "core/error.h"

namespace slipway::data {

namespace {

using nlohmann::json;

void CheckOptions(const DriftOptions& options) {
  if (options.numeric_bins < 2 || options.numeric_bins > 1000) {
    throw Error(ErrorCode::kInvalidParameterValue, "Drift numeric_bins must be in [2, 1000], got " +
                                                       std::to_string(options.numeric_bins));
  }
  if (!(options.epsilon > 0 && options.epsilon <= 0.01)) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "Drift epsilon must be in (0, 0.01], got " + std::to_string(options.epsilon));
  }
}

// Shares of each bin from counts (or cumulative differences); all zero if the
// total is zero.
std::vector<double> Normalize(const std::vector<double>& counts) {
  double total = 0;
  for (double c : counts) total += c;
  std::vector<double> out(counts.size(), 0.0);
  if (total <= 0) return out;
  for (size_t i = 0; i < counts.size(); ++i) out[i] = std::max(0.0, counts[i]) / total;
  return out;
}

double Psi(const std::vector<double>& reference, const std::vector<double>& current,
           double epsilon) {
  const double denominator = 1.0 + epsilon * static_cast<double>(reference.size());
  double psi = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    const double r = (reference[i] + epsilon) / denominator;
    const double c = (current[i] + epsilon) / denominator;
    psi += (c - r) * std::log(c / r);
  }
  return std::max(0.0, psi);
}

double JensenShannonDistance(const std::vector<double>& p, const std::vector<double>& q) {
  double divergence = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double m = (p[i] + q[i]) / 2;
    if (p[i] > 0) divergence += 0.5 * p[i] * std::log2(p[i] / m);
    if (q[i] > 0) divergence += 0.5 * q[i] * std::log2(q[i] / m);
  }
  return std::sqrt(std::clamp(divergence, 0.0, 1.0));
}

// Shares of the bins (-inf, e1], (e1, e2], ..., (e_last, +inf) from a CDF
// evaluated at the edges.
std::vector<double> BinShares(const std::vector<double>& cdf_at_edges) {
  std::vector<double> shares(cdf_at_edges.size() + 1);
  double previous = 0;
  for (size_t i = 0; i < cdf_at_edges.size(); ++i) {
    shares[i] = std::max(0.0, cdf_at_edges[i] - previous);
    previous = std::max(previous, cdf_at_edges[i]);
  }
  shares.back() = std::max(0.0, 1.0 - previous);
  return shares;
}

void CompareNumeric(const ColumnProfile& reference, const ColumnProfile& current,
                    const DriftOptions& options, ColumnDrift& out) {
  const KllSketch& ref = reference.quantiles;
  const KllSketch& cur = current.quantiles;

  std::vector<double> qs;
  for (int i = 1; i < options.numeric_bins; ++i) {
    qs.push_back(static_cast<double>(i) / options.numeric_bins);
  }
  std::vector<double> edges = ref.Quantiles(qs);
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  const std::vector<double> ref_shares = BinShares(ref.Cdf(edges));
  const std::vector<double> cur_shares = BinShares(cur.Cdf(edges));
  out.bins = static_cast<int>(ref_shares.size());
  out.psi = Psi(ref_shares, cur_shares, options.epsilon);
  out.js = JensenShannonDistance(ref_shares, cur_shares);

  std::vector<double> points;
  for (const KllSketch::WeightedValue& w : ref.SortedView()) points.push_back(w.value);
  for (const KllSketch::WeightedValue& w : cur.SortedView()) points.push_back(w.value);
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  const std::vector<double> ref_cdf = ref.Cdf(points);
  const std::vector<double> cur_cdf = cur.Cdf(points);
  double d = 0;
  for (size_t i = 0; i < points.size(); ++i) d = std::max(d, std::fabs(ref_cdf[i] - cur_cdf[i]));
  out.ks = std::min(d, 1.0);
  out.ks_p_value = KsPValue(*out.ks, ref.count(), cur.count());
}

void CompareCategorical(const ColumnProfile& reference, const ColumnProfile& current,
                        const DriftOptions& options, ColumnDrift& out) {
  const FrequentItems& ref = reference.top_items;
  const FrequentItems& cur = current.top_items;
  // value -> (reference lower bound, current lower bound)
  std::map<std::string, std::pair<int64_t, int64_t>> categories;
  for (const FrequentItems::Item& item : ref.Top(ref.size())) {
    categories[item.value].first = item.lower_bound;
  }
  for (const FrequentItems::Item& item : cur.Top(cur.size())) {
    categories[item.value].second = item.lower_bound;
  }
  std::vector<double> ref_counts;
  std::vector<double> cur_counts;
  int64_t ref_tracked = 0;
  int64_t cur_tracked = 0;
  std::vector<std::pair<int64_t, std::string>> added;
  std::vector<std::pair<int64_t, std::string>> vanished;
  for (const auto& [value, counts] : categories) {
    ref_counts.push_back(static_cast<double>(counts.first));
    cur_counts.push_back(static_cast<double>(counts.second));
    ref_tracked += counts.first;
    cur_tracked += counts.second;
    // Upper bound 0 on one side: certainly absent there.
    if (counts.second > 0 && counts.first == 0 && ref.max_error() == 0) {
      added.emplace_back(-counts.second, value);
    }
    if (counts.first > 0 && counts.second == 0 && cur.max_error() == 0) {
      vanished.emplace_back(-counts.first, value);
    }
  }
  const int64_t ref_other = std::max<int64_t>(0, reference.count - ref_tracked);
  const int64_t cur_other = std::max<int64_t>(0, current.count - cur_tracked);
  if (ref_other > 0 || cur_other > 0) {
    ref_counts.push_back(static_cast<double>(ref_other));
    cur_counts.push_back(static_cast<double>(cur_other));
  }
  const std::vector<double> ref_shares = Normalize(ref_counts);
  const std::vector<double> cur_shares = Normalize(cur_counts);
  out.bins = static_cast<int>(ref_shares.size());
  out.psi = Psi(ref_shares, cur_shares, options.epsilon);
  out.js = JensenShannonDistance(ref_shares, cur_shares);

  std::sort(added.begin(), added.end());
  std::sort(vanished.begin(), vanished.end());
  for (auto& [count, value] : added) out.new_categories.push_back(std::move(value));
  for (auto& [count, value] : vanished) out.missing_categories.push_back(std::move(value));
}

}  // namespace

std::string_view DriftKindName(DriftKind kind) {
  return kind == DriftKind::kNumeric ? "numeric" : "categorical";
}

double KsPValue(double d, int64_t n, int64_t m) {
  if (n <= 0 || m <= 0 || d <= 0) return 1.0;
  const double ne = static_cast<double>(n) * static_cast<double>(m) / static_cast<double>(n + m);
  const double en = std::sqrt(ne);
  const double lambda = (en + 0.12 + 0.11 / en) * std::min(d, 1.0);
  double q;
  if (lambda < 1.18) {
    // The series for the CDF converges fast for small lambda.
    const double pi = std::numbers::pi;
    const double w = -pi * pi / (8 * lambda * lambda);
    double sum = 0;
    for (int j = 1; j <= 8; ++j) {
      const double k = 2.0 * j - 1;
      sum += std::exp(w * k * k);
    }
    q = 1.0 - std::sqrt(2 * pi) / lambda * sum;
  } else {
    q = 0;
    double sign = 1;
    for (int j = 1; j <= 100; ++j) {
      const double term = std::exp(-2.0 * j * j * lambda * lambda);
      q += sign * term;
      if (term < 1e-17) break;
      sign = -sign;
    }
    q *= 2;
  }
  return std::clamp(q, 0.0, 1.0);
}

ColumnDrift ComputeDrift(const ColumnProfile& reference, const ColumnProfile& current,
                         const DriftOptions& options) {
  CheckOptions(options);
  ColumnDrift out;
  out.column = reference.name;
  out.reference_count = reference.count;
  out.current_count = current.count;
  const bool numeric = IsNumeric(reference.type) && IsNumeric(current.type);
  out.kind = numeric ? DriftKind::kNumeric : DriftKind::kCategorical;
  if (reference.count == 0 || current.count == 0) {
    out.comparable = false;
    if (reference.count == 0 && current.count == 0) {
      out.note = "no non-missing values on either side";
    } else if (reference.count == 0) {
      out.note = "the reference has no non-missing values";
    } else {
      out.note = "the current data has no non-missing values";
    }
    return out;
  }
  if (numeric) {
    CompareNumeric(reference, current, options, out);
  } else {
    CompareCategorical(reference, current, options, out);
  }
  return out;
}

json ColumnDrift::ToJson() const {
  json out = {
      {"column", column},
      {"kind", DriftKindName(kind)},
      {"comparable", comparable},
      {"psi", psi},
      {"js", js},
      {"bins", bins},
  };
  if (ks) out["ks"] = *ks;
  if (ks_p_value) out["ks_p_value"] = *ks_p_value;
  out["new_categories"] = new_categories;
  out["missing_categories"] = missing_categories;
  out["reference_count"] = reference_count;
  out["current_count"] = current_count;
  if (!note.empty()) out["note"] = note;
  return out;
}

const ColumnDrift* DriftReport::Find(std::string_view column) const {
  for (const ColumnDrift& c : columns) {
    if (c.column == column) return &c;
  }
  return nullptr;
}

json DriftReport::ToJson() const {
  json list = json::array();
  for (const ColumnDrift& c : columns) list.push_back(c.ToJson());
  return {{"columns", std::move(list)},
          {"only_in_reference", only_in_reference},
          {"only_in_current", only_in_current}};
}

DriftReport DatasetDrift(const DatasetProfile& reference, const DatasetProfile& current,
                         const DriftOptions& options) {
  CheckOptions(options);
  DriftReport report;
  for (const ColumnProfile& ref : reference.columns) {
    if (const ColumnProfile* cur = current.Find(ref.name)) {
      report.columns.push_back(ComputeDrift(ref, *cur, options));
    } else {
      report.only_in_reference.push_back(ref.name);
    }
  }
  for (const ColumnProfile& cur : current.columns) {
    if (reference.Find(cur.name) == nullptr) report.only_in_current.push_back(cur.name);
  }
  return report;
}

}  // namespace slipway::data
