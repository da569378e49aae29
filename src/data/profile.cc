#include "data/profile.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "core/base64.h"
#include "core/cpus.h"
#include "core/error.h"
#include "data/task_group.h"

namespace slipway::data {

namespace {

using nlohmann::json;

constexpr uint64_t kProgressStepBytes = uint64_t{16} << 20;
constexpr int kJsonVersion = 1;
constexpr const char* kJsonFormat = "slipway.dataset_profile";

std::string Article(ColumnType type) { return type == ColumnType::kInt64 ? "an " : "a "; }

// ----- one value into one column

void ResetNumeric(ColumnProfile& c) {
  c.min = c.max = c.mean = c.m2 = 0;
  if (!c.quantiles.empty()) c.quantiles = KllSketch(c.quantiles.k(), KllSketch::kDefaultSeed);
}

// Numbers of one column waiting to enter its numeric view. The moments of a
// batch are computed in two passes (mean, then squared deviations: the most
// accurate method, and free of the per-value division and dependency chain
// of Welford's update), then merged into the column's with Chan et al.'s
// pairwise formula, the same one Merge() uses.
struct NumericBatch {
  static constexpr size_t kCapacity = 256;
  double values[kCapacity];
  size_t size = 0;
};

// The text side of a chunk's `n` present values (the type side is done):
// distinct count, frequent items, lengths and the count. `hashes` has room
// for `n`.
void AddPresentTexts(ColumnProfile& c, const std::string_view* present, size_t n,
                     uint64_t* hashes) {
  size_t min_length = std::numeric_limits<size_t>::max();
  size_t max_length = 0;
  for (size_t j = 0; j < n; ++j) {
    hashes[j] = HashBytes(present[j]);
    c.distinct.Prefetch(hashes[j]);
    min_length = std::min(min_length, present[j].size());
    max_length = std::max(max_length, present[j].size());
  }
  for (size_t j = 0; j < n; ++j) c.distinct.AddHash(hashes[j]);
  c.top_items.AddBatch(std::span(present, n), std::span(hashes, n));
  if (n > 0) {
    const auto lo = static_cast<int64_t>(min_length);
    const auto hi = static_cast<int64_t>(max_length);
    c.min_length = c.count == 0 ? lo : std::min(c.min_length, lo);
    c.max_length = c.count == 0 ? hi : std::max(c.max_length, hi);
    c.count += static_cast<int64_t>(n);
  }
}

void FlushNumeric(ColumnProfile& c, NumericBatch& batch) {
  const size_t n = batch.size;
  if (n == 0) return;
  batch.size = 0;
  const double* v = batch.values;
  double lo = v[0];
  double hi = v[0];
  double s[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (size_t j = 0; j < 4; ++j) {
      s[j] += v[i + j];
      lo = std::min(lo, v[i + j]);
      hi = std::max(hi, v[i + j]);
    }
  }
  for (; i < n; ++i) {
    s[0] += v[i];
    lo = std::min(lo, v[i]);
    hi = std::max(hi, v[i]);
  }
  const double nb = static_cast<double>(n);
  const double mean = ((s[0] + s[1]) + (s[2] + s[3])) / nb;
  double d[4] = {0, 0, 0, 0};
  for (i = 0; i + 4 <= n; i += 4) {
    for (size_t j = 0; j < 4; ++j) d[j] += (v[i + j] - mean) * (v[i + j] - mean);
  }
  for (; i < n; ++i) d[0] += (v[i] - mean) * (v[i] - mean);
  const double m2 = (d[0] + d[1]) + (d[2] + d[3]);

  const int64_t before = c.quantiles.count();  // values already in the view
  c.quantiles.AddBatch(std::span(v, n));
  if (before == 0) {
    c.min = lo;
    c.max = hi;
    c.mean = mean;
    c.m2 = m2;
    return;
  }
  const double na = static_cast<double>(before);
  const double total = na + nb;
  const double delta = mean - c.mean;
  c.mean += delta * (nb / total);
  c.m2 += m2 + delta * delta * (na * nb / total);
  c.min = std::min(c.min, lo);
  c.max = std::max(c.max, hi);
}

// The type side of adding a non-missing value (the caller does the counts
// and the text sketches): false if it does not fit the type override.
// Numbers go to `batch` (flush it when full and at the end).
inline bool AddTyped(ColumnProfile& c, const std::optional<ColumnType>& override_type,
                     std::string_view text, NumericBatch& batch) {
  bool b;
  int64_t i;
  double d;
  if (override_type) {
    switch (*override_type) {
      case ColumnType::kString:
        return true;
      case ColumnType::kBool:
        return ParseBool(text, &b);
      case ColumnType::kInt64:
        if (!ParseInt64(text, &i)) return false;
        batch.values[batch.size++] = static_cast<double>(i);
        return true;
      case ColumnType::kFloat64:
        if (!ParseFloat64(text, &d)) return false;
        batch.values[batch.size++] = d;
        return true;
      case ColumnType::kEmpty:
        return false;
    }
    return false;
  }
  switch (c.type) {
    case ColumnType::kString:
      return true;
    case ColumnType::kBool:
      if (!ParseBool(text, &b)) c.type = ColumnType::kString;
      return true;
    case ColumnType::kInt64:
      if (ParseInt64(text, &i)) {
        batch.values[batch.size++] = static_cast<double>(i);
      } else if (ParseFloat64(text, &d)) {
        c.type = ColumnType::kFloat64;
        batch.values[batch.size++] = d;
      } else {
        c.type = ColumnType::kString;
        ResetNumeric(c);
        batch.size = 0;
      }
      return true;
    case ColumnType::kFloat64:
      if (ParseFloat64(text, &d)) {
        batch.values[batch.size++] = d;
      } else {
        c.type = ColumnType::kString;
        ResetNumeric(c);
        batch.size = 0;
      }
      return true;
    case ColumnType::kEmpty:
      if (ParseBool(text, &b)) {
        c.type = ColumnType::kBool;
      } else if (ParseInt64(text, &i)) {
        c.type = ColumnType::kInt64;
        batch.values[batch.size++] = static_cast<double>(i);
      } else if (ParseFloat64(text, &d)) {
        c.type = ColumnType::kFloat64;
        batch.values[batch.size++] = d;
      } else {
        c.type = ColumnType::kString;
      }
      return true;
  }
  return true;
}

// AddTyped for a value whose type and number the caller knows: the same
// decisions, from `value.type` instead of parsing `value.text` (ParseBool
// holds for kBool texts, ParseInt64 for kInt64 ones, ParseFloat64 for both
// kInt64 and kFloat64 ones). `value.number` is ParseFloat64's number; where
// the text path takes ParseInt64's, + 0.0 makes "-0" the 0 it reads.
inline bool AddKnown(ColumnProfile& c, const std::optional<ColumnType>& override_type,
                     const TypedValue& value, NumericBatch& batch) {
  const bool is_int = value.type == ColumnType::kInt64;
  const bool is_float = value.type == ColumnType::kFloat64;
  if (override_type) {
    switch (*override_type) {
      case ColumnType::kString:
        return true;
      case ColumnType::kBool:
        return value.type == ColumnType::kBool;
      case ColumnType::kInt64:
        if (!is_int) return false;
        batch.values[batch.size++] = value.number + 0.0;  // as ParseInt64: "-0" is 0
        return true;
      case ColumnType::kFloat64:
        if (!is_int && !is_float) return false;
        batch.values[batch.size++] = value.number;
        return true;
      case ColumnType::kEmpty:
        return false;
    }
    return false;
  }
  switch (c.type) {
    case ColumnType::kString:
      return true;
    case ColumnType::kBool:
      if (value.type != ColumnType::kBool) c.type = ColumnType::kString;
      return true;
    case ColumnType::kInt64:
      if (is_int) {
        batch.values[batch.size++] = value.number + 0.0;
      } else if (is_float) {
        c.type = ColumnType::kFloat64;
        batch.values[batch.size++] = value.number;
      } else {
        c.type = ColumnType::kString;
        ResetNumeric(c);
        batch.size = 0;
      }
      return true;
    case ColumnType::kFloat64:
      if (is_int || is_float) {
        batch.values[batch.size++] = value.number;
      } else {
        c.type = ColumnType::kString;
        ResetNumeric(c);
        batch.size = 0;
      }
      return true;
    case ColumnType::kEmpty:
      if (value.type == ColumnType::kBool) {
        c.type = ColumnType::kBool;
      } else if (is_int) {
        c.type = ColumnType::kInt64;
        batch.values[batch.size++] = value.number + 0.0;
      } else if (is_float) {
        c.type = ColumnType::kFloat64;
        batch.values[batch.size++] = value.number;
      } else {
        c.type = ColumnType::kString;
      }
      return true;
  }
  return true;
}

// ----- JSON helpers

[[noreturn]] void BadJson(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::kInvalidParameterValue,
              "Invalid dataset profile JSON: " + where + ": " + what);
}

const json& Field(const json& object, const char* key, const std::string& where) {
  if (!object.is_object()) BadJson(where, "expected an object");
  auto it = object.find(key);
  if (it == object.end()) BadJson(where, std::string("missing field '") + key + "'");
  return *it;
}

int64_t IntField(const json& object, const char* key, const std::string& where) {
  const json& v = Field(object, key, where);
  if (!v.is_number_integer() || v.get<int64_t>() < 0) {
    BadJson(where + "." + key, "expected a non-negative integer");
  }
  return v.get<int64_t>();
}

double NumberField(const json& object, const char* key, const std::string& where) {
  const json& v = Field(object, key, where);
  if (!v.is_number()) BadJson(where + "." + key, "expected a number");
  return v.get<double>();
}

std::string StringField(const json& object, const char* key, const std::string& where) {
  const json& v = Field(object, key, where);
  if (!v.is_string()) BadJson(where + "." + key, "expected a string");
  return v.get<std::string>();
}

template <typename Sketch>
Sketch SketchField(const json& sketches, const char* key, const std::string& where) {
  std::optional<std::string> bytes = Base64Decode(StringField(sketches, key, where));
  if (!bytes) BadJson(where + "." + key, "not valid base64");
  try {
    return Sketch::Deserialize(*bytes);
  } catch (const Error& e) {
    BadJson(where + "." + key, e.what());
  }
}

json NumberJson(double v, ColumnType type) {
  if (type == ColumnType::kInt64 && std::fabs(v) < 9007199254740992.0) {
    return static_cast<int64_t>(v);
  }
  return v;
}

}  // namespace

