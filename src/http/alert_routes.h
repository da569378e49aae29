// The alerting REST API over monitoring::AlertService:
//
//   PUT    /api/v1/deployments/{d}/alerts          set the rule file (MANAGE);
//                                                  the body is the YAML itself,
//                                                  or JSON {"yaml": "..."}
//   GET    /api/v1/deployments/{d}/alerts          the rule file and its
//                                                  parsed rules (READ)
//   DELETE /api/v1/deployments/{d}/alerts          remove it (MANAGE)
//   GET    /api/v1/deployments/{d}/alerts/history  active alerts and recent
//                                                  transitions with their
//                                                  deliveries (READ)
//
// Handlers only translate; the service checks and names the deployment.
#pragma once

#include "http/http_server.h"
#include "monitoring/alerts.h"

namespace slipway::http {

void AddAlertRoutes(HttpServer& server, monitoring::AlertService& alerts);

}  // namespace slipway::http
