#include "training/tuning.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

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

// TPE: one trial at a time, each proposed from every trial before it (so a
// resumed session proposes what the first one did).
TuningOutcome RunTpe(const TrainingSpec& spec, const TrainingPlan& plan, const Table& table,
                     const PreparedTraining& prepared, const TuningOptions& options,
                     TuningOutcome outcome) {
  std::map<int64_t, const TrialResult*> done;
  for (const TrialResult& t : options.done)
    if (t.rung == 0) done[t.trial] = &t;
  const bool greater = GreaterIsBetter(spec.metric);
  std::vector<Observation> history;
  int64_t new_started = 0;
  std::optional<size_t> best;
  outcome.trials.reserve(static_cast<size_t>(outcome.total));
  for (int64_t trial = 0; trial < spec.search.trials; ++trial) {
    TrialResult t;
    t.trial = trial;
    t.params = SampleTpe(spec.search.space, spec.seed, trial, history, greater);
    const auto found = done.find(trial);
    if (found != done.end()) {
      t.cv = found->second->cv;
      t.resumed = true;
    } else {
      if (options.max_new_trials >= 0 && new_started >= options.max_new_trials) return outcome;
      ++new_started;
      const auto start = std::chrono::steady_clock::now();
      t.cv = CrossValidate(spec, plan, table, prepared, TrialParams(spec, t), 0, {}, {});
      t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    t.score = ScoreOf(spec, t.cv);
    history.push_back({t.params, t.score});
    outcome.trials.push_back(std::move(t));
    if (!best || Better(spec, outcome.trials.back().score, outcome.trials[*best].score))
      best = outcome.trials.size() - 1;
    if (options.on_trial) {
      options.on_trial(outcome.trials.back(), {static_cast<int64_t>(outcome.trials.size()),
                                               outcome.total, &outcome.trials[*best]});
    }
  }
  outcome.best = best;
  outcome.complete = true;
  return outcome;
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
  if (spec.search.algorithm == SearchAlgorithm::kTpe) {
    if (options.jobs > 1) {
      outcome.note =
          "tpe runs one trial at a time (each learns from those before it): --jobs gives its "
          "cores to XGBoost";
    }
    return RunTpe(spec, plan, table, prepared, options, std::move(outcome));
  }
  std::map<std::pair<int64_t, int64_t>, const TrialResult*> done;
  for (const TrialResult& t : options.done) done[{t.rung, t.trial}] = &t;

  const int jobs = std::max(1, options.jobs);
  FitOptions fit;
  if (jobs > 1) {
    fit.nthread = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / jobs);
  }
  std::mutex mu;  // guards outcome.trials, best_at, new_started, error, and on_trial's calls
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
      t.resumed = true;
      finished[i] = true;
      outcome.trials.push_back(t);
      if (!best_so_far || Better(spec, t.score, best_so_far->score))
        best_so_far = &outcome.trials.back();
      if (options.on_trial) {
        options.on_trial(outcome.trials.back(),
                         {static_cast<int64_t>(outcome.trials.size()), outcome.total, best_so_far});
      }
    }
    std::atomic<size_t> next{0};
    auto work = [&] {
      while (true) {
        const size_t k = next.fetch_add(1);
        if (k >= pending.size()) return;
        {
          std::lock_guard lock(mu);
          if (error) return;
          if (options.max_new_trials >= 0 && new_started >= options.max_new_trials) return;
          ++new_started;
        }
        TrialResult& t = results[pending[k]];
        try {
          const auto start = std::chrono::steady_clock::now();
          const size_t folds =
              outcome.resource == HalvingResource::kFolds ? static_cast<size_t>(t.resource) : 0;
          t.cv = CrossValidate(spec, plan, table, prepared, TrialParams(spec, t), folds, fit, {});
          t.score = ScoreOf(spec, t.cv);
          t.seconds =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          std::lock_guard lock(mu);
          if (error) return;
          finished[pending[k]] = true;
          outcome.trials.push_back(t);
          if (!best_so_far || Better(spec, t.score, best_so_far->score))
            best_so_far = &outcome.trials.back();
          if (options.on_trial) {
            options.on_trial(outcome.trials.back(), {static_cast<int64_t>(outcome.trials.size()),
                                                     outcome.total, best_so_far});
          }
        } catch (...) {
          std::lock_guard lock(mu);
          if (!error) error = std::current_exception();
          return;
        }
      }
    };
    const int threads = std::min<int>(jobs, static_cast<int>(pending.size()));
    if (threads <= 1) {
      work();
    } else {
      std::vector<std::thread> pool;
      for (int i = 0; i < threads; ++i) pool.emplace_back(work);
      for (std::thread& thread : pool) thread.join();
    }
    if (error) std::rethrow_exception(error);
    if (std::find(finished.begin(), finished.end(), false) != finished.end()) {
      return outcome;  // stopped by max_new_trials: incomplete
    }
    // The survivors, by score; ties to the lower trial number (results are
    // in candidate order).
    const size_t keep =
        rung + 1 < outcome.rungs.size() ? static_cast<size_t>(outcome.rungs[rung + 1].trials) : 1;
    std::vector<double> scores;
    for (const TrialResult& t : results) scores.push_back(t.score);
    std::vector<int64_t> next_candidates;
    for (size_t i : Survivors(scores, keep, GreaterIsBetter(spec.metric)))
      next_candidates.push_back(results[i].trial);
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
