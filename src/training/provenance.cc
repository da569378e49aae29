#include "training/provenance.h"

#include <fmt/format.h>
#include <xgboost/c_api.h>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "core/sha256.h"

namespace slipway::training {

std::string SlipwayVersion() { return SLIPWAY_VERSION_STRING; }

std::string XgboostVersion() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return fmt::format("{}.{}.{}", major, minor, patch);
}

std::string EigenVersion() {
  return fmt::format("{}.{}.{}", EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION);
}

Provenance BuildProvenance() {
  Provenance p;
  p.slipway_version = SlipwayVersion();
  p.xgboost_version = XgboostVersion();
  p.eigen_version = EigenVersion();
  return p;
}

std::vector<std::pair<std::string, std::string>> ProvenanceTags(const Provenance& p) {
  std::vector<std::pair<std::string, std::string>> tags = {
      {kSpecDigestTag, p.spec_sha256},
      {kOverridesTag, nlohmann::json(p.overrides).dump()},
      {kDatasetTag, p.dataset},
      {kDatasetDigestTag, p.dataset_sha256},
      {"slipway.version", p.slipway_version},
      {"slipway.library.xgboost", p.xgboost_version},
      {"slipway.library.eigen", p.eigen_version},
  };
  if (p.git_commit) {
    tags.emplace_back(kGitCommitTag, *p.git_commit);
    tags.emplace_back("mlflow.source.git.commit", *p.git_commit);
  }
  return tags;
}

std::map<std::string, std::string> ModelFileDigests(const std::vector<ModelFile>& files) {
  std::map<std::string, std::string> digests;
  for (const ModelFile& file : files)
    if (file.name != "MLmodel") digests[file.name] = Sha256::Hex(file.bytes);
  return digests;
}

std::vector<FileMatch> CompareModelFiles(const std::map<std::string, std::string>& recorded,
                                         const std::map<std::string, std::string>& reproduced) {
  std::map<std::string, FileMatch> by_name;
  for (const auto& [name, digest] : recorded) {
    by_name[name].name = name;
    by_name[name].recorded = digest;
  }
  for (const auto& [name, digest] : reproduced) {
    by_name[name].name = name;
    by_name[name].reproduced = digest;
  }
  std::vector<FileMatch> out;
  for (auto& [name, match] : by_name) out.push_back(std::move(match));
  return out;
}

}  // namespace slipway::training
