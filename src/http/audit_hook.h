// Feeds the audit trail from the HTTP layer.
#pragma once

#include "governance/audit_log.h"
#include "http/http_server.h"

namespace slipway::http {

// Appends one audit entry for every state-changing request (POST, PUT, PATCH,
// DELETE, except searches and other reads sent as POST) and for every request
// refused with 401, 403 or 429: the caller (CurrentPrincipal) as the
// principal, the route as the
// action, the entity it touched as the target ("run:<id>", "experiment:<id>",
// "registered_model:<name>", "model_version:<name>/<version>",
// "logged_model:<id>", "artifact:<path>"), the reply's status as the outcome,
// the client's address as the source and a SHA-256 of the request. The
// target is read from the path, the request's top-level fields as the handler
// reads them, or for a create the reply; never from nested objects. A failed
// sign-in (401, 429) targets the account its credentials claimed
// ("user:<name>", "token:<id>") when it sent any. The log decides how
// refusals are aggregated. The log must outlive the server.
void EnableAuditTrail(HttpServer& server, governance::AuditLog& log);

// The audit routes: GET /api/v1/audit (query) and /api/v1/audit/verify.
void AddAuditRoutes(HttpServer& server, governance::AuditLog& log);

}  // namespace slipway::http
