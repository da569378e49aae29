// The MLflow REST API 2.0, model-registry part (model_registry.proto).
#pragma once

#include "http/http_server.h"
#include "registry/registry_service.h"

namespace slipway::http {

// Registers the registered-models and model-versions routes. The service
// must outlive the server.
void AddRegistryRoutes(HttpServer& server, registry::RegistryService& registry);

}  // namespace slipway::http
