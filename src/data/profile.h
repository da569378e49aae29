// Dataset profiles: per-column statistics and sketches of a table, computed
// in one pass, mergeable, and storable as JSON.
//
// A DatasetProfile summarises a table (today: a CSV file) column by column.
// Every part of it is mergeable: the profile of two files with the same
// columns is Merge() of their profiles, exactly for counts, extremes, mean
// and variance (Chan et al.'s parallel formula), and within the sketches'
// stated bounds for distinct counts (HyperLogLog, ~0.81%), quantiles and
// histograms (KLL, rank error ~1.65%) and top values (FrequentItems, counts
// exact while a column has at most 64 distinct values). ProfileCsv uses this
// itself: it parses ranges of the file in parallel and merges.
//
// Type inference in one pass. Each column starts as kEmpty and is promoted
// (csv_reader.h: bool < int64 < float64 < string; bool with a number gives
// string) as values arrive. The sketches that do not depend on the type are
// kept for every column over the raw field text: the distinct count, the top
// values, the text lengths. The numeric view (count, min, max, mean,
// variance, KLL quantiles) is kept while every value so far parsed as a
// number, and dropped, never to return, the moment one does not. So the
// profile is the same as a two-pass one that first decided the type: a
// column that ends numeric has seen every value in the numeric view; one that
// ends string or bool reports no numeric view. Distinct counts and top
// values are of field texts: "1" and "1.0" are two values.
//
// Missing values (CsvOptions::missing_values; by default only the empty
// field) are counted in `missing` and enter no sketch.
//
// ColumnProfile and DatasetProfile are plain values: copyable, not
// thread-safe for writes, const methods safe to call concurrently.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/csv_reader.h"
#include "data/frequent_items.h"
#include "data/hyperloglog.h"
#include "data/kll_sketch.h"

namespace slipway::core {
class Executor;
}

namespace slipway::data {

// The quantiles ToJson() reports.
inline constexpr std::array<double, 9> kProfileQuantiles = {0.0,  0.01, 0.05, 0.25, 0.5,
                                                            0.75, 0.95, 0.99, 1.0};

struct ProfileOptions {
  // Ranges of the file parsed in parallel (the profile is the merge of
  // theirs); 0 = one per core.
  int threads = 2;
  // Where ranges other than the caller's are parsed: the data pipeline's
  // executor (owned by app::App). The caller parses ranges too and never
  // waits for one that has not started (data/task_group.h), so a busy
  // executor slows a profile, never stops it. Null: the caller parses
  // every range, one after another (the same profile).
  core::Executor* executor = nullptr;
  int hll_precision = HyperLogLog::kDefaultPrecision;
  int kll_k = KllSketch::kDefaultK;
  uint64_t kll_seed = KllSketch::kDefaultSeed;
  int top_items_capacity = FrequentItems::kDefaultCapacity;
};

// One bin of a histogram: values in [lower, upper) (the last bin also holds
// `upper`). `count` is estimated from the KLL sketch (it sums to the column's
// count, and each bin is within ~1.65% of the count of the true bin).
struct HistogramBin {
  double lower = 0;
  double upper = 0;
  double count = 0;
};

struct ColumnProfile {
  // Creates the profile of a column with no values, with sketches sized by
  // `options`.
  ColumnProfile(std::string name, const ProfileOptions& options = {});

  std::string name;
  ColumnType type = ColumnType::kEmpty;
  int64_t count = 0;    // non-missing values
  int64_t missing = 0;  // missing values

  // Numeric view: meaningful only when IsNumeric(type) (then over all
  // `count` values, int64 values converted to double).
  double min = 0;
  double max = 0;
  double mean = 0;
  // Sum of squared differences from the mean. Moments are accumulated per
  // batch of up to 256 values in two passes and merged with Chan et al.'s
  // formula (numerically like Welford's update, without its per-value
  // division).
  double m2 = 0;
  KllSketch quantiles;

  // Over the raw text of every non-missing value, whatever the type.
  HyperLogLog distinct;
  FrequentItems top_items;
  int64_t min_length = 0;  // bytes; 0 when count == 0
  int64_t max_length = 0;

  // Sample standard deviation (n - 1 in the denominator, as pandas); 0 when
  // count < 2 or the column is not numeric.
  double Stddev() const;
  // Estimated number of distinct non-missing texts: exact while top_items is
  // exact (at most its capacity distinct values), else HyperLogLog's
  // estimate, never above `count`.
  double DistinctEstimate() const;
  // Quantile of the numeric view (q in [0, 1]); throws INVALID_PARAMETER_VALUE
  // if the column is not numeric.
  double Quantile(double q) const;
  // `bins` equal-width bins from min to max, counts from the KLL sketch;
  // empty if the column is not numeric or has no values. If min == max, one
  // bin holding every value.
  std::vector<HistogramBin> Histogram(int bins = 20) const;
};

struct DatasetProfile {
  int64_t row_count = 0;
  std::vector<ColumnProfile> columns;  // in header order

