#include "http/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <atomic>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/gzip.h"
#include "http/content_coding.h"
#include "http/json_codec.h"

namespace slipway::http {
namespace {

// A raw loopback connection, for what an HTTP client library would not send.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    timeval timeout{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~RawClient() { ::close(fd_); }

  bool connected() const { return connected_; }
  bool Send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Everything the server sends until it closes (or 5 s pass).
  std::string ReadAll() {
    std::string out;
    char buffer[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// The gzip member `data`, inflated (empty when it is not valid gzip).
std::string Gunzip(const std::string& data) {
  z_stream stream{};
  inflateInit2(&stream, 15 + 16);
  std::string out;
  std::array<char, 4096> buffer;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer.data());
    stream.avail_out = static_cast<uInt>(buffer.size());
    status = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer.data(), buffer.size() - stream.avail_out);
  }
  inflateEnd(&stream);
  return status == Z_STREAM_END ? out : std::string();
}

// A real HttpServer on a free loopback port, driven by cpp-httplib's client
// and by raw sockets.
class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServer::Options options;
    options.port = 0;
    options.worker_threads = 4;
    options.max_json_body = 1024;
    options.max_header_bytes = 4096;
    // Short enough for the deadline test, long enough for a sanitizer build
    // whose I/O threads are busy draining another test's upload.
    options.header_timeout = std::chrono::milliseconds(1500);
    options.idle_timeout = std::chrono::milliseconds(1500);
    options.access_log = false;
    server_ = std::make_unique<HttpServer>(options);
    server_->Post("/api/2.0/mlflow/echo", RouteSpec("echo").SignedIn(),
                  [this](const Request& req, Response& res) {
                    ++handled_;
                    SetJson(res, req.body);
                  });
    server_->Get("/api/2.0/mlflow/missing", RouteSpec("missing").SignedIn(),
                 [](const Request&, Response&) {
                   throw Error(ErrorCode::kResourceDoesNotExist, "Run with id=x not found");
                 });
    server_->Get(
        "/api/2.0/mlflow/boom", RouteSpec("boom").SignedIn(),
        [](const Request&, Response&) { throw std::runtime_error("secret internal detail"); });
    server_->Get(
        "/api/2.0/mlflow/items/([a-z]+)", RouteSpec("item").SignedIn(),
        [](const Request& req, Response& res) {
          SetJson(res, Json({{"item", req.matches[1]}, {"q", req.get_param_value("q")}}).dump());
        });
    // A JSON reply of `n` repeated items (about 30 bytes each), for compression.
    server_->Get("/api/2.0/mlflow/items", RouteSpec("items").SignedIn(),
                 [](const Request& req, Response& res) {
                   Json items = Json::array();
                   int n = std::stoi(req.get_param_value("n"));
                   for (int i = 0; i < n; ++i) items.push_back({{"name", "item"}, {"i", i}});
                   SetJson(res, Json({{"items", items}}).dump());
                 });
    server_->PutStream("/upload/(.+)", RouteSpec("upload").SignedIn().BodyLimit(4 * 1024 * 1024),
                       [this](const Request& req, Response& res, const BodyReader& reader) {
                         ++handled_;
                         size_t total = 0;
                         size_t pieces = 0;
                         reader([&](const char*, size_t length) {
                           total += length;
                           ++pieces;
                           return true;
                         });
                         SetJson(res, Json({{"name", req.matches[1]}, {"bytes", total}}).dump());
                       });
    // The guard: a request needs "Authorization: let-me-in"; `authenticate`
    // records whether any body had been read when it ran.
    HttpServer::Guard guard;
    guard.authenticate = [this](const Request& req, Response& res, const RouteSpec&) {
      if (!req.body.empty()) body_seen_by_authenticate_ = true;
      if (req.path.find("/api/2.0/mlflow/") == 0 &&
          req.get_header_value("Authorization") != "let-me-in" &&
          req.get_header_value("X-Skip-Auth").empty()) {
        res.set_header("WWW-Authenticate", "Basic realm=\"test\"");
        throw Error(ErrorCode::kUnauthenticated, "Sign in first.");
      }
      return std::make_shared<int>(7);
    };
    guard.before = [this](const Request&, Response&, const RouteSpec&,
                          const std::shared_ptr<void>& caller, std::shared_ptr<void>*) {
      caller_value_ = *std::static_pointer_cast<int>(caller);
    };
    server_->SetGuard(guard);
    thread_ = std::thread([this] { server_->Listen(); });
    for (int i = 0; i < 200 && server_->bound_port() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->bound_port());
    client_->set_default_headers({{"X-Skip-Auth", "1"}});
    for (int i = 0; i < 200 && !client_->Get("/health"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  void TearDown() override {
    server_->Stop();
    thread_.join();
  }

  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
  std::atomic<int> handled_{0};
  std::atomic<bool> body_seen_by_authenticate_{false};
  std::atomic<int> caller_value_{0};
};

TEST_F(HttpServerTest, ErrorsBecomeMlflowBodiesWithStatus) {
  auto res = client_->Get("/api/2.0/mlflow/missing");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  Json body = Json::parse(res->body);
  EXPECT_EQ(body["error_code"], "RESOURCE_DOES_NOT_EXIST");
  EXPECT_EQ(body["message"], "Run with id=x not found");
  EXPECT_FALSE(res->get_header_value("X-Request-Id").empty());
}

TEST_F(HttpServerTest, UnexpectedExceptionsDoNotLeakDetails) {
  auto res = client_->Get("/api/2.0/mlflow/boom");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->body.find("secret"), std::string::npos);
  EXPECT_EQ(Json::parse(res->body)["error_code"], "INTERNAL_ERROR");
}

TEST_F(HttpServerTest, UnknownRouteIsEndpointNotFound) {
  auto res = client_->Get("/api/2.0/mlflow/nope");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(Json::parse(res->body)["error_code"], "ENDPOINT_NOT_FOUND");
  // The wrong method on a known path is no endpoint either.
  auto wrong = client_->Delete("/api/2.0/mlflow/echo");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 404);
}

