// Authentication, the request's governance::Operation, and the user,
// token and permission routes.
#pragma once

#include "governance/access_control.h"
#include "governance/authorization.h"
#include "http/http_server.h"

namespace slipway::http {

// Governs every route of `server` (except /health and /metrics): each
// request runs as a governance::Operation, so the services it calls check
// the caller's permissions and name what they touch for the audit trail.
// With `access` (the server's --auth) the caller must present valid HTTP
// Basic credentials, a Bearer token or a browser session's cookie (401
// otherwise, with WWW-Authenticate unless a page asked; 429 while
// throttled; 403 for a session's change without its CSRF token), checked from the headers before
// the body is read; without it every request acts as the operator
// "anonymous". AdminOnly routes are refused (403) before their handler; a
// Needs route whose handler made no matching check is answered 500 (see
// RouteSpec). Everything passed in must outlive the server.
void EnableGovernance(HttpServer& server, governance::Authorizer& authorizer,
                      governance::AccessControl* access);

// The REST API that manages users, API tokens and permissions: MLflow's
// basic-auth endpoints (/api/2.0/mlflow/users/..., the 3.x
// /api/3.0/mlflow/users/permissions/{grant,revoke,get,list} that
// mlflow.server.get_app_client("basic-auth") calls, and the 2.x
// /api/2.0/mlflow/{experiments,registered-models}/permissions/...) plus
// Slipway's /api/v1/tokens. Requires EnableGovernance with access control.
void AddAuthRoutes(HttpServer& server, governance::AccessControl& access);

// Browser sessions, for the web UI, at /api/v1/session: POST with HTTP
// Basic credentials starts one (an HttpOnly, SameSite=Strict cookie, and a
// CSRF token in the reply, which every later request that may change state
// sends as X-CSRF-Token); GET says who is signed in (`user` null when the
// request has no credentials at all, 401 for wrong ones; and the CSRF token
// again, for a page that reloads); DELETE signs out. Without `access` (no --auth) GET answers
// {"auth": false} and there is no sign-in.
void AddSessionRoutes(HttpServer& server, governance::AccessControl* access);

}  // namespace slipway::http
