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
// A side with no non-missing values has no distribution: the column is then
// not `comparable`, psi and js are 0 and `note` says why.
//
// All functions are pure; safe to call concurrently.
#pragma once

#include <cstdint>
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

struct DriftOptions {
  // Bins of numeric PSI and JS, at the reference's 1/numeric_bins quantiles.
  // Must be in [2, 1000] (else INVALID_PARAMETER_VALUE).
  int numeric_bins = 10;
  // Additive smoothing of bin shares for PSI (see the file comment). Must be
  // in (0, 0.01].
  double epsilon = 1e-4;
};

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

  // {"column", "kind", "comparable", "psi", "js", "bins", "ks" and
  // "ks_p_value" (numeric only), "new_categories", "missing_categories",
  // "reference_count", "current_count", "note" (if any)}.
  nlohmann::json ToJson() const;
};

// Throws INVALID_PARAMETER_VALUE for invalid options. The columns' names may
// differ (the result is named after `reference`).
ColumnDrift ComputeDrift(const ColumnProfile& reference, const ColumnProfile& current,
                         const DriftOptions& options = {});

// Drift of every column present in both profiles, in the reference's order.
struct DriftReport {
  std::vector<ColumnDrift> columns;
  std::vector<std::string> only_in_reference;  // not compared
  std::vector<std::string> only_in_current;

  const ColumnDrift* Find(std::string_view column) const;
  // {"columns": [...], "only_in_reference": [...], "only_in_current": [...]}.
  nlohmann::json ToJson() const;
};

DriftReport DatasetDrift(const DatasetProfile& reference, const DatasetProfile& current,
                         const DriftOptions& options = {});

// Asymptotic p-value of a two-sample KS statistic `d` for samples of sizes
// n and m: Q_KS((sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) d) with ne = n m / (n + m)
// (Stephens' small-sample correction, as in Numerical Recipes), where
// Q_KS(x) = 2 sum_{j>=1} (-1)^(j-1) exp(-2 j^2 x^2). 1 when n or m is 0.
double KsPValue(double d, int64_t n, int64_t m);

}  // namespace slipway::data
