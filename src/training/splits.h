// Which rows train and which validate: the holdout, then the folds of
// cross-validation over the rest, for each of the spec's schemes. Every split
// is a pure function of its inputs and the seed, and the same on every
// platform: shuffles are a Fisher-Yates of std::mt19937_64's output, whose
// sequence the C++ standard fixes (std::shuffle and the distributions are
// left to each library, so they are not used).
//
//   kfold       rows shuffled, then cut into `folds` runs of equal size (±1).
//   stratified  each class shuffled and dealt round the folds, so every fold
//               (and the holdout) keeps the classes' ratios to within a row.
//   grouped     every row of a group lands in the same fold (and the holdout
//               takes whole groups): groups shuffled, then, largest first,
//               each put in the fold with the fewest rows so far.
//   time        rows ordered by the time column (ties by row number); the
//               holdout is the latest rows; fold i validates block i + 1 of
//               folds + 1 equal blocks and trains on blocks 0..i, so no fold
//               trains on rows later than those it validates (as
//               scikit-learn's TimeSeriesSplit).
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "training/spec.h"

namespace slipway::training {

// What the schemes split by, one entry per row of the table.
struct SplitColumns {
  size_t rows = 0;
  std::vector<int64_t> classes;  // stratified: the row's class
  std::vector<int64_t> groups;   // grouped: the row's group
  std::vector<double> times;     // time: the row's order key
};

struct Holdout {
  std::vector<size_t> training;  // sorted
  std::vector<size_t> holdout;   // sorted
};

struct Fold {
  std::vector<size_t> training;    // sorted
  std::vector<size_t> validation;  // sorted
};

// `share` of the rows (rounded as the plan rounds them: llround(share *
// rows); grouped: whole groups until at least that many) held out.
Holdout SplitHoldout(const SplitColumns& columns, CvScheme scheme, double share, uint64_t seed);

// `folds` folds of `rows` (row numbers into `columns`).
std::vector<Fold> SplitFolds(const SplitColumns& columns, const std::vector<size_t>& rows,
                             CvScheme scheme, int64_t folds, uint64_t seed);

}  // namespace slipway::training
