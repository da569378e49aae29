// What a trained model was made from and with, and whether a retraining made
// the same files: the lineage `slipway train` records on its run and writes
// into the model card, and the comparison `slipway train --reproduce` prints.
//
// A training is a function of its spec (the file's text and the --set
// overrides), the dataset version's content and the seed: XGBoost's hist
// method gives the same trees on any number of threads, the linear models
// are solved single-threaded by Eigen, and every JSON file is written with
// sorted keys and no time in it. So the model's files are identical byte for
// byte when those are, on the same versions of Slipway and its libraries,
// which the run records too. MLmodel is the exception: it names the run and
// the time it was made, so it is not compared.
//
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "training/trainer.h"

namespace slipway::training {

struct Provenance {
  std::string spec_sha256;                // of the spec file's text
  std::vector<std::string> overrides;     // --set key=value and data=... (--data), in order
  std::string dataset;                    // name@version
  std::string dataset_sha256;             // the version's content digest
  std::optional<std::string> git_commit;  // of the spec's working tree, when it is one
  std::string slipway_version;
  std::string xgboost_version;
  std::string eigen_version;
};

// The versions of this build: Slipway's, and of the libraries it trains with.
std::string SlipwayVersion();
std::string XgboostVersion();  // of the libxgboost loaded
std::string EigenVersion();    // of the headers compiled in

// Provenance without the spec and data fields: this build's versions.
Provenance BuildProvenance();

// Tag keys of a training run.
inline constexpr const char* kSpecDigestTag = "slipway.spec.sha256";
inline constexpr const char* kOverridesTag = "slipway.spec.overrides";  // a JSON list
inline constexpr const char* kDatasetTag = "slipway.dataset";
inline constexpr const char* kDatasetDigestTag = "slipway.dataset.sha256";
inline constexpr const char* kGitCommitTag = "slipway.git.commit";
inline constexpr const char* kModelDigestTagPrefix = "slipway.model.sha256.";

// The run's tags for `p`: the keys above, slipway.version,
// slipway.library.xgboost and .eigen, and MLflow's mlflow.source.git.commit.
std::vector<std::pair<std::string, std::string>> ProvenanceTags(const Provenance& p);

// SHA-256 (hex) of each of the model folder's files but MLmodel, by name.
std::map<std::string, std::string> ModelFileDigests(const std::vector<ModelFile>& files);

// One file of a model folder, recorded and reproduced.
struct FileMatch {
  std::string name;
  std::string recorded;    // digest; "" when the run has no such file
  std::string reproduced;  // digest; "" when the retraining made none
  bool match() const { return !recorded.empty() && recorded == reproduced; }
};

// Every file of either side, by name.
std::vector<FileMatch> CompareModelFiles(const std::map<std::string, std::string>& recorded,
                                         const std::map<std::string, std::string>& reproduced);

}  // namespace slipway::training
