#include "data/drift.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <numbers>
#include <optional>
#include <stdexcept>

#include "core/error.h"

namespace slipway::data {

namespace {

using nlohmann::json;

// Evidently's floor of the reference's standard deviation in the normed
// Wasserstein distance.
constexpr double kMinNormStd = 0.001;

void CheckOptions(const DriftOptions& options) {
  if (options.numeric_bins < 2 || options.numeric_bins > 1000) {
    throw Error(ErrorCode::kInvalidParameterValue, "Drift numeric_bins must be in [2, 1000], got " +
                                                       std::to_string(options.numeric_bins));
  }
  if (!(options.epsilon > 0 && options.epsilon <= 0.01)) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "Drift epsilon must be in (0, 0.01], got " + std::to_string(options.epsilon));
  }
  const auto check_threshold = [](const DriftThreshold& t, const std::string& what) {
    if (!std::isfinite(t.threshold) || t.threshold < 0) {
      throw Error(ErrorCode::kInvalidParameterValue, "Drift threshold of " + what +
                                                         " must be a finite number >= 0, got " +
                                                         std::to_string(t.threshold));
    }
  };
  check_threshold(options.numeric, "numeric columns");
  check_threshold(options.categorical, "categorical columns");
  if (!DriftStatisticAppliesTo(options.categorical.statistic, DriftKind::kCategorical)) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "Drift statistic '" +
                    std::string(DriftStatisticName(options.categorical.statistic)) +
                    "' does not apply to categorical columns (use psi or js)");
  }
  for (const auto& [column, t] : options.columns) check_threshold(t, "column '" + column + "'");
  if (options.missing_rate_threshold &&
      !(*options.missing_rate_threshold >= 0 && *options.missing_rate_threshold <= 1)) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "Drift missing-rate threshold must be in [0, 1], got " +
                    std::to_string(*options.missing_rate_threshold));
  }
  if (!(options.dataset_drift_share > 0 && options.dataset_drift_share <= 1)) {
    throw Error(ErrorCode::kInvalidParameterValue, "Drift dataset share must be in (0, 1], got " +
                                                       std::to_string(options.dataset_drift_share));
  }
  if (options.few_values < 0) {
    throw Error(ErrorCode::kInvalidParameterValue, "Drift few_values must be >= 0");
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

  // W1 = integral of |F_ref - F_cur|: both step CDFs are constant between
  // consecutive retained values (scipy's formula).
  double w = 0;
  for (size_t i = 0; i + 1 < points.size(); ++i) {
    w += std::fabs(ref_cdf[i] - cur_cdf[i]) * (points[i + 1] - points[i]);
  }
  const double sigma = reference.count > 0 ? std::sqrt(reference.m2 / reference.count) : 0;
  out.wasserstein = w;
  out.wasserstein_normed = w / std::max(sigma, kMinNormStd);

  // Error bounds from the sketches: none while they hold every value.
  const auto rank_error = [](const KllSketch& s) {
    return s.retained() == static_cast<size_t>(s.count())
               ? 0.0
               : KllSketch::NormalizedRankError(s.k(), false);
  };
  const double eps = rank_error(ref) + rank_error(cur);
  out.exact = eps == 0;
  out.ks_error = eps;
  const double span = std::max(ref.max(), cur.max()) - std::min(ref.min(), cur.min());
  out.wasserstein_error = eps * span;
}

// The counts of each category on both sides (the union of the values either
// summary tracks, each side counted by its lower bound), plus an "other" bin
// for the rest when non-zero.
struct CategoryCounts {
  std::vector<std::string> values;  // parallel to the counts, without "other"
  std::vector<double> reference;
  std::vector<double> current;
  std::vector<std::pair<int64_t, std::string>> added;     // (-count, value)
  std::vector<std::pair<int64_t, std::string>> vanished;  // (-count, value)
};

CategoryCounts CountCategories(const ColumnProfile& reference, const ColumnProfile& current) {
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
  CategoryCounts out;
  int64_t ref_tracked = 0;
  int64_t cur_tracked = 0;
  for (const auto& [value, counts] : categories) {
    out.values.push_back(value);
    out.reference.push_back(static_cast<double>(counts.first));
    out.current.push_back(static_cast<double>(counts.second));
    ref_tracked += counts.first;
    cur_tracked += counts.second;
    // Upper bound 0 on one side: certainly absent there.
    if (counts.second > 0 && counts.first == 0 && ref.max_error() == 0) {
      out.added.emplace_back(-counts.second, value);
    }
    if (counts.first > 0 && counts.second == 0 && cur.max_error() == 0) {
      out.vanished.emplace_back(-counts.first, value);
    }
  }
  const int64_t ref_other = std::max<int64_t>(0, reference.count - ref_tracked);
  const int64_t cur_other = std::max<int64_t>(0, current.count - cur_tracked);
  if (ref_other > 0 || cur_other > 0) {
    out.reference.push_back(static_cast<double>(ref_other));
    out.current.push_back(static_cast<double>(cur_other));
  }
  return out;
}

