// `slipway train --reproduce RUN_ID`: what a tracked training run recorded
// (its spec.yaml artifact, the --set overrides, the dataset version and
// seed, the digests) fetched from the tracking server, and the comparison of
// its model files with a retraining's.
//
// The retraining itself is `slipway train`'s (train_commands.cc), run with
// the recorded spec text and overrides and without tracking; this file only
// talks to the server and prints. Not thread-safe (ApiClient is not).
#pragma once

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "training/provenance.h"
#include "training/trainer.h"

namespace slipway::cli {

struct RecordedTraining {
  std::string run_id;
  std::string spec_source;             // the spec's file name when it was trained
  std::string spec_text;               // the run's spec.yaml
  std::string spec_sha256;             // as recorded ("" on runs from before it was)
  std::vector<std::string> overrides;  // as recorded
  bool overrides_recorded = false;     // runs from before they were have none
  std::string dataset;                 // name@version trained on
  std::string dataset_sha256;
  std::string seed;
  // Versions the run was trained with, by tag (slipway.version,
  // slipway.library.xgboost, slipway.library.eigen), where recorded.
  std::map<std::string, std::string> versions;
  // The run's model folder (artifacts under model/), digests by file name.
  std::map<std::string, std::string> model_digests;

  // The overrides a retraining applies over spec_text: the recorded ones,
  // then data=<the version trained on> and seed=<the seed used>.
  std::vector<std::string> RetrainOverrides() const;
};

// INVALID_PARAMETER_VALUE naming what is missing when the run is not one
// `slipway train` made (no spec.yaml, no slipway.dataset tag, no model).
RecordedTraining FetchRecordedTraining(ApiClient& client, const std::string& run_id);

// Prints one line per file (match / MISMATCH, both digests) to `out`, and
// each version that differs from this build's (a likely cause); true when
// every file matches.
bool ReportReproduction(const RecordedTraining& recorded,
                        const std::vector<training::ModelFile>& reproduced, std::ostream& out);

}  // namespace slipway::cli
