// Artifact files over HTTP: the mlflow-artifacts proxy the client uploads to
// and downloads from, and the routes MLflow's server and UI read the files of
// runs, logged models and model versions through.
//
// Each handler checks the path it is given, asks the service that owns the
// files (tracking or registry) where they are, and streams them from the
// ArtifactStore. No tracking logic lives here.
#pragma once

#include "http/http_server.h"
#include "http/json_codec.h"
#include "registry/registry_service.h"
#include "tracking/artifact_store.h"
#include "tracking/tracking_service.h"

namespace slipway::http {

// Registers every artifact route on `server`. The services and the artifact
// store must outlive the server.
void AddArtifactRoutes(HttpServer& server, tracking::TrackingService& tracking,
                       registry::RegistryService& registry, tracking::ArtifactStore& artifacts);

// MLflow's ListArtifacts reply for the folder `path` (checked already, as
// tracking::CheckRequestedPath does) under the artifact URI `root_uri`:
// `root_uri`, and `files` (paths from the root, sizes of files) unless empty.
// The REST route and GraphQL's mlflowListArtifacts both answer with it.
Json ArtifactListing(const std::string& root_uri, tracking::ArtifactStore& artifacts,
                     const std::string& path);

}  // namespace slipway::http
