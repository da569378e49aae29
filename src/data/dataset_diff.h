// What changed between two profiles of a dataset (e.g. two versions).
//
// Diff(a, b) compares the profile `a` (before) with `b` (after): the schema
// (columns added, removed, or whose inferred type changed), the row count,
// per common column a fixed set of statistics with absolute and relative
// deltas, and the drift scores of drift.h (with `a` as the reference). All
// numbers come from the profiles; the sketch-based ones (distinct, median,
// drift) carry their sketches' error bounds (profile.h, drift.h).
//
// Plain values; Diff is pure and safe to call concurrently.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/csv_reader.h"
#include "data/drift.h"
#include "data/profile.h"

namespace slipway::data {

// One statistic before and after. `before`/`after` are absent where the
// statistic does not apply (numeric statistics of a non-numeric column, or
// of a column without values).
struct StatisticChange {
  std::string statistic;
  std::optional<double> before;
  std::optional<double> after;
  std::optional<double> delta;           // after - before, if both exist
  std::optional<double> relative_delta;  // delta / |before|, if before is non-zero
};

struct ColumnTypeChange {
  std::string column;
  ColumnType before = ColumnType::kEmpty;
  ColumnType after = ColumnType::kEmpty;
};

// A column present in both profiles.
struct ColumnDiff {
  std::string column;
  ColumnType type_before = ColumnType::kEmpty;
  ColumnType type_after = ColumnType::kEmpty;
  // In this order: "count" (non-missing values), "missing_share" (missing /
  // rows of the column), "distinct" (estimate), "mean", "std" (sample),
  // "min", "max", "median" (KLL, rank error ~1.33%).
  std::vector<StatisticChange> statistics;
  ColumnDrift drift;  // reference = before

  const StatisticChange* Find(std::string_view statistic) const;
};

struct DatasetDiff {
  std::vector<std::string> added_columns;    // in b only, in b's order
  std::vector<std::string> removed_columns;  // in a only, in a's order
  std::vector<ColumnTypeChange> type_changes;
  StatisticChange rows;             // statistic "rows"
  std::vector<ColumnDiff> columns;  // common columns, in a's order

  const ColumnDiff* Find(std::string_view column) const;
  // {"rows": {...}, "schema": {"added": [...], "removed": [...],
  // "type_changes": [{"column", "before", "after"}]}, "columns": [{"column",
  // "type_before", "type_after", "statistics": [{"statistic", "before",
  // "after", "delta", "relative_delta"}], "drift": {...}}]}; absent numbers
  // are null.
  nlohmann::json ToJson() const;
  // A report for people: rows, schema changes, then per column its changed
  // statistics and drift scores.
  std::string RenderText() const;
};

// Throws INVALID_PARAMETER_VALUE for invalid drift options.
DatasetDiff Diff(const DatasetProfile& a, const DatasetProfile& b,
                 const DriftOptions& drift_options = {});

}  // namespace slipway::data
