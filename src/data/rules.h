// Validation rules for a dataset, written in YAML, and their evaluation
// against a profile (and, for exact row-level checks, the CSV itself).
//
// The YAML schema (every section and every key is optional; unknown keys are
// errors):
//
//   rows: {min: 1000, max: 2000000}   # bounds on the number of data rows,
//                                     # non-negative integers, inclusive
//   columns:                          # column name -> rules of that column
//     age:
//       type: int64        # bool | int64 | float64 | string: every value
//                          # parses as this type (int64 values satisfy
//                          # float64; anything satisfies string)
//       required: true     # the column must be in the file (default false:
//                          # an absent optional column's rules are skipped)
//       max_missing: 0.01  # share of rows whose value is missing, in [0, 1]
//       min: 0             # inclusive bounds on the values (numbers); a
//       max: 120           # non-numeric value violates them
//     plan:
//       allowed: [basic, pro, enterprise]  # the only texts a value may be
//     id:
//       unique: true       # no non-missing value occurs twice
//   drift:                 # needs a reference profile (CLI: --reference, or:)
//     reference: churn@1   # the version to compare with by default
//     default: {psi: 0.2, ks: 0.1, js: 0.1}   # thresholds for every column
//                                             # present in both profiles
//     columns:             # per-column overrides, metric by metric
//       income: {psi: 0.1}       # ks and js stay at the default
//       id: off                  # no drift check for this column
//       notes: {ks: off}         # one metric off
//
// Thresholds are upper bounds on drift.h's metrics: psi >= 0, ks and js in
// [0, 1]; `off` disables one. ks applies to numeric columns only. Values of
// `allowed` and column names are compared exactly with the field texts
// (after CSV unquoting); write YAML's special words (null, ~, true, ...) in
// quotes to mean the text. Missing values (CsvOptions::missing_values) are
// governed by max_missing only: range, allowed and unique ignore them.
//
// Parse errors are INVALID_PARAMETER_VALUE "<file>:<line>:<column>: <key
// path>: <what was expected>", e.g. "rules.yaml:4:18: columns.age.max:
// expected a number, got 'abc'".
//
// Evaluation: statistical rules (rows, required, type, max_missing, drift)
// are decided from the profile. Range bounds are decided from the profile's
// exact min and max too; allowed and unique from the profile when its top
// values are exact and settle the question. Otherwise, and to name offending
// lines, Validate reads the CSV once, streaming, for all such rules together
// (and not at all when none needs it): first offending value and its line,
// the number of offending rows, and for unique the first duplicated value
// with the lines of both occurrences. Uniqueness is exact: values are kept
// as 64-bit hashes with their file offsets, and a hash that repeats is
// confirmed by re-reading the earlier field from the file (memory: about
// 32 bytes per distinct value of each column under a unique rule).
//
// All types here are plain values; the functions are thread-compatible.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/csv_reader.h"
#include "data/profile.h"

namespace slipway::data {

struct RowRules {
  std::optional<int64_t> min;
  std::optional<int64_t> max;
  bool operator==(const RowRules&) const = default;
};

struct ColumnRules {
  std::string name;
  std::optional<ColumnType> type;  // never kEmpty
  bool required = false;
  std::optional<double> max_missing;
  std::optional<double> min;
  std::optional<double> max;
  std::vector<std::string> allowed;  // empty: any value
  bool unique = false;
  // Presentation only: ToYaml writes it as a comment after the column's line;
  // ParseRules leaves it empty. Not compared by ==.
  std::string comment;

  bool operator==(const ColumnRules& other) const;
};

// Upper bounds on drift metrics; nullopt = not checked.
struct DriftThresholds {
  std::optional<double> psi;
  std::optional<double> ks;
  std::optional<double> js;
  bool operator==(const DriftThresholds&) const = default;
};

struct DriftRules {
  // The dataset version to compare with when none is given on the command
  // line ("churn@1"); `slipway data infer-rules` writes the version it read.
  std::string reference;
  DriftThresholds defaults;
  // The effective thresholds of the columns named under `drift.columns`:
  // the defaults with that column's overrides applied (ParseRules resolves
  // them); other columns use `defaults`.
  std::map<std::string, DriftThresholds, std::less<>> columns;

