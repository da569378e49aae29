// Authentication and permissions over HTTP.
#pragma once

#include "data/dataset_service.h"
#include "governance/access_control.h"
#include "http/http_server.h"
#include "registry/registry_service.h"
#include "tracking/tracking_service.h"

namespace slipway::http {

// Guards every route of `server` (except /health and /metrics): the caller
// must present valid HTTP Basic credentials or a Bearer token (401
// otherwise, with WWW-Authenticate; 429 while throttled), and hold the
// permission the route needs on the experiment, registered model or dataset
// it touches (403 otherwise). Reads need READ, changes EDIT, deletes MANAGE;
// routes without a rule here are admin-only, so a new route fails closed.
// Creating an experiment, registered model or dataset (its first pushed
// version) grants its creator MANAGE; searches and the dataset list return
// only what the caller may read. Dataset objects (chunks, by SHA-256) are
// read only through a version the caller may read that holds them; anyone
// signed in may upload objects. Everything passed in must outlive the server.
void EnableAuth(HttpServer& server, governance::AccessControl& access,
                tracking::TrackingService& tracking, data::DatasetService& datasets);

// What the caller of the request this thread serves may read, for domain
// calls that reach resources beyond the one the route was authorized on (a
// model version's source, a lineage's run). Everything for admins and when
// the server runs without auth.
const registry::ReadAccess& CallerReadAccess();

// The REST API that manages users, API tokens and permissions: MLflow's
// basic-auth endpoints (/api/2.0/mlflow/users/..., the 3.x
// /api/3.0/mlflow/users/permissions/{grant,revoke,get,list} that
// mlflow.server.get_app_client("basic-auth") calls, and the 2.x
// /api/2.0/mlflow/{experiments,registered-models}/permissions/...) plus
// Slipway's /api/v1/tokens. Requires EnableAuth on the same server.
void AddAuthRoutes(HttpServer& server, governance::AccessControl& access);

}  // namespace slipway::http
