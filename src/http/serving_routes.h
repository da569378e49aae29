// Model serving over HTTP: MLflow's scoring protocol and the Open Inference
// Protocol v2 on every deployment, and the deployments' REST API.
//
// On `slipway server` (AddDeploymentRoutes):
//   POST /deployments/{name}/invocations          MLflow scoring (USE)
//   GET  /v2, /v2/health/live, /v2/health/ready   OIP server endpoints
//   GET  /v2/models/{name}[/versions/{v}][/ready] OIP model metadata (READ)
//   POST /v2/models/{name}[/versions/{v}]/infer   OIP inference (USE)
//   /api/v1/deployments[/{name}[/rollback]]       create, list, show, update,
//                                                 roll back, delete
// In OIP the model is the deployment, and a version is one it serves.
//
// On `slipway serve` (AddStandaloneRoutes), one model at the root, as
// `mlflow models serve` answers: GET /ping, /health, /version, POST
// /invocations, and the same OIP endpoints under its name.
//
// Handlers only translate: parsing and writing are the codecs'
// (scoring_codec.h, oip_codec.h), the decisions ServingService's and
// Deployment's. A reply names the version that answered in
// `X-Model-Version`; the request id (`X-Request-Id`) is what the prediction
// log records, for joining ground truth later. A full queue is 503 with
// `Retry-After`.
#pragma once

#include <memory>
#include <string>

#include "http/http_server.h"
#include "serving/deployment.h"
#include "serving/serving_service.h"

namespace slipway::http {

void AddDeploymentRoutes(HttpServer& server, serving::ServingService& serving);

// `name` is the model's name in OIP paths and metadata.
void AddStandaloneRoutes(HttpServer& server, std::shared_ptr<serving::Deployment> deployment,
                         const std::string& name);

}  // namespace slipway::http
