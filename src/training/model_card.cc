#include "training/model_card.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>

namespace slipway::training {
namespace {

std::string Number(double value) {
  return std::isfinite(value) ? fmt::format("{:.4f}", value) : std::string("n/a");
}

// A table cell: pipes and line breaks would end it.
std::string Cell(std::string text) {
  std::string out;
  for (char c : text) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n' || c == '\r')
      out += ' ';
    else
      out += c;
  }
  return out;
}

std::string Threshold(const GateResult& r) {
  const Gate& g = r.gate;
  if (g.champion) {
    const bool greater = GreaterIsBetter(g.metric);
    std::string text = fmt::format("champion@{} {} {}", *g.champion, greater ? "+" : "-", g.margin);
    if (r.champion) text += fmt::format(" (champion {})", Number(*r.champion));
    return text;
  }
  if (g.min && g.max) return fmt::format("[{}, {}]", *g.min, *g.max);
  if (g.min) return fmt::format(">= {}", *g.min);
  return fmt::format("<= {}", g.max.value_or(0));
}

std::string Interval(const GateResult& r) {
  if (!r.interval) return "";
  return fmt::format("[{:+.4f}, {:+.4f}] ({:.0f}%)", r.interval->first, r.interval->second,
                     r.gate.confidence * 100);
}

}  // namespace

std::string ModelCard(const TrainingSpec& spec, const TrainingOutcome& outcome,
                      const std::vector<GateResult>& gates, const ModelCardInfo& info) {
  const Provenance& p = info.provenance;
  const std::string spec_name = std::filesystem::path(spec.source).filename().string();
  std::string out = fmt::format("# Model card: {}\n\n", spec_name);
  out += "| | |\n|---|---|\n";
  out += fmt::format("| task | {} |\n", TaskName(spec.task));
  out += fmt::format("| model | {} |\n", ModelTypeName(spec.model));
  out += fmt::format("| target | {} |\n", Cell(spec.target.name));
  out += fmt::format("| features | {} |\n", outcome.preprocessor.features().size());
  if (!outcome.target.classes.empty()) {
    std::string classes;
    for (const std::string& c : outcome.target.classes)
      classes += (classes.empty() ? "" : ", ") + c;
    out += fmt::format("| classes | {} |\n", Cell(classes));
  }
  out += fmt::format("| seed | {} |\n", spec.seed);
  if (spec.register_as) out += fmt::format("| registered as | {} |\n", spec.register_as->model);

  out += "\n## Data\n\n| | |\n|---|---|\n";
  out += fmt::format("| dataset version | {} |\n", Cell(p.dataset));
  out += fmt::format("| content sha256 | `{}` |\n", p.dataset_sha256);
  out += fmt::format("| training rows | {} |\n", outcome.split.training.size());
  out += fmt::format("| holdout rows | {} |\n", outcome.split.holdout.size());

  out += fmt::format("\n## Metrics\n\n{}-fold cross-validation ({}) and the holdout; ",
                     outcome.folds.size(), CvSchemeName(spec.cv.scheme));
  out += fmt::format("the spec optimises **{}**.\n\n", spec.metric);
  out += "| metric | cv mean | cv std | holdout |\n|---|---:|---:|---:|\n";
  for (const auto& [name, value] : outcome.holdout.metrics) {
    const auto mean = outcome.cv_mean.find(name);
    const auto sd = outcome.cv_std.find(name);
    out += fmt::format("| {}{} | {} | {} | {} |\n", name, name == spec.metric ? " *" : "",
                       mean == outcome.cv_mean.end() ? "" : Number(mean->second),
                       sd == outcome.cv_std.end() ? "" : Number(sd->second), Number(value));
  }

  out += "\n## Gates\n\n";
  if (gates.empty()) {
    out += "The spec has no gates.\n";
  } else {
    out += fmt::format("{}\n\n", AllPassed(gates) ? "**PASSED**" : "**FAILED**");
    out += "| gate | value | threshold / margin | CI of the improvement | passed |\n";
    out += "|---|---:|---|---|---|\n";
    for (const GateResult& r : gates) {
      out += fmt::format("| {} | {} | {} | {} | {} |\n", Cell(r.rule), Number(r.value),
                         Cell(Threshold(r)), Interval(r), r.passed ? "yes" : "**no**");
    }
    out += "\n";
    for (const GateResult& r : gates) out += fmt::format("- {}: {}\n", Cell(r.rule), r.detail);
  }

  auto assessment = [&](const char* title, const std::map<std::string, double>& metrics) {
    if (metrics.empty()) return;
    out += fmt::format(
        "\n## {}\n\nOn the holdout (reports: fairness/report.json, "
        "robustness/report.json).\n\n| metric | value |\n|---|---:|\n",
        title);
    for (const auto& [name, value] : metrics)
      out += fmt::format("| {} | {} |\n", Cell(name),
                         std::isnan(value) ? std::string("undefined") : Number(value));
  };
  assessment("Fairness", info.fairness);
  assessment("Robustness", info.robustness);

  out += "\n## Lineage\n\n| | |\n|---|---|\n";
  if (!info.run_id.empty()) out += fmt::format("| run | {} |\n", info.run_id);
  out += fmt::format("| spec | {} |\n", Cell(spec_name));
  out += fmt::format("| spec sha256 | `{}` |\n", p.spec_sha256);
  if (!p.overrides.empty()) {
    std::string overrides;
    for (const std::string& o : p.overrides)
      overrides += (overrides.empty() ? "" : " ") + fmt::format("`{}`", o);
    out += fmt::format("| overrides | {} |\n", Cell(overrides));
  }
  out += fmt::format("| git commit | {} |\n",
                     p.git_commit ? "`" + *p.git_commit + "`"
                                  : std::string("none (the spec is not in a git working tree)"));
  out += fmt::format("| Slipway | {} |\n", p.slipway_version);
  out += fmt::format("| XGBoost | {} |\n", p.xgboost_version);
  out += fmt::format("| Eigen | {} |\n", p.eigen_version);
  return out;
}

}  // namespace slipway::training
