#include "webui/webui_routes.h"

#include "core/error.h"

namespace slipway::webui {
namespace {

void Send(AssetReply reply, http::Response& res) {
  res.status = reply.status;
  res.content_type = std::move(reply.content_type);
  res.body.assign(reply.body);
  for (auto& [name, value] : reply.headers) res.set_header(std::move(name), std::move(value));
}

}  // namespace

void AddWebUiRoutes(http::HttpServer& server, const AssetCatalog& catalog) {
  auto page = [&catalog](const http::Request& req, http::Response& res) {
    Send(catalog.Page(req.get_header_value("Accept-Encoding"),
                      req.get_header_value("If-None-Match")),
         res);
  };
  server.Get("/", http::RouteSpec("webui/page").Public(), page);
  server.Get(ClientRoutePattern(), http::RouteSpec("webui/page").Public(), page);
  server.Get("/static/.+", http::RouteSpec("webui/static").Public(),
             [&catalog](const http::Request& req, http::Response& res) {
               AssetReply reply = catalog.File(req.path, req.get_header_value("Accept-Encoding"),
                                               req.get_header_value("If-None-Match"));
               if (reply.status == 404) {
                 throw Error(ErrorCode::kEndpointNotFound,
                             "No file " + req.path + " in this build's web UI.");
               }
               Send(std::move(reply), res);
             });
}

}  // namespace slipway::webui
