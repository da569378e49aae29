#include "ml/tree_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <utility>

#include "core/error.h"

namespace slipway::ml {

namespace {

// Where each feature of the model comes from in a Frame.
struct Source {
  const Column* column;
  size_t offset;  // within the column's width
};

class RowBuilder {
 public:
  RowBuilder(size_t num_features, const TreeModelOptions& options)
      : num_features_(num_features), options_(options) {
    category_index_.resize(options.category_names.size());
    for (size_t f = 0; f < options.category_names.size(); ++f)
      for (size_t c = 0; c < options.category_names[f].size(); ++c)
        category_index_[f].emplace(options.category_names[f][c], static_cast<double>(c));
  }

  std::vector<double> Rows(const Frame& input) const {
    const std::vector<Source> sources = Match(input);
    const size_t n = input.rows;
    std::vector<double> rows(n * num_features_);
    for (size_t f = 0; f < num_features_; ++f) {
      const Column& col = *sources[f].column;
      const size_t width = col.width, offset = sources[f].offset;
      if (IsNumeric(col.type)) {
        if (col.numbers.size() < n * width) ThrowInvalid("column '" + col.name + "' is short");
        for (size_t r = 0; r < n; ++r)
          rows[r * num_features_ + f] = col.numbers[r * width + offset];
        continue;
      }
      if (col.strings.size() < n * width) ThrowInvalid("column '" + col.name + "' is short");
      const auto* index =
          f < category_index_.size() && !category_index_[f].empty() ? &category_index_[f] : nullptr;
      if (index == nullptr)
        ThrowInvalid("column '" + col.name + "' holds strings, but the model has no category " +
                     "names for feature " + FeatureName(f) +
                     ": send its categories as numeric codes");
      for (size_t r = 0; r < n; ++r) {
        const size_t at = r * width + offset;
        double& dst = rows[r * num_features_ + f];
        if (!col.missing.empty() && col.missing[at]) {
          dst = std::numeric_limits<double>::quiet_NaN();
          continue;
        }
        auto it = index->find(col.strings[at]);
        if (it == index->end() && options_.unknown_category_is_missing) {
          dst = std::numeric_limits<double>::quiet_NaN();
          continue;
        }
        if (it == index->end())
          ThrowInvalid("column '" + col.name + "', row " + std::to_string(r) + ": category '" +
                       col.strings[at] + "' was not seen in training");
        dst = it->second;
      }
    }
    return rows;
  }

 private:
  std::string FeatureName(size_t f) const {
    return f < options_.feature_names.size() ? "'" + options_.feature_names[f] + "'"
                                             : std::to_string(f);
  }

  std::vector<Source> Match(const Frame& input) const {
    std::vector<Source> sources;
    sources.reserve(num_features_);
    const auto& names = options_.feature_names;
    bool any_named = false;
    for (const auto& name : names) any_named = any_named || input.Find(name) != nullptr;
    if (any_named) {
      for (size_t f = 0; f < names.size(); ++f) {
        const std::string& name = names[f];
        const Column* col = input.Find(name, f);
        if (col == nullptr) ThrowInvalid("the input has no column '" + name + "', a model feature");
        sources.push_back({col, 0});
      }
      return sources;
    }
    size_t total = 0;
    for (const Column& col : input.columns) total += col.width;
    if (total != num_features_) {
      if (!names.empty())
        ThrowInvalid("the input has no column '" + names[0] + "', a model feature");
      ThrowInvalid("the model takes " + std::to_string(num_features_) +
                   " features by position, the input has " + std::to_string(total));
    }
    for (const Column& col : input.columns)
      for (size_t i = 0; i < col.width; ++i) sources.push_back({&col, i});
    return sources;
  }

  size_t num_features_;
  const TreeModelOptions& options_;
  std::vector<std::unordered_map<std::string, double>> category_index_;
};

class TreeModel final : public Model {
 public:
  TreeModel(MlModel mlmodel, std::shared_ptr<const TreeEnsemble> ensemble, TreeModelOptions options)
      : mlmodel_(std::move(mlmodel)),
        ensemble_(std::move(ensemble)),
        options_(std::move(options)),
        rows_(ensemble_->num_features(), options_) {}

  Predictions Predict(const Frame& input, std::string_view) const override {
    const std::vector<double> rows = rows_.Rows(input);
    const size_t n = input.rows, width = ensemble_->output_width();
    std::vector<double> scores(n * width);
    ensemble_->Predict(rows.data(), n, ensemble_->num_features(), scores.data());

    Predictions out;
    out.frame.rows = n;
    Column col;
    col.name = "predictions";
    col.type = DataType::kDouble;
    switch (options_.output) {
      case TreeOutput::kScores:
        col.width = width;
        col.numbers = std::move(scores);
        break;
      case TreeOutput::kBinaryLabel:
        col.type = DataType::kLong;
        col.numbers.resize(n);
        for (size_t r = 0; r < n; ++r) col.numbers[r] = scores[r * width] > 0.5 ? 1.0 : 0.0;
        break;
      case TreeOutput::kArgmaxLabel:
        col.type = DataType::kLong;
        col.numbers.resize(n);
        for (size_t r = 0; r < n; ++r) {
          const double* v = scores.data() + r * width;
          col.numbers[r] = static_cast<double>(std::max_element(v, v + width) - v);
        }
        break;
      case TreeOutput::kIntLabel:
        col.type = DataType::kLong;
        col.numbers.resize(n);
        for (size_t r = 0; r < n; ++r) col.numbers[r] = std::trunc(scores[r * width]);
        break;
    }
    out.layout = col.width > 1 ? OutputLayout::kMatrix : OutputLayout::kVector;
    out.frame.columns.push_back(std::move(col));
    return out;
  }

  const MlModel& mlmodel() const override { return mlmodel_; }
  std::string_view flavor() const override { return options_.flavor; }
  bool native() const override { return true; }

 private:
  MlModel mlmodel_;
  std::shared_ptr<const TreeEnsemble> ensemble_;
  TreeModelOptions options_;
  RowBuilder rows_;  // reads options_
};

}  // namespace

std::unique_ptr<Model> MakeTreeModel(MlModel mlmodel, std::shared_ptr<const TreeEnsemble> ensemble,
                                     TreeModelOptions options) {
  return std::make_unique<TreeModel>(std::move(mlmodel), std::move(ensemble), std::move(options));
}

std::vector<double> TreeModelRows(const Frame& input, size_t num_features,
                                  const TreeModelOptions& options) {
  return RowBuilder(num_features, options).Rows(input);
}

}  // namespace slipway::ml
