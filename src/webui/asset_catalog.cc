#include "webui/asset_catalog.h"

#include "http/content_coding.h"

namespace slipway::webui {
namespace {

constexpr std::string_view kIndexPath = "/index.html";
constexpr std::string_view kStaticPrefix = "/static/";
// Hashed names change with their content, so they never need revalidating.
constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";

constexpr std::string_view kNotBuiltPage =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>Slipway: no web UI in this build</title></head><body>\n"
    "<h1>This Slipway was built without its web UI</h1>\n"
    "<p>It was configured with <code>-DSLIPWAY_BUILD_UI=OFF</code> (or without npm). "
    "Rebuild with npm installed and <code>-DSLIPWAY_BUILD_UI=ON</code> (the default; "
    "<code>make build</code> installs npm) to have the UI at this address.</p>\n"
    "<p>The MLflow REST API is served as usual under <code>/api/2.0/mlflow/</code>.</p>\n"
    "</body></html>\n";

}  // namespace

bool MatchesEtag(std::string_view if_none_match, std::string_view etag) {
  bool match = false;
  http::ForEachListItem(if_none_match, [&](std::string_view item) {
    if (item == "*") match = true;
    if (item.size() > 2 && item.substr(0, 2) == "W/") item.remove_prefix(2);  // weak compare
    if (item == etag) match = true;
  });
  return match;
}

bool IsClientRoute(std::string_view path) {
  if (path == "/") return true;
  if (path.empty() || path.front() != '/') return false;
  std::string_view rest = path.substr(1);
  std::string_view first = rest.substr(0, rest.find('/'));
  if (first == "deployments" && first.size() < rest.size()) {
    // /deployments/NAME/invocations[/...]: the scoring route's, not a page.
    std::string_view after = rest.substr(first.size() + 1);
    size_t slash = after.find('/');
    if (slash != 0 && slash != std::string_view::npos) {
      std::string_view tail = after.substr(slash + 1);
      if (tail.substr(0, tail.find('/')) == "invocations") return false;
    }
  }
  for (std::string_view section : kClientSections) {
    if (first == section) return true;
  }
  return false;
}

std::string ClientRoutePattern() {
  std::string sections;
  for (std::string_view section : kClientSections) {
    if (!sections.empty()) sections += '|';
    sections += section;  // plain words: nothing to escape
  }
  // The lookahead leaves out the scoring route, as IsClientRoute does.
  return "(?!/deployments/[^/]+/invocations(?:/|$))/(?:" + sections + ")(?:/.*)?";
}

AssetCatalog::AssetCatalog(std::span<const EmbeddedAsset> assets) {
  for (const EmbeddedAsset& asset : assets) by_path_.emplace(asset.path, &asset);
}

const AssetCatalog& AssetCatalog::Embedded() {
  static const AssetCatalog catalog(EmbeddedAssets());
  return catalog;
}

const EmbeddedAsset* AssetCatalog::Find(std::string_view path) const {
  auto it = by_path_.find(path);
  return it == by_path_.end() ? nullptr : it->second;
}

AssetReply AssetCatalog::Reply(const EmbeddedAsset& asset, std::string_view accept_encoding,
                               std::string_view if_none_match) const {
  AssetReply reply;
  const bool immutable = asset.path.substr(0, kStaticPrefix.size()) == kStaticPrefix;
  const bool gzip = !asset.gzip.empty() && http::AcceptsGzip(accept_encoding);
  reply.content_type = std::string(asset.content_type);
  // One tag per encoding: the two forms are different bytes.
  std::string etag(asset.etag);
  if (gzip) etag.insert(etag.size() - 1, "-gz");
  reply.headers.emplace_back("ETag", etag);
  reply.headers.emplace_back("Cache-Control", immutable ? std::string(kImmutable) : "no-cache");
  reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (!asset.gzip.empty()) reply.headers.emplace_back("Vary", "Accept-Encoding");
  if (asset.content_type.substr(0, 9) == "text/html") {
    reply.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
    reply.headers.emplace_back("Referrer-Policy", "same-origin");
    reply.headers.emplace_back("X-Frame-Options", "DENY");
  }
  if (!if_none_match.empty() && MatchesEtag(if_none_match, etag)) {
    reply.status = 304;
    return reply;
  }
  if (gzip) {
    reply.headers.emplace_back("Content-Encoding", "gzip");
    reply.body = asset.gzip;
  } else {
    reply.body = asset.identity;
  }
  return reply;
}

AssetReply AssetCatalog::Page(std::string_view accept_encoding,
                              std::string_view if_none_match) const {
  if (const EmbeddedAsset* index = Find(kIndexPath)) {
    return Reply(*index, accept_encoding, if_none_match);
  }
  AssetReply reply;
  reply.status = 404;
  reply.body = kNotBuiltPage;
  reply.content_type = "text/html; charset=utf-8";
  reply.headers.emplace_back("Cache-Control", "no-cache");
  reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
  reply.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
  return reply;
}

AssetReply AssetCatalog::File(std::string_view path, std::string_view accept_encoding,
                              std::string_view if_none_match) const {
  const EmbeddedAsset* asset =
      path.substr(0, kStaticPrefix.size()) == kStaticPrefix ? Find(path) : nullptr;
  if (asset == nullptr) {
    AssetReply reply;
    reply.status = 404;
    return reply;
  }
  return Reply(*asset, accept_encoding, if_none_match);
}

}  // namespace slipway::webui
