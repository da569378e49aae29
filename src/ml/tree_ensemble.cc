#include "ml/tree_ensemble.h"

#include <immintrin.h>

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

bool CpuHasAvx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}

// XGBoost (src/common/categorical.h): a category outside [0, 2^24) is not
// valid and goes left like one not in the set.
constexpr float kXGBoostMaxCategory = 16777216.0f;

}  // namespace

std::shared_ptr<const TreeEnsemble> TreeEnsemble::Create(TreeEnsembleSpec spec, bool allow_wide) {
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
    // Depth of each node, by compiled index relative to `base`.
    std::vector<uint32_t> depth(order.size(), 0);
    uint32_t max_depth = 0;
    double leaf_depths = 0, leaves = 0;
    for (int32_t i : order) {
      const TreeSpecNode& n = nodes[static_cast<size_t>(i)];
      const uint32_t at = placed[static_cast<size_t>(i)];
      Node c{};
      c.value = n.value;
      c.flags = n.flags;
      if (n.leaf) {
        c.feature = 0;
        c.left = at;
        c.step = 0;
        c.flags = Node::kLeaf;
        max_depth = std::max(max_depth, depth[at - base]);
        leaf_depths += depth[at - base];
        leaves += 1;
      } else {
        if (n.feature < 0 || static_cast<size_t>(n.feature) >= spec.num_features)
          ThrowMalformed(t, static_cast<size_t>(i),
                         "feature " + std::to_string(n.feature) + " is not one of the model's " +
                             std::to_string(spec.num_features));
        // A categorical split tests its set, not the threshold, which
        // XGBoost writes as NaN (RegTree::ExpandCategorical).
        if (std::isnan(n.value) && !(n.flags & TreeSpecNode::kCategorical))
          ThrowMalformed(t, static_cast<size_t>(i), "threshold is NaN");
        c.feature = n.feature;
        c.left = placed[static_cast<size_t>(n.left)];
        c.step = 1;
        // Placed together by the breadth-first walk above.
        depth[c.left - base] = depth[c.left + 1 - base] = depth[at - base] + 1;
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
    if (spec.num_features == 0 && max_depth > 0)
      ThrowMalformed(t, 0, "the model has splits but no features");
    // Lockstep costs max_depth steps per row; alone, a row takes its own
    // path's length but one dependent load after another. Lockstep wins
    // unless the tree is very lopsided (LightGBM grows leaf-wise).
    e.lockstep_depth_.push_back(max_depth <= 2 * (leaf_depths / leaves) + 2 ? max_depth : 0);
    e.roots_.push_back(base);
    e.tree_outputs_.push_back(tree.output);
  }
  if (e.semantics_ == TreeSemantics::kXGBoost) e.BuildPerfectTrees(allow_wide);
  return ensemble;
}

void TreeEnsemble::FillPerfect(uint32_t root, uint32_t depth, PerfectSplit* splits,
                               float* leaves) const {
  const size_t first_leaf = (size_t{1} << depth) - 1;
  // Fill heap position `at` (level `level`) from compiled node `node`; a
  // leaf above the bottom fills its whole subtree.
  struct Item {
    uint32_t node;
    size_t at;
    uint32_t level;
  };
  std::vector<Item> stack{{root, 0, 0}};
  while (!stack.empty()) {
    const Item item = stack.back();
    stack.pop_back();
    const Node& n = nodes_[item.node];
    if (item.level == depth) {
      leaves[item.at - first_leaf] = static_cast<float>(n.value);
      continue;
    }
    PerfectSplit& split = splits[item.at];
    split = PerfectSplit{0.0f, 0};
    uint32_t left = item.node, right = item.node;  // a leaf: both are itself
    if (n.step != 0) {
      split.threshold = static_cast<float>(n.value);
      split.feature_and_default = static_cast<uint32_t>(n.feature);
      if (n.flags & TreeSpecNode::kDefaultLeft) split.feature_and_default |= kDefaultLeftBit;
      left = n.left;
      right = n.left + 1;
    }
    stack.push_back({left, 2 * item.at + 1, item.level + 1});
    stack.push_back({right, 2 * item.at + 2, item.level + 1});
  }
}

void TreeEnsemble::BuildPerfectTrees(bool allow_wide) {
  perfect_of_tree_.assign(roots_.size(), kNotPerfect);
  wide_of_tree_.assign(roots_.size(), kNotPerfect);
  const bool wide = allow_wide && num_features_ <= kWideFeatures && CpuHasAvx512();
  for (size_t t = 0; t < roots_.size(); ++t) {
    const uint32_t depth = lockstep_depth_[t];
    const size_t end = t + 1 < roots_.size() ? roots_[t + 1] : nodes_.size();
    bool eligible = depth <= kMaxPerfectDepth && (depth > 0 || nodes_[roots_[t]].step == 0);
    for (size_t i = roots_[t]; i < end && eligible; ++i)
      if (nodes_[i].step != 0 && (nodes_[i].flags & TreeSpecNode::kCategorical)) eligible = false;
    if (!eligible) continue;
    PerfectTree tree;
    tree.splits = static_cast<uint32_t>(perfect_splits_.size());
    tree.leaves = static_cast<uint32_t>(perfect_leaves_.size());
    tree.depth = depth;
    const size_t splits = (size_t{1} << depth) - 1;
    perfect_splits_.resize(perfect_splits_.size() + splits, PerfectSplit{0.0f, 0});
    perfect_leaves_.resize(perfect_leaves_.size() + splits + 1, 0.0f);
    FillPerfect(roots_[t], depth, perfect_splits_.data() + tree.splits,
                perfect_leaves_.data() + tree.leaves);
    if (wide && depth <= kWideDepth) {
      // Padded to kWideDepth levels for the AVX-512 walk (see WideTree).
      PerfectSplit padded[kWideSplits];
      float leaves[kWideSplits + 1];
      FillPerfect(roots_[t], kWideDepth, padded, leaves);
      WideTree& w = wide_trees_.emplace_back();
      for (size_t i = 0; i < kWideSplits + 1; ++i) {
        w.leaf[i] = leaves[i];
        if (i == kWideSplits) break;
        w.threshold[i] = padded[i].threshold;
        w.feature[i] = static_cast<int32_t>(padded[i].feature_and_default & ~kDefaultLeftBit);
        if (padded[i].feature_and_default & kDefaultLeftBit) w.default_left |= uint64_t{1} << i;
      }
      wide_of_tree_[t] = static_cast<uint32_t>(wide_trees_.size() - 1);
    }
    perfect_of_tree_[t] = static_cast<uint32_t>(perfect_trees_.size());
    perfect_trees_.push_back(tree);
  }
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

// Whether a row goes right at split `node`, by XGBoost's rules
// (src/predictor/predict_fn.h, GetNextNode; src/common/categorical.h).
inline bool RightXGBoost(const TreeEnsemble::Node& node, const uint32_t* bits, const double* row) {
  const double raw = row[node.feature];
  if (std::isnan(raw)) return !(node.flags & TreeSpecNode::kDefaultLeft);
  const float x = static_cast<float>(raw);
  if (node.flags & TreeSpecNode::kCategorical) {
    if (x < 0.0f || x >= kXGBoostMaxCategory) return false;
    return InBitset(bits + node.category_begin, node.category_words,
                    static_cast<uint64_t>(static_cast<int32_t>(x)));
  }
  return !(x < static_cast<float>(node.value));
}

// LightGBM's rules (include/LightGBM/tree.h, NumericalDecision and
// CategoricalDecision).
inline bool RightLightGBM(const TreeEnsemble::Node& node, const uint32_t* bits, const double* row) {
  double x = row[node.feature];
  if (node.flags & TreeSpecNode::kCategorical) {
    if (std::isnan(x) || x < 0.0 || x >= 2147483648.0) return true;
    return !InBitset(bits + node.category_begin, node.category_words,
                     static_cast<uint64_t>(static_cast<int32_t>(x)));
  }
  const bool nan_missing = (node.flags & TreeSpecNode::kMissingNaN) != 0;
  if (std::isnan(x) && !nan_missing) x = 0.0;
  constexpr double kZero = static_cast<double>(1e-35f);
  const bool missing =
      nan_missing ? std::isnan(x)
                  : ((node.flags & TreeSpecNode::kMissingZero) != 0 && x >= -kZero && x <= kZero);
  if (missing) return !(node.flags & TreeSpecNode::kDefaultLeft);
  return !(x <= node.value);
}

template <TreeSemantics S>
inline uint32_t Next(const TreeEnsemble::Node& node, const uint32_t* bits, const double* row) {
  bool right;
  if constexpr (S == TreeSemantics::kXGBoost)
    right = RightXGBoost(node, bits, row);
  else
    right = RightLightGBM(node, bits, row);
  return node.left + (static_cast<uint32_t>(right) & node.step);
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

// The AVX-512 walk of one padded tree (see WideTree) for `count` rows of
// `block` (floats, `width` <= 32 per row): a row's two registers hold all
// its features, four permutes put the value each of the 63 splits tests in
// split order, four compares give every split's direction as one 64-bit
// mask, and the path down is six bit tests on it. No gather: on this
// generation of CPUs a gather costs more than the scalar walk it replaces.
// Same rules as the scalar step (!(x < threshold), NaN to its default).
// Four 16-bit masks into one 64-bit word, m0's bit 0 in bit 0.
__attribute__((target("avx512f,avx512bw"))) inline uint64_t JoinMasks(__mmask16 m0, __mmask16 m1,
                                                                      __mmask16 m2, __mmask16 m3) {
  const __mmask32 low = _mm512_kunpackw(m1, m0);
  const __mmask32 high = _mm512_kunpackw(m3, m2);
  return _cvtmask64_u64(_mm512_kunpackd(high, low));
}

__attribute__((target("avx512f,avx512bw"))) void AddWideTree(const TreeEnsemble::WideTree& tree,
                                                             const float* block,
                                                             const uint8_t* has_nan, size_t count,
                                                             size_t width, float* target,
                                                             size_t k) {
  const __mmask16 low = static_cast<__mmask16>(width >= 16 ? 0xffff : (1u << width) - 1);
  const __mmask16 high = static_cast<__mmask16>(width <= 16 ? 0 : (1u << (width - 16)) - 1);
  const __m512i f0 = _mm512_load_si512(tree.feature);
  const __m512i f1 = _mm512_load_si512(tree.feature + 16);
  const __m512i f2 = _mm512_load_si512(tree.feature + 32);
  const __m512i f3 = _mm512_load_si512(tree.feature + 48);
  const __m512 t0 = _mm512_load_ps(tree.threshold);
  const __m512 t1 = _mm512_load_ps(tree.threshold + 16);
  const __m512 t2 = _mm512_load_ps(tree.threshold + 32);
  const __m512 t3 = _mm512_load_ps(tree.threshold + 48);
  for (size_t r = 0; r < count; ++r) {
    const float* row = block + r * width;
    const __m512 a = _mm512_maskz_loadu_ps(low, row);
    const __m512 b = _mm512_maskz_loadu_ps(high, row + 16);
    const __m512 x0 = _mm512_permutex2var_ps(a, f0, b);
    const __m512 x1 = _mm512_permutex2var_ps(a, f1, b);
    const __m512 x2 = _mm512_permutex2var_ps(a, f2, b);
    const __m512 x3 = _mm512_permutex2var_ps(a, f3, b);
    // !(x < threshold): right, and true for NaN.
    uint64_t right =
        JoinMasks(_mm512_cmp_ps_mask(x0, t0, _CMP_NLT_UQ), _mm512_cmp_ps_mask(x1, t1, _CMP_NLT_UQ),
                  _mm512_cmp_ps_mask(x2, t2, _CMP_NLT_UQ), _mm512_cmp_ps_mask(x3, t3, _CMP_NLT_UQ));
    if (has_nan[r]) {
      const uint64_t nan = JoinMasks(
          _mm512_cmp_ps_mask(x0, x0, _CMP_UNORD_Q), _mm512_cmp_ps_mask(x1, x1, _CMP_UNORD_Q),
          _mm512_cmp_ps_mask(x2, x2, _CMP_UNORD_Q), _mm512_cmp_ps_mask(x3, x3, _CMP_UNORD_Q));
      right ^= nan & tree.default_left;  // missing values that go left
    }
    uint64_t at = 0;
#pragma GCC unroll 8
    for (uint32_t level = 0; level < TreeEnsemble::kWideDepth; ++level)
      at = 2 * at + 1 + ((right >> at) & 1);
    target[r * k] += tree.leaf[at - TreeEnsemble::kWideSplits];
  }
}

}  // namespace

void TreeEnsemble::AddPerfectTree(size_t p, const float* block, size_t count, size_t width,
                                  float* target, size_t k) const {
  const PerfectTree& tree = perfect_trees_[p];
  const PerfectSplit* splits = perfect_splits_.data() + tree.splits;
  const float* leaves = perfect_leaves_.data() + tree.leaves - ((size_t{1} << tree.depth) - 1);
  // One step of one row: from split `at` to its child.
  auto step = [splits](const float* row, uint32_t at) {
    const PerfectSplit split = splits[at];
    const float x = row[split.feature_and_default & ~kDefaultLeftBit];
    // !(x < threshold) is true for NaN: right, unless missing goes left.
    const uint32_t nan_left = static_cast<uint32_t>(x != x) & (split.feature_and_default >> 31);
    const uint32_t right = static_cast<uint32_t>(!(x < split.threshold)) ^ nan_left;
    return 2 * at + 1 + right;
  };
  // All rows of the block one level down per pass: their loads are
  // independent, so the CPU overlaps them.
  uint32_t at[kBlockRows] = {};
  for (uint32_t level = 0; level < tree.depth; ++level)
    for (size_t r = 0; r < count; ++r) at[r] = step(block + r * width, at[r]);
  for (size_t r = 0; r < count; ++r) target[r * k] += leaves[at[r]];
}

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
  // XGBoost: the block's rows rounded to float once (see PerfectSplit).
  std::vector<float> rounded;
  uint8_t has_nan[kBlockRows];  // per row of the block: a missing value
  if constexpr (S == TreeSemantics::kXGBoost)
    if (!perfect_trees_.empty()) rounded.resize(std::min(block_rows, n) * num_features_);
  for (size_t begin = 0; begin < n; begin += block_rows) {
    const size_t count = std::min(block_rows, n - begin);
    for (size_t r = 0; r < count; ++r)
      for (size_t o = 0; o < k; ++o) margins[r * k + o] = static_cast<Acc>(base_margin_[o]);
    const double* block = rows + begin * stride;
    if constexpr (S == TreeSemantics::kXGBoost) {
      if (!rounded.empty())
        for (size_t r = 0; r < count; ++r) {
          uint8_t nan = 0;
          for (size_t f = 0; f < num_features_; ++f) {
            const double x = block[r * stride + f];
            nan |= static_cast<uint8_t>(std::isnan(x));
            rounded[r * num_features_ + f] = static_cast<float>(x);
          }
          has_nan[r] = nan;
        }
    }
    for (size_t t = 0; t < roots_.size(); ++t) {
      const uint32_t root = roots_[t];
      Acc* target = margins + tree_outputs_[t];
      if constexpr (S == TreeSemantics::kXGBoost) {
        if (wide_of_tree_[t] != kNotPerfect) {
          AddWideTree(wide_trees_[wide_of_tree_[t]], rounded.data(), has_nan, count, num_features_,
                      target, k);
          continue;
        }
        if (perfect_of_tree_[t] != kNotPerfect) {
          AddPerfectTree(perfect_of_tree_[t], rounded.data(), count, num_features_, target, k);
          continue;
        }
      }
      const uint32_t depth = lockstep_depth_[t];
      if (depth > 0) {
        // All rows of the block one level down per pass: their loads are
        // independent, so the CPU overlaps them.
        uint32_t at[kBlockRows];
        for (size_t r = 0; r < count; ++r) at[r] = root;
        for (uint32_t level = 0; level < depth; ++level)
          for (size_t r = 0; r < count; ++r)
            at[r] = Next<S>(nodes[at[r]], bits, block + r * stride);
        for (size_t r = 0; r < count; ++r) target[r * k] += static_cast<Acc>(nodes[at[r]].value);
        continue;
      }
      for (size_t r = 0; r < count; ++r) {
        const double* row = block + r * stride;
        uint32_t i = root;
        while (!(nodes[i].flags & Node::kLeaf)) i = Next<S>(nodes[i], bits, row);
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
