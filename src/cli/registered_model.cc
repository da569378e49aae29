#include "cli/registered_model.h"

#include <fstream>

#include "cli/cli_support.h"
#include "core/error.h"
#include "core/sha256.h"
#include "serving/serving_service.h"

namespace slipway::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Copies the files under artifact folder `path` of a run or logged model
// (as the artifact proxy lists them) into `to`.
void DownloadFolder(ApiClient& client, const std::string& root, const std::string& path,
                    const fs::path& to) {
  json listing = client.Get("/api/2.0/mlflow-artifacts/artifacts",
                            {{"path", root + (path.empty() ? "" : "/" + path)}});
  for (const json& file : ArrayField(listing, "files")) {
    std::string name = StringField(file, "path");
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
      throw Error(ErrorCode::kInvalidParameterValue, "the server listed an artifact named '" +
                                                         name + "', which Slipway will not write");
    }
    std::string child = path.empty() ? name : path + "/" + name;
    if (Field(file, "is_dir").is_boolean() && Field(file, "is_dir").get<bool>()) {
      fs::create_directories(to / name);
      DownloadFolder(client, root, child, to / name);
      continue;
    }
    std::string bytes =
        client.GetText("/api/2.0/mlflow-artifacts/artifacts/" + root + "/" + child, {}, "*/*");
    std::ofstream out(to / name, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw Error(ErrorCode::kInternalError, "could not write " + (to / name).string());
  }
}

}  // namespace

RegisteredModel FetchRegisteredModel(ApiClient& client, const std::string& reference,
                                     const fs::path& cache) {
  serving::ModelRef ref = serving::ModelRef::Parse(reference);
  json found;
  if (!ref.alias.empty()) {
    found =
        client.Get(Endpoint("registered-models/alias"), {{"name", ref.name}, {"alias", ref.alias}});
  } else if (!ref.version.empty()) {
    found =
        client.Get(Endpoint("model-versions/get"), {{"name", ref.name}, {"version", ref.version}});
  } else {
    json body = {{"name", ref.name}};
    if (ref.stage != "latest") body["stages"] = json::array({ref.stage});
    json latest = client.Post(Endpoint("registered-models/get-latest-versions"), body);
    const json& versions = ArrayField(latest, "model_versions");
    if (versions.empty()) ThrowNotFound("no version of '" + ref.name + "' matches " + reference);
    found = {{"model_version", versions.back()}};
  }
  RegisteredModel out;
  out.model_version = Field(found, "model_version");
  const json& mv = out.model_version;
  out.name = StringField(mv, "name");
  out.version = StringField(mv, "version");
  json uri = client.Get(Endpoint("model-versions/get-download-uri"),
                        {{"name", out.name}, {"version", out.version}});
  std::string location = StringField(uri, "artifact_uri");
  if (location.rfind("runs:/", 0) == 0) {
    std::string rest = location.substr(6);
    std::string run_id = rest.substr(0, rest.find('/'));
    std::string sub = rest.find('/') == std::string::npos ? "" : rest.substr(rest.find('/') + 1);
    json run = client.Get(Endpoint("runs/get"), {{"run_id", run_id}});
    location = StringField(Field(Field(run, "run"), "info"), "artifact_uri") +
               (sub.empty() ? "" : "/" + sub);
  }
  const std::string scheme = "mlflow-artifacts:";
  if (location.rfind(scheme, 0) != 0) {
    throw Error(ErrorCode::kNotImplemented,
                "the model's files are at '" + location +
                    "', which is not behind the server's artifact proxy; download them and "
                    "serve the folder");
  }
  std::string root = location.substr(scheme.size());
  while (!root.empty() && root.front() == '/') root.erase(0, 1);
  out.dir = cache / (Sha256::Hex(client.uri() + '\n' + out.name + '\n' + out.version + '\n' + root)
                         .substr(0, 32));
  if (fs::exists(out.dir / "MLmodel")) return out;
  fs::path staging = out.dir.string() + ".partial";
  fs::remove_all(staging);
  fs::create_directories(staging);
  DownloadFolder(client, root, "", staging);
  fs::remove_all(out.dir);
  fs::rename(staging, out.dir);
  return out;
}

}  // namespace slipway::cli