TEST_F(HttpServerTest, PatternCapturesAndQueryAreDecoded) {
  RawClient raw(server_->bound_port());
  ASSERT_TRUE(
      raw.Send("GET /api/2.0/mlflow/items/a%62c?q=a%20b+c%26d HTTP/1.1\r\nHost: x\r\n"
               "X-Skip-Auth: 1\r\nConnection: close\r\n\r\n"));
  std::string reply = raw.ReadAll();
  ASSERT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  Json body = Json::parse(reply.substr(reply.find("\r\n\r\n") + 4));
  EXPECT_EQ(body["item"], "abc");
  EXPECT_EQ(body["q"], "a b c&d");
  auto head = client_->Head("/api/2.0/mlflow/items/abc");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
}

TEST_F(HttpServerTest, OversizeApiBodyIs413) {
  auto res = client_->Post("/api/2.0/mlflow/echo", std::string(2048, 'x'), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_FALSE(Json::parse(res->body)["message"].get<std::string>().empty());
  auto small = client_->Post("/api/2.0/mlflow/echo", "{}", "application/json");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200);
}

TEST_F(HttpServerTest, GzipBodiesAreInflatedUnderTheLimit) {
  httplib::Headers gzip = {{"Content-Encoding", "gzip"}};
  auto res = client_->Post("/api/2.0/mlflow/echo", gzip, Gzip("{\"a\": 1}", 9), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->body, "{\"a\": 1}");
  // 512 KB of zeros compresses to about 500 bytes: refused once it inflates past
  // the limit, never held whole.
  std::string bomb = Gzip(std::string(512 * 1024, '0'), 9);
  ASSERT_LT(bomb.size(), 1024u);
  auto refused = client_->Post("/api/2.0/mlflow/echo", gzip, bomb, "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 413);
  EXPECT_NE(refused->body.find("decompressed"), std::string::npos) << refused->body;
  auto unknown =
      client_->Post("/api/2.0/mlflow/echo", {{"Content-Encoding", "br"}}, "{}", "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 415);
}

TEST_F(HttpServerTest, LargeRepliesAreGzippedForClientsThatAcceptIt) {
  // A client that neither asks for gzip on its own nor inflates replies.
  httplib::Client raw("127.0.0.1", server_->bound_port());
  raw.set_decompress(false);
  raw.set_default_headers({{"X-Skip-Auth", "1"}});
  auto plain = raw.Get("/api/2.0/mlflow/items?n=200");
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200);
  EXPECT_FALSE(plain->has_header("Content-Encoding"));
  EXPECT_EQ(plain->get_header_value("Vary"), "Accept-Encoding");
  ASSERT_GT(plain->body.size(), kCompressMinBytes);
  EXPECT_EQ(Json::parse(plain->body)["items"].size(), 200u);

  auto gzip = raw.Get("/api/2.0/mlflow/items?n=200", {{"Accept-Encoding", "gzip, deflate"}});
  ASSERT_TRUE(gzip);
  ASSERT_EQ(gzip->status, 200);
  EXPECT_EQ(gzip->get_header_value("Content-Encoding"), "gzip");
  EXPECT_EQ(gzip->get_header_value("Vary"), "Accept-Encoding");
  EXPECT_LT(gzip->body.size() * 5, plain->body.size());
  EXPECT_EQ(Gunzip(gzip->body), plain->body);

  // Refused codings, and replies too small to be worth it, stay as they are.
  for (const char* refused : {"gzip;q=0", "br", "identity"}) {
    auto res = raw.Get("/api/2.0/mlflow/items?n=200", {{"Accept-Encoding", refused}});
    ASSERT_TRUE(res);
    EXPECT_FALSE(res->has_header("Content-Encoding")) << refused;
    EXPECT_EQ(res->body, plain->body) << refused;
  }
  auto small = raw.Get("/api/2.0/mlflow/items?n=2", {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(small);
  EXPECT_FALSE(small->has_header("Content-Encoding"));
  EXPECT_EQ(Json::parse(small->body)["items"].size(), 2u);
}

TEST_F(HttpServerTest, CredentialsAreCheckedBeforeTheBodyIsRead) {
  // A body announced far past any limit, never sent: the 401 comes anyway.
  RawClient raw(server_->bound_port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(
      raw.Send("POST /api/2.0/mlflow/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "Transfer-Encoding: chunked\r\n\r\n"));
  std::string reply = raw.ReadAll();
  EXPECT_EQ(reply.rfind("HTTP/1.1 401", 0), 0u) << reply;
  EXPECT_NE(reply.find("WWW-Authenticate: Basic"), std::string::npos) << reply;
  EXPECT_FALSE(body_seen_by_authenticate_);
  EXPECT_EQ(handled_, 0);
  // Signed in, the same route works and `before` gets what authenticate returned.
  httplib::Client signed_in("127.0.0.1", server_->bound_port());
  auto ok = signed_in.Post("/api/2.0/mlflow/echo", {{"Authorization", "let-me-in"}}, "{}",
                           "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(caller_value_, 7);
  EXPECT_FALSE(body_seen_by_authenticate_);
}

TEST_F(HttpServerTest, OversizeHeadersAre431) {
  RawClient raw(server_->bound_port());
  ASSERT_TRUE(
      raw.Send("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8192, 'a') + "\r\n\r\n"));
  std::string reply = raw.ReadAll();
  EXPECT_EQ(reply.rfind("HTTP/1.1 431", 0), 0u) << reply.substr(0, 200);
}

TEST_F(HttpServerTest, SlowHeadersAreCutOffAtTheDeadline) {
  RawClient raw(server_->bound_port());
  ASSERT_TRUE(raw.Send("GET /hea"));
  auto start = std::chrono::steady_clock::now();
  std::string reply = raw.ReadAll();  // returns when the server closes
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(reply.empty()) << reply;
  EXPECT_LT(waited, 4.5);  // closed by the 1.5 s deadline, not by the client's 5 s timeout
  // Meanwhile everyone else is served.
  auto res = client_->Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(HttpServerTest, StreamingRoutesReadTheBodyInPiecesUnderTheirLimit) {
  std::string big(3 * 1024 * 1024 + 17, 'z');
  auto res = client_->Put("/upload/a/b.bin", big, "application/octet-stream");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  Json body = Json::parse(res->body);
  EXPECT_EQ(body["name"], "a/b.bin");
  EXPECT_EQ(body["bytes"], big.size());
  auto refused =
      client_->Put("/upload/c", std::string(5 * 1024 * 1024, 'z'), "application/octet-stream");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 413);
  // Chunked: the limit is counted as pieces arrive.
  RawClient raw(server_->bound_port());
  std::string chunk(1024 * 1024, 'y');
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
  std::string request = "PUT /upload/d HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) request += size + chunk + "\r\n";
  request += "0\r\n\r\n";
  raw.Send(request);
  std::string reply = raw.ReadAll();
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply.substr(0, 200);
}

TEST_F(HttpServerTest, ExpectContinueIsAnsweredAfterTheChecks) {
  RawClient raw(server_->bound_port());
  ASSERT_TRUE(
      raw.Send("POST /api/2.0/mlflow/echo HTTP/1.1\r\nHost: x\r\nX-Skip-Auth: 1\r\n"
               "Expect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(raw.Send("{}"));
  std::string reply = raw.ReadAll();
  EXPECT_EQ(reply.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200", 0), 0u) << reply;
  // Too large: refused without a 100, so the client never sends the body.
  RawClient big(server_->bound_port());
  ASSERT_TRUE(
      big.Send("POST /api/2.0/mlflow/echo HTTP/1.1\r\nHost: x\r\nX-Skip-Auth: 1\r\n"
               "Expect: 100-continue\r\nContent-Length: 1000000\r\n\r\n"));
  std::string refused = big.ReadAll();
  EXPECT_EQ(refused.rfind("HTTP/1.1 413", 0), 0u) << refused;
}

TEST_F(HttpServerTest, MetricsCountRequestsByRouteAndStatus) {
  client_->Get("/api/2.0/mlflow/missing");
  client_->Get("/api/2.0/mlflow/missing");
  client_->Post("/api/2.0/mlflow/echo", "{}", "application/json");
  // A request is counted before its reply is written.
  auto res = client_->Get("/metrics");
  ASSERT_TRUE(res);
  std::string body = res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(
      body.find("slipway_http_requests_total{route=\"echo\",method=\"POST\",status=\"200\"} 1"),
      std::string::npos)
      << body;
  EXPECT_NE(
      body.find("slipway_http_requests_total{route=\"missing\",method=\"GET\",status=\"404\"} 2"),
      std::string::npos)
      << body;
  EXPECT_NE(body.find("slipway_http_request_duration_seconds_count{route=\"missing\","
                      "method=\"GET\"} 2"),
            std::string::npos);
}

// A server with an API mount at /mlflow, as `--mlflow-ui` declares it.
class ApiMountTest : public ::testing::Test {
 protected:
  void Start(bool mount) {
    HttpServer::Options options;
    options.port = 0;
    options.worker_threads = 2;
    options.access_log = false;
    server_ = std::make_unique<HttpServer>(options);
    server_->Get("/api/2.0/mlflow/items/([a-z]+)", RouteSpec("item").SignedIn(),
                 [](const Request& req, Response& res) {
                   SetJson(res, Json({{"path", req.path}, {"item", req.matches[1]}}).dump());
                 });
    server_->Get("/graphql", RouteSpec("graphql").SignedIn(),
                 [](const Request& req, Response& res) { SetJson(res, Json(req.path).dump()); });
    server_->Get("/static/(.+)", RouteSpec("ui-file").Public(),
                 [](const Request&, Response& res) { res.set_content("file", "text/plain"); });
    server_->Get("/mlflow/", RouteSpec("mounted-page").Public(),
                 [](const Request&, Response& res) { res.set_content("page", "text/html"); });
    server_->AddPathAlias("/ajax-api/2.0/", "/api/2.0/");
    if (mount) server_->AddApiMount("/mlflow/");
    HttpServer::Guard guard;
    guard.authenticate = [this](const Request& req, Response&, const RouteSpec& route) {
      std::lock_guard lock(mu_);
      guarded_.push_back(route.name() + " " + req.path);
      return std::shared_ptr<void>();
    };
    server_->SetGuard(guard);
    thread_ = std::thread([this] { server_->Listen(); });
    for (int i = 0; i < 200 && server_->bound_port() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->bound_port());
  }
  void TearDown() override {
    if (!server_) return;
    server_->Stop();
    thread_.join();
  }
  std::vector<std::string> Guarded() {
    std::lock_guard lock(mu_);
    return guarded_;
  }

  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
  std::mutex mu_;  // guards guarded_
  std::vector<std::string> guarded_;
};

TEST_F(ApiMountTest, ApiRoutesAnswerUnderTheMountAsWithout) {
  Start(true);
  for (const char* path :
       {"/mlflow/ajax-api/2.0/mlflow/items/abc", "/mlflow/api/2.0/mlflow/items/abc",
        "/mlflow/ajax-api/2.0/mlflow/items/a%62c"}) {
    auto res = client_->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
    Json body = Json::parse(res->body);
    // The handler and the guard see the one spelling of the route.
    EXPECT_EQ(body["path"], "/api/2.0/mlflow/items/abc") << path;
    EXPECT_EQ(body["item"], "abc") << path;
  }
  auto graphql = client_->Get("/mlflow/graphql");
  ASSERT_TRUE(graphql);
  EXPECT_EQ(graphql->status, 200);
  EXPECT_EQ(Json::parse(graphql->body), "/graphql");
  std::vector<std::string> guarded = Guarded();
  ASSERT_EQ(guarded.size(), 4u);
  EXPECT_EQ(guarded[0], "item /api/2.0/mlflow/items/abc");
  EXPECT_EQ(guarded[3], "graphql /graphql");
  // A route registered under the prefix is matched as spelled first.
  auto page = client_->Get("/mlflow/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->body, "page");
  // Metrics name the route, whichever spelling reached it.
  auto metrics = client_->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find(
                "slipway_http_requests_total{route=\"item\",method=\"GET\",status=\"200\"} 3"),
            std::string::npos)
      << metrics->body;
}

TEST_F(ApiMountTest, OnlyApiRoutesAreReachedThroughTheMount) {
  Start(true);
  // Not Public routes (another UI's files), not /health or /metrics, not a
  // lookalike prefix, not the prefix itself, not a path that climbs out.
  for (const char* path :
       {"/mlflow/static/x.js", "/mlflow/health", "/mlflow/metrics",
        "/mlflowx/api/2.0/mlflow/items/abc", "/mlflow", "/mlflow/../api/2.0/mlflow/items/abc",
        "/mlflow/%2e%2e/api/2.0/mlflow/items/abc", "/mlflow/nope"}) {
    auto res = client_->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_EQ(Json::parse(res->body)["error_code"], "ENDPOINT_NOT_FOUND") << path;
  }
  auto unknown = client_->Get("/mlflow/nope");
  ASSERT_TRUE(unknown);
  // The error names the path as it was asked for.
  EXPECT_NE(Json::parse(unknown->body)["message"].get<std::string>().find("/mlflow/nope"),
            std::string::npos)
      << unknown->body;
  EXPECT_TRUE(Guarded().empty());
}

TEST_F(ApiMountTest, WithoutAMountThePrefixIsNoRoute) {
  Start(false);
  auto res = client_->Get("/mlflow/ajax-api/2.0/mlflow/items/abc");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  auto plain = client_->Get("/ajax-api/2.0/mlflow/items/abc");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 200);
}

TEST(ApiMount, PrefixMustBeAnAbsolutePath) {
  HttpServer::Options options;
  options.port = 0;
  HttpServer server(options);
  EXPECT_THROW(server.AddApiMount("mlflow"), std::logic_error);
  EXPECT_THROW(server.AddApiMount("/"), std::logic_error);
}

}  // namespace
}  // namespace slipway::http
