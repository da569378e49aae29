#include "cli/train_reproduce.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/cli_support.h"
#include "cli/tracked_run.h"
#include "core/error.h"
#include "core/sha256.h"

namespace slipway::cli {
namespace {

using nlohmann::json;

// Every file of the run's artifact folder `folder`, by path relative to it.
std::map<std::string, std::string> ArtifactsUnder(ApiClient& client, const std::string& run_id,
                                                  const std::string& root,
                                                  const std::string& folder) {
  std::map<std::string, std::string> files;
  std::vector<std::string> pending = {folder};
  while (!pending.empty()) {
    const std::string at = pending.back();
    pending.pop_back();
    const json reply = client.Get(Endpoint("artifacts/list"), {{"run_id", run_id}, {"path", at}});
    if (!reply.contains("files")) continue;
    for (const json& file : reply.at("files")) {
      const std::string path = StringField(file, "path");
      if (file.value("is_dir", false)) {
        pending.push_back(path);
        continue;
      }
      files[path.substr(folder.size() + 1)] =
          client.GetText("/api/2.0/mlflow-artifacts/artifacts/" + root + "/" + path, {},
                         "application/octet-stream");
    }
  }
  return files;
}

}  // namespace

std::vector<std::string> RecordedTraining::RetrainOverrides() const {
  std::vector<std::string> out = overrides;
  out.push_back("data=" + dataset);
  if (!seed.empty()) out.push_back("seed=" + seed);
  return out;
}

RecordedTraining FetchRecordedTraining(ApiClient& client, const std::string& run_id) {
  const json run = Field(client.Get(Endpoint("runs/get"), {{"run_id", run_id}}), "run");
  RecordedTraining r;
  r.run_id = run_id;
  std::map<std::string, std::string> tags, params;
  if (run.contains("data")) {
    const json& data = run.at("data");
    if (data.contains("tags"))
      for (const json& t : data.at("tags")) tags[t.at("key")] = t.at("value");
    if (data.contains("params"))
      for (const json& p : data.at("params")) params[p.at("key")] = p.at("value");
  }
  auto tag = [&](const std::string& key) {
    const auto found = tags.find(key);
    return found == tags.end() ? std::string() : found->second;
  };
  r.dataset = tag(training::kDatasetTag);
  if (r.dataset.empty()) {
    ThrowInvalid("run " + run_id + " has no " + std::string(training::kDatasetTag) +
                 " tag: it was not made by slipway train, or did not finish");
  }
  r.dataset_sha256 = tag(training::kDatasetDigestTag);
  r.spec_sha256 = tag(training::kSpecDigestTag);
  r.spec_source = tag("slipway.spec");
  if (r.spec_source.empty()) r.spec_source = "spec.yaml";  // the artifact's name
  if (tags.count(training::kOverridesTag)) {
    r.overrides = json::parse(tags.at(training::kOverridesTag)).get<std::vector<std::string>>();
    r.overrides_recorded = true;
  }
  if (params.count("seed")) r.seed = params.at("seed");
  for (const auto& [key, value] : training::ProvenanceTags(training::BuildProvenance())) {
    if (key.rfind("slipway.version", 0) == 0 || key.rfind("slipway.library.", 0) == 0) {
      if (tags.count(key)) r.versions[key] = tags.at(key);
    }
  }

  const json& info = Field(run, "info");
  const std::string root = ArtifactRoot(info, run_id);
  try {
    r.spec_text = client.GetText("/api/2.0/mlflow-artifacts/artifacts/" + root + "/spec.yaml", {},
                                 "application/octet-stream");
  } catch (const Error& error) {
    ThrowInvalid("run " + run_id + " has no spec.yaml artifact: " + error.what());
  }
  std::vector<training::ModelFile> files;
  for (auto& [name, bytes] : ArtifactsUnder(client, run_id, root, "model"))
    files.push_back({name, std::move(bytes)});
  r.model_digests = training::ModelFileDigests(files);
  if (r.model_digests.empty()) ThrowInvalid("run " + run_id + " has no model/ artifacts");
  return r;
}

bool ReportReproduction(const RecordedTraining& recorded,
                        const std::vector<training::ModelFile>& reproduced, std::ostream& out) {
  const auto matches =
      training::CompareModelFiles(recorded.model_digests, training::ModelFileDigests(reproduced));
  bool all = true;
  out << fmt::format("\nreproduce run {}: model files (sha256)\n", recorded.run_id);
  for (const training::FileMatch& m : matches) {
    all = all && m.match();
    const std::string state = m.match()              ? "match"
                              : m.recorded.empty()   ? "MISMATCH (not in the run)"
                              : m.reproduced.empty() ? "MISMATCH (not made again)"
                                                     : "MISMATCH";
    out << fmt::format("  {:<24} {}\n", m.name, state);
    out << fmt::format("    recorded   {}\n    reproduced {}\n",
                       m.recorded.empty() ? "-" : m.recorded,
                       m.reproduced.empty() ? "-" : m.reproduced);
  }
  for (const auto& [key, value] : training::ProvenanceTags(training::BuildProvenance())) {
    const auto recorded_value = recorded.versions.find(key);
    if (recorded_value != recorded.versions.end() && recorded_value->second != value) {
      out << fmt::format("  {}: {} when trained, {} here\n", key, recorded_value->second, value);
    }
  }
  out << fmt::format(
      "reproduce {}: {} of {} files identical\n", all ? "MATCH" : "MISMATCH",
      [&] {
        size_t n = 0;
        for (const auto& m : matches) n += m.match();
        return n;
      }(),
      matches.size());
  return all;
}

}  // namespace slipway::cli
