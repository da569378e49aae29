// What the server answers for the web UI's paths, decided without HTTP types
// (webui_routes.cc translates): which file, which encoding, which headers.
//
// The UI is a single-page app: index.html is the answer for "/" and for
// every client route (a path under one of kClientSections, so a reload or
// a shared link of /experiments/3 works), with `Cache-Control: no-cache`
// (revalidated by ETag, so a new build shows at once). Files under
// /static/ have content hashes in their names and are cached for a year.
// Every answer says `X-Content-Type-Options: nosniff`; pages carry a
// Content-Security-Policy that allows scripts and styles from this origin
// only (no inline script). A client that accepts gzip gets the form
// compressed at build time.
//
// An AssetCatalog only reads the assets it was given (static storage), so
// it is immutable and thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "webui/embedded_asset.h"

namespace slipway::webui {

// The first path segments the UI's router owns (ui/src/app.tsx). A section
// must not be the first segment of any API route that answers GET: the
// route table is checked against it by tests/integration/test_webui.py.
// ("deployments" is also the scoring route's, POST /deployments/NAME/
// invocations: client routes are GET only and matched after every API route,
// and /deployments/NAME/invocations[/...] is none, so that a GET there is
// answered like an API's, 404 ENDPOINT_NOT_FOUND as `slipway serve` answers
// GET /invocations, not with the app's page.)
inline constexpr std::string_view kClientSections[] = {"experiments", "compare",  "runs",
                                                       "models",      "datasets", "deployments",
                                                       "audit",       "admin",    "tokens"};

inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

struct AssetReply {
  int status = 200;
  std::string_view body;  // static storage
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
};

class AssetCatalog {
 public:
  explicit AssetCatalog(std::span<const EmbeddedAsset> assets);

  // The catalog of the files compiled into this binary.
  static const AssetCatalog& Embedded();

  // False when the binary was built without the UI.
  bool built() const { return !by_path_.empty(); }
  const EmbeddedAsset* Find(std::string_view path) const;

  // The app's page (index.html) for "/" and every client route; without a
  // built UI, a short page that says so (status 404).
  AssetReply Page(std::string_view accept_encoding, std::string_view if_none_match) const;
  // A file under /static/, by its path; status 404 and no body when there
  // is no such file (the route answers that in MLflow's error form).
  AssetReply File(std::string_view path, std::string_view accept_encoding,
                  std::string_view if_none_match) const;

 private:
  AssetReply Reply(const EmbeddedAsset& asset, std::string_view accept_encoding,
                   std::string_view if_none_match) const;

  std::unordered_map<std::string_view, const EmbeddedAsset*> by_path_;
};

// Whether an If-None-Match header names `etag` (or is `*`); weak tags match.
bool MatchesEtag(std::string_view if_none_match, std::string_view etag);
// Whether `path` is one the UI's router answers: "/" or under a client
// section, except the scoring route's /deployments/NAME/invocations[/...].
bool IsClientRoute(std::string_view path);
// The HttpServer pattern (ECMAScript regex, whole path) of the client
// routes under kClientSections.
std::string ClientRoutePattern();

}  // namespace slipway::webui
