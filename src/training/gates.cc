#include "training/gates.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace slipway::training {

std::vector<GateResult> EvaluateGates(const std::vector<Gate>& gates,
                                      const std::map<std::string, double>& holdout,
                                      const std::function<ChampionMetric(const Gate&)>& champion) {
  std::vector<GateResult> results;
  for (const Gate& gate : gates) {
    GateResult r;
    r.gate = gate;
    const auto found = holdout.find(gate.metric);
    r.value = found == holdout.end() ? std::numeric_limits<double>::quiet_NaN() : found->second;
    const bool finite = std::isfinite(r.value);
    if (gate.champion) {
      const bool greater = GreaterIsBetter(gate.metric);
      r.rule = fmt::format("{} {} champion@{} {} {}", gate.metric,
                           greater ? ">=" : "<=", *gate.champion, greater ? "+" : "-", gate.margin);
      const ChampionMetric c = champion ? champion(gate) : ChampionMetric{};
      if (!c.exists) {
        r.passed = true;
        r.detail = fmt::format("{:.4f}; no champion", r.value);
      } else if (!c.unevaluated.empty()) {
        r.passed = false;
        r.detail = fmt::format("{:.4f}; champion version {} {}", r.value, c.version, c.unevaluated);
      } else {
        r.champion = c.value;
        r.passed = finite &&
                   (greater ? r.value >= c.value + gate.margin : r.value <= c.value - gate.margin);
        r.detail = fmt::format("{:.4f} vs {:.4f} (version {}): by {:+.4f}", r.value, c.value,
                               c.version, r.value - c.value);
      }
    } else {
      if (gate.min && gate.max) {
        r.rule = fmt::format("{} <= {} <= {}", *gate.min, gate.metric, *gate.max);
      } else if (gate.min) {
        r.rule = fmt::format("{} >= {}", gate.metric, *gate.min);
      } else {
        r.rule = fmt::format("{} <= {}", gate.metric, gate.max.value_or(0));
      }
      r.passed =
          finite && (!gate.min || r.value >= *gate.min) && (!gate.max || r.value <= *gate.max);
      r.detail = finite ? fmt::format("{:.4f}", r.value) : "no value";
      if (finite && !r.passed) {
        const double bound = gate.min && r.value < *gate.min ? *gate.min : *gate.max;
        r.detail += fmt::format(": short by {:.4f}", std::abs(r.value - bound));
      }
    }
    results.push_back(std::move(r));
  }
  return results;
}

bool AllPassed(const std::vector<GateResult>& results) {
  for (const GateResult& r : results)
    if (!r.passed) return false;
  return true;
}

}  // namespace slipway::training
