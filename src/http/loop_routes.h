// The closed loop's REST API (loop/loop_service.h), under a deployment:
//
//   PUT    /api/v1/deployments/{name}/loop                     set the policy (MANAGE)
//   GET    /api/v1/deployments/{name}/loop                     policy and recent runs (READ)
//   DELETE /api/v1/deployments/{name}/loop                     (MANAGE)
//   POST   /api/v1/deployments/{name}/loop/trigger             a retrain now (EDIT)
//   GET    /api/v1/deployments/{name}/loop/runs                ?max_results= (READ)
//   GET    /api/v1/deployments/{name}/loop/runs/{id}           (READ)
//   POST   /api/v1/deployments/{name}/loop/runs/{id}/approve   (MANAGE)
//   POST   /api/v1/deployments/{name}/loop/runs/{id}/reject    (MANAGE)
//
// Handlers only translate; the rules are LoopService's.
#pragma once

#include "http/http_server.h"
#include "loop/loop_service.h"

namespace slipway::http {

void AddLoopRoutes(HttpServer& server, loop::LoopService& loops);

}  // namespace slipway::http
