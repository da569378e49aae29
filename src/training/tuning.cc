#include "training/tuning.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/error.h"
#include "core/executor.h"

namespace slipway::training {
namespace {

constexpr int64_t kEta = 3;
constexpr double kDefaultRounds = 100;  // XGBoost's trainer's (trainer.h)

int64_t MaxRounds(const TrainingSpec& spec) {
  const auto found = spec.params.find("num_boost_round");
  return found == spec.params.end() ? static_cast<int64_t>(kDefaultRounds)
                                    : static_cast<int64_t>(std::get<double>(found->second));
}

double ScoreOf(const TrainingSpec& spec, const CvResult& cv) {
  const auto found = cv.mean.find(spec.metric);
  return found == cv.mean.end() ? std::numeric_limits<double>::quiet_NaN() : found->second;
}

bool Better(const TrainingSpec& spec, double a, double b) {
  if (std::isnan(b)) return !std::isnan(a);
  if (std::isnan(a)) return false;
  return GreaterIsBetter(spec.metric) ? a > b : a < b;
}

// Whether `t` should replace `best` as the best so far: a trial that ran
// its whole resource beats one stopped inside its rung.
bool BetterTrial(const TrainingSpec& spec, const TrialResult& t, const TrialResult* best) {
  if (best == nullptr) return true;
  if ((t.stopped_at > 0) != (best->stopped_at > 0)) return t.stopped_at == 0;
  return Better(spec, t.score, best->score);
}

// One trial's cross-validation: XGBoost's with its learning curve
// (`on_checkpoint` may stop it at `checkpoints`), else CrossValidate.
CvResult CrossValidateTrial(const TrainingSpec& spec, const TrainingPlan& plan, const Table& table,
                            const PreparedTraining& prepared, const TrialResult& t,
                            size_t max_folds, const FitOptions& fit,
                            const std::vector<int64_t>& checkpoints,
                            const std::function<bool(int64_t, double)>& on_checkpoint) {
  return CrossValidateByRound(spec, plan, table, prepared, TrialParams(spec, t), max_folds, fit,
                              checkpoints, on_checkpoint);
}

// Runs work(0), work(1), ... work(count - 1), claimed in that order, on up
// to the pool's threads at once (on this thread when `pool` is null), and
// returns when every one has returned. `work` must not throw.
void RunEach(core::Executor* pool, size_t count, const std::function<void(size_t)>& work) {
  std::atomic<size_t> next{0};
  auto loop = [&] {
    for (size_t k = next.fetch_add(1); k < count; k = next.fetch_add(1)) work(k);
  };
  const size_t threads = pool ? std::min<size_t>(pool->threads(), count) : 0;
  std::mutex mu;  // guards left
  std::condition_variable done;
  size_t left = 0;
  for (size_t i = 0; i < threads; ++i) {
    std::lock_guard lock(mu);
    const bool queued = pool->TrySubmit([&] {
      loop();
      std::lock_guard lock(mu);
      --left;
      done.notify_all();
    });
    if (queued) ++left;
  }
  if (left == 0) {
    loop();  // no pool, or it took nothing
    return;
  }
  std::unique_lock lock(mu);
  done.wait(lock, [&] { return left == 0; });
}

// The scores a rung's trials reached at its checkpoints, for stopping a
// trial inside the rung. Positions are the order the rung's new trials
// start in. A trial at position p that reaches checkpoint j waits until
// every position before it has reached j or ended, then stops when `keep`
// of them scored better at j. Thread-safe.
class RungBoard {
 public:
  RungBoard(const TrainingSpec& spec, size_t positions, size_t checkpoints, size_t keep)
      : spec_(spec),
        keep_(keep),
        scores_(positions, std::vector<double>(checkpoints)),
        reached_(positions, 0),
        ended_(positions, false) {}

  // Position p's score at checkpoint j (reached in order); true: go on.
  bool Reach(size_t p, size_t j, double score) {
    std::unique_lock lock(mu_);
    scores_[p][j] = score;
    reached_[p] = j + 1;
    changed_.notify_all();
    changed_.wait(lock, [&] {
      for (size_t q = 0; q < p; ++q)
        if (!ended_[q] && reached_[q] <= j) return false;
      return true;
    });
    size_t better = 0;
    for (size_t q = 0; q < p; ++q)
      if (reached_[q] > j && Better(spec_, scores_[q][j], score)) ++better;
    return better < keep_;
  }

  // Position p will reach no more checkpoints (finished, stopped, failed or not run).
  void End(size_t p) {
    std::lock_guard lock(mu_);
    ended_[p] = true;
    changed_.notify_all();
  }

