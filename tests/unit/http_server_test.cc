#include "http/http_server.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/error.h"
#include "http/json_codec.h"

namespace slipway::http {
namespace {

// A real HttpServer on a free loopback port, driven by cpp-httplib's client.
class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServer::Options options;
    options.port = 0;
    options.threads = 4;
    options.max_json_body = 1024;
    server_ = std::make_unique<HttpServer>(options);
    server_->Post(
        "/api/2.0/mlflow/echo", "echo",
        [](const httplib::Request& req, httplib::Response& res) { SetJson(res, req.body); });
    server_->Get("/api/2.0/mlflow/missing", "missing",
                 [](const httplib::Request&, httplib::Response&) {
                   throw Error(ErrorCode::kResourceDoesNotExist, "Run with id=x not found");
                 });
    server_->Get("/api/2.0/mlflow/boom", "boom", [](const httplib::Request&, httplib::Response&) {
      throw std::runtime_error("secret internal detail");
    });
    thread_ = std::thread([this] { server_->Listen(); });
    for (int i = 0; i < 200 && server_->bound_port() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->bound_port());
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
};

TEST_F(HttpServerTest, ErrorsBecomeMlflowBodiesWithStatus) {
  auto res = client_->Get("/api/2.0/mlflow/missing");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  Json body = Json::parse(res->body);
  EXPECT_EQ(body["error_code"], "RESOURCE_DOES_NOT_EXIST");
  EXPECT_EQ(body["message"], "Run with id=x not found");
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

TEST_F(HttpServerTest, MetricsCountRequestsByRouteAndStatus) {
  client_->Get("/api/2.0/mlflow/missing");
  client_->Get("/api/2.0/mlflow/missing");
  client_->Post("/api/2.0/mlflow/echo", "{}", "application/json");
  // A request is counted just after its reply is written, so the count of
  // the last one may lag a moment behind; poll briefly.
  const std::string expected =
      "slipway_http_requests_total{route=\"echo\",method=\"POST\",status=\"200\"} 1";
  std::string body;
  std::string content_type;
  for (int i = 0; i < 100; ++i) {
    auto res = client_->Get("/metrics");
    ASSERT_TRUE(res);
    body = res->body;
    content_type = res->get_header_value("Content-Type");
    if (body.find(expected) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(body.find(expected), std::string::npos) << body;
  EXPECT_NE(
      body.find("slipway_http_requests_total{route=\"missing\",method=\"GET\",status=\"404\"} 2"),
      std::string::npos)
      << body;
  EXPECT_NE(body.find("slipway_http_request_duration_seconds_count{route=\"missing\","
                      "method=\"GET\"} 2"),
            std::string::npos);
}

}  // namespace
}  // namespace slipway::http
