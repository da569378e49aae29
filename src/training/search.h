// The pieces of a hyperparameter search that are pure arithmetic: sampling a
// trial's params from the spec's space, and successive halving's rungs.
//
// A trial's params depend on the spec's seed and the trial's number only
// (SampleParams), never on the trials before it or on which thread runs it,
// so trials can run in any order, in parallel, and a resumed session samples
// exactly the params its first run did. The generator is SplitMix64 and the
// mapping to each kind is written here (not std::uniform_*_distribution,
// whose output the standard leaves to the library), so the same spec samples
// the same params on every platform.
//
//   int          an integer in [low, high], each equally likely
//   uniform      a real in [low, high)
//   log_uniform  exp of a uniform in [log low, log high): as many draws per
//                decade (0.01..0.1 as often as 0.1..1)
//   choice       one of the values, each equally likely
//
// Successive halving (HalvingRungs, Survivors): rung 0 evaluates every trial
// with the smallest resource; each next rung keeps the best 1/eta of the
// rung before and gives them eta times the resource, up to the full
// resource at the last rung. The resource is XGBoost's num_boost_round, or
// the number of folds (tuning.h picks). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "training/spec.h"

namespace slipway::training {

using Params = std::map<std::string, ParamValue>;

// Trial `trial`'s params (from 0): one value per dimension of `space`.
Params SampleParams(const std::vector<SearchDimension>& space, uint64_t seed, int64_t trial);

// A value as text, for progress lines and run params ("0.05", "depthwise").
std::string ParamValueText(const ParamValue& value);

// A trial's params read back from text as ParamValueText wrote them, each
// dimension of `space` under `prefix` + its name in `text`; empty when one
// is missing or is not a value of its dimension.
Params ParseParams(const std::vector<SearchDimension>& space,
                   const std::map<std::string, std::string>& text, const std::string& prefix);

// A trial as TPE learns from it: finished, or still running (pending).
struct Observation {
  Params params;
  double score = 0;      // NaN: failed, counted among the worst
  bool pending = false;  // running: its score is not known yet (constant liar)
};

// TPE (the Tree-structured Parzen Estimator of Bergstra et al. 2011, in
// the multivariate form Optuna's TPESampler uses by default for one
// objective): trial `trial`'s params given the trials before it. With fewer
// than kTpeStartupTrials finished observations: SampleParams. Else the
// finished observations split into the best gamma (10% of them, at most 25)
// and the rest, a joint Parzen density of each (search.cc, Mixture: Optuna's
// kernels, widths and weights; search.cc lists where it departs), and of
// 24 candidates drawn from the best's density the one with the highest
// ratio best / rest. Pending observations (trials running in parallel) join
// the rest, as if they had the worst score: the constant liar of Optuna's
// TPESampler (constant_liar=True), which keeps trials that run at once from
// being proposed at the same spot. Deterministic from the seed, the trial
// and `history`.
constexpr size_t kTpeStartupTrials = 10;
Params SampleTpe(const std::vector<SearchDimension>& space, uint64_t seed, int64_t trial,
                 const std::vector<Observation>& history, bool greater_is_better);

// The log density that TPE's Parzen estimator of `points` (the best trials,
// or the rest, oldest first) gives `params`: one side of the ratio SampleTpe
// maximises. In log coordinates for log_uniform dimensions (as Optuna's, no
// Jacobian: it cancels in the ratio), an int's the mass of its bin, a
// choice's its probability. Exposed so tests can hold it to Optuna's
// _ParzenEstimator.log_pdf.
double TpeLogDensity(const std::vector<SearchDimension>& space, const std::vector<Params>& points,
                     const Params& params);

struct Rung {
  int64_t trials = 0;    // how many trials this rung evaluates
  int64_t resource = 0;  // rounds or folds each of them gets
};

// The rungs of successive halving for `trials` trials, reduction `eta` (>= 2),
// and a resource between `min_resource` and `max_resource`. The last rung
// has max_resource; a rung before it has 1/eta of the next one's resource
// (at least min_resource) and eta times its trials. Rungs stop before the
// resource would fall below min_resource, or one trial would be left.
std::vector<Rung> HalvingRungs(int64_t trials, int64_t eta, int64_t min_resource,
                               int64_t max_resource);

// The `keep` best of `scores` (indices into it, best first); NaN is worst,
// ties go to the lower index.
std::vector<size_t> Survivors(const std::vector<double>& scores, size_t keep,
                              bool greater_is_better);

}  // namespace slipway::training
