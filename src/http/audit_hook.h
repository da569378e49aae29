// Feeds the audit trail from the HTTP layer.
#pragma once

#include "governance/audit_log.h"
#include "http/http_server.h"

namespace slipway::http {

// Appends one audit entry for every request that changes something (a
// route whose method is not GET, unless declared ReadOnly) and for every
// request refused with 401, 403 or 429: the request operation's actor as
// the principal, the route as the action, the resource the service acted
// on as the target (governance::SetTarget: "run:<id>", "experiment:<id>",
// "registered_model:<name>", "model_version:<name>/<version>",
// "logged_model:<id>", "artifact:<path>", "dataset:<name>@<version>",
// "user:<name>", "token:<id>", ...; "path:<path>" when the request failed
// before any was named), the reply's status as the outcome, the client's
// address as the source and a SHA-256 of the request. A failed sign-in
// (401, 429) targets the account its credentials claimed ("user:<name>",
// "token:<id>") when it sent any. The log decides how refusals are
// aggregated. Needs EnableGovernance on the same server for principals and
// targets. The log must outlive the server.
void EnableAuditTrail(HttpServer& server, governance::AuditLog& log);

// The audit routes: GET /api/v1/audit (query) and /api/v1/audit/verify.
void AddAuditRoutes(HttpServer& server, governance::AuditLog& log);

}  // namespace slipway::http