// ---------------------------------------------------------------------------
// ColumnProfile

ColumnProfile::ColumnProfile(std::string column_name, const ProfileOptions& options)
    : name(std::move(column_name)),
      quantiles(options.kll_k, options.kll_seed),
      distinct(options.hll_precision),
      top_items(options.top_items_capacity) {}

double ColumnProfile::Stddev() const {
  if (!IsNumeric(type) || count < 2) return 0.0;
  return std::sqrt(std::max(0.0, m2) / static_cast<double>(count - 1));
}

double ColumnProfile::DistinctEstimate() const {
  if (top_items.exact()) return static_cast<double>(top_items.size());
  const double estimate = std::min(distinct.Estimate(), static_cast<double>(count));
  return std::max(estimate, static_cast<double>(top_items.size()));
}

double ColumnProfile::Quantile(double q) const {
  if (!IsNumeric(type)) {
    throw Error(ErrorCode::kInvalidParameterValue, "Column '" + name + "' is " +
                                                       std::string(ColumnTypeName(type)) +
                                                       ", not numeric: it has no quantiles");
  }
  return quantiles.Quantile(q);
}

std::vector<HistogramBin> ColumnProfile::Histogram(int bins) const {
  std::vector<HistogramBin> out;
  if (!IsNumeric(type) || count == 0 || quantiles.empty() || bins <= 0) return out;
  if (min == max) {
    out.push_back({min, max, static_cast<double>(quantiles.count())});
    return out;
  }
  const double width = (max - min) / bins;
  out.resize(static_cast<size_t>(bins));
  for (int b = 0; b < bins; ++b) {
    out[b].lower = min + width * b;
    out[b].upper = b + 1 == bins ? max : min + width * (b + 1);
  }
  for (const KllSketch::WeightedValue& w : quantiles.SortedView()) {
    int b = static_cast<int>((w.value - min) / width);
    b = std::clamp(b, 0, bins - 1);
    // Floating-point rounding near an edge: keep [lower, upper) exact.
    while (b > 0 && w.value < out[b].lower) --b;
    while (b + 1 < bins && w.value >= out[b + 1].lower) ++b;
    out[b].count += static_cast<double>(w.weight);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Merging

void MergeInto(ColumnProfile& into, const ColumnProfile& other) {
  if (into.name != other.name) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "Cannot merge profiles of columns '" + into.name + "' and '" + other.name + "'");
  }
  const ColumnType type = PromoteTypes(into.type, other.type);
  if (IsNumeric(type)) {
    if (into.count == 0) {
      into.min = other.min;
      into.max = other.max;
      into.mean = other.mean;
      into.m2 = other.m2;
      into.quantiles = other.quantiles;
    } else if (other.count > 0) {
      // Chan, Golub and LeVeque's pairwise update.
      const auto na = static_cast<double>(into.count);
      const auto nb = static_cast<double>(other.count);
      const double n = na + nb;
      const double delta = other.mean - into.mean;
      into.mean += delta * (nb / n);
      into.m2 += other.m2 + delta * delta * (na * nb / n);
      into.min = std::min(into.min, other.min);
      into.max = std::max(into.max, other.max);
      into.quantiles.Merge(other.quantiles);
    }
  } else {
    ResetNumeric(into);
  }
  into.distinct.Merge(other.distinct);
  into.top_items.Merge(other.top_items);
  if (into.count == 0) {
    into.min_length = other.min_length;
    into.max_length = other.max_length;
  } else if (other.count > 0) {
    into.min_length = std::min(into.min_length, other.min_length);
    into.max_length = std::max(into.max_length, other.max_length);
  }
  into.count += other.count;
  into.missing += other.missing;
  into.type = type;
}

