#include "training/training_run.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <limits>
#include <map>
#include <mutex>

#include "core/error.h"
#include "core/executor.h"

namespace slipway::training {
namespace {

std::vector<std::string> FeatureNames(const TrainingPlan& plan) {
  std::vector<std::string> names;
  for (const PlannedFeature& f : plan.features) names.push_back(f.name);
  return names;
}

// Per row, an integer id of the column's value (missing: -1).
std::vector<int64_t> Ids(const TableColumn& column) {
  std::vector<int64_t> ids(column.values.size());
  std::map<double, int64_t> seen;
  for (size_t i = 0; i < ids.size(); ++i) {
    const double v = column.values[i];
    ids[i] = std::isnan(v) ? -1 : seen.try_emplace(v, seen.size()).first->second;
  }
  return ids;
}

// Per row, a key that orders the column: the number, or the rank of the text.
std::vector<double> OrderKeys(const TableColumn& column) {
  if (!column.categorical) return column.values;
  std::vector<size_t> by_text(column.categories.size());
  for (size_t i = 0; i < by_text.size(); ++i) by_text[i] = i;
  std::sort(by_text.begin(), by_text.end(),
            [&](size_t a, size_t b) { return column.categories[a] < column.categories[b]; });
  std::vector<double> rank(by_text.size());
  for (size_t r = 0; r < by_text.size(); ++r) rank[by_text[r]] = static_cast<double>(r);
  std::vector<double> keys(column.values.size());
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = rank[static_cast<size_t>(column.values[i])];
  return keys;
}

SplitColumns SplitColumnsOf(const TrainingSpec& spec, const Table& table,
                            const EncodedTarget& target) {
  SplitColumns columns;
  columns.rows = table.rows;
  if (spec.cv.scheme == CvScheme::kStratified) {
    for (double y : target.y) columns.classes.push_back(static_cast<int64_t>(y));
  }
  if (spec.cv.scheme == CvScheme::kGrouped) columns.groups = Ids(table.Get(spec.cv.group->name));
  if (spec.cv.scheme == CvScheme::kTime) columns.times = OrderKeys(table.Get(spec.cv.time->name));
  return columns;
}

std::vector<double> Select(const std::vector<double>& values, const std::vector<size_t>& rows) {
  std::vector<double> out;
  out.reserve(rows.size());
  for (size_t row : rows) out.push_back(values[row]);
  return out;
}

struct Fitted {
  Preprocessor preprocessor;
  TrainerOptions options;
  std::unique_ptr<FittedModel> model;
};

// The preprocessing fitted on `rows` and the trainer's options for its
// output; no model yet.
Fitted Prepare(const TrainingSpec& spec, const TrainingPlan& plan, const Table& table,
               const EncodedTarget& target, const std::map<std::string, ParamValue>& params,
               const std::vector<size_t>& rows, const FitOptions& fit) {
  Fitted fitted;
  fitted.preprocessor = Preprocessor::Fit(table, rows, FeatureNames(plan), spec.preprocessing);
  TrainerOptions& options = fitted.options;
  options.model = spec.model;
  options.task = spec.task;
  options.classes = static_cast<int64_t>(target.classes.size());
  options.params = params;
  options.seed = spec.seed;
  options.nthread = fit.nthread;
  options.feature_names = fitted.preprocessor.OutputNames();
  options.categorical = fitted.preprocessor.OutputCategorical();
  return fitted;
}

// Fitted on `rows`; `watched` rows are the early stopping's (and nothing else's).
Fitted FitOn(const TrainingSpec& spec, const TrainingPlan& plan, const Table& table,
             const EncodedTarget& target, const std::map<std::string, ParamValue>& params,
             const std::vector<size_t>& rows, const std::vector<size_t>& watched,
             const FitOptions& fit) {
  Fitted fitted = Prepare(spec, plan, table, target, params, rows, fit);
  const TrainerOptions& options = fitted.options;
  const Matrix x = fitted.preprocessor.Transform(table, rows);
  EvalSet eval;
  Matrix watched_x;
  std::vector<double> watched_y;
  if (!watched.empty()) {
    watched_x = fitted.preprocessor.Transform(table, watched);
    watched_y = Select(target.y, watched);
    eval = {&watched_x, watched_y};
  }
  fitted.model = Trainer::Create(options)->Fit(x, Select(target.y, rows), eval);
  return fitted;
}

// The folds' mean and population std of each metric.
void Summarize(CvResult& cv) {
  for (const auto& [name, value] : cv.folds.front().metrics) {
    double sum = 0;
    for (const FoldReport& f : cv.folds) sum += f.metrics.at(name);
    const double mean = sum / cv.folds.size();
    double squares = 0;
    for (const FoldReport& f : cv.folds)
      squares += (f.metrics.at(name) - mean) * (f.metrics.at(name) - mean);
    cv.mean[name] = mean;
    cv.std[name] = std::sqrt(squares / cv.folds.size());
  }
}

// The folds' mean, per solver iteration, of the spec's metric on their
// validation rows (cv.curve) and of the training objective (cv.objective);
// a fold that converged in fewer iterations counts with its last one.
void IterationCurves(const TrainingSpec& spec, int64_t classes, const PreparedTraining& prepared,
                     const std::vector<Fold>& folds,
                     const std::vector<std::vector<SolverIteration>>& iterations, CvResult& cv) {
  size_t longest = 0;
  for (const auto& fold : iterations) {
    if (fold.empty()) return;  // a family that does not iterate
    longest = std::max(longest, fold.size());
  }
  if (longest == 0) return;
  std::vector<std::vector<double>> scores(iterations.size());
  for (size_t f = 0; f < iterations.size(); ++f) {
    const std::vector<double> y = Select(prepared.target.y, folds[f].validation);
    for (const SolverIteration& it : iterations[f]) {
      const auto metrics = Evaluate(spec.task, classes, y, it.eval_predictions).metrics;
      const auto found = metrics.find(spec.metric);
      scores[f].push_back(found == metrics.end() ? std::nan("") : found->second);
    }
  }
  const double n = static_cast<double>(iterations.size());
  for (size_t i = 0; i < longest; ++i) {
    double metric = 0, objective = 0;
    for (size_t f = 0; f < iterations.size(); ++f) {
      const size_t at = std::min(i, iterations[f].size() - 1);
      metric += scores[f][at];
      objective += iterations[f][at].objective;
    }
    cv.curve.push_back(metric / n);
    cv.objective.push_back(objective / n);
  }
}

}  // namespace

std::vector<std::string> ColumnsToRead(const TrainingSpec& spec, const TrainingPlan& plan) {
  std::vector<std::string> columns = FeatureNames(plan);
  columns.push_back(spec.target.name);
  if (spec.cv.scheme == CvScheme::kGrouped) columns.push_back(spec.cv.group->name);
  if (spec.cv.scheme == CvScheme::kTime) columns.push_back(spec.cv.time->name);
  if (spec.fairness) {
    for (const Named& f : spec.fairness->sensitive) {
      if (std::find(columns.begin(), columns.end(), f.name) == columns.end())
        columns.push_back(f.name);
    }
  }
  return columns;
}

void CheckTrainable(const TrainingSpec& spec, const TrainingPlan& plan) {
  if (spec.model != ModelType::kXgboost && spec.preprocessing.numeric == NumericImputation::kNone) {
    for (const PlannedFeature& f : plan.features) {
      if (!f.categorical && f.missing > 0) {
        FailAt(spec, {}, "preprocessing.impute.numeric",
               fmt::format("'{}' has {} missing values and a {} model cannot take them: impute "
                           "with median or mean",
                           f.name, f.missing, ModelTypeName(spec.model)));
      }
    }
  }
  TrainerOptions options;
  options.model = spec.model;
  options.task = spec.task;
  options.classes = static_cast<int64_t>(plan.classes.size());
  options.params = spec.params;
  options.seed = spec.seed;
  try {
    Trainer::Create(options);
  } catch (const Error& error) {
    FailAt(spec, {}, "", error.what());
  }
}

EncodedTarget EncodeTarget(const TableColumn& target, Task task) {
  EncodedTarget out;
  for (double v : target.values) {
    if (std::isnan(v)) ThrowInvalid("target '" + target.name + "' has missing values");
  }
  if (task == Task::kRegression) {
    out.y = target.values;
    return out;
  }
  // Distinct values in label order; a text column's codes ordered by text.
  std::vector<double> distinct = target.values;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  if (target.categorical) {
    std::sort(distinct.begin(), distinct.end(), [&](double a, double b) {
      return target.categories[static_cast<size_t>(a)] < target.categories[static_cast<size_t>(b)];
    });
  }
  std::map<double, double> index;
  for (double v : distinct) {
    index[v] = static_cast<double>(out.classes.size());
    out.classes.push_back(target.categorical ? target.categories[static_cast<size_t>(v)]
                          : target.boolean   ? std::string(v == 1 ? "true" : "false")
                                             : fmt::format("{}", v));
  }
  out.y.reserve(target.values.size());
  for (double v : target.values) out.y.push_back(index[v]);
  return out;
}

PreparedTraining PrepareTraining(const TrainingSpec& spec, const Table& table) {
  PreparedTraining prepared;
  prepared.target = EncodeTarget(table.Get(spec.target.name), spec.task);
  const SplitColumns columns = SplitColumnsOf(spec, table, prepared.target);
  prepared.split = SplitHoldout(columns, spec.cv.scheme, spec.holdout, spec.seed);
  prepared.folds =
      SplitFolds(columns, prepared.split.training, spec.cv.scheme, spec.cv.folds, spec.seed);
  return prepared;
}

Holdout HoldoutOf(const TrainingSpec& spec, const Table& table) {
  const EncodedTarget target = EncodeTarget(table.Get(spec.target.name), spec.task);
  return SplitHoldout(SplitColumnsOf(spec, table, target), spec.cv.scheme, spec.holdout, spec.seed);
}

CvResult CrossValidate(const TrainingSpec& spec, const TrainingPlan& plan, const Table& table,
                       const PreparedTraining& prepared,
                       const std::map<std::string, ParamValue>& params, size_t max_folds,
                       const FitOptions& fit,
                       const std::function<void(const FoldReport&)>& on_fold) {
  const std::vector<Fold>& folds = prepared.folds;
  const size_t used = max_folds == 0 ? folds.size() : std::min(max_folds, folds.size());
  const int64_t classes = static_cast<int64_t>(prepared.target.classes.size());
  const bool early_stopping =
      spec.model == ModelType::kXgboost && params.count("early_stopping_rounds") > 0;
  // A logistic fit watches its validation rows for its learning curve.
  const bool watch = early_stopping || spec.model == ModelType::kLogistic;
  CvResult cv;
  std::vector<std::vector<SolverIteration>> iterations;  // per fold
  for (size_t i = 0; i < used; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const Fitted fitted = FitOn(spec, plan, table, prepared.target, params, folds[i].training,
                                watch ? folds[i].validation : std::vector<size_t>{}, fit);
    iterations.push_back(fitted.model->Iterations());
    const Matrix predictions =
        fitted.model->Predict(fitted.preprocessor.Transform(table, folds[i].validation));
    FoldReport report;
    report.fold = i;
    report.training_rows = folds[i].training.size();
    report.validation_rows = folds[i].validation.size();
    report.metrics =
        Evaluate(spec.task, classes, Select(prepared.target.y, folds[i].validation), predictions)
            .metrics;
    report.rounds = fitted.model->Rounds();
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (on_fold) on_fold(report);
    cv.folds.push_back(std::move(report));
  }
  Summarize(cv);
  IterationCurves(spec, classes, prepared, folds, iterations, cv);
  return cv;
}

CvResult CrossValidateByRound(
    const TrainingSpec& spec, const TrainingPlan& plan, const Table& table,
    const PreparedTraining& prepared, const std::map<std::string, ParamValue>& params,
    size_t max_folds, const FitOptions& fit, const std::vector<int64_t>& checkpoints,
    const std::function<bool(int64_t round, double mean)>& on_checkpoint) {
  if (spec.model != ModelType::kXgboost) {
    return CrossValidate(spec, plan, table, prepared, params, max_folds, fit, {});
  }
  const std::vector<Fold>& folds = prepared.folds;
  const size_t used = max_folds == 0 ? folds.size() : std::min(max_folds, folds.size());
  const int64_t classes = static_cast<int64_t>(prepared.target.classes.size());
  using Clock = std::chrono::steady_clock;
  // One per fold; the Boosting refers to the trainer and the matrices
  // beside it, hence the pointers. A fold's task alone touches its FoldFit.
  struct FoldFit {
    size_t index = 0;
    Fitted fitted;
    std::unique_ptr<Trainer> trainer;
    Matrix x, validation_x;
    std::vector<double> validation_y;
    std::unique_ptr<Boosting> boosting;
    std::vector<double> scores;  // the spec's metric after each round boosted
    bool ended = false;
    double final_score = 0;  // ended: its model's metric
    FoldReport report;
    Clock::duration spent{};
  };
  auto metric = [&](const FoldFit& f, const Matrix& predictions) {
    const auto values = Evaluate(spec.task, classes, f.validation_y, predictions).metrics;
    const auto found = values.find(spec.metric);
    return found == values.end() ? std::nan("") : found->second;
  };
  std::vector<std::unique_ptr<FoldFit>> fits;
  for (size_t i = 0; i < used; ++i) {
    fits.push_back(std::make_unique<FoldFit>());
    fits.back()->index = i;
  }
  // Runs step(fold) for every fold, at once on fit.folds when there is one.
  auto each_fold = [&](const std::function<void(FoldFit&)>& step) {
    std::mutex mu;  // guards left and error
    std::condition_variable done;
    size_t left = 0;
    std::exception_ptr error;
    auto run = [&](FoldFit& f) {
      const auto start = Clock::now();
      try {
        step(f);
      } catch (...) {
        std::lock_guard lock(mu);
        if (!error) error = std::current_exception();
      }
      f.spent += Clock::now() - start;
    };
    for (const auto& f : fits) {
      FoldFit* fold = f.get();
      bool queued = false;
      if (fit.folds != nullptr) {
        std::lock_guard lock(mu);  // so that the task's --left comes after ++left
        queued = fit.folds->TrySubmit([&, fold] {
          run(*fold);
          std::lock_guard lock(mu);
          --left;
          done.notify_all();
        });
        if (queued) ++left;
      }
      if (!queued) run(*fold);
    }
    std::unique_lock lock(mu);
    done.wait(lock, [&] { return left == 0; });
    if (error) std::rethrow_exception(error);
  };
  // XGBoost 1.x keeps a booster's prediction cache per thread: a fold is
  // made and first boosted by one task, so it is never configured without
  // its training rows; a later task on another thread only rebuilds that
  // thread's cache of its predictions.
  auto start = [&](FoldFit& f) {
    const Fold& fold = folds[f.index];
    f.fitted = Prepare(spec, plan, table, prepared.target, params, fold.training, fit);
    f.x = f.fitted.preprocessor.Transform(table, fold.training);
    f.validation_x = f.fitted.preprocessor.Transform(table, fold.validation);
    f.validation_y = Select(prepared.target.y, fold.validation);
    f.trainer = Trainer::Create(f.fitted.options);
    f.boosting = f.trainer->StartBoosting(f.x, Select(prepared.target.y, fold.training),
                                          EvalSet{&f.validation_x, f.validation_y});
  };
  CvResult cv;
  // The mean of the folds after `round` rounds (from 1); a fold that has
  // ended counts with its final model from its last round on.
  auto mean_at = [&](int64_t round) {
    double sum = 0;
    for (const auto& f : fits) {
      const int64_t boosted = static_cast<int64_t>(f->scores.size());
      sum +=
          (f->ended && round >= boosted) || round > boosted ? f->final_score : f->scores[round - 1];
    }
    return sum / static_cast<double>(fits.size());
  };
  for (size_t c = 0; c <= checkpoints.size(); ++c) {
    const int64_t until =
        c < checkpoints.size() ? checkpoints[c] : std::numeric_limits<int64_t>::max();
    each_fold([&](FoldFit& f) {
      if (!f.boosting) start(f);
      while (!f.ended && static_cast<int64_t>(f.scores.size()) < until) {
        if (f.boosting->Next()) {
          f.scores.push_back(metric(f, f.boosting->EvalPredictions()));
        } else {
          f.ended = true;
          f.fitted.model = f.boosting->Finish();
          f.final_score = metric(f, f.fitted.model->Predict(f.validation_x));
        }
      }
    });
    if (c == checkpoints.size()) break;
    bool reached = false;
    for (const auto& f : fits) reached |= static_cast<int64_t>(f->scores.size()) >= until;
    if (!reached) break;  // every fold ended before the checkpoint
    if (on_checkpoint && !on_checkpoint(until, mean_at(until))) {
      cv.stopped_at = until;
      break;
    }
  }
  int64_t rounds = 0;
  for (const auto& f : fits) rounds = std::max<int64_t>(rounds, f->scores.size());
  for (int64_t r = 1; r <= rounds; ++r) cv.curve.push_back(mean_at(r));
  each_fold([&](FoldFit& f) {
    const Fold& fold = folds[f.index];
    if (!f.ended) f.fitted.model = f.boosting->Finish();
    f.report.fold = f.index;
    f.report.training_rows = fold.training.size();
    f.report.validation_rows = fold.validation.size();
    f.report.metrics =
        Evaluate(spec.task, classes, f.validation_y, f.fitted.model->Predict(f.validation_x))
            .metrics;
    f.report.rounds = f.fitted.model->Rounds();
  });
  for (const auto& f : fits) {
    f->report.seconds = std::chrono::duration<double>(f->spent).count();
    cv.folds.push_back(std::move(f->report));
  }
  Summarize(cv);
  return cv;
}

TrainingOutcome FinishTraining(const TrainingSpec& spec, const TrainingPlan& plan,
                               const Table& table, PreparedTraining prepared,
                               const std::map<std::string, ParamValue>& params, CvResult cv,
                               const FitOptions& fit) {
  TrainingOutcome outcome;
  outcome.target = std::move(prepared.target);
  outcome.split = std::move(prepared.split);
  const int64_t classes = static_cast<int64_t>(outcome.target.classes.size());
  const bool early_stopping =
      spec.model == ModelType::kXgboost && params.count("early_stopping_rounds") > 0;
  std::map<std::string, ParamValue> final_params = params;
  if (early_stopping) {
    double rounds = 0;
    for (const FoldReport& f : cv.folds) rounds += static_cast<double>(f.rounds);
    outcome.final_rounds =
        std::max<int64_t>(1, std::llround(rounds / std::max<size_t>(1, cv.folds.size())));
    final_params.erase("early_stopping_rounds");
    final_params["num_boost_round"] = static_cast<double>(outcome.final_rounds);
  }
  outcome.folds = std::move(cv.folds);
  outcome.cv_mean = std::move(cv.mean);
  outcome.cv_std = std::move(cv.std);
  Fitted final_model =
      FitOn(spec, plan, table, outcome.target, final_params, outcome.split.training, {}, fit);
  outcome.holdout_predictions =
      final_model.model->Predict(final_model.preprocessor.Transform(table, outcome.split.holdout));
  outcome.holdout = Evaluate(spec.task, classes, Select(outcome.target.y, outcome.split.holdout),
                             outcome.holdout_predictions);
  outcome.preprocessor = std::move(final_model.preprocessor);
  outcome.trainer_options = std::move(final_model.options);
  outcome.model = std::move(final_model.model);
  return outcome;
}

TrainingOutcome RunTraining(const TrainingSpec& spec, const TrainingPlan& plan, const Table& table,
                            const std::function<void(const FoldReport&)>& on_fold) {
  PreparedTraining prepared = PrepareTraining(spec, table);
  CvResult cv = CrossValidate(spec, plan, table, prepared, spec.params, 0, {}, on_fold);
  return FinishTraining(spec, plan, table, std::move(prepared), spec.params, std::move(cv));
}

}  // namespace slipway::training
