#include "ml/tree_ensemble.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <string>

#include "core/error.h"

namespace slipway::ml {

namespace {

// Rows per pass through a tree: enough to reuse a tree's nodes from cache,
// few enough that the block's margins stay in L1.
constexpr size_t kBlockRows = 64;
constexpr uint32_t kNoCategories = 0;

[[noreturn]] void ThrowMalformed(size_t tree, size_t node, const std::string& what) {
  ThrowInvalid("malformed tree model: tree " + std::to_string(tree) + ", node " +
               std::to_string(node) + ": " + what);
}

bool InBitset(const uint32_t* words, uint32_t n_words, uint64_t value) {
  const uint64_t word = value / 32;
  return word < n_words && ((words[word] >> (value % 32)) & 1u) != 0;
}

// XGBoost (src/common/categorical.h): a category outside [0, 2^24) is not
// valid and goes left like one not in the set.
constexpr float kXGBoostMaxCategory = 16777216.0f;

}  // namespace

std::shared_ptr<const TreeEnsemble> TreeEnsemble::Create(TreeEnsembleSpec spec) {
  auto ensemble = std::shared_ptr<TreeEnsemble>(new TreeEnsemble());
  TreeEnsemble& e = *ensemble;
  if (spec.num_outputs == 0) ThrowInvalid("malformed tree model: no outputs");
  if (spec.num_features > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    ThrowInvalid("malformed tree model: too many features");
  e.semantics_ = spec.semantics;
  e.num_features_ = spec.num_features;
  e.num_outputs_ = spec.num_outputs;
  e.transform_ = spec.transform;
  e.sigmoid_scale_ = spec.sigmoid_scale;
  e.category_bits_ = std::move(spec.category_bits);
  if (spec.base_margin.empty()) spec.base_margin.push_back(0.0);
  if (spec.base_margin.size() == 1) spec.base_margin.resize(spec.num_outputs, spec.base_margin[0]);
  if (spec.base_margin.size() != spec.num_outputs)
    ThrowInvalid("malformed tree model: " + std::to_string(spec.base_margin.size()) +
                 " base scores for " + std::to_string(spec.num_outputs) + " outputs");
  e.base_margin_ = std::move(spec.base_margin);
  if (spec.average_output) {
    const size_t iterations = spec.trees.size() / spec.num_outputs;
    e.average_divisor_ = iterations == 0 ? 1.0 : static_cast<double>(iterations);
  }
  if ((spec.transform == OutputTransform::kSoftmax ||
       spec.transform == OutputTransform::kSoftmaxLabel) &&
      spec.num_outputs < 2)
    ThrowInvalid("malformed tree model: softmax needs more than one class");

  size_t total = 0;
  for (const TreeSpec& tree : spec.trees) total += tree.nodes.size();
  if (total >= std::numeric_limits<uint32_t>::max())
    ThrowInvalid("malformed tree model: too many nodes");
  e.nodes_.reserve(total);
  e.roots_.reserve(spec.trees.size());
  e.tree_outputs_.reserve(spec.trees.size());

  std::vector<uint32_t> placed;  // spec index -> compiled index, per tree
  std::deque<int32_t> queue;
  for (size_t t = 0; t < spec.trees.size(); ++t) {
    const TreeSpec& tree = spec.trees[t];
    const auto& nodes = tree.nodes;
    if (nodes.empty()) ThrowMalformed(t, 0, "the tree has no nodes");
    if (tree.output >= spec.num_outputs)
      ThrowMalformed(t, 0,
                     "it adds to output " + std::to_string(tree.output) + " of " +
                         std::to_string(spec.num_outputs));
    // Breadth-first from the root: every node must be reached exactly once,
    // which rules out cycles, shared children and dangling indices.
    placed.assign(nodes.size(), std::numeric_limits<uint32_t>::max());
    const uint32_t base = static_cast<uint32_t>(e.nodes_.size());
    uint32_t next = base;
    placed[0] = next++;
    queue.assign(1, 0);
    std::vector<int32_t> order;
    order.reserve(nodes.size());
    while (!queue.empty()) {
      const int32_t i = queue.front();
      queue.pop_front();
      order.push_back(i);
      const TreeSpecNode& n = nodes[static_cast<size_t>(i)];
      if (n.leaf) continue;
      for (int32_t child : {n.left, n.right}) {
        if (child < 0 || static_cast<size_t>(child) >= nodes.size())
          ThrowMalformed(t, static_cast<size_t>(i),
                         "child " + std::to_string(child) + " is not a node of the tree (it has " +
                             std::to_string(nodes.size()) + ")");
        if (placed[static_cast<size_t>(child)] != std::numeric_limits<uint32_t>::max())
          ThrowMalformed(t, static_cast<size_t>(i),
                         "node " + std::to_string(child) + " is reached twice");
        placed[static_cast<size_t>(child)] = next++;
        queue.push_back(child);
      }
    }
    for (int32_t i : order) {
      const TreeSpecNode& n = nodes[static_cast<size_t>(i)];
      Node c{};
      c.value = n.value;
      c.flags = n.flags;
      if (n.leaf) {
        c.feature = -1;
      } else {
        if (n.feature < 0 || static_cast<size_t>(n.feature) >= spec.num_features)
          ThrowMalformed(t, static_cast<size_t>(i),
                         "feature " + std::to_string(n.feature) + " is not one of the model's " +
                             std::to_string(spec.num_features));
        if (std::isnan(n.value)) ThrowMalformed(t, static_cast<size_t>(i), "threshold is NaN");
        c.feature = n.feature;
        c.left = placed[static_cast<size_t>(n.left)];
        c.right = placed[static_cast<size_t>(n.right)];
        if (n.flags & TreeSpecNode::kCategorical) {
          if (n.category_words > std::numeric_limits<uint16_t>::max() ||
              n.category_begin > e.category_bits_.size() ||
              n.category_words > e.category_bits_.size() - n.category_begin)
            ThrowMalformed(t, static_cast<size_t>(i), "its categories are out of range");
          c.category_begin = n.category_begin;
          c.category_words = static_cast<uint16_t>(n.category_words);
        } else {
          c.category_begin = kNoCategories;
        }
      }
      e.nodes_.push_back(c);
    }
    e.roots_.push_back(base);
    e.tree_outputs_.push_back(tree.output);
  }
  return ensemble;
}

size_t TreeEnsemble::output_width() const {
  return transform_ == OutputTransform::kSoftmaxLabel ? 1 : num_outputs_;
}

void TreeEnsemble::Predict(const double* rows, size_t n, size_t stride, double* out,
                           bool margin) const {
  if (semantics_ == TreeSemantics::kXGBoost)
    PredictBlocks<float, TreeSemantics::kXGBoost>(rows, n, stride, out, margin);
  else
    PredictBlocks<double, TreeSemantics::kLightGBM>(rows, n, stride, out, margin);
}

namespace {

// The child a row takes at split `node`, by XGBoost's rules
// (src/predictor/predict_fn.h, GetNextNode; src/common/categorical.h).
inline uint32_t NextXGBoost(const TreeEnsemble::Node& node, const uint32_t* bits,
                            const double* row) {
  const double raw = row[node.feature];
  if (std::isnan(raw)) return (node.flags & TreeSpecNode::kDefaultLeft) ? node.left : node.right;
  const float x = static_cast<float>(raw);
  if (node.flags & TreeSpecNode::kCategorical) {
    if (x < 0.0f || x >= kXGBoostMaxCategory) return node.left;
    const bool in_set = InBitset(bits + node.category_begin, node.category_words,
                                 static_cast<uint64_t>(static_cast<int32_t>(x)));
    return in_set ? node.right : node.left;
  }
  return x < static_cast<float>(node.value) ? node.left : node.right;
}

// LightGBM's rules (include/LightGBM/tree.h, NumericalDecision and
// CategoricalDecision).
inline uint32_t NextLightGBM(const TreeEnsemble::Node& node, const uint32_t* bits,
                             const double* row) {
  double x = row[node.feature];
  if (node.flags & TreeSpecNode::kCategorical) {
    if (std::isnan(x) || x < 0.0 || x >= 2147483648.0) return node.right;
    const bool in_set = InBitset(bits + node.category_begin, node.category_words,
                                 static_cast<uint64_t>(static_cast<int32_t>(x)));
    return in_set ? node.left : node.right;
  }
  const bool nan_missing = (node.flags & TreeSpecNode::kMissingNaN) != 0;
  if (std::isnan(x) && !nan_missing) x = 0.0;
  constexpr double kZero = static_cast<double>(1e-35f);
  const bool missing =
      nan_missing ? std::isnan(x)
                  : ((node.flags & TreeSpecNode::kMissingZero) != 0 && x >= -kZero && x <= kZero);
  if (missing) return (node.flags & TreeSpecNode::kDefaultLeft) ? node.left : node.right;
  return x <= node.value ? node.left : node.right;
}

template <typename Acc>
void Transform(OutputTransform transform, Acc scale, Acc* v, size_t k) {
  switch (transform) {
    case OutputTransform::kIdentity:
    case OutputTransform::kSoftmaxLabel:
      return;
    case OutputTransform::kSigmoid:
      for (size_t i = 0; i < k; ++i) {
        if constexpr (std::is_same_v<Acc, float>) {
          // XGBoost's common::Sigmoid, in float with its clamp.
          const float z = std::min(-v[i], 88.7f);
          v[i] = 1.0f / (std::exp(z) + 1.0f + 1e-16f);
        } else {
          v[i] = 1.0 / (1.0 + std::exp(-scale * v[i]));
        }
      }
      return;
    case OutputTransform::kExp:
      for (size_t i = 0; i < k; ++i) v[i] = std::exp(v[i]);
      return;
    case OutputTransform::kSignedSquare:
      for (size_t i = 0; i < k; ++i) v[i] = (v[i] < 0 ? -v[i] : v[i]) * v[i];
      return;
    case OutputTransform::kSoftmax: {
      Acc max = v[0];
      for (size_t i = 1; i < k; ++i) max = std::max(max, v[i]);
      double sum = 0;  // XGBoost and LightGBM both sum in double
      for (size_t i = 0; i < k; ++i) {
        v[i] = std::exp(v[i] - max);
        sum += v[i];
      }
      for (size_t i = 0; i < k; ++i) v[i] = static_cast<Acc>(v[i] / static_cast<Acc>(sum));
      return;
    }
  }
}

}  // namespace

template <typename Acc, TreeSemantics S>
void TreeEnsemble::PredictBlocks(const double* rows, size_t n, size_t stride, double* out,
                                 bool margin) const {
  const size_t k = num_outputs_;
  Acc acc[kBlockRows * 64];  // margins of one block; num_outputs_ <= 64 per pass
  const size_t block_rows = std::max<size_t>(1, std::min(kBlockRows, (kBlockRows * 64) / k));
  std::vector<Acc> wide;  // only for models with very many classes
  Acc* margins = acc;
  if (block_rows * k > kBlockRows * 64) {
    wide.resize(block_rows * k);
    margins = wide.data();
  }
  const Node* nodes = nodes_.data();
  const uint32_t* bits = category_bits_.data();
  const size_t width = margin ? k : output_width();
  for (size_t begin = 0; begin < n; begin += block_rows) {
    const size_t count = std::min(block_rows, n - begin);
    for (size_t r = 0; r < count; ++r)
      for (size_t o = 0; o < k; ++o) margins[r * k + o] = static_cast<Acc>(base_margin_[o]);
    const double* block = rows + begin * stride;
    for (size_t t = 0; t < roots_.size(); ++t) {
      const uint32_t root = roots_[t];
      Acc* target = margins + tree_outputs_[t];
      for (size_t r = 0; r < count; ++r) {
        const double* row = block + r * stride;
        uint32_t i = root;
        while (nodes[i].feature >= 0) {
          if constexpr (S == TreeSemantics::kXGBoost)
            i = NextXGBoost(nodes[i], bits, row);
          else
            i = NextLightGBM(nodes[i], bits, row);
        }
        target[r * k] += static_cast<Acc>(nodes[i].value);
      }
    }
    for (size_t r = 0; r < count; ++r) {
      Acc* v = margins + r * k;
      if (average_divisor_ != 1.0)
        for (size_t o = 0; o < k; ++o) v[o] = static_cast<Acc>(v[o] / average_divisor_);
      double* dst = out + (begin + r) * width;
      if (!margin && transform_ == OutputTransform::kSoftmaxLabel) {
        dst[0] = static_cast<double>(std::max_element(v, v + k) - v);
        continue;
      }
      if (!margin) Transform<Acc>(transform_, static_cast<Acc>(sigmoid_scale_), v, k);
      for (size_t o = 0; o < k; ++o) dst[o] = static_cast<double>(v[o]);
    }
  }
}

}  // namespace slipway::ml