// Pearson's chi-square test of homogeneity of the 2 x K table (reference,
// current) x categories.
void ChiSquare(const std::vector<double>& reference, const std::vector<double>& current,
               ColumnDrift& out) {
  double ref_total = 0;
  double cur_total = 0;
  for (double c : reference) ref_total += c;
  for (double c : current) cur_total += c;
  const double total = ref_total + cur_total;
  int categories = 0;
  double statistic = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    const double column = reference[i] + current[i];
    if (column <= 0) continue;
    ++categories;
    const double expected_ref = ref_total * column / total;
    const double expected_cur = cur_total * column / total;
    statistic += (reference[i] - expected_ref) * (reference[i] - expected_ref) / expected_ref;
    statistic += (current[i] - expected_cur) * (current[i] - expected_cur) / expected_cur;
  }
  if (categories < 2 || ref_total <= 0 || cur_total <= 0) return;
  out.chi_square = statistic;
  out.chi_square_dof = categories - 1;
  out.chi_square_p_value = ChiSquarePValue(statistic, categories - 1);
}

void CompareCategorical(const ColumnProfile& reference, const ColumnProfile& current,
                        const DriftOptions& options, ColumnDrift& out) {
  CategoryCounts counts = CountCategories(reference, current);
  const std::vector<double> ref_shares = Normalize(counts.reference);
  const std::vector<double> cur_shares = Normalize(counts.current);
  out.bins = static_cast<int>(ref_shares.size());
  out.psi = Psi(ref_shares, cur_shares, options.epsilon);
  out.js = JensenShannonDistance(ref_shares, cur_shares);
  ChiSquare(counts.reference, counts.current, out);
  out.exact = reference.top_items.exact() && current.top_items.exact();

  std::sort(counts.added.begin(), counts.added.end());
  std::sort(counts.vanished.begin(), counts.vanished.end());
  for (auto& [count, value] : counts.added) out.new_categories.push_back(std::move(value));
  for (auto& [count, value] : counts.vanished) out.missing_categories.push_back(std::move(value));
}

double ValueOf(const ColumnDrift& d, DriftStatistic statistic) {
  switch (statistic) {
    case DriftStatistic::kPsi:
      return d.psi;
    case DriftStatistic::kJs:
      return d.js;
    case DriftStatistic::kKs:
      return d.ks.value_or(0);
    case DriftStatistic::kWasserstein:
      return d.wasserstein.value_or(0);
    case DriftStatistic::kWassersteinNormed:
      return d.wasserstein_normed.value_or(0);
  }
  return 0;
}

// A numeric column with at most `few_values` distinct values on both sides
// together, known exactly from the top values.
bool HasFewValues(const ColumnProfile& reference, const ColumnProfile& current, int few_values) {
  if (few_values <= 0 || !reference.top_items.exact() || !current.top_items.exact()) return false;
  std::vector<std::string> values;
  for (const auto& item : reference.top_items.Top(reference.top_items.size())) {
    values.push_back(item.value);
  }
  for (const auto& item : current.top_items.Top(current.top_items.size())) {
    values.push_back(item.value);
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return static_cast<int>(values.size()) <= few_values;
}

void Decide(const ColumnProfile& reference, const ColumnProfile& current,
            const DriftOptions& options, ColumnDrift& out) {
  if (options.missing_rate_threshold &&
      std::fabs(out.missing_rate_change) >= *options.missing_rate_threshold) {
    out.drifted = true;
    out.drift_statistic = "missing_rate";
    out.drift_value = std::fabs(out.missing_rate_change);
    out.drift_threshold = *options.missing_rate_threshold;
    return;
  }
  if (!out.comparable) return;
  const auto column = options.columns.find(reference.name);
  const bool per_column = column != options.columns.end();
  DriftThreshold rule = per_column                        ? column->second
                        : out.kind == DriftKind::kNumeric ? options.numeric
                                                          : options.categorical;
  double value = ValueOf(out, rule.statistic);
  if (!per_column && out.kind == DriftKind::kNumeric &&
      HasFewValues(reference, current, options.few_values)) {
    // Decided as categories, like Evidently: the kind's categorical rule
    // over the shares of the column's values.
    rule = options.categorical;
    CategoryCounts counts = CountCategories(reference, current);
    const std::vector<double> ref_shares = Normalize(counts.reference);
    const std::vector<double> cur_shares = Normalize(counts.current);
    value = rule.statistic == DriftStatistic::kPsi ? Psi(ref_shares, cur_shares, options.epsilon)
                                                   : JensenShannonDistance(ref_shares, cur_shares);
    out.decided_as_categories = true;
  }
  out.drift_statistic = std::string(DriftStatisticName(rule.statistic));
  out.drift_value = value;
  out.drift_threshold = rule.threshold;
  out.drifted = value >= rule.threshold;
}

double MissingRate(int64_t missing, int64_t count) {
  return missing + count == 0 ? 0.0
                              : static_cast<double>(missing) / static_cast<double>(missing + count);
}

std::string Trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return "";
  const size_t end = text.find_last_not_of(" \t");
  return std::string(text.substr(begin, end - begin + 1));
}

}  // namespace

