#include <gtest/gtest.h>
#include <httplib.h>
#include <zlib.h>

#include <regex>
#include <thread>

#include "core/error.h"
#include "core/gzip.h"
#include "http/json_codec.h"
#include "webui/asset_catalog.h"
#include "webui/asset_embedder.h"
#include "webui/webui_routes.h"

namespace slipway::webui {
namespace {

using namespace std::string_view_literals;

std::string Inflate(std::string_view gzip) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gzip.data()));
  stream.avail_in = static_cast<uInt>(gzip.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  int status = inflate(&stream, Z_FINISH);
  EXPECT_EQ(status, Z_STREAM_END);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}

// Reads back what CStringLiteral wrote, as the compiler would: adjacent
// literals joined, three-digit octal escapes decoded.
std::string ParseLiteral(std::string_view text) {
  std::string out;
  bool inside = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (!inside) {
      if (c == '"') inside = true;
      continue;
    }
    if (c == '"') {
      inside = false;
    } else if (c == '\\') {
      out += static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 +
                               (text[i + 3] - '0'));
      i += 3;
    } else {
      out += c;
    }
  }
  return out;
}

constexpr std::string_view kIndex = "<!doctype html><script src=\"/static/app-1.js\"></script>";
constexpr std::string_view kScript = "console.log('hello')";

// What the generated source holds, for a page and a script not worth compressing.
std::span<const EmbeddedAsset> FakeAssets() {
  static const std::string index_gzip = Gzip(kIndex, 9);
  static const EmbeddedAsset assets[] = {
      {"/index.html", "text/html; charset=utf-8", "\"idx\"", kIndex, index_gzip},
      {"/static/app-1.js", "text/javascript; charset=utf-8", "\"app\"", kScript, ""},
  };
  return assets;
}

std::string Header(const AssetReply& reply, std::string_view name) {
  for (const auto& [key, value] : reply.headers) {
    if (key == name) return value;
  }
  return "";
}

TEST(WebUiTest, MatchesEtagListsWeakTagsAndStar) {
  EXPECT_TRUE(MatchesEtag("\"a\"", "\"a\""));
  EXPECT_TRUE(MatchesEtag("\"x\", \"a\"", "\"a\""));
  EXPECT_TRUE(MatchesEtag("W/\"a\"", "\"a\""));
  EXPECT_TRUE(MatchesEtag("*", "\"a\""));
  EXPECT_FALSE(MatchesEtag("\"b\"", "\"a\""));
  EXPECT_FALSE(MatchesEtag("", "\"a\""));
  EXPECT_FALSE(MatchesEtag("\"a-gz\"", "\"a\""));
}

TEST(WebUiTest, ClientRoutesAreTheSectionsOnly) {
  for (std::string_view path :
       {"/"sv, "/experiments"sv, "/experiments/"sv, "/experiments/3/runs/abc"sv, "/compare"sv,
        "/deployments"sv, "/deployments/churn"sv, "/deployments/churn/"sv,
        "/deployments/invocations"sv, "/deployments/churn/invocationsx"sv,
        "/deployments//invocations"sv}) {
    EXPECT_TRUE(IsClientRoute(path)) << path;
  }
  for (std::string_view path :
       {""sv, "/experimentsx"sv, "/api/2.0/mlflow/experiments/search"sv, "/ajax-api/2.0/x"sv,
        "/static/app.js"sv, "/health"sv, "/metrics"sv, "/graphql"sv, "/v2/models/m"sv,
        "/deploymentsx"sv, "/get-artifact"sv, "/index.html"sv}) {
    EXPECT_FALSE(IsClientRoute(path)) << path;
  }
  // The server's pattern says the same as IsClientRoute for non-root paths.
  std::regex pattern(ClientRoutePattern(), std::regex::ECMAScript);
  for (std::string path :
       {"/experiments", "/experiments/3/runs/abc", "/compare", "/experimentsx",
        "/api/2.0/mlflow/experiments/search", "/static/a.js", "/v1/traces", "/mlflow-artifacts/x",
        "/deployments", "/deployments/d", "/deployments/d/invocations",
        "/deployments/d/invocations/", "/deployments/d/invocations/x", "/deployments/invocations",
        "/deployments/d/invocationsx", "/deployments//invocations"}) {
    EXPECT_EQ(std::regex_match(path, pattern), IsClientRoute(path)) << path;
  }
  // The scoring route shares the deployments section, but is no page: a GET
  // there is answered like an API's (404), not with the app.
  EXPECT_FALSE(IsClientRoute("/deployments/d/invocations"));
  EXPECT_FALSE(IsClientRoute("/deployments/d/invocations/"));
  EXPECT_FALSE(IsClientRoute("/deployments/d/invocations/x"));
}