void MergeInto(DatasetProfile& into, const DatasetProfile& other) {
  if (into.columns.size() != other.columns.size()) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "Cannot merge profiles with " + std::to_string(into.columns.size()) + " and " +
                    std::to_string(other.columns.size()) + " columns");
  }
  for (size_t i = 0; i < into.columns.size(); ++i) {
    if (into.columns[i].name != other.columns[i].name) {
      throw Error(ErrorCode::kInvalidParameterValue, "Cannot merge profiles: column " +
                                                         std::to_string(i + 1) + " is '" +
                                                         into.columns[i].name + "' in one and '" +
                                                         other.columns[i].name + "' in the other");
    }
  }
  for (size_t i = 0; i < into.columns.size(); ++i) MergeInto(into.columns[i], other.columns[i]);
  into.row_count += other.row_count;
}

DatasetProfile Merge(const DatasetProfile& a, const DatasetProfile& b) {
  DatasetProfile out = a;
  MergeInto(out, b);
  return out;
}

const ColumnProfile* DatasetProfile::Find(std::string_view column_name) const {
  for (const ColumnProfile& c : columns) {
    if (c.name == column_name) return &c;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// JSON

json DatasetProfile::ToJson(int histogram_bins, int top_items) const {
  json columns_json = json::array();
  for (const ColumnProfile& c : columns) {
    json col = {
        {"name", c.name},
        {"type", ColumnTypeName(c.type)},
        {"count", c.count},
        {"missing", c.missing},
        {"distinct", std::round(c.DistinctEstimate())},
        {"distinct_exact", c.top_items.exact()},
        {"min_length", c.min_length},
        {"max_length", c.max_length},
    };
    json sketches = {
        {"hll", Base64Encode(c.distinct.Serialize())},
        {"frequent_items", Base64Encode(c.top_items.Serialize())},
    };
    if (IsNumeric(c.type) && c.count > 0) {
      col["min"] = NumberJson(c.min, c.type);
      col["max"] = NumberJson(c.max, c.type);
      col["mean"] = c.mean;
      col["stddev"] = c.Stddev();
      json quantiles = json::array();
      const std::vector<double> values = c.quantiles.Quantiles(kProfileQuantiles);
      for (size_t i = 0; i < kProfileQuantiles.size(); ++i) {
        quantiles.push_back({{"q", kProfileQuantiles[i]}, {"value", values[i]}});
      }
      col["quantiles"] = std::move(quantiles);
      json histogram = json::array();
      for (const HistogramBin& bin : c.Histogram(histogram_bins)) {
        histogram.push_back({{"lower", bin.lower}, {"upper", bin.upper}, {"count", bin.count}});
      }
      col["histogram"] = std::move(histogram);
      sketches["m2"] = c.m2;
      sketches["kll"] = Base64Encode(c.quantiles.Serialize());
    }
    // The top values of a float column are only shown if they are exact;
    // otherwise they are mostly noise (they stay in the sketch).
    if (c.type != ColumnType::kFloat64 || c.top_items.exact()) {
      json top = json::array();
      for (const FrequentItems::Item& item : c.top_items.Top(static_cast<size_t>(top_items))) {
        top.push_back({{"value", item.value},
                       {"count", item.lower_bound},
                       {"count_upper_bound", item.upper_bound}});
      }
      col["top_values"] = std::move(top);
    }
    col["sketches"] = std::move(sketches);
    columns_json.push_back(std::move(col));
  }
  return {{"format", kJsonFormat},
          {"version", kJsonVersion},
          {"row_count", row_count},
          {"columns", std::move(columns_json)}};
}

DatasetProfile DatasetProfile::FromJson(const json& in) {
  if (StringField(in, "format", "profile") != kJsonFormat) {
    BadJson("profile.format", std::string("expected \"") + kJsonFormat + "\"");
  }
  if (IntField(in, "version", "profile") != kJsonVersion) {
    BadJson("profile.version", "unsupported version");
  }
  DatasetProfile profile;
  profile.row_count = IntField(in, "row_count", "profile");
  const json& columns = Field(in, "columns", "profile");
  if (!columns.is_array()) BadJson("profile.columns", "expected an array");
  for (size_t i = 0; i < columns.size(); ++i) {
    const json& col = columns[i];
    const std::string where = "profile.columns[" + std::to_string(i) + "]";
    ColumnProfile c(StringField(col, "name", where));
    const std::optional<ColumnType> type = ColumnTypeFromName(StringField(col, "type", where));
    if (!type) BadJson(where + ".type", "unknown type");
    c.type = *type;
    c.count = IntField(col, "count", where);
    c.missing = IntField(col, "missing", where);
    c.min_length = IntField(col, "min_length", where);
    c.max_length = IntField(col, "max_length", where);
    const json& sketches = Field(col, "sketches", where);
    const std::string sketch_where = where + ".sketches";
    c.distinct = SketchField<HyperLogLog>(sketches, "hll", sketch_where);
    c.top_items = SketchField<FrequentItems>(sketches, "frequent_items", sketch_where);
    if (c.top_items.total() != c.count)
      BadJson(sketch_where + ".frequent_items", "total is not count");
    if (IsNumeric(c.type) && c.count > 0) {
      c.min = NumberField(col, "min", where);
      c.max = NumberField(col, "max", where);
      c.mean = NumberField(col, "mean", where);
      c.m2 = NumberField(sketches, "m2", sketch_where);
      c.quantiles = SketchField<KllSketch>(sketches, "kll", sketch_where);
      if (c.quantiles.count() != c.count)
        BadJson(sketch_where + ".kll", "count is not the column's");
    }
    profile.columns.push_back(std::move(c));
  }
  return profile;
}

// ---------------------------------------------------------------------------
// DatasetProfileBuilder

DatasetProfileBuilder::DatasetProfileBuilder(std::vector<std::string> column_names,
                                             const CsvOptions& csv_options,
                                             const ProfileOptions& options)
    : missing_values_(csv_options.missing_values) {
  for (const std::string& value : missing_values_) {
    max_missing_length_ = std::max(max_missing_length_, value.size());
  }
  only_empty_is_missing_ = missing_values_.size() == 1 && missing_values_[0].empty();
  present_.resize(NumericBatch::kCapacity);
  profile_.columns.reserve(column_names.size());
  overrides_.reserve(column_names.size());
  for (std::string& name : column_names) {
    std::optional<ColumnType> override_type;
    if (auto it = csv_options.type_overrides.find(name); it != csv_options.type_overrides.end()) {
      if (it->second == ColumnType::kEmpty) {
        throw Error(
            ErrorCode::kInvalidParameterValue,
            "The type override for column '" + name + "' must be bool, int64, float64 or string");
      }
      override_type = it->second;
    }
    profile_.columns.emplace_back(std::move(name), options);
    if (override_type) profile_.columns.back().type = *override_type;
    overrides_.push_back(override_type);
  }
  for (const auto& [name, type] : csv_options.type_overrides) {
    if (profile_.Find(name) == nullptr) {
      throw Error(ErrorCode::kInvalidParameterValue,
                  "The type override for column '" + name + "' names no column");
    }
  }
}

inline bool DatasetProfileBuilder::IsMissing(std::string_view text) const {
  if (only_empty_is_missing_) return text.empty();
  if (text.size() > max_missing_length_) return false;
  for (const std::string& m : missing_values_) {
    if (text == m) return true;
  }
  return false;
}

int DatasetProfileBuilder::AddRow(std::span<const std::string_view> fields) {
  if (fields.size() != profile_.columns.size()) {
    throw Error(ErrorCode::kInvalidParameterValue, "Row has " + std::to_string(fields.size()) +
                                                       " fields, expected " +
                                                       std::to_string(profile_.columns.size()));
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (AddColumnValues(i, fields.subspan(i, 1)) >= 0) return static_cast<int>(i);
  }
  ++profile_.row_count;
  return -1;
}

int DatasetProfileBuilder::AddColumnValues(size_t column,
                                           std::span<const std::string_view> values) {
  ColumnProfile& c = profile_.columns.at(column);
  const std::optional<ColumnType>& override_type = overrides_[column];
  NumericBatch batch;
  // In chunks, one pass per kind of work: the non-missing values are
  // gathered, typed (a value that does not fit the type override ends the
  // column's values there), hashed once for both text sketches (prefetching
  // the HyperLogLog registers the hashes will touch: a column's 16 KiB of
  // them are rarely all in cache), then added to each sketch in turn.
  constexpr size_t kChunk = NumericBatch::kCapacity;
  std::string_view* const present = present_.data();  // (a member: not zeroed per call)
  uint32_t positions[kChunk];                         // of present[j] in the chunk
  uint64_t hashes[kChunk];
  for (size_t start = 0; start < values.size(); start += kChunk) {
    const size_t size = std::min(values.size() - start, kChunk);
    const std::string_view* chunk = values.data() + start;
    size_t n = 0;
    for (size_t i = 0; i < size; ++i) {
      present[n] = chunk[i];
      positions[n] = static_cast<uint32_t>(i);
      n += IsMissing(chunk[i]) ? 0 : 1;
    }
    size_t fit = n;
    for (size_t j = 0; j < n; ++j) {
      // Runs of numbers of a numeric column in one call, then the value that
      // ends the run (if any) on its own: it changes the type, or fails.
      const ColumnType type = override_type ? *override_type : c.type;
      if (type == ColumnType::kFloat64 || type == ColumnType::kInt64) {
        const std::span<const std::string_view> rest(present + j, n - j);
        double* const out = batch.values + batch.size;
        const size_t parsed = type == ColumnType::kFloat64 ? ParseFloat64s(rest, out)
                                                           : ParseInt64sAsDoubles(rest, out);
        batch.size += parsed;
        j += parsed;
        if (j == n) break;
      }
      if (!AddTyped(c, override_type, present[j], batch)) {
        fit = j;
        break;
      }
    }
    c.missing += static_cast<int64_t>((fit < n ? positions[fit] : size) - fit);
    AddPresentTexts(c, present, fit, hashes);
    FlushNumeric(c, batch);
    if (fit < n) return static_cast<int>(start + positions[fit]);
  }
  return -1;
}

int DatasetProfileBuilder::AddTypedValues(size_t column, std::span<const TypedValue> values) {
  ColumnProfile& c = profile_.columns.at(column);
  const std::optional<ColumnType>& override_type = overrides_[column];
  NumericBatch batch;
  // AddColumnValues' chunks and passes, with AddKnown for the type side.
  constexpr size_t kChunk = NumericBatch::kCapacity;
  std::string_view* const present = present_.data();
  uint32_t positions[kChunk];
  const TypedValue* typed[kChunk];
  uint64_t hashes[kChunk];
  for (size_t start = 0; start < values.size(); start += kChunk) {
    const size_t size = std::min(values.size() - start, kChunk);
    const TypedValue* chunk = values.data() + start;
    size_t n = 0;
    for (size_t i = 0; i < size; ++i) {
      present[n] = chunk[i].text;
      typed[n] = &chunk[i];
      positions[n] = static_cast<uint32_t>(i);
      n += chunk[i].type == ColumnType::kEmpty || IsMissing(chunk[i].text) ? 0 : 1;
    }
    size_t fit = n;
    for (size_t j = 0; j < n; ++j) {
      if (!AddKnown(c, override_type, *typed[j], batch)) {
        fit = j;
        break;
      }
    }
    c.missing += static_cast<int64_t>((fit < n ? positions[fit] : size) - fit);
    AddPresentTexts(c, present, fit, hashes);
    FlushNumeric(c, batch);
    if (fit < n) return static_cast<int>(start + positions[fit]);
  }
  return -1;
}

void DatasetProfileBuilder::AddRowOrThrow(std::span<const std::string_view> fields) {
  const int bad = AddRow(fields);
  if (bad < 0) return;
  const ColumnProfile& column = profile_.columns[static_cast<size_t>(bad)];
  throw Error(ErrorCode::kInvalidParameterValue,
              "Value '" + PrintableExcerpt(fields[static_cast<size_t>(bad)]) + "' of column '" +
                  column.name + "' is not " + Article(column.type) +
                  std::string(ColumnTypeName(column.type)) + " (type override)");
}

// ---------------------------------------------------------------------------
// ProfileCsv

namespace {

// Rows per block that ProfileCsv feeds to a builder column by column: a
// column's sketches stay in cache while its values go in.
constexpr size_t kBlockRows = 256;

// Throws the CsvError for the value of `block` that does not fit its
// column's type override.
[[noreturn]] void FailOverride(const CsvReader& reader, const DatasetProfileBuilder& builder,
                               const CsvBlock& block, size_t row, size_t column) {
  // Parse that one row again for the position of the field.
  const uint64_t begin = block.row_offsets[row];
  const std::atomic<uint64_t> only_this_row{begin};
  uint64_t field_offset = begin;
  reader.ForEachRow(
      {begin, reader.file_size()},
      [&](const CsvRow& parsed) { field_offset = parsed.field_offsets[column]; }, &only_this_row);
  const ColumnProfile& c = builder.profile().columns[column];
  reader.FailAt(field_offset, "value '" + PrintableExcerpt(block.Column(column)[row]) +
                                  "' of column '" + c.name + "' is not " + Article(c.type) +
                                  std::string(ColumnTypeName(c.type)) + " (type override)");
}

// Profiles the rows of `block`; throws the first type override error among
// them (in file order).
void AddBlock(const CsvReader& reader, DatasetProfileBuilder& builder, const CsvBlock& block) {
  size_t bad_row = block.rows;
  size_t bad_column = 0;
  for (size_t c = 0; c < builder.profile().columns.size(); ++c) {
    const int bad = builder.AddColumnValues(c, block.Column(c));
    if (bad >= 0 && static_cast<size_t>(bad) < bad_row) {
      bad_row = static_cast<size_t>(bad);
      bad_column = c;
    }
  }
  if (bad_row < block.rows) FailOverride(reader, builder, block, bad_row, bad_column);
  builder.AddRowCount(static_cast<int64_t>(block.rows));
}

}  // namespace

DatasetProfile ProfileCsv(const std::filesystem::path& path, const CsvOptions& csv_options,
                          const ProfileOptions& options, const ProfileProgress& progress) {
  std::unique_ptr<CsvReader> reader = CsvReader::Open(path, csv_options);
  int threads = options.threads;
  if (threads <= 0) threads = core::UsableCores();
  threads = std::min(threads, 256);
  const std::vector<CsvByteRange> ranges = reader->Split(threads);
  const uint64_t total_bytes = reader->file_size();

  std::vector<DatasetProfileBuilder> builders;
  builders.reserve(std::max<size_t>(ranges.size(), 1));
  for (size_t i = 0; i < std::max<size_t>(ranges.size(), 1); ++i) {
    builders.emplace_back(reader->header(), csv_options, options);
  }

  // The earliest error wins; workers past it stop early.
  std::atomic<uint64_t> first_error{std::numeric_limits<uint64_t>::max()};
  std::vector<std::exception_ptr> errors(ranges.size());
  std::vector<uint64_t> error_offsets(ranges.size(), std::numeric_limits<uint64_t>::max());

  std::mutex progress_mu;  // serializes calls of `progress`
  std::atomic<uint64_t> bytes_done{reader->DataRange().begin};

  auto work = [&](size_t index) {
    const CsvByteRange range = ranges[index];
    uint64_t reported = range.begin;
    try {
      // On a malformed row, ForEachBlock first hands over the rows before
      // it, which may hold an earlier (type override) error.
      reader->ForEachBlock(
          range, kBlockRows,
          [&](const CsvBlock& block) {
            AddBlock(*reader, builders[index], block);
            const uint64_t offset = block.row_offsets.back();
            if (progress && offset - reported >= kProgressStepBytes) {
              const uint64_t step = offset - reported;
              const uint64_t done = bytes_done.fetch_add(step) + step;
              reported = offset;
              std::lock_guard<std::mutex> lock(progress_mu);
              progress(done, total_bytes);
            }
          },
          &first_error);
    } catch (const CsvError& e) {
      errors[index] = std::current_exception();
      error_offsets[index] = e.offset();
      uint64_t current = first_error.load();
      while (e.offset() < current && !first_error.compare_exchange_weak(current, e.offset())) {
      }
      return;
    } catch (...) {
      errors[index] = std::current_exception();
      error_offsets[index] = 0;
      first_error.store(0);
      return;
    }
    bytes_done.fetch_add(range.end - reported);
  };

  // Range 0 here, the others on the executor; the caller takes any that
  // have not started when its own is done. `work` throws nothing.
  {
    TaskGroup group(options.executor, static_cast<int>(ranges.size()) - 1);
    for (size_t i = 1; i < ranges.size(); ++i) group.Add([&work, i] { work(i); });
    if (!ranges.empty()) work(0);
    group.Wait();
  }

  size_t failed = ranges.size();
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (errors[i] && (failed == ranges.size() || error_offsets[i] < error_offsets[failed])) {
      failed = i;
    }
  }
  if (failed < ranges.size()) std::rethrow_exception(errors[failed]);

  DatasetProfile profile = std::move(builders[0]).Finish();
  for (size_t i = 1; i < builders.size(); ++i) MergeInto(profile, builders[i].profile());
  if (progress) progress(total_bytes, total_bytes);
  return profile;
}

}  // namespace slipway::data
