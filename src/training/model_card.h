// The model card of a training: a Markdown page that says what the model is,
// what it was trained on, how good it is, which gates it passed and where it
// came from. `slipway train` logs it as the run's model_card.md and, when a
// passed run registers the model, makes it the model version's description.
//
//   # Model card: <spec file>
//   what: task, model, target, features, seed, registered model
//   data: the dataset version and its content digest
//   metrics: cv mean and std, holdout (the spec's metric marked)
//   gates: gate, value, threshold or margin, confidence interval, passed
//   lineage: run id, spec digest, git commit, Slipway and library versions
//
// Pure function; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "training/gates.h"
#include "training/provenance.h"
#include "training/spec.h"
#include "training/training_run.h"

namespace slipway::training {

struct ModelCardInfo {
  std::string run_id;
  Provenance provenance;
  // The fairness.* and robustness.* metrics of the holdout, when the spec
  // asks for them (a section of the card each).
  std::map<std::string, double> fairness;
  std::map<std::string, double> robustness;
};

std::string ModelCard(const TrainingSpec& spec, const TrainingOutcome& outcome,
                      const std::vector<GateResult>& gates, const ModelCardInfo& info);

}  // namespace slipway::training
