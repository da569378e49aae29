// Artifact files over HTTP: the mlflow-artifacts proxy the client uploads to
// and downloads from, and the routes MLflow's server and UI read the files of
// runs, logged models and model versions through.
//
// Each handler checks the path it is given, asks the service that owns the
// files (tracking or registry) where they are, and streams them from the
// ArtifactStore. No tracking logic lives here.
#pragma once

#include "http/http_server.h"
#include "registry/registry_service.h"
#include "tracking/artifact_store.h"
#include "tracking/tracking_service.h"

namespace slipway::http {

// Registers every artifact route on `server`. The services and the artifact
// store must outlive the server.
void AddArtifactRoutes(HttpServer& server, tracking::TrackingService& tracking,
                       registry::RegistryService& registry, tracking::ArtifactStore& artifacts);

}  // namespace slipway::http
