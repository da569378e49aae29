// The spec's gates evaluated on a candidate's holdout metrics: fixed
// thresholds (min, max) and champion gates, which compare the candidate
// with the model at an alias of the registered model on the same holdout.
//
// The caller finds the champion's metric (the CLI loads the champion's
// model); here is only the rule: a threshold gate passes when the metric is
// finite and within [min, max]; a champion gate passes when there is no
// champion ("no champion"), or the candidate beats the champion by at least
// the margin: the lower end of the paired bootstrap interval of the
// improvement (at the gate's confidence) is at least the margin, so a win
// that is noise does not pass. Pure functions; thread-safe.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "training/metrics.h"
#include "training/spec.h"
#include "training/table.h"

namespace slipway::training {

// What the caller knows of a champion gate's champion.
struct ChampionMetric {
  bool exists = false;      // a version holds the alias
  std::string version;      // that version
  double value = 0;         // its metric on the holdout (when exists)
  std::string unevaluated;  // not empty: why there is no value; the gate fails
  // The paired bootstrap interval of (candidate - champion), or for a loss
  // (champion - candidate): BootstrapImprovement's. Without it the margin
  // is compared with the point estimates.
  std::optional<std::pair<double, double>> interval;
};

// The paired bootstrap interval of the candidate's improvement over the
// champion in `metric` on the same rows: `resamples` draws of the rows with
// replacement (std::mt19937_64 from `seed`), both models' metric on each,
// the improvement's (1 - confidence) / 2 and (1 + confidence) / 2 quantiles.
// Improvement is candidate - champion, or champion - candidate for a metric
// where smaller is better. Draws where the metric is undefined (one class)
// are skipped.
std::pair<double, double> BootstrapImprovement(Task task, int64_t classes,
                                               std::span<const double> y, const Matrix& candidate,
                                               const Matrix& champion, const std::string& metric,
                                               double confidence, uint64_t seed,
                                               int resamples = 1000);

struct GateResult {
  Gate gate;
  double value = 0;  // the candidate's metric (NaN when it has none)
  bool passed = false;
  std::optional<double> champion;  // the champion's metric, when it was evaluated
  std::string rule;                // "roc_auc >= 0.8", "roc_auc > champion@production + 0.01"
  std::string detail;              // "0.9712", "no champion", "0.97 vs 0.95 (version 3)"
  // Champion gates: the paired bootstrap interval of the improvement, when
  // there was one (ChampionMetric::interval).
  std::optional<std::pair<double, double>> interval;
};

// `champion` is called once per champion gate.
std::vector<GateResult> EvaluateGates(
    const std::vector<Gate>& gates, const std::map<std::string, double>& holdout,
    const std::function<ChampionMetric(const Gate&)>& champion = {});

bool AllPassed(const std::vector<GateResult>& results);

}  // namespace slipway::training