 private:
  const TrainingSpec& spec_;
  const size_t keep_;
  std::mutex mu_;  // guards scores_, reached_ and ended_
  std::condition_variable changed_;
  std::vector<std::vector<double>> scores_;  // [position][checkpoint]
  std::vector<size_t> reached_;              // checkpoints reported
  std::vector<bool> ended_;
};

// TPE, up to `jobs` trials at once (tuning.h): this thread proposes trial n
// once trials 0..n-jobs have finished, and runs it on the pool.
TuningOutcome RunTpe(const TrainingSpec& spec, const TrainingPlan& plan, const Table& table,
                     const PreparedTraining& prepared, const TuningOptions& options,
                     const FitOptions& fit, core::Executor* pool, TuningOutcome outcome) {
  std::map<int64_t, const TrialResult*> done;
  for (const TrialResult& t : options.done)
    if (t.rung == 0) done[t.trial] = &t;
  const bool greater = GreaterIsBetter(spec.metric);
  const int64_t jobs = pool ? std::max(1, options.jobs) : 1;
  const size_t n = static_cast<size_t>(spec.search.trials);
  outcome.trials.reserve(n);

  std::mutex mu;  // guards everything below, outcome.trials, and on_trial's calls
  std::condition_variable changed;
  std::vector<Params> proposed(n);
  std::vector<double> scores(n, std::numeric_limits<double>::quiet_NaN());
  std::vector<bool> finished(n, false);
  size_t first_unfinished = 0;
  int64_t running = 0;
  std::exception_ptr error;
  const TrialResult* best = nullptr;

  // Under mu.
  auto record = [&](TrialResult t) {
    const size_t i = static_cast<size_t>(t.trial);
    scores[i] = t.score;
    finished[i] = true;
    while (first_unfinished < n && finished[first_unfinished]) ++first_unfinished;
    outcome.trials.push_back(std::move(t));
    if (BetterTrial(spec, outcome.trials.back(), best)) best = &outcome.trials.back();
    if (options.on_trial) {
      options.on_trial(outcome.trials.back(),
                       {static_cast<int64_t>(outcome.trials.size()), outcome.total, best});
    }
  };
  auto evaluate = [&](TrialResult t) {
    std::exception_ptr failed;
    try {
      const auto start = std::chrono::steady_clock::now();
      t.cv = CrossValidateTrial(spec, plan, table, prepared, t, 0, fit, {}, {});
      t.score = ScoreOf(spec, t.cv);
      t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } catch (...) {
      failed = std::current_exception();
    }
    std::lock_guard lock(mu);
    try {
      if (!failed && !error) record(std::move(t));
    } catch (...) {
      failed = std::current_exception();
    }
    if (failed && !error) error = failed;
    --running;
    changed.notify_all();
  };

  bool stopped = false;
  int64_t new_started = 0;
  for (size_t trial = 0; trial < n; ++trial) {
    TrialResult t;
    t.trial = static_cast<int64_t>(trial);
    const auto found = done.find(t.trial);
    {
      std::unique_lock lock(mu);
      // Trials 0..trial-jobs finished: the rest before it count as running.
      changed.wait(
          lock, [&] { return error || static_cast<int64_t>(first_unfinished) + jobs > t.trial; });
      if (error) break;
      if (found != done.end() && !found->second->params.empty()) {
        t.params = found->second->params;
      } else {
        std::vector<Observation> history;
        history.reserve(trial);
        for (size_t m = 0; m < trial; ++m) {
          const bool pending = static_cast<int64_t>(m) + jobs > t.trial;
          history.push_back({proposed[m], pending ? 0 : scores[m], pending});
        }
        t.params = SampleTpe(spec.search.space, spec.seed, t.trial, history, greater);
      }
      proposed[trial] = t.params;
      if (found != done.end()) {
        t.cv = found->second->cv;
        t.score = ScoreOf(spec, t.cv);
        t.resumed = true;
        try {
          record(std::move(t));
        } catch (...) {
          error = std::current_exception();
          break;
        }
        continue;
      }
      if (options.max_new_trials >= 0 && new_started >= options.max_new_trials) {
        stopped = true;
        break;
      }
      ++new_started;
      ++running;
    }
    if (pool == nullptr) {
      evaluate(std::move(t));
    } else if (!pool->TrySubmit([&evaluate, t]() mutable { evaluate(std::move(t)); })) {
      std::lock_guard lock(mu);
      --running;
      if (!error) {
        error = std::make_exception_ptr(
            Error(ErrorCode::kInternalError, "tuning: no thread took the trial"));
      }
      break;
    }
  }
  std::unique_lock lock(mu);
  changed.wait(lock, [&] { return running == 0; });
  if (error) std::rethrow_exception(error);
  if (stopped) return outcome;
  for (size_t i = 0; i < outcome.trials.size(); ++i)
    if (&outcome.trials[i] == best) outcome.best = i;
  outcome.complete = true;
  return outcome;
}

// The `keep` best of a rung's results (indices, best first): those that ran
// their whole resource first, then those stopped inside the rung.
std::vector<size_t> Promoted(const TrainingSpec& spec, const std::vector<TrialResult>& results,
                             size_t keep) {
  std::vector<size_t> order;
  for (const bool stopped : {false, true}) {
    std::vector<size_t> index;
    std::vector<double> scores;
    for (size_t i = 0; i < results.size(); ++i) {
      if ((results[i].stopped_at > 0) != stopped) continue;
      index.push_back(i);
      scores.push_back(results[i].score);
    }
    for (size_t i : Survivors(scores, scores.size(), GreaterIsBetter(spec.metric)))
      order.push_back(index[i]);
  }
  order.resize(std::min(keep, order.size()));
  return order;
}

}  // namespace

HalvingResource HalvingResourceOf(const TrainingSpec& spec) {
  if (spec.search.algorithm != SearchAlgorithm::kHalving) return HalvingResource::kNone;
  const bool rounds_searched =
      std::any_of(spec.search.space.begin(), spec.search.space.end(),
                  [](const SearchDimension& d) { return d.name == "num_boost_round"; });
  return spec.model == ModelType::kXgboost && !rounds_searched ? HalvingResource::kRounds
                                                               : HalvingResource::kFolds;
}

std::vector<Rung> TuningRungs(const TrainingSpec& spec) {
  switch (HalvingResourceOf(spec)) {
    case HalvingResource::kRounds: {
      const int64_t rounds = MaxRounds(spec);
      return HalvingRungs(spec.search.trials, kEta, std::max<int64_t>(1, rounds / 27), rounds);
    }
    case HalvingResource::kFolds:
      return HalvingRungs(spec.search.trials, kEta, 1, spec.cv.folds);
    case HalvingResource::kNone:
      break;
  }
  return {Rung{spec.search.trials, 0}};
}

std::vector<int64_t> RungCheckpoints(const TrainingSpec& spec, size_t rung) {
  if (HalvingResourceOf(spec) != HalvingResource::kRounds) return {};
  const std::vector<Rung> rungs = TuningRungs(spec);
  if (rung == 0 || rung >= rungs.size()) return {};
  const int64_t smallest = rungs.front().resource;
  std::vector<int64_t> checkpoints;
  for (int64_t r = rungs[rung].resource / kEta; r >= smallest && r >= 1; r /= kEta)
    checkpoints.insert(checkpoints.begin(), r);
  return checkpoints;
}

Params TrialParams(const TrainingSpec& spec, const TrialResult& trial) {
  Params params = spec.params;
  for (const auto& [name, value] : trial.params) params[name] = value;
  if (HalvingResourceOf(spec) == HalvingResource::kRounds && trial.resource > 0) {
    params["num_boost_round"] = static_cast<double>(trial.resource);
  }
  return params;
}

TuningOutcome RunTuning(const TrainingSpec& spec, const TrainingPlan& plan, const Table& table,
                        const PreparedTraining& prepared, const TuningOptions& options) {
  TuningOutcome outcome;
  outcome.resource = HalvingResourceOf(spec);
  outcome.rungs = TuningRungs(spec);
  for (const Rung& r : outcome.rungs) outcome.total += r.trials;

  // --jobs N > 1: N trials at once, each fold in turn with cores / N
  // XGBoost threads. One at a time: the trial's folds at once, each with
  // cores / folds threads (XGBoost's threads barely help on small data,
  // where most tuning happens, and folds are independent).
  const int jobs = std::max(1, options.jobs);
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int fold_count = static_cast<int>(spec.cv.folds);
  FitOptions fit;
  std::optional<core::Executor> pool;
  std::optional<core::Executor> fold_pool;
  if (jobs > 1) {
    fit.nthread = std::max(1, cores / jobs);
    pool.emplace(core::Executor::Options{"tuning", jobs, 1024});
  } else if (cores > 1 && spec.model == ModelType::kXgboost) {
    fit.nthread = std::max(1, cores / fold_count);
    fold_pool.emplace(core::Executor::Options{"folds", std::min(cores, fold_count), 1024});
    fit.folds = &*fold_pool;
  }
  if (spec.search.algorithm == SearchAlgorithm::kTpe) {
    if (jobs > 1) {
      outcome.note = fmt::format(
          "tpe runs {} trials at once: each is proposed from the trials finished before the "
          "{} latest, which count as running (constant liar)",
          jobs, jobs - 1);
    }
    return RunTpe(spec, plan, table, prepared, options, fit, pool ? &*pool : nullptr,
                  std::move(outcome));
  }
  std::map<std::pair<int64_t, int64_t>, const TrialResult*> done;
  for (const TrialResult& t : options.done) done[{t.rung, t.trial}] = &t;

  std::mutex mu;  // guards outcome.trials, best_so_far, new_started, error, and on_trial's calls
  std::exception_ptr error;
  int64_t new_started = 0;
  const TrialResult* best_so_far = nullptr;
  std::vector<int64_t> candidates(static_cast<size_t>(spec.search.trials));
  for (size_t i = 0; i < candidates.size(); ++i) candidates[i] = static_cast<int64_t>(i);
  outcome.trials.reserve(static_cast<size_t>(outcome.total));

  for (size_t rung = 0; rung < outcome.rungs.size(); ++rung) {
    const Rung& r = outcome.rungs[rung];
    candidates.resize(std::min(candidates.size(), static_cast<size_t>(r.trials)));
    best_so_far = nullptr;
    std::vector<TrialResult> results(candidates.size());
    std::vector<bool> finished(candidates.size(), false);
    // Resumed ones first, on this thread.
    std::vector<size_t> pending;
    for (size_t i = 0; i < candidates.size(); ++i) {
      TrialResult& t = results[i];
      t.trial = candidates[i];
      t.rung = static_cast<int64_t>(rung);
      t.resource = r.resource;
      t.params = SampleParams(spec.search.space, spec.seed, t.trial);
      const auto found = done.find({t.rung, t.trial});
      if (found == done.end()) {
        pending.push_back(i);
        continue;
      }
      t.cv = found->second->cv;
      t.score = ScoreOf(spec, t.cv);
      t.stopped_at = found->second->stopped_at;
      t.resumed = true;
      finished[i] = true;
      outcome.trials.push_back(t);
      if (BetterTrial(spec, t, best_so_far)) best_so_far = &outcome.trials.back();
      if (options.on_trial) {
        options.on_trial(outcome.trials.back(),
                         {static_cast<int64_t>(outcome.trials.size()), outcome.total, best_so_far});
      }
    }
    // The rung keeps this many for the next (the last: the best).
    const size_t keep =
        rung + 1 < outcome.rungs.size() ? static_cast<size_t>(outcome.rungs[rung + 1].trials) : 1;
    const std::vector<int64_t> checkpoints = RungCheckpoints(spec, rung);
    RungBoard board(spec, pending.size(), checkpoints.size(), keep);
    RunEach(pool ? &*pool : nullptr, pending.size(), [&](size_t k) {
      {
        std::lock_guard lock(mu);
        if (error || (options.max_new_trials >= 0 && new_started >= options.max_new_trials)) {
          board.End(k);
          return;
        }
        ++new_started;
      }
      TrialResult& t = results[pending[k]];
      try {
        const auto start = std::chrono::steady_clock::now();
        const size_t folds =
            outcome.resource == HalvingResource::kFolds ? static_cast<size_t>(t.resource) : 0;
        size_t next_checkpoint = 0;
        t.cv = CrossValidateTrial(
            spec, plan, table, prepared, t, folds, fit, checkpoints,
            [&](int64_t, double mean) { return board.Reach(k, next_checkpoint++, mean); });
        board.End(k);
        t.stopped_at = t.cv.stopped_at;
        t.score = ScoreOf(spec, t.cv);
        t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::lock_guard lock(mu);
        if (error) return;
        finished[pending[k]] = true;
        outcome.trials.push_back(t);
        if (t.stopped_at > 0) ++outcome.stopped;
        if (BetterTrial(spec, t, best_so_far)) best_so_far = &outcome.trials.back();
        if (options.on_trial) {
          options.on_trial(outcome.trials.back(), {static_cast<int64_t>(outcome.trials.size()),
                                                   outcome.total, best_so_far});
        }
      } catch (...) {
        board.End(k);
        std::lock_guard lock(mu);
        if (!error) error = std::current_exception();
      }
    });
    if (error) std::rethrow_exception(error);
    if (std::find(finished.begin(), finished.end(), false) != finished.end()) {
      return outcome;  // stopped by max_new_trials: incomplete
    }
    // The survivors: by score, stopped ones last; ties to the lower trial
    // number (results are in candidate order).
    std::vector<int64_t> next_candidates;
    for (size_t i : Promoted(spec, results, keep)) next_candidates.push_back(results[i].trial);
    candidates = std::move(next_candidates);
  }
  // The best: the last rung's first survivor.
  const int64_t last_rung = static_cast<int64_t>(outcome.rungs.size()) - 1;
  for (size_t i = 0; i < outcome.trials.size(); ++i) {
    if (outcome.trials[i].rung == last_rung && outcome.trials[i].trial == candidates.front()) {
      outcome.best = i;
    }
  }
  outcome.complete = true;
  return outcome;
}

}  // namespace slipway::training
