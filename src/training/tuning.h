// Tuning: the spec's search run as trials, each a cross-validation of the
// fixed params plus a sample of the space (search.h), the best of them kept.
//
//   random   trials 0..N-1, each sampled from the seed and its number
//   halving  successive halving: rung 0 evaluates the N trials with a small
//            resource, each next rung the best 1/3 with 3x the resource, the
//            last with the full one. The resource is num_boost_round for
//            XGBoost (the spec's, or XGBoost's 100; from 1/27 of it up),
//            else, or when num_boost_round is searched, the number of folds
//            (the first k folds of the same split). The best trial is the
//            best of the last rung. With rounds, a trial is also stopped
//            inside its rung (Hyperband's early stopping; Optuna's
//            SuccessiveHalvingPruner): at the rung's checkpoints (its
//            rounds / 3, / 9, ... down to rung 0's rounds) its learning
//            curve is compared with those of the trials before it in the
//            rung, and it stops when as many of them as the rung promotes
//            did better there: it could hardly be promoted. A stopped trial
//            keeps its score at the stop (TrialResult::stopped_at) and ranks
//            after every trial that ran its whole resource.
//   tpe      the first 10 trials random, then each proposed by TPE
//            (search.h, SampleTpe). With --jobs J, J trials run at once:
//            trial n is proposed from trials 0..n-J as finished and
//            n-J+1..n-1 as running (the constant liar: counted as worst),
//            and starts once trials 0..n-J have finished. So the proposals
//            depend on the seed, the scores and J, never on which trial
//            happened to finish first; with J = 1 each learns from all
//            before it.
//
// Trials run on up to `jobs` threads of an executor made here (each
// trial's XGBoost gets cores / jobs threads; with jobs 1, an XGBoost
// trial's folds run at once instead, cores / folds threads each, on an
// executor of min(cores, folds) threads); which thread runs a trial
// changes nothing of it (its params come from its number, or for TPE from
// the trials before it as above), and the stops inside a rung wait for the
// trials before (a trial that reaches a checkpoint first waits until those
// before it in the rung reach it or end), so which trials stop does not
// depend on timing either. Each XGBoost trial's cross-validation boosts its
// folds side by side and records the learning curve (CvResult::curve).
// Trials already done, by an earlier session that was interrupted, are
// passed in and not run again; `max_new_trials` stops a session after that
// many new evaluations (the outcome is then incomplete, and the caller can
// resume it later).
//
// The caller logs: `on_trial` is called once per evaluation, resumed ones
// included, one call at a time (under the tuner's lock), from the pool's
// threads. An exception from it or from a fit stops the tuning: trials
// under way finish, none starts, and the first exception is rethrown.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "training/plan.h"
#include "training/search.h"
#include "training/spec.h"
#include "training/table.h"
#include "training/training_run.h"

namespace slipway::training {

enum class HalvingResource { kNone, kRounds, kFolds };

struct TrialResult {
  int64_t trial = 0;     // from 0: the sample's number
  int64_t rung = 0;      // halving: from 0; else 0
  int64_t resource = 0;  // halving: rounds or folds; else 0
  Params params;         // sampled (the spec's fixed params are not repeated); resumed TPE
                         // trials: as the earlier session ran them (empty: proposed again)
  CvResult cv;           // resumed: the means only
  double score = 0;      // cv.mean of the spec's metric (NaN when missing)
  double seconds = 0;
  bool resumed = false;    // done by an earlier session
  int64_t stopped_at = 0;  // halving: rounds boosted when stopped inside its rung; else 0
};

struct TuningProgress {
  int64_t finished = 0;               // evaluations finished, resumed ones included
  int64_t total = 0;                  // evaluations the session has in all
  const TrialResult* best = nullptr;  // the best so far at the highest rung reached
};

struct TuningOptions {
  int jobs = 1;
  int64_t max_new_trials = -1;    // -1: no limit
  std::vector<TrialResult> done;  // from an earlier session: trial, rung and cv.mean
  std::function<void(const TrialResult&, const TuningProgress&)> on_trial;
};

struct TuningOutcome {
  std::vector<TrialResult> trials;  // every evaluation, in the order they finished
  std::optional<size_t> best;       // into trials: the best at the last rung
  bool complete = false;            // false: max_new_trials stopped it
  int64_t total = 0;
  std::vector<Rung> rungs;  // halving; else one rung of every trial
  HalvingResource resource = HalvingResource::kNone;
  std::string note;     // what the caller should say about how it ran (tpe with --jobs)
  int64_t stopped = 0;  // trials stopped inside their rung
};

// How halving would spend its resource for this spec, and its rungs.
HalvingResource HalvingResourceOf(const TrainingSpec& spec);
std::vector<Rung> TuningRungs(const TrainingSpec& spec);

// The checkpoints (rounds, ascending) at which a trial of `rung` may be
// stopped inside it; empty when no trial can be (not halving on rounds,
// or rung 0).
std::vector<int64_t> RungCheckpoints(const TrainingSpec& spec, size_t rung);

// The params a trial trains with: the spec's fixed ones, its sample, and
// (halving) its rung's num_boost_round.
Params TrialParams(const TrainingSpec& spec, const TrialResult& trial);

TuningOutcome RunTuning(const TrainingSpec& spec, const TrainingPlan& plan, const Table& table,
                        const PreparedTraining& prepared, const TuningOptions& options);

}  // namespace slipway::training
