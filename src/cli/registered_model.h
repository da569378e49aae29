// A registered model version's files on this machine, fetched through a
// tracking server: what `slipway serve models:/...` serves and `slipway
// evaluate` evaluates. The version's files are copied out of the server's
// artifact proxy (runs:/ sources and logged models alike, through
// model-versions/get-download-uri) into a cache folder, once: a folder named
// by the server, version and location is reused when it is complete.
//
// As thread-safe as the ApiClient given (which is not).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/api_client.h"

namespace slipway::cli {

struct RegisteredModel {
  std::filesystem::path dir;  // the MLflow Model folder
  std::string name;
  std::string version;
  nlohmann::json model_version;  // the registry's ModelVersion (source, run_id, tags, ...)
};

// `reference` is models:/NAME@ALIAS, models:/NAME/VERSION or models:/NAME/STAGE
// (latest: the newest). RESOURCE_DOES_NOT_EXIST when nothing matches;
// NOT_IMPLEMENTED when the files are not behind the server's artifact proxy.
RegisteredModel FetchRegisteredModel(ApiClient& client, const std::string& reference,
                                     const std::filesystem::path& cache);

}  // namespace slipway::cli
