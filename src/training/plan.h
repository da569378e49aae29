// The plan of a training: a spec (spec.h) checked against the profile of
// its dataset version, before any row is read. It fails, naming the spec's
// line, on what the data rules out: a column the version does not have, a
// target with missing values or one class, a numeric task on a text target,
// fewer rows than folds, a class too small to stratify. What it returns is
// what `slipway train --dry-run` prints: the rows each stage sees, the
// features and how each is prepared, the model, the search and the gates.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset_store.h"
#include "data/profile.h"
#include "training/spec.h"

namespace slipway::training {

struct PlannedFeature {
  std::string name;
  data::ColumnType type = data::ColumnType::kEmpty;
  bool categorical = false;  // a text column: encoded, not scaled
  int64_t missing = 0;
  int64_t distinct = 0;  // categorical: one-hot width (before rare values are pooled)
};

struct PlannedClass {
  std::string label;
  int64_t rows = 0;
};

struct TrainingPlan {
  std::string dataset;  // "name@version"
  std::string content_digest;
  int64_t rows = 0;
  int64_t holdout_rows = 0;
  int64_t training_rows = 0;  // what cross-validation and tuning see
  std::vector<PlannedFeature> features;
  std::vector<std::string> ignored;   // columns neither target nor feature
  std::vector<PlannedClass> classes;  // classification: the target's classes
  int64_t trials = 1;
  int64_t fits = 0;  // model fits: trials x folds, plus the final one
};

// INVALID_PARAMETER_VALUE "source:line:column: key: what" where the data
// rules the spec out; `version` must be a profiled table.
TrainingPlan PlanTraining(const TrainingSpec& spec, const data::DatasetVersion& version,
                          const data::DatasetProfile& profile);

// The plan as `slipway train --dry-run` prints it.
std::string FormatPlan(const TrainingSpec& spec, const TrainingPlan& plan);

// Throws INVALID_PARAMETER_VALUE for `what` at `at` in the spec.
[[noreturn]] void FailAt(const TrainingSpec& spec, const Position& at, const std::string& path,
                         const std::string& what);

}  // namespace slipway::training
