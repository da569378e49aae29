// Distribution drift between two profiles of the same column, computed from
// the profiles' sketches alone (no raw data).
//
// A column is compared as numeric when both sides have a numeric view with
// values (profile.h: int64 or float64), else as categorical over the texts
// of its values. The distances:
//
// Numeric columns
//   - Bins: the reference's quantiles at 1/B, ..., (B-1)/B for B =
//     `numeric_bins` (deciles by default), from its KLL sketch, duplicates
//     removed, cut the line into at most B bins
//     (-inf, e1], (e1, e2], ..., (e_last, +inf). Each side's share of a bin is
//     a difference of its own KLL Rank() at the edges, so values outside the
//     reference's range land in the first or last bin. A column with few
//     distinct values gets fewer bins (one per distinct decile).
//   - PSI = sum_i (c_i - r_i) ln(c_i / r_i) over the bins, with r_i and c_i
//     the reference's and current's shares after additive smoothing:
//     s_i = (p_i + epsilon) / (1 + B epsilon), B the number of bins,
//     epsilon = DriftOptions::epsilon (1e-4). Smoothing keeps PSI finite when
//     a bin is empty on one side (it then adds about p ln(p / 1e-4)), and
//     otherwise changes PSI only in the order of epsilon. Identical shares
//     give exactly 0.
//   - KS: D = max |F_ref(x) - F_cur(x)| over x in the union of the values
//     both KLL sketches retain (every value while a column has fewer than
//     k = 200 values; D is then exact). Each CDF is KLL's Rank(), within
//     ~1.33% of the true CDF, so D is within ~0.027 of the exact two-sample
//     statistic. The p-value is Kolmogorov's asymptotic one for effective
//     n = n m / (n + m) (see KsPValue); it treats D as exact, so for very
//     large columns, where the sketch error exceeds the sampling error, read
//     it as "significant or not" rather than as a probability.
//   - JS: the Jensen-Shannon distance, sqrt of the divergence with base-2
//     logarithms, over the unsmoothed bin shares: in [0, 1], 0 for identical
//     shares, 1 for disjoint supports.
//
// Categorical columns (string, bool, or a type that differs between sides)
//   - Categories: the union of the values either side's FrequentItems tracks,
//     each side counted by its lower bound, plus one "other" bin holding the
//     rest of each side's count (values neither side tracks), when non-zero.
//     While both sides have at most FrequentItems' capacity (64) distinct
//     values the counts are exact; beyond, values one side does not track
//     count as 0 there, within that side's max_error().
//   - PSI and JS as above over the categories' shares; KS does not apply and
//     is absent.
//   - new_categories: values the current side tracks that the reference
//     certainly does not have (its upper bound is 0: the reference's summary
//     is exact and lacks the value); missing_categories the other way round.
//     Sorted by current (resp. reference) count, descending.
//
// Further statistics (numeric)
//   - Wasserstein: the first Wasserstein (earth mover's) distance
//     W1 = integral |F_ref(x) - F_cur(x)| dx, in the column's units, over
//     the step CDFs of the values both KLL sketches retain (the same formula
//     as scipy.stats.wasserstein_distance; exact while both sketches hold
//     every value). wasserstein_normed = W1 / max(sigma_ref, 0.001), sigma_ref
//     the reference's population standard deviation (exact, from the
//     moments): Evidently's "Wasserstein distance (normed)", np.std included.
//     Sketch error: each sketched CDF is within eps = 1.33% (k = 200) of the
//     true one at any one point, with 99% confidence per point (KLL's
//     published bound; all points at once, somewhat less surely), so
//     |W1 - W1_exact| <= (eps_ref + eps_cur) (max - min over both sides):
//     `wasserstein_error`.
//     That bound is a worst case (a CDF off by eps everywhere at once); the
//     errors of KLL's ranks are random and partly cancel in the integral.
//     Measured on 200k-row columns, normed: 0.003 to 0.013 on normal ones,
//     0.021 on a lognormal(0, 1) one, upwards (when the two distributions
//     are close the two sketches' independent rank errors add, and a heavy
//     tail weights them by wide gaps); the tests allow 0.03, under a third
//     of the default threshold. A value that close to its threshold can go
//     either way.
//   - ks_error: (eps_ref + eps_cur), the bound on |D - D_exact| in the same
//     sense; 0 when exact. Measured: under 0.005 on 200k-row columns.
//
// Further statistics (categorical)
//   - Chi-square: Pearson's test of homogeneity on the 2 x K table of the
//     categories' counts (the same K categories, "other" included, as PSI):
//     statistic sum (O - E)^2 / E with E = row total x column total / N,
//     dof = K - 1, p-value = the chi-square survival function (as
//     scipy.stats.chi2_contingency(table, correction=False)). Absent when
//     K < 2. Exact while both summaries are exact (at most 64 values);
//     beyond, the counts of a category are each within their summary's
//     max_error().
//
// Missing values: reference_missing and current_missing, their rates
// (missing / (missing + count)) and the change (current - reference).
//
// The decision: effect sizes, not p-values
//   A column is `drifted` when one statistic reaches its threshold
//   (value >= threshold, as Evidently). The statistic that decided, its value
//   and its threshold are reported with the decision. The defaults follow
//   Evidently's for references over 1000 rows:
//     - numeric: wasserstein_normed >= 0.1 (a shift of a tenth of a standard
//       deviation, or the equivalent change of shape);
//     - categorical: js >= 0.1201, our base-2 Jensen-Shannon distance for
//       Evidently's 0.1 in natural-log units (scipy's default base):
//       distance_e = distance_2 sqrt(ln 2), so 0.1 / sqrt(ln 2) = 0.1201 is
//       the same decision;
//     - numeric columns with at most `few_values` (5) distinct values on both
//       sides together (known exactly from the top values) are decided as
//       categories: js over their values, threshold as categorical. This is
//       Evidently's rule too; the reported js field stays the decile one.
//   Why not p-values: a test's p-value measures how sure we are that the
//   distributions differ at all, and with a million rows any difference is
//   certain: a KS p-value of 1e-30 for a shift nobody would act on. Effect
//   sizes (how far apart) do not grow with the row count, so a threshold
//   means the same on a thousand rows and on a billion, and on a sketch
//   whose error is smaller than the threshold. p-values are reported, never
//   used to decide. PSI's customary levels (< 0.1 stable, 0.1-0.2 moderate,
//   >= 0.2 significant shift) make psi >= 0.2 a reasonable threshold for
//   those who prefer it.
//   Thresholds are chosen per kind (DriftOptions::numeric, categorical), per
//   column (DriftOptions::columns), and optionally on the change of the
//   missing rate; see ApplyDriftThreshold for the text form.
//
// A side with no non-missing values has no distribution: the column is then
// not `comparable`, psi and js are 0 and `note` says why.
//
// All functions are pure; safe to call concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/profile.h"

