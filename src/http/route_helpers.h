// Request and reply plumbing shared by the route files.
#pragma once

#include <string>
#include <string_view>

#include "http/http_server.h"
#include "http/json_codec.h"

namespace slipway::http {

// The request's fields as one JSON object: the JSON body, or the query string
// when there is no body (GET, and DELETE from clients that use one), where a
// key given more than once becomes a list. A body that is not a JSON object
// is INVALID_PARAMETER_VALUE, as MLflow answers it.
Json RequestJson(const Request& req);

// Replies 200 with `body` (invalid UTF-8 replaced, never thrown on).
void Reply(Response& res, const Json& body);

// `{key: items}` plus `next_page_token` when there is a next page.
Json Paged(const char* key, Json items, const std::string& token);

// The value of the request's cookie `name` (from its Cookie headers), or
// "" when it has none.
std::string CookieValue(const Request& req, std::string_view name);

// The browser session's cookie (see AddSessionRoutes).
inline constexpr const char* kSessionCookie = "slipway_session";

// Short names for route declarations (RouteSpec::Needs).
inline constexpr auto kExperiment = governance::ResourceType::kExperiment;
inline constexpr auto kRegisteredModel = governance::ResourceType::kRegisteredModel;
inline constexpr auto kDataset = governance::ResourceType::kDataset;
inline constexpr auto kDeployment = governance::ResourceType::kDeployment;
inline constexpr auto kRead = governance::Permission::kRead;
inline constexpr auto kUse = governance::Permission::kUse;
inline constexpr auto kEdit = governance::Permission::kEdit;
inline constexpr auto kManage = governance::Permission::kManage;

}  // namespace slipway::http
