// A batch drift report: the drift of every common column of two dataset
// profiles (data/drift.h), with the distributions of both sides for charts,
// as JSON and as a standalone HTML page (inline CSS and SVG: no script, no
// network, readable offline and safe to attach to a ticket).
//
// Everything comes from the profiles (data/profile.h), never from raw rows:
// the same report serves two CSV files, two dataset versions, or a reference
// and a window of live traffic. The charts' shares are estimates from the
// sketches: for numeric columns each bin from KLL ranks (within ~1.65% of
// the side's rows), for categorical ones from the top values (exact while a
// side has at most 64 distinct values; beyond, the rest is pooled as
// "(other)").
//
// BatchDriftReport is a plain value; BuildBatchDriftReport and the render
// methods are pure and safe to call concurrently.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "data/drift.h"
#include "data/profile.h"

namespace slipway::monitoring {

// The shares of one column's values on both sides, bin by bin.
struct DistributionChart {
  bool numeric = true;
  std::vector<std::string> labels;  // a bin's range, or a category
  std::vector<double> reference;    // shares of the side's non-missing values
  std::vector<double> current;
};

// Numeric columns (both sides numeric): `bins` equal-width bins over the
// range of both sides together, shares from each side's KLL ranks.
// Otherwise the `categories` values with the largest share on either side,
// then "(other)" for the rest when non-zero. A side without values has
// shares 0.
DistributionChart CompareDistributions(const data::ColumnProfile& reference,
                                       const data::ColumnProfile& current, int bins = 20,
                                       int categories = 10);

struct BatchDriftOptions {
  std::string reference_name;  // as the report names the sides: a path, NAME@VERSION
  std::string current_name;
  data::DriftOptions drift;
  // Compare only these columns (each must be in both profiles); empty: all
  // common columns.
  std::vector<std::string> columns;
  int chart_bins = 20;
  int chart_categories = 10;
};

struct BatchDriftReport {
  std::string reference_name;
  std::string current_name;
  int64_t reference_rows = 0;
  int64_t current_rows = 0;
  data::DriftOptions options;
  data::DriftReport drift;
  std::vector<DistributionChart> charts;  // parallel to drift.columns

  // data::DriftReport::ToJson() plus "reference" and "current" ({"source",
  // "rows"}), "thresholds" ({"numeric", "categorical", "columns",
  // "missing_rate", "dataset_drift_share"}) and, in each column,
  // "distribution": {"labels", "reference", "current"}.
  nlohmann::json ToJson() const;
  // A standalone HTML page: the summary, a table of every column's
  // statistics and decision, and per column a chart of both distributions.
  std::string ToHtml() const;
};

// Throws INVALID_PARAMETER_VALUE when a selected column is not in both
// profiles, when the profiles have no column in common, or for invalid
// drift options (data::DatasetDrift).
BatchDriftReport BuildBatchDriftReport(const data::DatasetProfile& reference,
                                       const data::DatasetProfile& current,
                                       const BatchDriftOptions& options);

}  // namespace slipway::monitoring
