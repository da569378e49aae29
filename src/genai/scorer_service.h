// MLflow 3's registered scorers: judges and metrics an experiment keeps by
// name, in versions, for evaluation and online scoring.
//
// ScorerService checks input as MLflow 3.17.2 does and calls the
// ScorerStore. Slipway stores scorers and never runs them; it refuses, as
// MLflow's server does by default, the ones that would run code or steer
// network requests wherever they are loaded: a `call_source` (an @scorer
// function's source, run with exec() when a client loads it) anywhere in the
// scorer, and third-party scorer options that choose where its LLM client
// connects (api_base, base_url, model_list, fallbacks, custom_llm_provider).
//
// A scorer has its experiment's permissions: reading needs READ,
// registering EDIT, deleting MANAGE. Thread-safe if the stores are.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "genai/entities.h"
#include "genai/genai_store.h"
#include "governance/authorization.h"
#include "tracking/tracking_store.h"

namespace slipway::genai {

class ScorerService {
 public:
  ScorerService(ScorerStore& store, tracking::TrackingStore& tracking,
                governance::Authorizer& authorizer = governance::Authorizer::AllowAll());

  ScorerVersion RegisterScorer(const std::string& experiment_id, const std::string& name,
                               const std::string& serialized_scorer);
  // The latest version of each scorer of the experiments (every experiment
  // the actor may read when none is given).
  std::vector<ScorerVersion> ListScorers(const std::vector<std::string>& experiment_ids);
  std::vector<ScorerVersion> ListScorerVersions(const std::string& experiment_id,
                                                const std::string& name);
  ScorerVersion GetScorer(const std::string& experiment_id, const std::string& name,
                          std::optional<int64_t> version);
  // One version, or the scorer with every version.
  void DeleteScorer(const std::string& experiment_id, const std::string& name,
                    std::optional<int64_t> version);

 private:
  // The canonical id of an existing experiment the actor holds `needed` on.
  std::string RequireExperiment(const std::string& experiment_id, governance::Permission needed);
  [[noreturn]] void ThrowNoScorer(const std::string& experiment_id, const std::string& name,
                                  std::optional<int64_t> version);

  ScorerStore& store_;
  tracking::TrackingStore& tracking_;
  governance::Authorizer& authorizer_;
};

// The checks of a serialized scorer (see the top of this file);
// INVALID_PARAMETER_VALUE with MLflow's message otherwise.
void CheckSerializedScorer(const std::string& serialized_scorer);

}  // namespace slipway::genai
