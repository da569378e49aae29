// The REST API of live monitoring (monitoring::live::MonitorService):
//
//   PUT    /api/v1/deployments/{d}/monitor           set the monitor (EDIT)
//   GET    /api/v1/deployments/{d}/monitor           the monitor and its drift (READ)
//   DELETE /api/v1/deployments/{d}/monitor           remove it (EDIT)
//   GET    /api/v1/deployments/{d}/monitor/drift     drift and accuracy of a range (READ)
//   GET    /api/v1/deployments/{d}/monitor/windows   the same per window, for charts (READ)
//   POST   /api/v1/deployments/{d}/feedback          ground truth by request id (USE)
//
// Handlers only translate; the service decides (see docs/api.md).
#pragma once

#include "http/http_server.h"
#include "monitoring/live/monitor_service.h"

namespace slipway::http {

void AddMonitorRoutes(HttpServer& server, monitoring::live::MonitorService& monitors);

}  // namespace slipway::http