  // The column named `name`, or nullptr.
  const ColumnProfile* Find(std::string_view name) const;

  // Human-facing summary per column (type, counts, distinct, numeric stats,
  // the kProfileQuantiles, a histogram of `histogram_bins` bins, the top
  // `top_items` values with count bounds, text lengths) plus, under
  // "sketches", the serialized sketches in base64 and the exact moments, so
  // that FromJson() restores a profile that merges like the original.
  nlohmann::json ToJson(int histogram_bins = 20, int top_items = 20) const;
  // Throws INVALID_PARAMETER_VALUE (naming the field) on malformed input.
  static DatasetProfile FromJson(const nlohmann::json& json);
};

// Adds `other` into `into`: same column names in the same order (else
// INVALID_PARAMETER_VALUE naming the first difference), sketches of matching
// sizes; types promote (a numeric view survives only if both sides have it or
// one side is empty).
void MergeInto(ColumnProfile& into, const ColumnProfile& other);
void MergeInto(DatasetProfile& into, const DatasetProfile& other);
DatasetProfile Merge(const DatasetProfile& a, const DatasetProfile& b);

// A value whose type its source already told (a number read from JSON),
// for DatasetProfileBuilder::AddTypedValues: `text` is the value as a CSV
// would hold it, which the text sketches (distinct count, top values,
// lengths) see; `type` is what that text parses as (ClassifyField(text), or
// kEmpty for a missing value) and, for kInt64 and kFloat64, `number` is the
// number it parses to.
struct TypedValue {
  std::string_view text;
  ColumnType type = ColumnType::kEmpty;
  double number = 0;
};

// Builds a profile from rows given one at a time (any source of text
// fields). Not thread-safe; use one builder per thread and merge.
class DatasetProfileBuilder {
 public:
  // Throws INVALID_PARAMETER_VALUE if a type override names no column.
  DatasetProfileBuilder(std::vector<std::string> column_names, const CsvOptions& csv_options = {},
                        const ProfileOptions& options = {});

  // `fields` must have one text per column. Returns -1, or the index of the
  // first field that does not fit its column's type override (the row is
  // then only partly added; the caller reports the error).
  int AddRow(std::span<const std::string_view> fields);
  // As AddRow, but throws INVALID_PARAMETER_VALUE naming the column and value.
  void AddRowOrThrow(std::span<const std::string_view> fields);

  // Column-major ingestion of a batch of rows (faster: one column's sketches
  // stay in cache): AddColumnValues for every column with the same number of
  // values, then AddRowCount once. Returns -1, or the index of the first value
  // that does not fit the column's type override (that column then holds
  // only the values before it).
  int AddColumnValues(size_t column, std::span<const std::string_view> values);
  void AddRowCount(int64_t rows) { profile_.row_count += rows; }
  // AddColumnValues for values whose types and numbers the caller knows
  // (the live-monitoring fold: numbers read from JSON), without parsing
  // their texts: the same profile as AddColumnValues of the same texts in
  // the same chunks of 256, provided each value's type and number are what
  // its text parses as. A value is missing when its type is kEmpty or its
  // text is one of the CsvOptions' missing values. Returns as
  // AddColumnValues does.
  int AddTypedValues(size_t column, std::span<const TypedValue> values);

  const DatasetProfile& profile() const { return profile_; }
  DatasetProfile Finish() && { return std::move(profile_); }

 private:
  DatasetProfile profile_;
  std::vector<std::optional<ColumnType>> overrides_;  // parallel to profile_.columns
  std::vector<std::string> missing_values_;
  size_t max_missing_length_ = 0;
  bool only_empty_is_missing_ = true;
  // Scratch of AddColumnValues: the non-missing values of a chunk.
  std::vector<std::string_view> present_;

  bool IsMissing(std::string_view text) const;
};

// Called with the bytes parsed so far and the file size, about every 16 MiB
// and once at the end. Calls are serialized (never concurrent) but may come
// from any thread.
using ProfileProgress = std::function<void(uint64_t bytes_done, uint64_t bytes_total)>;

// Profiles a CSV file in one pass over its bytes, parsing `options.threads`
// ranges in parallel on the calling thread and options.executor
// (CsvReader::Split) and merging their profiles. Starts no thread. Each
// range takes its rows in blocks of 256 (CsvReader::ForEachBlock) and feeds
// them to a DatasetProfileBuilder column by column, so that a column's
// sketches stay in cache. Memory: the file is mapped, not read; per range,
// ~30 KiB of sketches per column plus one block of field views. Errors are
// those of
// CsvReader, plus CsvError "line L, column C: value 'x' of column 'c' is not
// an int64 (type override)" for values that do not fit a type override. The
// first error in file order is reported.
DatasetProfile ProfileCsv(const std::filesystem::path& path, const CsvOptions& csv_options = {},
                          const ProfileOptions& options = {},
                          const ProfileProgress& progress = nullptr);

}  // namespace slipway::data
