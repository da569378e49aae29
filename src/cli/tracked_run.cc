#include "cli/tracked_run.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "cli/cli_support.h"
#include "core/clock.h"
#include "core/error.h"

namespace slipway::cli {

using nlohmann::json;

TrackedRun::TrackedRun(const std::string& uri, const std::string& experiment_id,
                       const std::string& run_name, const json& tags, int64_t start_time)
    : client_(uri) {
  json body = {{"experiment_id", experiment_id}, {"start_time", start_time}};
  if (!run_name.empty()) body["run_name"] = run_name;
  if (!tags.empty()) body["tags"] = tags;
  Open(Field(Field(client_.Post(Endpoint("runs/create"), body), "run"), "info"));
}

TrackedRun::TrackedRun(const std::string& uri, const std::string& run_id) : client_(uri) {
  Open(Field(Field(client_.Get(Endpoint("runs/get"), {{"run_id", run_id}}), "run"), "info"));
  client_.Post(Endpoint("runs/update"), {{"run_id", run_id_}, {"status", "RUNNING"}});
}

TrackedRun::~TrackedRun() {
  if (finished_) return;
  try {
    End("FAILED");
  } catch (const Error&) {
    // The command's own error is what the user needs to see.
  }
}

void TrackedRun::Log(const json& params, const json& metrics, const json& tags) {
  // MLflow's limits per batch: 100 params, 1000 metrics.
  for (size_t i = 0; i < params.size(); i += 100) {
    json batch(params.begin() + i, params.begin() + std::min(params.size(), i + 100));
    client_.Post(Endpoint("runs/log-batch"), {{"run_id", run_id_}, {"params", batch}});
  }
  for (size_t i = 0; i < metrics.size(); i += 1000) {
    json batch(metrics.begin() + i, metrics.begin() + std::min(metrics.size(), i + 1000));
    client_.Post(Endpoint("runs/log-batch"), {{"run_id", run_id_}, {"metrics", batch}});
  }
  if (!tags.empty())
    client_.Post(Endpoint("runs/log-batch"), {{"run_id", run_id_}, {"tags", tags}});
}

void TrackedRun::LogInput(const json& dataset, const std::string& context) {
  client_.Post(Endpoint("runs/log-inputs"),
               {{"run_id", run_id_},
                {"datasets",
                 {{{"tags", {{{"key", "mlflow.data.context"}, {"value", context}}}},
                   {"dataset", dataset}}}}});
}

void TrackedRun::PutArtifact(const std::string& path, const std::string& bytes) {
  client_.Put("/api/2.0/mlflow-artifacts/artifacts/" + artifact_root_ + "/" + path, bytes);
}

void TrackedRun::Finish() {
  End("FINISHED");
  finished_ = true;
}

void TrackedRun::Stop() {
  End("KILLED");
  finished_ = true;
}

void TrackedRun::Open(const json& info) {
  run_id_ = StringField(info, "run_id");
  const std::string artifact_uri = StringField(info, "artifact_uri");
  const std::string scheme = "mlflow-artifacts:";
  if (artifact_uri.rfind(scheme, 0) != 0) {
    ThrowInvalid("run " + run_id_ + " keeps artifacts at '" + artifact_uri +
                 "', which is not behind this server's artifact proxy");
  }
  artifact_root_ = artifact_uri.substr(scheme.size());
  while (!artifact_root_.empty() && artifact_root_.front() == '/') artifact_root_.erase(0, 1);
}

void TrackedRun::End(const std::string& status) {
  client_.Post(Endpoint("runs/update"),
               {{"run_id", run_id_}, {"status", status}, {"end_time", NowMillis()}});
}

std::string ExperimentId(ApiClient& client, const std::string& experiment) {
  try {
    return StringField(
        Field(client.Get(Endpoint("experiments/get-by-name"), {{"experiment_name", experiment}}),
              "experiment"),
        "experiment_id");
  } catch (const Error& error) {
    if (error.code() != ErrorCode::kResourceDoesNotExist) throw;
    return StringField(client.Post(Endpoint("experiments/create"), {{"name", experiment}}),
                       "experiment_id");
  }
}

json Metric(const std::string& key, double value, int64_t step) {
  return {{"key", key}, {"value", value}, {"timestamp", NowMillis()}, {"step", step}};
}

json KeyValue(const std::string& key, const std::string& value) {
  return {{"key", key}, {"value", value}};
}

// The files of a run's artifact folder `path`, written under `dir`.
std::string ArtifactRoot(const json& info, const std::string& run_id) {
  const std::string artifact_uri = StringField(info, "artifact_uri");
  const std::string scheme = "mlflow-artifacts:";
  if (artifact_uri.rfind(scheme, 0) != 0) {
    ThrowInvalid("run " + run_id + " keeps artifacts at '" + artifact_uri +
                 "', which is not behind this server's artifact proxy");
  }
  std::string root = artifact_uri.substr(scheme.size());
  while (!root.empty() && root.front() == '/') root.erase(0, 1);
  return root;
}

void DownloadArtifacts(ApiClient& client, const std::string& run_id, const std::string& path,
                       const std::filesystem::path& dir) {
  const json info =
      Field(Field(client.Get(Endpoint("runs/get"), {{"run_id", run_id}}), "run"), "info");
  const std::string root = ArtifactRoot(info, run_id);
  std::vector<std::string> folders = {path};
  while (!folders.empty()) {
    const std::string folder = folders.back();
    folders.pop_back();
    const json reply =
        client.Get(Endpoint("artifacts/list"), {{"run_id", run_id}, {"path", folder}});
    if (!reply.contains("files")) continue;
    for (const json& file : reply.at("files")) {
      const std::string child = StringField(file, "path");
      if (file.value("is_dir", false)) {
        folders.push_back(child);
        continue;
      }
      const std::filesystem::path target =
          dir / std::filesystem::path(child).lexically_relative(path);
      if (target.lexically_normal().string().rfind(dir.string(), 0) != 0) {
        ThrowInvalid("artifact '" + child + "' would leave the model folder");
      }
      std::filesystem::create_directories(target.parent_path());
      std::ofstream(target, std::ios::binary)
          << client.GetText("/api/2.0/mlflow-artifacts/artifacts/" + root + "/" + child, {},
                            "application/octet-stream");
    }
  }
}

// The dataset version's rows: the version written out to a scratch file
// (the user's temporary folder; removed after) and read by CsvReader.
training::Table ReadRows(data::DatasetService& datasets, const data::DatasetVersion& version,
                         const data::DatasetProfile& profile,
                         const std::vector<std::string>& columns) {
  const std::filesystem::path scratch =
      std::filesystem::temp_directory_path() /
      fmt::format("slipway-train-{}-{}.csv", getpid(), NowMillis());
  struct Remove {
    std::filesystem::path path;
    ~Remove() {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
  } remove{scratch};
  datasets.Materialize(version, scratch);
  return training::ReadTable(scratch, profile, columns);
}

}  // namespace slipway::cli
