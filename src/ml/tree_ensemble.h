// A compiled tree ensemble: what the XGBoost and LightGBM loaders build, and
// what serves their predictions.
//
// The loaders (xgboost_format.cc, lightgbm_model.cc) parse a model file into a
// TreeEnsembleSpec; TreeEnsemble::Create validates it (every child, feature
// and category range checked once, so evaluation never bounds-checks) and lays
// each tree out as one flat array of nodes in breadth-first order, children
// always after their parent. Predict then walks blocks of rows through one
// tree at a time, so a tree's nodes stay in cache for the whole block, and
// allocates nothing per node or per row.
//
// Results equal the training library's own to float rounding, because the
// evaluator follows each library's rules rather than a common approximation:
//   XGBoost  - inputs rounded to float, `x < threshold` goes left, NaN takes
//              the default child, categories in the node's set go right;
//              margins accumulated in float, base score first, trees in order.
//   LightGBM - inputs as doubles, `x <= threshold` goes left, missing values
//              by the node's missing type (none / zero / NaN), categories in
//              the bitset go left; margins accumulated in double.
//
// A TreeEnsemble is immutable after Create: Predict is const and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace slipway::ml {

// Whose split rules and arithmetic the ensemble follows (see above).
enum class TreeSemantics { kXGBoost, kLightGBM };

// What turns summed margins into predictions, in the library's precision.
enum class OutputTransform {
  kIdentity,
  kSigmoid,       // 1 / (1 + exp(-scale * x)) on each output
  kExp,           // exp(x): poisson, gamma, tweedie
  kSoftmax,       // over the outputs of a row
  kSoftmaxLabel,  // index of the largest output (XGBoost's multi:softmax)
  kSignedSquare,  // sign(x) * x * x (LightGBM's regression with sqrt)
};

// One node as a loader describes it, with children as indices into its tree.
struct TreeSpecNode {
  static constexpr uint8_t kDefaultLeft = 1;
  static constexpr uint8_t kCategorical = 2;
  static constexpr uint8_t kMissingZero = 4;  // LightGBM: zeros are missing
  static constexpr uint8_t kMissingNaN = 8;   // LightGBM: NaN is missing

  bool leaf = false;
  double value = 0;  // a split's threshold, or a leaf's output
  int32_t feature = 0;
  int32_t left = -1;
  int32_t right = -1;
  uint8_t flags = 0;
  // Categorical split: the categories, as a bitset of `category_words` 32-bit
  // words starting at `category_begin` in TreeEnsembleSpec::category_bits.
  uint32_t category_begin = 0;
  uint32_t category_words = 0;
};

struct TreeSpec {
  std::vector<TreeSpecNode> nodes;  // node 0 is the root
  uint32_t output = 0;              // which output (class) the tree adds to
};

struct TreeEnsembleSpec {
  TreeSemantics semantics = TreeSemantics::kXGBoost;
  size_t num_features = 0;
  size_t num_outputs = 1;
  std::vector<TreeSpec> trees;
  std::vector<uint32_t> category_bits;
  // Added to every row's margin before the trees (XGBoost's base score as a
  // margin), one per output or a single value for all.
  std::vector<double> base_margin;
  // LightGBM's random-forest mode: margins are averaged over iterations.
  bool average_output = false;
  OutputTransform transform = OutputTransform::kIdentity;
  double sigmoid_scale = 1.0;
};

class TreeEnsemble {
 public:
  // Validates and compiles `spec`. Throws slipway::Error
  // (INVALID_PARAMETER_VALUE) naming the tree and node that is malformed.
  static std::shared_ptr<const TreeEnsemble> Create(TreeEnsembleSpec spec);

  size_t num_features() const { return num_features_; }
  // Values per row that Predict writes: 1 for kSoftmaxLabel, else num_outputs.
  size_t output_width() const;
  size_t num_outputs() const { return num_outputs_; }
  size_t num_trees() const { return roots_.size(); }
  OutputTransform transform() const { return transform_; }

  // Predicts `n` rows. Row r's features are rows[r * stride + f] for f in
  // [0, num_features()), NaN for a missing value. Writes n * output_width()
  // values to `out`, row-major. When `margin` is true the transform is left
  // out (raw scores, n * num_outputs() values).
  void Predict(const double* rows, size_t n, size_t stride, double* out, bool margin = false) const;

  // One compiled node (32 bytes), children as indices into nodes_.
  struct Node {
    double value;     // threshold, or leaf output (XGBoost: a float's value)
    int32_t feature;  // -1 for a leaf
    uint32_t left;
    uint32_t right;
    uint16_t category_words;
    uint8_t flags;
    uint8_t unused = 0;
    uint32_t category_begin;
  };

 private:
  TreeEnsemble() = default;
  template <typename Acc, TreeSemantics S>
  void PredictBlocks(const double* rows, size_t n, size_t stride, double* out, bool margin) const;

  TreeSemantics semantics_ = TreeSemantics::kXGBoost;
  size_t num_features_ = 0;
  size_t num_outputs_ = 1;
  std::vector<Node> nodes_;
  std::vector<uint32_t> roots_;
  std::vector<uint32_t> tree_outputs_;
  std::vector<uint32_t> category_bits_;
  std::vector<double> base_margin_;  // num_outputs_ values
  double average_divisor_ = 1.0;
  OutputTransform transform_ = OutputTransform::kIdentity;
  double sigmoid_scale_ = 1.0;
};

}  // namespace slipway::ml
