// The web UI's routes on the HTTP server: "/" and the client routes answer
// the app's page, /static/... its files (see asset_catalog.h for what each
// answer carries). They are Public routes: the files hold no data and must
// load before anyone signs in; every call the UI then makes goes through the
// API routes and their permissions.
#pragma once

#include "http/http_server.h"
#include "webui/asset_catalog.h"

namespace slipway::webui {

// Registers the UI's routes. Register them after the API's: the patterns
// do not overlap any API path, and routes are matched in order. `catalog`
// must outlive the server.
void AddWebUiRoutes(http::HttpServer& server,
                    const AssetCatalog& catalog = AssetCatalog::Embedded());

}  // namespace slipway::webui