std::string_view DriftKindName(DriftKind kind) {
  return kind == DriftKind::kNumeric ? "numeric" : "categorical";
}

std::string_view DriftStatisticName(DriftStatistic statistic) {
  switch (statistic) {
    case DriftStatistic::kPsi:
      return "psi";
    case DriftStatistic::kKs:
      return "ks";
    case DriftStatistic::kJs:
      return "js";
    case DriftStatistic::kWasserstein:
      return "wasserstein";
    case DriftStatistic::kWassersteinNormed:
      return "wasserstein_normed";
  }
  return "";
}

std::optional<DriftStatistic> DriftStatisticFromName(std::string_view name) {
  for (DriftStatistic s : {DriftStatistic::kPsi, DriftStatistic::kKs, DriftStatistic::kJs,
                           DriftStatistic::kWasserstein, DriftStatistic::kWassersteinNormed}) {
    if (DriftStatisticName(s) == name) return s;
  }
  return std::nullopt;
}

bool DriftStatisticAppliesTo(DriftStatistic statistic, DriftKind kind) {
  return kind == DriftKind::kNumeric || statistic == DriftStatistic::kPsi ||
         statistic == DriftStatistic::kJs;
}

void ApplyDriftThreshold(DriftOptions& options, std::string_view spec) {
  const auto fail = [&](const std::string& what) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "Drift threshold '" + std::string(spec) + "': " + what +
                    " (expected [numeric:|categorical:|COLUMN:]STAT=VALUE with STAT one of psi, "
                    "js, ks, wasserstein, wasserstein_normed; or missing_rate=VALUE, "
                    "dataset_share=VALUE)");
  };
  const size_t eq = spec.rfind('=');
  if (eq == std::string_view::npos) fail("no '='");
  const std::string value_text = Trim(spec.substr(eq + 1));
  double value = 0;
  try {
    size_t used = 0;
    value = std::stod(value_text, &used);
    if (used != value_text.size()) fail("'" + value_text + "' is not a number");
  } catch (const std::logic_error&) {
    fail("'" + value_text + "' is not a number");
  }
  if (!std::isfinite(value) || value < 0) fail("the value must be a finite number >= 0");
  const std::string_view left = spec.substr(0, eq);
  const size_t colon = left.rfind(':');
  const std::string scope = colon == std::string_view::npos ? "" : Trim(left.substr(0, colon));
  const std::string name = Trim(colon == std::string_view::npos ? left : left.substr(colon + 1));
  if (colon == std::string_view::npos && name == "missing_rate") {
    if (value > 1) fail("a missing rate is at most 1");
    options.missing_rate_threshold = value;
    return;
  }
  if (colon == std::string_view::npos && name == "dataset_share") {
    if (value <= 0 || value > 1) fail("the share must be in (0, 1]");
    options.dataset_drift_share = value;
    return;
  }
  const std::optional<DriftStatistic> statistic = DriftStatisticFromName(name);
  if (!statistic) fail("unknown statistic '" + name + "'");
  if (colon != std::string_view::npos && scope.empty()) fail("empty column name");
  const DriftThreshold threshold{*statistic, value};
  if (scope.empty() || scope == "numeric") options.numeric = threshold;
  if (scope.empty() || scope == "categorical") {
    if (DriftStatisticAppliesTo(*statistic, DriftKind::kCategorical)) {
      options.categorical = threshold;
    } else if (scope == "categorical") {
      fail("'" + name + "' does not apply to categorical columns");
    }
  }
  if (!scope.empty() && scope != "numeric" && scope != "categorical") {
    options.columns[scope] = threshold;
  }
}

