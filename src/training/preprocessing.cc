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
  Preprocessor p;
  for (const std::string& name : features) {
    const TableColumn& column = table.Get(name);
    p.features_.push_back(column.categorical ? FitCategorical(column, rows, options)
                                             : FitNumeric(column, rows, options));
  }
  return p;
}

Matrix Preprocessor::Transform(const Table& table, std::span<const size_t> rows) const {
  Matrix m;
  m.rows = rows.size();
  m.cols = OutputNames().size();
  m.values.assign(m.rows * m.cols, 0.0);
  size_t col = 0;
  for (const FeatureTransform& f : features_) {
    const TableColumn& column = table.Get(f.name);
    if (f.categorical != column.categorical) {
      ThrowInvalid("column '" + f.name + "' is " + (column.categorical ? "text" : "numeric") +
                   " here but was " + (f.categorical ? "text" : "numeric") + " when fitted");
    }
    if (!f.categorical) {
      for (size_t i = 0; i < rows.size(); ++i) {
        double v = column.values[rows[i]];
        if (std::isnan(v)) v = f.fill;
        m(i, col) = (v - f.center) / f.scale;
      }
      ++col;
      continue;
    }
    // The table's codes -> the index of the fitted category (-1: unseen).
    auto index_of = [&f](const std::string& text) -> double {
      auto it = std::lower_bound(f.categories.begin(), f.categories.end(), text);
      return it != f.categories.end() && *it == text ? it - f.categories.begin() : -1;
    };
    std::vector<double> index(column.categories.size());
    for (size_t code = 0; code < index.size(); ++code)
      index[code] = index_of(column.categories[code]);
    const double missing = f.missing_as.empty() ? -1 : index_of(f.missing_as);
    for (size_t i = 0; i < rows.size(); ++i) {
      const double code = column.values[rows[i]];
      const double at = std::isnan(code) ? missing : index[static_cast<size_t>(code)];
      if (f.native) {
        m(i, col) = at < 0 ? kNaN : at;
      } else if (at >= 0) {
        m(i, col + static_cast<size_t>(at)) = 1;
      }
    }
    col += f.native ? 1 : f.categories.size();
  }
  return m;
}

std::vector<std::string> Preprocessor::OutputNames() const {
  std::vector<std::string> names;
  for (const FeatureTransform& f : features_) {
    if (!f.categorical || f.native) {
      names.push_back(f.name);
    } else {
      for (const std::string& c : f.categories) names.push_back(f.name + "=" + c);
    }
  }
  return names;
}

std::vector<bool> Preprocessor::OutputCategorical() const {
  std::vector<bool> out;
  for (const FeatureTransform& f : features_) {
    if (!f.categorical || f.native) {
      out.push_back(f.categorical);
    } else {
      out.insert(out.end(), f.categories.size(), false);
    }
  }
  return out;
}

json Preprocessor::ToJson() const {
  json features = json::array();
  for (const FeatureTransform& f : features_) {
    if (f.categorical) {
      features.push_back({{"name", f.name},
                          {"kind", "categorical"},
                          {"encoding", f.native ? "native" : "onehot"},
                          {"categories", f.categories},
                          {"missing_as", f.missing_as}});
    } else {
      // JSON has no NaN: a fill that keeps values missing is null.
      features.push_back({{"name", f.name},
                          {"kind", "numeric"},
                          {"fill", std::isnan(f.fill) ? json(nullptr) : json(f.fill)},
                          {"center", f.center},
                          {"scale", f.scale}});
    }
  }
  return {{"format_version", 1}, {"features", features}, {"outputs", OutputNames()}};
}

Preprocessor Preprocessor::FromJson(const json& in) {
  auto fail = [](const std::string& what) -> void { ThrowInvalid("preprocessing JSON: " + what); };
  if (!in.is_object() || in.value("format_version", 0) != 1) fail("expected format_version 1");
  if (!in.contains("features") || !in["features"].is_array()) fail("expected a features array");
  Preprocessor p;
  try {
    for (const json& j : in["features"]) {
      FeatureTransform f;
      f.name = j.at("name").get<std::string>();
      const std::string kind = j.at("kind").get<std::string>();
      if (kind == "categorical") {
        f.categorical = true;
        const std::string encoding = j.at("encoding").get<std::string>();
        if (encoding != "native" && encoding != "onehot")
          fail("unknown encoding '" + encoding + "'");
        f.native = encoding == "native";
        f.categories = j.at("categories").get<std::vector<std::string>>();
        if (!std::is_sorted(f.categories.begin(), f.categories.end()))
          fail("the categories of '" + f.name + "' are not sorted");
        f.missing_as = j.at("missing_as").get<std::string>();
      } else if (kind == "numeric") {
        f.fill = j.at("fill").is_null() ? kNaN : j.at("fill").get<double>();
        f.center = j.at("center").get<double>();
        f.scale = j.at("scale").get<double>();
      } else {
        fail("unknown kind '" + kind + "' of feature '" + f.name + "'");
      }
      p.features_.push_back(std::move(f));
    }
  } catch (const json::exception& e) {
    fail(e.what());
  }
  return p;
}

}  // namespace slipway::training
