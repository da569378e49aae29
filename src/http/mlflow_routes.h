// The MLflow REST API 2.0, tracking part (artifact files: artifact_routes.h).
//
// Each handler reads MLflow's request form (JSON body, or query string for
// GET), calls the TrackingService, and writes MLflow's
// reply form. No tracking logic lives here.
#pragma once

#include "http/http_server.h"
#include "tracking/tracking_service.h"

namespace slipway::http {

// Registers every tracking route on `server`. The service must outlive the
// server.
void AddMlflowRoutes(HttpServer& server, tracking::TrackingService& tracking);

}  // namespace slipway::http