// Q(dof / 2, x / 2), the regularized upper incomplete gamma function, by its
// series below a + 1 and by Lentz's continued fraction above (Numerical
// Recipes, 6.2).
double ChiSquarePValue(double x, int dof) {
  if (dof <= 0) return 1.0;
  if (!(x > 0)) return 1.0;
  if (std::isinf(x)) return 0.0;
  const double a = dof / 2.0;
  const double z = x / 2.0;
  const double log_prefix = -z + a * std::log(z) - std::lgamma(a);
  if (z < a + 1) {
    double term = 1.0 / a;
    double sum = term;
    for (int n = 1; n < 10000; ++n) {
      term *= z / (a + n);
      sum += term;
      if (std::fabs(term) < std::fabs(sum) * 1e-16) break;
    }
    return std::clamp(1.0 - sum * std::exp(log_prefix), 0.0, 1.0);
  }
  constexpr double kTiny = 1e-300;
  double b = z + 1 - a;
  double c = 1 / kTiny;
  double d = 1 / b;
  double h = d;
  for (int i = 1; i < 10000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < 1e-16) break;
  }
  return std::clamp(std::exp(log_prefix) * h, 0.0, 1.0);
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
  out.reference_missing = reference.missing;
  out.current_missing = current.missing;
  out.reference_missing_rate = MissingRate(reference.missing, reference.count);
  out.current_missing_rate = MissingRate(current.missing, current.count);
  out.missing_rate_change = out.current_missing_rate - out.reference_missing_rate;
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
  } else if (numeric) {
    CompareNumeric(reference, current, options, out);
  } else {
    CompareCategorical(reference, current, options, out);
  }
  Decide(reference, current, options, out);
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
  if (wasserstein) out["wasserstein"] = *wasserstein;
  if (wasserstein_normed) out["wasserstein_normed"] = *wasserstein_normed;
  if (chi_square) {
    out["chi_square"] = {{"statistic", *chi_square},
                         {"dof", chi_square_dof.value_or(0)},
                         {"p_value", chi_square_p_value.value_or(1.0)}};
  }
  out["exact"] = exact;
  out["error"] = {{"ks", ks_error}, {"wasserstein", wasserstein_error}};
  out["missing"] = {{"reference", reference_missing},
                    {"current", current_missing},
                    {"reference_rate", reference_missing_rate},
                    {"current_rate", current_missing_rate},
                    {"rate_change", missing_rate_change}};
  json drift = {{"drifted", drifted}};
  if (!drift_statistic.empty()) {
    drift["statistic"] = drift_statistic;
    drift["value"] = drift_value;
    drift["threshold"] = drift_threshold;
    drift["as_categories"] = decided_as_categories;
  }
  out["drift"] = std::move(drift);
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
  std::vector<std::string> drifted_columns;
  for (const ColumnDrift& c : columns) {
    if (c.drifted) drifted_columns.push_back(c.column);
  }
  const double share =
      columns.empty() ? 0.0
                      : static_cast<double>(drifted_count) / static_cast<double>(columns.size());
  return {{"columns", std::move(list)},
          {"only_in_reference", only_in_reference},
          {"only_in_current", only_in_current},
          {"summary",
           {{"compared", columns.size()},
            {"drifted", drifted_count},
            {"drifted_share", share},
            {"dataset_drift", dataset_drift},
            {"dataset_drift_share", dataset_drift_share},
            {"drifted_columns", std::move(drifted_columns)}}}};
}

DriftReport DatasetDrift(const DatasetProfile& reference, const DatasetProfile& current,
                         const DriftOptions& options) {
  CheckOptions(options);
  for (const auto& [name, threshold] : options.columns) {
    const ColumnProfile* ref = reference.Find(name);
    const ColumnProfile* cur = current.Find(name);
    if (ref == nullptr || cur == nullptr) {
      throw Error(ErrorCode::kInvalidParameterValue,
                  "Drift threshold for column '" + name + "': the column is not in " +
                      (ref == nullptr ? "the reference" : "the current data"));
    }
    const DriftKind kind = IsNumeric(ref->type) && IsNumeric(cur->type) ? DriftKind::kNumeric
                                                                        : DriftKind::kCategorical;
    if (!DriftStatisticAppliesTo(threshold.statistic, kind)) {
      throw Error(ErrorCode::kInvalidParameterValue,
                  "Drift threshold for column '" + name + "': '" +
                      std::string(DriftStatisticName(threshold.statistic)) +
                      "' does not apply to a categorical column (use psi or js)");
    }
  }
  DriftReport report;
  report.dataset_drift_share = options.dataset_drift_share;
  for (const ColumnProfile& ref : reference.columns) {
    if (const ColumnProfile* cur = current.Find(ref.name)) {
      report.columns.push_back(ComputeDrift(ref, *cur, options));
      report.drifted_count += report.columns.back().drifted;
    } else {
      report.only_in_reference.push_back(ref.name);
    }
  }
  for (const ColumnProfile& cur : current.columns) {
    if (reference.Find(cur.name) == nullptr) report.only_in_current.push_back(cur.name);
  }
  report.dataset_drift = !report.columns.empty() &&
                         report.drifted_count >= options.dataset_drift_share *
                                                     static_cast<double>(report.columns.size());
  return report;
}

}  // namespace slipway::data