TEST(WebUiTest, PageIsIndexRevalidatedWithPolicyHeaders) {
  AssetCatalog catalog(FakeAssets());
  ASSERT_TRUE(catalog.built());
  AssetReply page = catalog.Page("", "");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.body, kIndex);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(Header(page, "Cache-Control"), "no-cache");
  EXPECT_EQ(Header(page, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(Header(page, "ETag"), "\"idx\"");
  EXPECT_EQ(Header(page, "Vary"), "Accept-Encoding");
  EXPECT_EQ(Header(page, "Content-Encoding"), "");
  std::string csp = Header(page, "Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
}

TEST(WebUiTest, GzipWhenAcceptedWithItsOwnEtag) {
  AssetCatalog catalog(FakeAssets());
  AssetReply page = catalog.Page("gzip, deflate", "");
  EXPECT_EQ(Inflate(page.body), kIndex);
  EXPECT_EQ(Header(page, "Content-Encoding"), "gzip");
  EXPECT_EQ(Header(page, "ETag"), "\"idx-gz\"");
  // A file not worth compressing is sent as it is, even to a gzip client.
  AssetReply script = catalog.File("/static/app-1.js", "gzip", "");
  EXPECT_EQ(script.body, kScript);
  EXPECT_EQ(Header(script, "Content-Encoding"), "");
  EXPECT_EQ(Header(script, "Vary"), "");
}

TEST(WebUiTest, NotModifiedWhenTheTagMatches) {
  AssetCatalog catalog(FakeAssets());
  AssetReply same = catalog.Page("", "\"idx\"");
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  EXPECT_EQ(Header(same, "ETag"), "\"idx\"");
  // The identity tag does not validate the gzip form.
  EXPECT_EQ(catalog.Page("gzip", "\"idx\"").status, 200);
  EXPECT_EQ(catalog.Page("gzip", "\"idx-gz\"").status, 304);
}

TEST(WebUiTest, StaticFilesAreImmutableAndOnlyUnderStatic) {
  AssetCatalog catalog(FakeAssets());
  AssetReply script = catalog.File("/static/app-1.js", "", "");
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Header(script, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(Header(script, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(Header(script, "Content-Security-Policy"), "");
  EXPECT_EQ(catalog.File("/static/missing.js", "", "").status, 404);
  EXPECT_EQ(catalog.File("/index.html", "", "").status, 404);
  EXPECT_EQ(catalog.File("/static/../index.html", "", "").status, 404);
}

TEST(WebUiTest, WithoutABuiltUiThePageSaysSo) {
  AssetCatalog catalog(std::span<const EmbeddedAsset>{});
  EXPECT_FALSE(catalog.built());
  AssetReply page = catalog.Page("gzip", "");
  EXPECT_EQ(page.status, 404);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("SLIPWAY_BUILD_UI"), std::string_view::npos);
}

TEST(WebUiTest, ThisBuildEmbedsAWholeUi) {
  const AssetCatalog& catalog = AssetCatalog::Embedded();
#if SLIPWAY_UI_EMBEDDED
  ASSERT_TRUE(catalog.built());
  const EmbeddedAsset* index = catalog.Find("/index.html");
  ASSERT_NE(index, nullptr);
  EXPECT_FALSE(index->gzip.empty());
  EXPECT_EQ(Inflate(index->gzip), index->identity);
  // Every file index.html names is embedded, and no script is inline.
  std::string html(index->identity);
  std::regex reference("(?:src|href)=\"(/[^\"]*)\"");
  int references = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), reference);
       it != std::sregex_iterator(); ++it) {
    std::string path = (*it)[1];
    EXPECT_EQ(path.rfind("/static/", 0), 0u) << path;
    EXPECT_NE(catalog.Find(path), nullptr) << path;
    ++references;
  }
  EXPECT_GE(references, 2);  // the script and the stylesheet at least
  EXPECT_EQ(std::regex_search(html, std::regex("<script(?![^>]*\\bsrc=)[^>]*>")), false) << html;
#else
  EXPECT_FALSE(catalog.built());
#endif
}

TEST(WebUiEmbedderTest, ContentTypes) {
  EXPECT_EQ(ContentTypeFor("/index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("/static/a-1.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("/static/a-1.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("/static/i.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("/static/i.png"), "image/png");
  EXPECT_EQ(ContentTypeFor("/static/f.woff2"), "font/woff2");
  EXPECT_EQ(ContentTypeFor("/static/blob"), "application/octet-stream");
}

TEST(WebUiEmbedderTest, GzipRoundTripsAndIsDeterministic) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "function f" + std::to_string(i) + "() { return 1; }\n";
  std::string gzip = Gzip(text, 9);
  EXPECT_LT(gzip.size(), text.size() / 4);
  EXPECT_EQ(Inflate(gzip), text);
  EXPECT_EQ(Gzip(text, 9), gzip);  // no time stamp: the same bytes every build
  EXPECT_EQ(Inflate(Gzip("", 9)), "");
}

TEST(WebUiEmbedderTest, LiteralsKeepEveryByte) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  bytes += "\"quoted\" back\\slash ?\?= trigraph? 1\0012";
  bytes += std::string(500, 'x');  // long: split over lines
  std::string literal = CStringLiteral(bytes);
  EXPECT_EQ(ParseLiteral(literal), bytes);
  EXPECT_EQ(literal.find("??"), std::string::npos);
  EXPECT_EQ(CStringLiteral(""), "\"\"");
}

TEST(WebUiEmbedderTest, SourceListsEveryFileOnceSortedWithTypeAndTag) {
  std::vector<AssetFile> files = {{"/static/b.js", std::string(400, 'b')},
                                  {"/index.html", "<html></html>"}};
  std::string source = AssetSource(files);
  size_t index = source.find("{\"/index.html\", \"text/html; charset=utf-8\", \"\\\"");
  size_t script = source.find("{\"/static/b.js\", \"text/javascript; charset=utf-8\", \"\\\"");
  ASSERT_NE(index, std::string::npos) << source;
  ASSERT_NE(script, std::string::npos) << source;
  EXPECT_LT(index, script);
  EXPECT_NE(source.find("std::span<const EmbeddedAsset> EmbeddedAssets()"), std::string::npos);
  EXPECT_EQ(AssetSource(files), source);
}

// The routes on a real server whose guard refuses every caller: the UI's
// routes are public, the API's stay behind the guard, and a missing file
// is MLflow's error.
class WebUiRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http::HttpServer::Options options;
    options.port = 0;
    options.worker_threads = 2;
    options.access_log = false;
    server_ = std::make_unique<http::HttpServer>(options);
    server_->Get("/api/2.0/mlflow/experiments/search", http::RouteSpec("search").SignedIn(),
                 [](const http::Request&, http::Response& res) { http::SetJson(res, "{}"); });
    AddWebUiRoutes(*server_, catalog_);
    http::HttpServer::Guard guard;
    guard.authenticate = [](const http::Request&, http::Response&,
                            const http::RouteSpec&) -> std::shared_ptr<void> {
      throw Error(ErrorCode::kUnauthenticated, "Sign in first.");
    };
    server_->SetGuard(guard);
    thread_ = std::thread([this] { server_->Listen(); });
    for (int i = 0; i < 200 && server_->bound_port() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->bound_port());
  }
  void TearDown() override {
    server_->Stop();
    thread_.join();
  }

  AssetCatalog catalog_{FakeAssets()};
  std::unique_ptr<http::HttpServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(WebUiRoutesTest, PagesAndFilesArePublicAndTheApiIsNot) {
  for (const char* path : {"/", "/experiments", "/experiments/1/runs/abc", "/compare"}) {
    auto res = client_->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
    EXPECT_EQ(res->body, kIndex) << path;
    EXPECT_EQ(res->get_header_value("Cache-Control"), "no-cache") << path;
  }
  auto script = client_->Get("/static/app-1.js");
  ASSERT_TRUE(script);
  EXPECT_EQ(script->status, 200);
  EXPECT_EQ(script->body, kScript);
  EXPECT_EQ(script->get_header_value("Content-Type"), "text/javascript; charset=utf-8");

  auto api = client_->Get("/api/2.0/mlflow/experiments/search");
  ASSERT_TRUE(api);
  EXPECT_EQ(api->status, 401);
}

TEST_F(WebUiRoutesTest, MissingFilesAndOtherPathsAreMlflowErrors) {
  auto missing = client_->Get("/static/gone-1.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(http::Json::parse(missing->body)["error_code"], "ENDPOINT_NOT_FOUND");
  auto other = client_->Get("/no-such-section");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  EXPECT_EQ(http::Json::parse(other->body)["error_code"], "ENDPOINT_NOT_FOUND");
}

TEST_F(WebUiRoutesTest, GzipAndNotModifiedOverHttp) {
  auto gzip = client_->Get("/", {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(gzip);
  EXPECT_EQ(gzip->get_header_value("Content-Encoding"), "gzip");
  auto again = client_->Get("/", {{"If-None-Match", "\"idx\""}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
}

}  // namespace
}  // namespace slipway::webui
