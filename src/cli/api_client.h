// A client for the MLflow REST API, as spoken by `slipway server` and by MLflow's own server.
//
// The CLI commands use it to read tracking data over HTTP. Each call is one blocking request
// whose JSON reply is returned as is. Every failure throws `slipway::Error`: a reply with a
// non-2xx status carries the server's `error_code` and `message`; a server that cannot be
// reached gives an error naming the URI. An ApiClient owns its connection and is not
// thread-safe; use one per thread. Credentials come from the environment, as for the mlflow
// client: MLFLOW_TRACKING_TOKEN (Bearer), else MLFLOW_TRACKING_USERNAME and
// MLFLOW_TRACKING_PASSWORD (HTTP Basic).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace httplib {
class Client;
}

namespace slipway::cli {

class ApiClient {
 public:
  using QueryParams = std::vector<std::pair<std::string, std::string>>;

  // `base_uri` is `http://host[:port][/path/prefix]`; the prefix is prepended to every request
  // path. Throws Error(kInvalidParameterValue) for any other form.
  explicit ApiClient(std::string_view base_uri);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // `path` is the API path, e.g. "/api/2.0/mlflow/runs/get"; query values are URL-encoded here.
  nlohmann::json Get(std::string_view path, const QueryParams& query = {});
  // GET for a reply that is not JSON, such as a Markdown document: its body as is. `accept` is
  // sent as the Accept header. Error replies throw as for Get.
  std::string GetText(std::string_view path, const QueryParams& query, std::string_view accept);
  nlohmann::json Post(std::string_view path, const nlohmann::json& body);
  // POST of a JSON body for a reply that is not JSON: its body as is.
  std::string PostForBytes(std::string_view path, const nlohmann::json& body);
  // DELETE with a JSON body, as MLflow's client sends it (e.g. registered-models/alias).
  nlohmann::json Delete(std::string_view path, const nlohmann::json& body);
  nlohmann::json Patch(std::string_view path, const nlohmann::json& body);
  // PUT of raw bytes (an artifact, a dataset object).
  nlohmann::json Put(std::string_view path, const std::string& bytes,
                     std::string_view content_type = "application/octet-stream");

  const std::string& uri() const { return uri_; }

 private:
  std::string uri_;
  std::string path_prefix_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace slipway::cli
