#include "training/splits.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "core/error.h"

namespace slipway::training {
namespace {

// The folds draw from another stream than the holdout, so changing the
// holdout share does not reshuffle the folds' generator from the same point.
constexpr uint64_t kFoldStream = 0x9e3779b97f4a7c15ULL;

// Fisher-Yates on mt19937_64 (see the header: std::shuffle is not portable).
// The modulo's bias is below 2^-40 for any table that fits in memory.
void Shuffle(std::vector<size_t>& items, std::mt19937_64& rng) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng() % i]);
}

void Require(const SplitColumns& columns, CvScheme scheme) {
  auto fail_if = [&](bool bad, const char* what) {
    if (bad) ThrowInvalid(std::string("split: ") + what);
  };
  fail_if(scheme == CvScheme::kStratified && columns.classes.size() != columns.rows,
          "stratified splits need a class per row");
  fail_if(scheme == CvScheme::kGrouped && columns.groups.size() != columns.rows,
          "grouped splits need a group per row");
  fail_if(scheme == CvScheme::kTime && columns.times.size() != columns.rows,
          "time-ordered splits need a time per row");
}

std::vector<size_t> ByTime(const SplitColumns& columns, std::vector<size_t> rows) {
  std::stable_sort(rows.begin(), rows.end(),
                   [&](size_t a, size_t b) { return columns.times[a] < columns.times[b]; });
  return rows;
}

// Rows per class (classes ascending), each list shuffled.
std::vector<std::vector<size_t>> ShuffledClasses(const SplitColumns& columns,
                                                 const std::vector<size_t>& rows,
                                                 std::mt19937_64& rng) {
  std::map<int64_t, std::vector<size_t>> by_class;
  for (size_t row : rows) by_class[columns.classes[row]].push_back(row);
  std::vector<std::vector<size_t>> out;
  for (auto& [label, members] : by_class) {
    Shuffle(members, rng);
    out.push_back(std::move(members));
  }
  return out;
}

// Groups (ascending by id, then shuffled) and their rows.
std::vector<std::vector<size_t>> ShuffledGroups(const SplitColumns& columns,
                                                const std::vector<size_t>& rows,
                                                std::mt19937_64& rng) {
  std::map<int64_t, std::vector<size_t>> by_group;
  for (size_t row : rows) by_group[columns.groups[row]].push_back(row);
  std::vector<size_t> order(by_group.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  Shuffle(order, rng);
  std::vector<std::vector<size_t>> groups;
  for (auto& [id, members] : by_group) groups.push_back(std::move(members));
  std::vector<std::vector<size_t>> out;
  for (size_t i : order) out.push_back(std::move(groups[i]));
  return out;
}

std::vector<size_t> Sorted(std::vector<size_t> rows) {
  std::sort(rows.begin(), rows.end());
  return rows;
}

}  // namespace

Holdout SplitHoldout(const SplitColumns& columns, CvScheme scheme, double share, uint64_t seed) {
  Require(columns, scheme);
  std::mt19937_64 rng(seed);
  const size_t n = columns.rows;
  const size_t wanted = static_cast<size_t>(std::llround(share * n));
  std::vector<size_t> all(n);
  for (size_t i = 0; i < n; ++i) all[i] = i;
  std::vector<bool> held(n, false);
  switch (scheme) {
    case CvScheme::kKFold: {
      Shuffle(all, rng);
      for (size_t i = 0; i < wanted; ++i) held[all[i]] = true;
      break;
    }
    case CvScheme::kStratified: {
      // Each class's quota, floor of its share, then the largest remainders
      // get the rows still missing, so the quotas add up to `wanted`.
      std::vector<std::vector<size_t>> classes = ShuffledClasses(columns, all, rng);
      std::vector<size_t> quota(classes.size());
      std::vector<std::pair<double, size_t>> remainders;
      size_t given = 0;
      for (size_t c = 0; c < classes.size(); ++c) {
        const double exact = share * classes[c].size();
        quota[c] = static_cast<size_t>(std::floor(exact));
        given += quota[c];
        remainders.push_back({exact - quota[c], c});
      }
      std::stable_sort(remainders.begin(), remainders.end(),
                       [](const auto& a, const auto& b) { return a.first > b.first; });
      for (size_t i = 0; given < wanted && i < remainders.size(); ++i, ++given)
        ++quota[remainders[i].second];
      for (size_t c = 0; c < classes.size(); ++c)
        for (size_t i = 0; i < quota[c]; ++i) held[classes[c][i]] = true;
      break;
    }
    case CvScheme::kGrouped: {
      size_t taken = 0;
      for (const std::vector<size_t>& group : ShuffledGroups(columns, all, rng)) {
        if (taken >= wanted) break;
        for (size_t row : group) held[row] = true;
        taken += group.size();
      }
      break;
    }
    case CvScheme::kTime: {
      const std::vector<size_t> ordered = ByTime(columns, all);
      for (size_t i = n - wanted; i < n; ++i) held[ordered[i]] = true;
      break;
    }
  }
  Holdout out;
  for (size_t i = 0; i < n; ++i) (held[i] ? out.holdout : out.training).push_back(i);
  return out;
}

