// The MLflow REST API 2.0, model-registry part (model_registry.proto).
#pragma once

#include "http/http_server.h"
#include "registry/registry_service.h"
#include "tracking/tracking_service.h"

namespace slipway::http {

// Registers the registered-models and model-versions routes, and Slipway's
// own lineage and model-card routes under /api/v1. The services must outlive
// the server.
void AddRegistryRoutes(HttpServer& server, registry::RegistryService& registry,
                       tracking::TrackingService& tracking);

}  // namespace slipway::http
