#include "http/artifact_routes.h"

#include <memory>
#include <optional>

#include "core/error.h"
#include "http/json_codec.h"
#include "http/route_helpers.h"
#include "tracking/promptlab.h"

namespace slipway::http {
namespace {

constexpr const char* kApi = "/api/2.0/mlflow";
constexpr std::string_view kArtifactsScheme = "mlflow-artifacts:";

// "mlflow-artifacts:/1/abc/artifacts" -> "1/abc/artifacts"; other schemes
// are not stored by this server.
std::optional<std::string> ArtifactPathOf(const std::string& uri) {
  if (uri.rfind(kArtifactsScheme, 0) != 0) return std::nullopt;
  std::string rest = uri.substr(kArtifactsScheme.size());
  while (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
  return rest;
}

// As ArtifactPathOf, for files this server must serve: another scheme is
// INVALID_PARAMETER_VALUE naming `owner` (the run, model or version).
std::string StoredArtifactRoot(const std::string& uri, const std::string& owner) {
  std::optional<std::string> root = ArtifactPathOf(uri);
  if (!root) {
    ThrowInvalid("The artifacts of " + owner + " are not stored by this server (" + uri + ").");
  }
  return *root;
}

std::string JoinPath(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
}

std::string QueryParam(const Request& req, const char* key) {
  return req.has_param(key) ? req.get_param_value(key) : "";
}

Json FileInfos(const std::vector<tracking::ArtifactEntry>& entries, const std::string& prefix) {
  Json files = Json::array();
  for (const auto& entry : entries) {
    Json file = {{"path", JoinPath(prefix, entry.path)}, {"is_dir", entry.is_dir}};
    if (!entry.is_dir) file["file_size"] = entry.file_size;
    files.push_back(std::move(file));
  }
  return files;
}

// MLflow's ListArtifacts reply: `root_uri`, and `files` unless empty.
Json ListingOf(const std::string& root_uri, tracking::ArtifactStore& artifacts,
               const std::string& path) {
  Json reply = {{"root_uri", root_uri}};
  if (auto root = ArtifactPathOf(root_uri)) {
    Json files = FileInfos(artifacts.List(JoinPath(*root, path)), path);
    if (!files.empty()) reply["files"] = std::move(files);
  }
  return reply;
}

// Types a browser may show as text; anything else downloads as bytes.
std::string ContentTypeOf(const std::string& path) {
  const std::string name = path.substr(path.find_last_of('/') + 1);
  const size_t dot = name.find_last_of('.');
  const std::string ext = dot == std::string::npos ? "" : name.substr(dot + 1);
  if (name == "MLmodel" || name == "MLproject") return "text/plain; charset=utf-8";
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {"txt", "text/plain; charset=utf-8"},
      {"log", "text/plain; charset=utf-8"},
      {"yaml", "text/plain; charset=utf-8"},
      {"yml", "text/plain; charset=utf-8"},
      {"py", "text/plain; charset=utf-8"},
      {"md", "text/plain; charset=utf-8"},
      {"csv", "text/csv; charset=utf-8"},
      {"json", "application/json"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"svg", "image/svg+xml"},
      {"html", "text/plain; charset=utf-8"},
  };
  for (const auto& [known, type] : kTypes) {
    if (ext == known) return std::string(type);
  }
  return "application/octet-stream";
}

// Streams the artifact at `relative` (under the artifact root) as an
// attachment, as MLflow does, so that a browser never renders it as a page of
// this server (HTML and SVG artifacts could otherwise run script here).
void SendArtifact(Response& res, tracking::ArtifactStore& artifacts, const std::string& relative) {
  // Shared because a ContentProvider must be copyable; the reader stays on
  // the version it opened while the reply is written, piece by piece, on an
  // I/O thread.
  std::shared_ptr<blob::BlobReader> reader = artifacts.Open(relative);
  std::string name = relative.substr(relative.find_last_of('/') + 1);
  std::string quoted;
  for (char c : name) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = '_';
    quoted += c;
  }
  res.set_header("Content-Disposition", "attachment; filename=\"" + quoted + "\"");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content_provider(reader->info().size, ContentTypeOf(relative),
                           [reader](uint64_t offset, size_t max, std::string* out) {
                             try {
                               return reader->ReadAt(offset, max, *out) > 0;
                             } catch (const Error&) {
                               return false;  // the server logs it and closes the connection
                             }
                           });
}

// The files of runs, logged models and model versions, as MLflow's server
// and UI read them: each is reached through its owner (READ on its
// experiment or registered model), and then through the path it is stored
// under, checked again as the physical location it is.
void AddOwnedArtifactRoutes(HttpServer& server, tracking::TrackingService& tracking,
                            registry::RegistryService& registry,
                            tracking::ArtifactStore& artifacts) {
  server.Get(std::string(kApi) + "/artifacts/list",
             RouteSpec("artifacts/list").Needs(kExperiment, kRead),
             [&tracking, &artifacts](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               std::string path = tracking::CheckRequestedPath(fields.OptionalString("path"));
               tracking::Run run = tracking.GetRun(fields.Has("run_uuid") && !fields.Has("run_id")
                                                       ? fields.RequiredString("run_uuid")
                                                       : fields.RequiredString("run_id"));
               Reply(res, ListingOf(run.info.artifact_uri, artifacts, path));
             });
  // The UI's download link of a run's file.
  server.Get("/get-artifact", RouteSpec("get-artifact").Needs(kExperiment, kRead),
             [&tracking, &artifacts](const Request& req, Response& res) {
               std::string run_id = QueryParam(req, "run_id");
               if (run_id.empty()) run_id = QueryParam(req, "run_uuid");
               if (!req.has_param("path"))
                 ThrowInvalid("Missing value for required parameter 'path'.");
               std::string path = tracking::CheckRequestedPath(QueryParam(req, "path"));
               if (run_id.empty()) ThrowInvalid("Missing value for required parameter 'run_id'.");
               tracking::Run run = tracking.GetRun(run_id);
               std::string file = JoinPath(
                   StoredArtifactRoot(run.info.artifact_uri, "run '" + run_id + "'"), path);
               tracking.AuthorizeArtifactPath(file, kRead);
               SendArtifact(res, artifacts, file);
             });
  server.Get("/model-versions/get-artifact",
             RouteSpec("model-versions/get-artifact").Needs(kRegisteredModel, kRead),
             [&registry, &artifacts](const Request& req, Response& res) {
               if (!req.has_param("path"))
                 ThrowInvalid("Missing value for required parameter 'path'.");
               std::string path = tracking::CheckRequestedPath(QueryParam(req, "path"));
               std::string name = QueryParam(req, "name");
               std::string version = QueryParam(req, "version");
               std::string uri = registry.ResolveArtifactUri(name, version);
               std::string owner = "model version '" + name + "' version " + version;
               SendArtifact(res, artifacts, JoinPath(StoredArtifactRoot(uri, owner), path));
             });

  // The files of a model version, listed where its files are read from
  // above (READ on the registered model, whoever owns the run or logged
  // model behind it): Slipway's UI lists a version's files this way.
  server.Get("/api/v1/models/([^/]+)/versions/([^/]+)/files",
             RouteSpec("models/files").Needs(kRegisteredModel, kRead),
             [&registry, &artifacts](const Request& req, Response& res) {
               std::string path = tracking::CheckRequestedPath(QueryParam(req, "path"));
               const std::string& name = req.matches[1];
               const std::string& version = req.matches[2];
               std::string uri = registry.ResolveArtifactUri(name, version);
               StoredArtifactRoot(uri, "model '" + name + "' version " + version);
               Reply(res, ListingOf(uri, artifacts, path));
             });

  const std::string model = std::string(kApi) + "/logged-models/([^/]+)/artifacts";
  server.Get(
      model + "/directories", RouteSpec("logged-models/list-artifacts").Needs(kExperiment, kRead),
      [&tracking, &artifacts](const Request& req, Response& res) {
        std::string path = tracking::CheckRequestedPath(QueryParam(req, "artifact_directory_path"));
        tracking::LoggedModel found = tracking.GetLoggedModel(req.matches[1]);
        if (auto root = ArtifactPathOf(found.artifact_uri)) {
          tracking.AuthorizeArtifactPath(JoinPath(*root, path), kRead);
        }
        Reply(res, ListingOf(found.artifact_uri, artifacts, path));
      });
  // MLflow serves this one under /ajax-api only (its UI's file viewer).
  server.Get(model + "/files", RouteSpec("logged-models/get-artifact").Needs(kExperiment, kRead),
             [&tracking, &artifacts](const Request& req, Response& res) {
               std::string path = QueryParam(req, "artifact_file_path");
               if (path.empty()) {
                 throw Error(ErrorCode::kBadRequest,
                             "Request must include the \"artifact_file_path\" query parameter.");
               }
               path = tracking::CheckRequestedPath(path);
               tracking::LoggedModel found = tracking.GetLoggedModel(req.matches[1]);
               std::string file = JoinPath(
                   StoredArtifactRoot(found.artifact_uri, "logged model '" + found.model_id + "'"),
                   path);
               tracking.AuthorizeArtifactPath(file, kRead);
               SendArtifact(res, artifacts, file);
             });

  // MLflow's UI uploads a file to a run this way (MLflow serves it under
  // /ajax-api only): the body is the file, at most 10 MB.
  server.Post(std::string(kApi) + "/upload-artifact",
              RouteSpec("upload-artifact").Needs(kExperiment, kEdit).BodyLimit(10 << 20),
              [&tracking, &artifacts](const Request& req, Response& res) {
                const std::string run_id = QueryParam(req, "run_uuid");
                if (run_id.empty()) ThrowInvalid("Request must specify run_uuid.");
                std::string path = QueryParam(req, "path");
                if (path.empty()) ThrowInvalid("Request must specify path.");
                // MLflow's check of the path as given, before it is put under
                // the run's artifacts (where the store checks the whole path
                // again).
                path = tracking::CheckRequestedPath(path);
                if (req.body.empty()) ThrowInvalid("Request must specify data.");
                const tracking::Run run = tracking.GetRun(run_id);
                std::string file = JoinPath(
                    StoredArtifactRoot(run.info.artifact_uri, "run '" + run_id + "'"), path);
                tracking.AuthorizeArtifactPath(file, kEdit);
                artifacts.Write(file, [&](const auto& sink) {
                  sink(req.body.data(), req.body.size());
                  return true;
                });
                Reply(res, Json::object());
              });
}

std::vector<tracking::Param> KeyValueList(const RequestFields& fields, const char* key) {
  std::vector<tracking::Param> out;
  for (const RequestFields& item : fields.ObjectList(key)) {
    // Values may come as numbers (model parameters): kept as their JSON text.
    out.push_back(
        {item.RequiredString("key"), item.Has("value") ? item.OptionalString("value") : ""});
  }
  return out;
}

// MLflow's prompt engineering UI saves a prompt it tried as a run with a
// result table (an artifact), so it sits with the artifact routes. MLflow
// serves it under /ajax-api only.
void AddPromptlabRoute(HttpServer& server, tracking::TrackingService& tracking,
                       tracking::ArtifactStore& artifacts) {
  server.Post(std::string(kApi) + "/runs/create-promptlab-run",
              RouteSpec("runs/create-promptlab-run").Needs(kExperiment, kEdit),
              [&tracking, &artifacts](const Request& req, Response& res) {
                Json body = RequestJson(req);
                // Parameter values may be numbers: take them as their text.
                for (const char* list :
                     {"prompt_parameters", "model_parameters", "model_output_parameters", "tags"}) {
                  auto items = body.find(list);
                  if (items == body.end() || !items->is_array()) continue;
                  for (Json& item : *items) {
                    auto value = item.is_object() ? item.find("value") : item.end();
                    if (item.is_object() && value != item.end() && !value->is_string() &&
                        !value->is_null()) {
                      *value = value->dump();
                    }
                  }
                }
                RequestFields fields(body);
                tracking::PromptlabRequest request;
                request.experiment_id = fields.OptionalString("experiment_id");
                request.run_name = fields.OptionalString("run_name");
                request.tags = fields.Tags("tags");
                request.prompt_template = fields.OptionalString("prompt_template");
                request.prompt_parameters = KeyValueList(fields, "prompt_parameters");
                request.model_route = fields.OptionalString("model_route");
                request.model_parameters = KeyValueList(fields, "model_parameters");
                request.model_input = fields.OptionalString("model_input");
                request.model_output = fields.OptionalString("model_output");
                request.model_output_parameters = KeyValueList(fields, "model_output_parameters");
                request.mlflow_version = fields.OptionalString("mlflow_version");
                request.user_id = fields.OptionalString("user_id");
                request.start_time = fields.OptionalInt("start_time");
                tracking::Run run = tracking::CreatePromptlabRun(tracking, artifacts, request);
                Reply(res, {{"run", ToJson(run)}});
              });
}

// The mlflow-artifacts proxy: paths under the artifact root, whose first
// segment is the experiment that owns them.
void AddProxyRoutes(HttpServer& server, tracking::TrackingService& tracking,
                    tracking::ArtifactStore& artifacts) {
  const std::string proxy = "/api/2.0/mlflow-artifacts/artifacts";
  server.Get(proxy, RouteSpec("mlflow-artifacts/list").Needs(kExperiment, kRead),
             [&tracking, &artifacts](const Request& req, Response& res) {
               std::string path = QueryParam(req, "path");
               tracking.AuthorizeArtifactPath(path, kRead);
               Json files = FileInfos(artifacts.List(path), "");
               Json reply = Json::object();
               if (!files.empty()) reply["files"] = std::move(files);
               Reply(res, reply);
             });
  server.Get(proxy + "/(.+)", RouteSpec("mlflow-artifacts/download").Needs(kExperiment, kRead),
             [&tracking, &artifacts](const Request& req, Response& res) {
               tracking.AuthorizeArtifactPath(req.matches[1], kRead);
               SendArtifact(res, artifacts, req.matches[1]);
             });
  server.PutStream(
      proxy + "/(.+)", RouteSpec("mlflow-artifacts/upload").Needs(kExperiment, kEdit),
      [&tracking, &artifacts](const Request& req, Response& res, const BodyReader& reader) {
        tracking.AuthorizeArtifactPath(req.matches[1], kEdit);
        artifacts.Write(req.matches[1], [&](const auto& sink) {
          return reader([&](const char* data, size_t length) {
            sink(data, length);
            return true;
          });
        });
        Reply(res, Json::object());
      });
  server.Delete(proxy + "/(.+)", RouteSpec("mlflow-artifacts/delete").Needs(kExperiment, kManage),
                [&tracking, &artifacts](const Request& req, Response& res) {
                  tracking.AuthorizeArtifactPath(req.matches[1], kManage);
                  artifacts.Delete(req.matches[1]);
                  Reply(res, Json::object());
                });
}

// The artifact a multipart upload request names: the folder of its URL
// and the file name of the client's `path` (its local file, as MLflow's
// client sends it and MLflow's server reads it).
std::string MultipartArtifact(const Request& req, const RequestFields& fields) {
  const std::string local = fields.RequiredString("path");
  const std::string name = local.substr(local.find_last_of('/') + 1);
  if (name.empty()) {
    ThrowInvalid("Invalid value '" + local + "' for 'path': it names no file");
  }
  return JoinPath(req.matches[1], name);
}

// MLflow's proxied multipart upload (mlflow-artifacts/mpu/...): with a
// bucket as the artifact root, the client PUTs the parts straight to S3
// by presigned URLs and the server only begins, completes or aborts the
// upload; elsewhere NOT_IMPLEMENTED with MLflow's message, on which its
// client uploads through the proxy instead. Each is a write of the
// artifact it names (EDIT on its experiment).
void AddMultipartRoutes(HttpServer& server, tracking::TrackingService& tracking,
                        tracking::ArtifactStore& artifacts) {
  const std::string mpu = "/api/2.0/mlflow-artifacts/mpu";
  server.Post(
      mpu + "/create/(.+)", RouteSpec("mlflow-artifacts/mpu/create").Needs(kExperiment, kEdit),
      [&tracking, &artifacts](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        const std::string file = MultipartArtifact(req, fields);
        tracking.AuthorizeArtifactPath(file, kEdit);
        const blob::DirectUpload upload =
            artifacts.CreateMultipartUpload(file, fields.OptionalInt("num_parts").value_or(1));
        Json credentials = Json::array();
        for (const blob::DirectPart& part : upload.parts) {
          Json credential = {{"url", part.url}, {"part_number", part.number}};
          if (!part.headers.empty()) credential["headers"] = part.headers;
          credentials.push_back(std::move(credential));
        }
        Reply(res, {{"upload_id", upload.upload_id}, {"credentials", credentials}});
      });
  server.Post(mpu + "/complete/(.+)",
              RouteSpec("mlflow-artifacts/mpu/complete").Needs(kExperiment, kEdit),
              [&tracking, &artifacts](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                const std::string file = MultipartArtifact(req, fields);
                if (!fields.Has("parts")) {
                  ThrowInvalid("Missing value for required parameter 'parts'.");
                }
                std::vector<blob::UploadedPart> parts;
                for (const RequestFields& part : fields.ObjectList("parts")) {
                  const int64_t number = part.RequiredInt("part_number");
                  if (number < 1 || number > 10000) {
                    ThrowInvalid("Invalid value " + std::to_string(number) +
                                 " for 'parts.part_number': parts are numbered 1 to 10000");
                  }
                  parts.push_back(
                      {.number = static_cast<int>(number), .etag = part.OptionalString("etag")});
                }
                tracking.AuthorizeArtifactPath(file, kEdit);
                artifacts.CompleteMultipartUpload(file, fields.OptionalString("upload_id"), parts);
                Reply(res, Json::object());
              });
  server.Post(mpu + "/abort/(.+)",
              RouteSpec("mlflow-artifacts/mpu/abort").Needs(kExperiment, kEdit),
              [&tracking, &artifacts](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                const std::string file = MultipartArtifact(req, fields);
                tracking.AuthorizeArtifactPath(file, kEdit);
                artifacts.AbortMultipartUpload(file, fields.OptionalString("upload_id"));
                Reply(res, Json::object());
              });
}

}  // namespace

void AddArtifactRoutes(HttpServer& server, tracking::TrackingService& tracking,
                       registry::RegistryService& registry, tracking::ArtifactStore& artifacts) {
  AddOwnedArtifactRoutes(server, tracking, registry, artifacts);
  AddProxyRoutes(server, tracking, artifacts);
  AddMultipartRoutes(server, tracking, artifacts);
  AddPromptlabRoute(server, tracking, artifacts);
}

Json ArtifactListing(const std::string& root_uri, tracking::ArtifactStore& artifacts,
                     const std::string& path) {
  return ListingOf(root_uri, artifacts, path);
}

}  // namespace slipway::http