std::vector<Fold> SplitFolds(const SplitColumns& columns, const std::vector<size_t>& rows,
                             CvScheme scheme, int64_t folds, uint64_t seed) {
  Require(columns, scheme);
  const size_t k = static_cast<size_t>(folds);
  if (folds < 2 || rows.size() < 2 * k) {
    ThrowInvalid("split: " + std::to_string(rows.size()) + " rows cannot make " +
                 std::to_string(folds) + " folds");
  }
  std::mt19937_64 rng(seed ^ kFoldStream);
  std::vector<Fold> out(k);
  if (scheme == CvScheme::kTime) {
    // scikit-learn's TimeSeriesSplit: blocks of n / (k + 1) rows at the end;
    // fold i validates block i and trains on every row before it.
    const std::vector<size_t> ordered = ByTime(columns, rows);
    const size_t block = ordered.size() / (k + 1);
    const size_t first = ordered.size() - k * block;
    for (size_t i = 0; i < k; ++i) {
      const size_t begin = first + i * block;
      out[i].training = Sorted({ordered.begin(), ordered.begin() + begin});
      out[i].validation = Sorted({ordered.begin() + begin, ordered.begin() + begin + block});
    }
    return out;
  }
  std::vector<size_t> fold_of_row;  // parallel to `order`
  std::vector<size_t> order;
  switch (scheme) {
    case CvScheme::kKFold: {
      order = rows;
      Shuffle(order, rng);
      // Runs of equal size, the first (n mod k) one longer, as scikit-learn's KFold.
      const size_t base = order.size() / k, longer = order.size() % k;
      for (size_t f = 0; f < k; ++f)
        fold_of_row.insert(fold_of_row.end(), base + (f < longer ? 1 : 0), f);
      break;
    }
    case CvScheme::kStratified: {
      for (const std::vector<size_t>& members : ShuffledClasses(columns, rows, rng))
        order.insert(order.end(), members.begin(), members.end());
      for (size_t i = 0; i < order.size(); ++i) fold_of_row.push_back(i % k);
      break;
    }
    case CvScheme::kGrouped: {
      std::vector<std::vector<size_t>> groups = ShuffledGroups(columns, rows, rng);
      if (groups.size() < k) {
        ThrowInvalid("split: " + std::to_string(groups.size()) + " groups cannot make " +
                     std::to_string(folds) + " grouped folds");
      }
      std::stable_sort(groups.begin(), groups.end(),
                       [](const auto& a, const auto& b) { return a.size() > b.size(); });
      std::vector<size_t> sizes(k, 0);
      for (const std::vector<size_t>& group : groups) {
        const size_t f = std::min_element(sizes.begin(), sizes.end()) - sizes.begin();
        sizes[f] += group.size();
        order.insert(order.end(), group.begin(), group.end());
        fold_of_row.insert(fold_of_row.end(), group.size(), f);
      }
      break;
    }
    case CvScheme::kTime:
      break;
  }
  for (size_t i = 0; i < order.size(); ++i) {
    for (size_t f = 0; f < k; ++f)
      (f == fold_of_row[i] ? out[f].validation : out[f].training).push_back(order[i]);
  }
  for (Fold& fold : out) {
    std::sort(fold.training.begin(), fold.training.end());
    std::sort(fold.validation.begin(), fold.validation.end());
  }
  return out;
}

}  // namespace slipway::training
