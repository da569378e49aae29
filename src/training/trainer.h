// Trainers: a model family fitted on a preprocessed matrix, and the fitted
// models they make.
//
//   xgboost   XGBoost through its C API (libxgboost), objective by task:
//             binary:logistic, multi:softprob, reg:squarederror; the spec's
//             params as XGBoost's (num_boost_round is the number of rounds),
//             `seed` as XGBoost's seed, tree_method hist unless the spec says
//             otherwise (XGBoost 2's default; 1.7 would pick by data size).
//             Saved as UBJSON (`model.ubj`), the file mlflow.xgboost writes.
//             early_stopping_rounds needs an EvalSet: boosting stops when
//             XGBoost's default metric of the objective (logloss, mlogloss,
//             rmse) on it has not improved for that many rounds, and the
//             model keeps the rounds up to the best one (FittedModel::Rounds).
//             Without an EvalSet it is refused.
//   linear    ridge regression on Eigen: minimises the squared error plus
//             l2 * |w|^2, intercept unpenalised (scikit-learn's
//             Ridge(alpha=l2)); l2 defaults to 1.
//   logistic  logistic regression on Eigen, by Newton's method, binary or
//             multinomial (softmax, a weight vector per class): minimises
//             the summed log loss plus l2 / 2 * |w|^2, intercepts
//             unpenalised (scikit-learn's LogisticRegression(C=1/l2)); l2
//             defaults to 1, max_iter to 100, tol (on the Newton step) to
//             1e-8. Newton's Hessian has (classes x features)^2 entries:
//             fine for hundreds of columns, not for one-hot of thousands.
//             Logistic fits record each Newton iteration (Iterations):
//             the objective, and the EvalSet's predictions when given one,
//             which is the learning curve cross-validation logs. Ridge is
//             closed form (one solve of the normal equations): no
//             iterations, no curve.
//   l1 is refused for both linear models: not built yet.
//   Both linear models are saved as `model.json` (intercept and
//   coefficients by feature name).
//
// Predictions are a Matrix: binary one column, P(class 1); multiclass k
// columns of probabilities; regression one column of values.
//
// A Trainer is immutable and may fit on several threads at once; a
// FittedModel is immutable and its Predict is thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "training/spec.h"
#include "training/table.h"

namespace slipway::training {

struct TrainerOptions {
  ModelType model = ModelType::kXgboost;
  Task task = Task::kBinary;
  int64_t classes = 2;                       // classification: how many
  std::map<std::string, ParamValue> params;  // the spec's fixed parameters
  uint64_t seed = 0;
  int nthread = 0;                         // XGBoost's threads; 0: its default (every core)
  std::vector<std::string> feature_names;  // the matrix's columns
  std::vector<bool> categorical;           // per column: a category index (XGBoost native)
};

// One file of a saved model: its name in the model folder and its bytes.
struct ModelFile {
  std::string name;
  std::string bytes;
};

// Rows a trainer watches while fitting, never fits on: the validation fold
// of XGBoost's early stopping.
struct EvalSet {
  const Matrix* x = nullptr;
  std::span<const double> y;
};

// One iteration of an iterative solver (logistic regression's Newton
// method): the training objective after it, per training row (the summed
// log loss plus l2 / 2 * |w|^2, divided by the rows), and the EvalSet's
// predictions by the weights then (empty without an EvalSet).
struct SolverIteration {
  double objective = 0;
  Matrix eval_predictions;
};

class FittedModel {
 public:
  virtual ~FittedModel() = default;
  // Boosting rounds the model keeps (XGBoost); 0 for other families.
  virtual int64_t Rounds() const { return 0; }
  // The solver's iterations, in order, for a family whose fit iterates
  // (logistic); empty for the others. Not part of the saved files.
  virtual std::vector<SolverIteration> Iterations() const { return {}; }
  // `x` has the columns the model was fitted on.
  virtual Matrix Predict(const Matrix& x) const = 0;
  // The model's own files (model.ubj, model.json).
  virtual std::vector<ModelFile> Files() const = 0;
  // The MLmodel flavors that load those files, by name (e.g. "xgboost");
  // empty when no MLflow flavor reads them.
  virtual nlohmann::json Flavors() const = 0;
};

// A fit a round at a time, for the families that boost (XGBoost): after
// each round the caller reads the eval rows' predictions (a learning
// curve) and may end the fit there. One caller at a time.
class Boosting {
 public:
  virtual ~Boosting() = default;
  // Boosts one more round; false, and nothing done, once boosting has ended:
  // num_boost_round reached, or early_stopping_rounds without improvement.
  virtual bool Next() = 0;
  // Rounds boosted so far.
  virtual int64_t Round() const = 0;
  // The EvalSet's rows predicted by the rounds boosted so far (XGBoost
  // keeps them cached: each call costs one round's trees).
  virtual Matrix EvalPredictions() = 0;
  // The model of the rounds boosted (with early stopping: up to the best
  // one), as Fit would have made it had it stopped there. Call once.
  virtual std::unique_ptr<FittedModel> Finish() = 0;
};

class Trainer {
 public:
  // INVALID_PARAMETER_VALUE for what the family cannot do (see the file comment).
  static std::unique_ptr<Trainer> Create(const TrainerOptions& options);
  virtual ~Trainer() = default;

  // Fitted on the rows of `x` with labels `y` (class indices, or values),
  // watching `eval` where the family uses one (early stopping).
  virtual std::unique_ptr<FittedModel> Fit(const Matrix& x, std::span<const double> y,
                                           const EvalSet& eval = {}) const = 0;

  // Fit in rounds, watching `eval` (its rows are required); nullptr for a
  // family that does not boost (linear, logistic). The Trainer, `x` and
  // `eval` outlive the Boosting.
  virtual std::unique_ptr<Boosting> StartBoosting(const Matrix& /*x*/,
                                                  std::span<const double> /*y*/,
                                                  const EvalSet& /*eval*/) const {
    return nullptr;
  }
};

// A model saved by FittedModel::Files, loaded back (for checks and tests).
std::unique_ptr<FittedModel> LoadFittedModel(const TrainerOptions& options,
                                             const std::vector<ModelFile>& files);

// The family's trainers (trainer.cc picks one).
std::unique_ptr<Trainer> MakeXgboostTrainer(const TrainerOptions& options);
std::unique_ptr<Trainer> MakeLinearTrainer(const TrainerOptions& options);
std::unique_ptr<FittedModel> LoadXgboostModel(const TrainerOptions& options,
                                              const std::string& ubj);
std::unique_ptr<FittedModel> LoadLinearModel(const TrainerOptions& options,
                                             const std::string& json);

}  // namespace slipway::training