namespace slipway::data {

enum class DriftKind : uint8_t { kNumeric, kCategorical };

// "numeric", "categorical".
std::string_view DriftKindName(DriftKind kind);

// The statistics a drift decision may use: effect sizes only.
enum class DriftStatistic : uint8_t { kPsi, kKs, kJs, kWasserstein, kWassersteinNormed };

// "psi", "ks", "js", "wasserstein", "wasserstein_normed".
std::string_view DriftStatisticName(DriftStatistic statistic);
// The inverse of DriftStatisticName; nullopt for any other text.
std::optional<DriftStatistic> DriftStatisticFromName(std::string_view name);
// Whether `statistic` exists for columns of `kind` (ks and the Wasserstein
// distances are numeric only).
bool DriftStatisticAppliesTo(DriftStatistic statistic, DriftKind kind);

// A column drifts when `statistic` >= `threshold`.
struct DriftThreshold {
  DriftStatistic statistic = DriftStatistic::kWassersteinNormed;
  double threshold = 0.1;
};

// The default categorical threshold: Evidently's Jensen-Shannon distance 0.1
// in natural-log units, 0.1 / sqrt(ln 2) in our base-2 units.
inline constexpr double kDefaultJsThreshold = 0.12011224087864498;

struct DriftOptions {
  // Bins of numeric PSI and JS, at the reference's 1/numeric_bins quantiles.
  // Must be in [2, 1000] (else INVALID_PARAMETER_VALUE).
  int numeric_bins = 10;
  // Additive smoothing of bin shares for PSI (see the file comment). Must be
  // in (0, 0.01].
  double epsilon = 1e-4;
  // The decision of numeric and categorical columns (see the file comment).
  // Thresholds must be finite and >= 0; `numeric` may use any statistic,
  // `categorical` only psi or js.
  DriftThreshold numeric = {DriftStatistic::kWassersteinNormed, 0.1};
  DriftThreshold categorical = {DriftStatistic::kJs, kDefaultJsThreshold};
  // Per column, instead of the kind's. DatasetDrift rejects a column that is
  // not compared, or a statistic that does not apply to its kind.
  std::map<std::string, DriftThreshold, std::less<>> columns;
  // Numeric columns with at most this many distinct values (both sides
  // together) are decided as categorical ones. 0 turns this off.
  int few_values = 5;
  // When set, a column also drifts when |missing_rate_change| reaches it.
  std::optional<double> missing_rate_threshold;
  // DatasetDrift reports dataset drift when at least this share of the
  // compared columns drifted (Evidently's default, 0.5). In (0, 1].
  double dataset_drift_share = 0.5;
};

// Applies one threshold in text form to `options`:
//   STAT=VALUE            every kind STAT applies to (psi, js: both; ks,
//                         wasserstein, wasserstein_normed: numeric)
//   numeric:STAT=VALUE    numeric columns
//   categorical:STAT=VALUE
//   COLUMN:STAT=VALUE     one column (the text before the last ':')
//   missing_rate=VALUE    the missing-rate rule
//   dataset_share=VALUE   the share of drifted columns for dataset drift
// Throws INVALID_PARAMETER_VALUE naming the spec and what is wrong.
void ApplyDriftThreshold(DriftOptions& options, std::string_view spec);

// The drift of one column from `reference` to `current`.
struct ColumnDrift {
  std::string column;
  DriftKind kind = DriftKind::kNumeric;
  bool comparable = true;    // false if a side has no non-missing values
  std::string note;          // why not comparable; empty otherwise
  double psi = 0;            // population stability index, >= 0
  std::optional<double> ks;  // two-sample KS statistic D in [0, 1]; numeric only
  std::optional<double> ks_p_value;
  double js = 0;                                // Jensen-Shannon distance, base 2, in [0, 1]
  int bins = 0;                                 // bins (numeric) or categories incl. "other"
  std::vector<std::string> new_categories;      // categorical only
  std::vector<std::string> missing_categories;  // categorical only
  int64_t reference_count = 0;                  // non-missing values on each side
  int64_t current_count = 0;

