// The spec's gates evaluated on a candidate's holdout metrics: fixed
// thresholds (min, max) and champion gates, which compare the candidate
// with the model at an alias of the registered model on the same holdout.
//
// The caller finds the champion's metric (the CLI loads the champion's
// model); here is only the rule: a threshold gate passes when the metric is
// finite and within [min, max]; a champion gate passes when there is no
// champion ("no champion"), or the candidate beats the champion's metric by
// at least the margin (greater, or for a loss smaller). The paired bootstrap
// interval of issue 14 is not built: the margin is compared with the point
// estimates. Pure functions; thread-safe.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "training/spec.h"

namespace slipway::training {

// What the caller knows of a champion gate's champion.
struct ChampionMetric {
  bool exists = false;      // a version holds the alias
  std::string version;      // that version
  double value = 0;         // its metric on the holdout (when exists)
  std::string unevaluated;  // not empty: why there is no value; the gate fails
};

struct GateResult {
  Gate gate;
  double value = 0;  // the candidate's metric (NaN when it has none)
  bool passed = false;
  std::optional<double> champion;  // the champion's metric, when it was evaluated
  std::string rule;                // "roc_auc >= 0.8", "roc_auc > champion@production + 0.01"
  std::string detail;              // "0.9712", "no champion", "0.97 vs 0.95 (version 3)"
};

// `champion` is called once per champion gate.
std::vector<GateResult> EvaluateGates(
    const std::vector<Gate>& gates, const std::map<std::string, double>& holdout,
    const std::function<ChampionMetric(const Gate&)>& champion = {});

bool AllPassed(const std::vector<GateResult>& results);

}  // namespace slipway::training