  const DriftThresholds& For(std::string_view column) const;
  bool operator==(const DriftRules&) const = default;
};

struct Rules {
  RowRules rows;
  std::vector<ColumnRules> columns;  // in file order; names unique
  std::optional<DriftRules> drift;

  const ColumnRules* Find(std::string_view column) const;
  bool operator==(const Rules&) const = default;
};

// Parses rules YAML; `source` names the text in error messages (a file name).
// Throws INVALID_PARAMETER_VALUE as described in the file comment.
Rules ParseRules(std::string_view yaml, std::string_view source = "<rules>");
// Reads and parses a file (errors name it). RESOURCE_DOES_NOT_EXIST if it
// cannot be read.
Rules LoadRules(const std::filesystem::path& path);
// YAML in the schema above that ParseRules reads back to an equal Rules
// (numbers are written in their shortest round-trip form).
std::string ToYaml(const Rules& rules);

// What InferRules guesses; every default is here.
struct InferOptions {
  // rows: [floor(n * min_rows_factor), ceil(n * max_rows_factor)].
  double min_rows_factor = 0.5;
  double max_rows_factor = 2.0;
  // max_missing: 0 for a column with no missing value, else the observed
  // share plus this, rounded up to 4 decimals, at most 1.
  double missing_margin = 0.01;
  // min/max: the observed range widened by this share of its span on each
  // side (not below 0 if the observed minimum was not; whole for int64).
  double range_margin = 0.1;
  // `allowed` for a string column whose top values are exact, with at most
  // this many distinct values, each seen min_rows_per_value times on average.
  int max_allowed_values = 20;
  int min_rows_per_value = 5;
  // drift.default; unique columns (ids) get `off`.
  DriftThresholds drift = {0.2, 0.1, 0.1};
};

// A starting point for rules from a profile (as TFDV's schema inference):
// every column is required and gets its type, max_missing, its observed
// [min, max] if numeric, `allowed` if it is a low-cardinality string column,
// and `unique` if it is int64 or string and its distinct estimate is the
// count within 3 HyperLogLog standard errors with no tracked value seen
// twice: a guess, marked as such in the comment (the exact check may still
// find a duplicate). The inferred rules pass on the data they came from,
// except that such a guess can fail, and drift needs a reference.
Rules InferRules(const DatasetProfile& profile, const InferOptions& options = {});

// The outcome of one rule.
struct RuleResult {
  // "rows", "required", "optional", "type", "max_missing", "range",
  // "allowed", "unique", "drift" (no reference, or not comparable),
  // "drift.psi", "drift.ks", "drift.js".
  std::string rule;
  std::string column;  // empty for dataset-level rules
  bool passed = false;
  std::string observed;  // e.g. "500", "2.5%", "[0, 150]", "premium"
  std::string expected;  // e.g. ">= 1000", "<= 1%", "[0, 120]"
  std::string message;   // a sentence for people
  // 1-based CSV lines (the header is line 1) the message refers to: the
  // first offending row, or both occurrences of a duplicate.
  std::vector<int64_t> lines;
  std::optional<int64_t> offending_rows;  // where counted
};

struct ValidationReport {
  bool ok = true;  // every rule passed
  std::vector<RuleResult> results;

  int failed() const;
  // The first result of `rule` for `column` ("" for dataset-level), or null.
  const RuleResult* Find(std::string_view rule, std::string_view column = {}) const;
  // {"ok", "rules": n, "failed": n, "results": [{"rule", "column", "passed",
  // "observed", "expected", "message", "lines", "offending_rows"}...]}.
  nlohmann::json ToJson() const;
  // One line per rule, failures first, and a summary line; for the CLI.
  std::string RenderText() const;
};

// Evaluates `rules` on `profile`, the profile of the CSV at `csv_path` read
// with `csv_options`. `csv_path` may be empty: checks that need the rows are
// then decided from the profile where it can (without line numbers) and fail
// otherwise, saying so. `reference` is the baseline of drift rules; without
// it they fail ("needs --reference"). Throws only on an unreadable or
// malformed CSV (CsvReader's errors).
ValidationReport Validate(const Rules& rules, const DatasetProfile& profile,
                          const std::filesystem::path& csv_path, const CsvOptions& csv_options = {},
                          const DatasetProfile* reference = nullptr);

}  // namespace slipway::data
