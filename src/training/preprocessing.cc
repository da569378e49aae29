#include "training/preprocessing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "core/error.h"

namespace slipway::training {
namespace {

using nlohmann::json;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Median as scikit-learn's SimpleImputer takes it: the mean of the two middle
// values of an even count.
double Median(std::vector<double> values) {
  const size_t n = values.size();
  std::nth_element(values.begin(), values.begin() + n / 2, values.end());
  const double upper = values[n / 2];
  if (n % 2 == 1) return upper;
  const double lower = *std::max_element(values.begin(), values.begin() + n / 2);
  return (lower + upper) / 2;
}

FeatureTransform FitNumeric(const TableColumn& column, std::span<const size_t> rows,
                            const Preprocessing& options) {
  FeatureTransform f;
  f.name = column.name;
  f.boolean = column.boolean;
  std::vector<double> present;
  present.reserve(rows.size());
  for (size_t row : rows)
    if (!std::isnan(column.values[row])) present.push_back(column.values[row]);
  double sum = 0;
  for (double v : present) sum += v;
  const double mean = present.empty() ? 0 : sum / present.size();
  switch (options.numeric) {
    case NumericImputation::kMedian:
      // A column with no value in the training rows: 0, as nothing says better.
      f.fill = present.empty() ? 0 : Median(present);
      break;
    case NumericImputation::kMean:
      f.fill = mean;
      break;
    case NumericImputation::kNone:
      f.fill = kNaN;
      break;
  }
  if (options.scale == Scaling::kNone) return f;
  // The statistics of the values the model sees: imputed ones included.
  std::vector<double> seen = present;
  if (!std::isnan(f.fill)) seen.resize(rows.size(), f.fill);
  if (seen.empty()) return f;
  if (options.scale == Scaling::kStandard) {
    double total = 0;
    for (double v : seen) total += v;
    const double m = total / seen.size();
    double squares = 0;
    for (double v : seen) squares += (v - m) * (v - m);
    const double sd = std::sqrt(squares / seen.size());
    f.center = m;
    f.scale = sd > 0 ? sd : 1;
  } else {
    const auto [lo, hi] = std::minmax_element(seen.begin(), seen.end());
    f.center = *lo;
    f.scale = *hi > *lo ? *hi - *lo : 1;
  }
  return f;
}

FeatureTransform FitCategorical(const TableColumn& column, std::span<const size_t> rows,
                                const Preprocessing& options) {
  FeatureTransform f;
  f.name = column.name;
  f.categorical = true;
  f.native = options.categorical == CategoricalEncoding::kNative;
  std::vector<int64_t> counts(column.categories.size(), 0);
  bool any_missing = false;
  for (size_t row : rows) {
    const double code = column.values[row];
    if (std::isnan(code)) {
      any_missing = true;
    } else {
      ++counts[static_cast<size_t>(code)];
    }
  }
  std::map<std::string, int64_t> seen;  // sorted by text
  for (size_t code = 0; code < counts.size(); ++code)
    if (counts[code] > 0) seen[column.categories[code]] = counts[code];
  if (options.categorical_missing == CategoricalImputation::kMissingCategory) {
    f.missing_as = Preprocessor::kMissingCategory;
    if (any_missing) seen.try_emplace(f.missing_as, 0);
  } else {
    int64_t best = 0;
    for (const auto& [text, count] : seen) {
      if (count > best) {
        best = count;
        f.missing_as = text;
      }
    }
  }
  for (const auto& [text, count] : seen) f.categories.push_back(text);
  return f;
}

}  // namespace

Preprocessor Preprocessor::Fit(const Table& table, std::span<const size_t> rows,
                               const std::vector<std::string>& features,
                               const Preprocessing& options) {
  std::vector<FeatureTransform> fitted;
  for (const std::string& name : features) {
    const TableColumn& column = table.Get(name);
    fitted.push_back(column.categorical ? FitCategorical(column, rows, options)
                                        : FitNumeric(column, rows, options));
  }
  Preprocessor p;
  p.value_ = ml::Preprocessing(std::move(fitted));
  return p;
}

Matrix Preprocessor::Transform(const Table& table, std::span<const size_t> rows) const {
  Matrix m;
  m.rows = rows.size();
  m.cols = value_.output_width();
  m.values.assign(m.rows * m.cols, 0.0);
  size_t col = 0;
  for (const FeatureTransform& f : value_.features()) {
    const TableColumn& column = table.Get(f.name);
    if (f.categorical != column.categorical) {
      ThrowInvalid("column '" + f.name + "' is " + (column.categorical ? "text" : "numeric") +
                   " here but was " + (f.categorical ? "text" : "numeric") + " when fitted");
    }
    if (!f.categorical) {
      for (size_t i = 0; i < rows.size(); ++i)
        ml::Preprocessing::Write(f, column.values[rows[i]], -1, &m.values[i * m.cols + col]);
      col += f.width();
      continue;
    }
    // The table's codes -> the index of the fitted category (-1: unseen),
    // looked up by text once per code, as serving looks up each value.
    std::vector<double> index(column.categories.size());
    for (size_t code = 0; code < index.size(); ++code)
      index[code] = f.CategoryIndex(column.categories[code]);
    const double missing = f.MissingIndex();
    for (size_t i = 0; i < rows.size(); ++i) {
      const double code = column.values[rows[i]];
      const double at = std::isnan(code) ? missing : index[static_cast<size_t>(code)];
      ml::Preprocessing::Write(f, kNaN, at, &m.values[i * m.cols + col]);
    }
    col += f.width();
  }
  return m;
}

Preprocessor Preprocessor::FromJson(const json& in) {
  Preprocessor p;
  p.value_ = ml::Preprocessing::FromJson(in);
  return p;
}

}  // namespace slipway::training
