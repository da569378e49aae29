// One training of a spec without a search: cross-validation on the rows
// outside the holdout, then the final model fitted on all of them and
// evaluated on the holdout.
//
// For each fold the preprocessing is fitted on the fold's training rows
// only, the model on their transform, and the metrics taken on the fold's
// validation rows; the final model does the same with every row but the
// holdout's. Nothing here touches the disk or the network: the caller reads
// the Table (table.h) and logs the outcome (the CLI: `slipway train`).
//
// With XGBoost's early_stopping_rounds, each fold stops on its own
// validation rows (as xgboost.cv does: the fold's metrics are then a little
// optimistic), and the final model, which has no validation rows, boosts the
// folds' mean number of kept rounds (TrainingOutcome::final_rounds).
//
// RunTraining does not look at `search`: tuning (tuning.h) builds on the
// same pieces, PrepareTraining, CrossValidate and FinishTraining, with the
// params of each trial.
//
// Pure functions apart from the `on_fold` callback, called on the caller's
// thread after each fold; thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "training/metrics.h"
#include "training/plan.h"
#include "training/preprocessing.h"
#include "training/spec.h"
#include "training/splits.h"
#include "training/table.h"
#include "training/trainer.h"

namespace slipway::core {
class Executor;
}  // namespace slipway::core

namespace slipway::training {

struct FoldReport {
  size_t fold = 0;  // from 0
  size_t training_rows = 0;
  size_t validation_rows = 0;
  std::map<std::string, double> metrics;
  double seconds = 0;
  int64_t rounds = 0;  // XGBoost: boosting rounds the fold's model kept
};

// The target as trainers read it: class indices (classes sorted, numerically
// for a numeric column, so a 0/1 target's positive class is 1, as
// scikit-learn's), or the values of a regression.
struct EncodedTarget {
  std::vector<double> y;
  std::vector<std::string> classes;  // classification: index -> label text
};

struct TrainingOutcome {
  EncodedTarget target;
  std::vector<FoldReport> folds;
  std::map<std::string, double> cv_mean;
  std::map<std::string, double> cv_std;  // population std (ddof 0) over the folds
  int64_t final_rounds = 0;  // early stopping: the final model's num_boost_round; else 0
  Holdout split;
  Evaluation holdout;              // the final model on the holdout rows
  Matrix holdout_predictions;      // rows of split.holdout, in order
  Preprocessor preprocessor;       // fitted on split.training
  TrainerOptions trainer_options;  // of the final model
  std::unique_ptr<FittedModel> model;
};

// The rows of a training, fixed by the spec's seed: the target, the
// holdout and the folds of the rows outside it.
struct PreparedTraining {
  EncodedTarget target;
  Holdout split;
  std::vector<Fold> folds;
};

// Cross-validation of one set of params.
struct CvResult {
  std::vector<FoldReport> folds;
  std::map<std::string, double> mean;
  std::map<std::string, double> std;  // population std (ddof 0)
  // CrossValidateByRound: the learning curve, the folds' mean of the spec's
  // metric on their validation rows after each round (curve[0]: round 1).
  // Logistic models (any cross-validation): the same after each Newton
  // iteration, a fold that converged sooner counting with its final model.
  std::vector<double> curve;
  // Logistic models: the folds' mean training objective (SolverIteration's,
  // per row) after each Newton iteration, held the same way. Empty otherwise.
  std::vector<double> objective;
  int64_t stopped_at = 0;  // rounds boosted when on_checkpoint stopped it; 0: not stopped
};

// How a fit runs: XGBoost's threads (0: XGBoost's default, every core),
// and for CrossValidateByRound an executor to boost the folds on at once
// (null: one after the other, on the caller's thread).
struct FitOptions {
  int nthread = 0;
  core::Executor* folds = nullptr;
};

// The columns RunTraining reads: the features, the target, the group and
// time columns of the CV scheme, and fairness's sensitive columns.
std::vector<std::string> ColumnsToRead(const TrainingSpec& spec, const TrainingPlan& plan);

EncodedTarget EncodeTarget(const TableColumn& target, Task task);

// Throws INVALID_PARAMETER_VALUE "source: path: what" for what the spec
// asks and the trainer cannot do (l1, a linear model on missing values kept
// by impute.numeric: none): the checks a fit would make, before any row is
// read or any run is made.
void CheckTrainable(const TrainingSpec& spec, const TrainingPlan& plan);

PreparedTraining PrepareTraining(const TrainingSpec& spec, const Table& table);

// The holdout PrepareTraining makes of `table` (which holds the target and
// the CV scheme's group or time column): for the same spec, seed and data
// version, the rows `slipway train` held out. What `slipway evaluate
// --holdout` scores.
Holdout HoldoutOf(const TrainingSpec& spec, const Table& table);

// The params on the first `max_folds` folds (0: all of them); `on_fold` may
// be empty. With early_stopping_rounds in `params`, each fold stops on its
// validation rows.
CvResult CrossValidate(const TrainingSpec& spec, const TrainingPlan& plan, const Table& table,
                       const PreparedTraining& prepared,
                       const std::map<std::string, ParamValue>& params, size_t max_folds,
                       const FitOptions& fit,
                       const std::function<void(const FoldReport&)>& on_fold);

// CrossValidate of XGBoost that records the learning curve: after each
// round, the spec's metric of every fold's validation rows, and their mean
// (cv.curve). The folds boost independently (at once on `fit.folds`) up to
// each of `checkpoints` (rounds, ascending), where `on_checkpoint(round,
// mean)` (may be empty) is asked whether to go on; false ends every fold
// there: the folds' metrics are then those of the rounds boosted, and
// cv.stopped_at says when. A fold that early_stopping_rounds ends counts in
// the curve with its final model's metric from then on, so the curve's
// last point is cv.mean of the metric. A family that does not boost:
// CrossValidate, no curve.
CvResult CrossValidateByRound(const TrainingSpec& spec, const TrainingPlan& plan,
                              const Table& table, const PreparedTraining& prepared,
                              const std::map<std::string, ParamValue>& params, size_t max_folds,
                              const FitOptions& fit, const std::vector<int64_t>& checkpoints,
                              const std::function<bool(int64_t round, double mean)>& on_checkpoint);

// The final model with `params` on every row but the holdout, evaluated on
// the holdout; `cv` becomes the outcome's folds and means (with early
// stopping, the final model boosts the folds' mean of kept rounds).
TrainingOutcome FinishTraining(const TrainingSpec& spec, const TrainingPlan& plan,
                               const Table& table, PreparedTraining prepared,
                               const std::map<std::string, ParamValue>& params, CvResult cv,
                               const FitOptions& fit = {});

// `table` holds ColumnsToRead's columns. INVALID_PARAMETER_VALUE for what a
// trainer refuses (trainer.h) before any fit.
TrainingOutcome RunTraining(const TrainingSpec& spec, const TrainingPlan& plan, const Table& table,
                            const std::function<void(const FoldReport&)>& on_fold);

}  // namespace slipway::training
