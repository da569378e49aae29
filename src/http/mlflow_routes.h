// The MLflow REST API 2.0, tracking part, and the mlflow-artifacts proxy.
//
// Each handler reads MLflow's request form (JSON body, or query string for
// GET), calls the TrackingService or the ArtifactStore, and writes MLflow's
// reply form. No tracking logic lives here.
#pragma once

#include "http/http_server.h"
#include "tracking/artifact_store.h"
#include "tracking/tracking_service.h"

namespace slipway::http {

// Registers every tracking and artifact route on `server`. The service and
// the artifact store must outlive the server.
void AddMlflowRoutes(HttpServer& server, tracking::TrackingService& tracking,
                     tracking::ArtifactStore& artifacts);

}  // namespace slipway::http
