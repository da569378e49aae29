// The dataset API: /api/v1/datasets/...
#pragma once

#include "data/dataset_service.h"
#include "http/http_server.h"
#include "http/json_codec.h"

namespace slipway::http {

// Lists datasets and versions (with profiles and manifests), serves and
// accepts content-addressed objects, records pushed versions, validates a
// version against YAML rules and diffs two versions. `datasets` must outlive
// the server.
void AddDatasetRoutes(HttpServer& server, data::DatasetService& datasets);

// The JSON form of a version record (the profile, when asked for, as an object).
Json DatasetVersionJson(const data::DatasetVersion& version, bool with_profile);

}  // namespace slipway::http