  // Numeric only: W1 in the column's units, and W1 / max(sigma_ref, 0.001).
  std::optional<double> wasserstein;
  std::optional<double> wasserstein_normed;
  // Categorical only (with at least 2 categories): Pearson's chi-square test
  // of homogeneity.
  std::optional<double> chi_square;
  std::optional<int> chi_square_dof;
  std::optional<double> chi_square_p_value;
  // Whether the sketches held every value (KLL) or every count (top values)
  // exactly, so that the statistics are those of the data; and else the
  // bounds (99% confidence) on the error of ks and wasserstein from the
  // sketches (0 when exact).
  bool exact = true;
  double ks_error = 0;
  double wasserstein_error = 0;
  // Missing values on each side, their shares of each side's rows, and the
  // change of the share (current - reference).
  int64_t reference_missing = 0;
  int64_t current_missing = 0;
  double reference_missing_rate = 0;
  double current_missing_rate = 0;
  double missing_rate_change = 0;
  // The decision: whether the column drifted, by which statistic ("psi",
  // "js", "ks", "wasserstein", "wasserstein_normed", or "missing_rate"), its
  // value and the threshold it was held to. For a numeric column decided as
  // categories (few values) the statistic is "js" and the value is the
  // distance between its values' shares, not the `js` field. Empty
  // statistic when not comparable and no missing-rate rule applies.
  bool drifted = false;
  std::string drift_statistic;
  double drift_value = 0;
  double drift_threshold = 0;
  bool decided_as_categories = false;

  // {"column", "kind", "comparable", "psi", "js", "bins", "ks" and
  // "ks_p_value" (numeric only), "new_categories", "missing_categories",
  // "reference_count", "current_count", "note" (if any), "wasserstein" and
  // "wasserstein_normed" (numeric only), "chi_square": {"statistic", "dof",
  // "p_value"} (categorical only), "exact", "error": {"ks", "wasserstein"},
  // "missing": {"reference", "current", "reference_rate", "current_rate",
  // "rate_change"}, "drift": {"drifted", "statistic", "value",
  // "threshold", "as_categories"}}.
  nlohmann::json ToJson() const;
};

// Throws INVALID_PARAMETER_VALUE for invalid options. The columns' names may
// differ (the result is named after `reference`). The decision uses
// options.columns[reference.name] if present, else the kind's threshold.
ColumnDrift ComputeDrift(const ColumnProfile& reference, const ColumnProfile& current,
                         const DriftOptions& options = {});

// Drift of every column present in both profiles, in the reference's order.
struct DriftReport {
  std::vector<ColumnDrift> columns;
  std::vector<std::string> only_in_reference;  // not compared
  std::vector<std::string> only_in_current;
  // Columns that drifted, of `columns`; dataset drift when drifted_count >=
  // dataset_drift_share * columns.size() (and some column is compared).
  int drifted_count = 0;
  double dataset_drift_share = 0.5;
  bool dataset_drift = false;

  const ColumnDrift* Find(std::string_view column) const;
  // {"columns": [...], "only_in_reference": [...], "only_in_current": [...],
  // "summary": {"compared", "drifted", "drifted_share", "dataset_drift",
  // "dataset_drift_share", "drifted_columns": [...]}}.
  nlohmann::json ToJson() const;
};

// Throws INVALID_PARAMETER_VALUE for invalid options, and for a per-column
// threshold whose column is not in both profiles or whose statistic does not
// apply to the column's kind.
DriftReport DatasetDrift(const DatasetProfile& reference, const DatasetProfile& current,
                         const DriftOptions& options = {});

// Upper tail of the chi-square distribution with `dof` degrees of freedom:
// P(X >= x), the regularized upper incomplete gamma Q(dof / 2, x / 2).
double ChiSquarePValue(double x, int dof);

// Asymptotic p-value of a two-sample KS statistic `d` for samples of sizes
// n and m: Q_KS((sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) d) with ne = n m / (n + m)
// (Stephens' small-sample correction, as in Numerical Recipes), where
// Q_KS(x) = 2 sum_{j>=1} (-1)^(j-1) exp(-2 j^2 x^2). 1 when n or m is 0.
double KsPValue(double d, int64_t n, int64_t m);

}  // namespace slipway::data
