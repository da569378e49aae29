#include "http/http_server.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "core/error.h"
#include "http/json_codec.h"

namespace slipway::http {
namespace {

using Clock = std::chrono::steady_clock;

// A request is served start to end on one thread, so the pre-routing hook
// and the logger can hand the route name and start time over in thread-locals.
thread_local Clock::time_point request_start;
thread_local std::string request_route;
thread_local bool request_recorded = false;
thread_local std::string request_principal = "anonymous";

bool IsApiPath(const std::string& path) {
  // Artifact and dataset-object uploads have limits of their own; the JSON
  // requests about objects (missing, fetch) have the API's.
  static const std::string kObjects = "/api/v1/datasets/objects/";
  bool object_upload =
      path.rfind(kObjects, 0) == 0 && path != kObjects + "missing" && path != kObjects + "fetch";
  return path.rfind("/api/", 0) == 0 && path.find("/mlflow-artifacts/") == std::string::npos &&
         !object_upload;
}

}  // namespace

const std::string& CurrentPrincipal() { return request_principal; }
void SetCurrentPrincipal(std::string name) { request_principal = std::move(name); }

void SetError(httplib::Response& res, int status, const std::string& error_code,
              const std::string& message) {
  res.status = status;
  res.set_content(ErrorBody(error_code, message), "application/json");
}

void SetJson(httplib::Response& res, const std::string& body) {
  res.status = 200;
  res.set_content(body, "application/json");
}

HttpServer::HttpServer(Options options) : options_(std::move(options)) {
  int threads = options_.threads;
  server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_.set_keep_alive_max_count(1000000);
  // Idle keep-alive connections hold a thread; shutdown waits for them to
  // time out, so keep this short.
  server_.set_keep_alive_timeout(3);
  server_.set_payload_max_length(options_.max_upload);
  server_.set_tcp_nodelay(true);
  // cpp-httplib's default also sets SO_REUSEPORT, which lets a second server
  // bind a port already in use and silently take half its connections.
  server_.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    request_start = Clock::now();
    request_route = "unmatched";
    request_recorded = false;
    request_principal = "anonymous";
    if (IsApiPath(req.path) && req.has_header("Content-Length")) {
      size_t length = std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10);
      if (length > options_.max_json_body) {
        SetError(res, 413, "BAD_REQUEST",
                 "Request body of " + std::to_string(length) + " bytes exceeds the limit of " +
                     std::to_string(options_.max_json_body) + " bytes for API requests.");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Replies that cpp-httplib makes itself (no route, body too large, bad
  // request line) get MLflow's error form too.
  server_.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request& req, httplib::Response& res) -> httplib::Server::HandlerResponse {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        if (res.status == 404) {
          SetError(res, 404, "ENDPOINT_NOT_FOUND",
                   "No endpoint " + req.method + " " + req.path + " exists on this server.");
        } else if (res.status == 413) {
          SetError(res, 413, "BAD_REQUEST", "Request body too large.");
        } else if (res.status == 414) {
          SetError(res, 414, "BAD_REQUEST",
                   "Request URI too long: send long values in a POST body instead.");
        } else if (res.status == 405) {
          SetError(res, 405, "ENDPOINT_NOT_FOUND",
                   "Method " + req.method + " is not allowed for " + req.path + ".");
        } else {
          SetError(res, res.status, "BAD_REQUEST", "Malformed HTTP request.");
        }
        return httplib::Server::HandlerResponse::Handled;
      }));

  // Routed requests are counted before their reply is sent (see Finish), so a
  // client that has its reply sees it counted; the rest are counted here.
  server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (!request_recorded) Finish(req, res);
  });

  server_.Get("/health", Wrap("health", [](const httplib::Request&, httplib::Response& res) {
                res.set_content("OK", "text/plain");
              }));
  server_.Get("/metrics", Wrap("metrics", [this](const httplib::Request&, httplib::Response& res) {
                res.set_content(metrics_.Render(), "text/plain; version=0.0.4; charset=utf-8");
              }));
}

void HttpServer::Finish(const httplib::Request& req, const httplib::Response& res) {
  if (observer_) {
    try {
      observer_(req, res, request_route);
    } catch (const std::exception& error) {
      spdlog::error("{} {}: request observer failed: {}", req.method, req.path, error.what());
    }
  }
  double seconds = std::chrono::duration<double>(Clock::now() - request_start).count();
  // cpp-httplib leaves the status at -1 until it writes a handler's reply as 200.
  Record(request_route, req.method, res.status == -1 ? 200 : res.status, seconds);
  request_recorded = true;
}

void HttpServer::Record(const std::string& route, const std::string& method, int status,
                        double seconds) {
  metrics_
      .GetCounter("slipway_http_requests_total", "HTTP requests served, by route and status.",
                  {{"route", route}, {"method", method}, {"status", std::to_string(status)}})
      .Increment();
  metrics_
      .GetHistogram("slipway_http_request_duration_seconds",
                    "Time from reading the request headers to writing the reply.",
                    monitoring::MetricRegistry::LatencyBuckets(),
                    {{"route", route}, {"method", method}})
      .Observe(seconds);
}

HttpServer::Handler HttpServer::Wrap(std::string route, Handler handler) {
  return [this, route = std::move(route), handler = std::move(handler),
          max_body = options_.max_json_body](const httplib::Request& req, httplib::Response& res) {
    request_route = route;
    // A chunked body has no Content-Length for the pre-routing check to see.
    if (req.body.size() > max_body && IsApiPath(req.path)) {
      SetError(res, 413, "BAD_REQUEST",
               "Request body of " + std::to_string(req.body.size()) +
                   " bytes exceeds the limit of " + std::to_string(max_body) +
                   " bytes for API requests.");
      Finish(req, res);
      return;
    }
    try {
      Guarded(req, res, route, [&] { handler(req, res); });
    } catch (const Error& error) {
      SetError(res, HttpStatusFor(error.code()), std::string(ErrorCodeName(error.code())),
               error.what());
    } catch (const nlohmann::json::exception& error) {
      SetError(res, 400, "INVALID_PARAMETER_VALUE",
               std::string("Malformed JSON in request: ") + error.what());
    } catch (const std::exception& error) {
      spdlog::error("{} {}: {}", req.method, req.path, error.what());
      SetError(res, 500, "INTERNAL_ERROR", "Internal error while serving " + req.path);
    }
    Finish(req, res);
  };
}

void HttpServer::Guarded(const httplib::Request& req, httplib::Response& res,
                         const std::string& route, const std::function<void()>& handler) {
  bool guarded = route != "health" && route != "metrics";
  if (guarded && guard_.before) guard_.before(req, res, route);
  handler();
  if (guarded && guard_.after && (res.status == -1 || res.status == 200)) {
    guard_.after(req, res, route);
  }
}

void HttpServer::Get(const std::string& pattern, const std::string& route, Handler handler) {
  server_.Get(pattern, Wrap(route, std::move(handler)));
}

void HttpServer::Post(const std::string& pattern, const std::string& route, Handler handler) {
  server_.Post(pattern, Wrap(route, std::move(handler)));
}

void HttpServer::Patch(const std::string& pattern, const std::string& route, Handler handler) {
  server_.Patch(pattern, Wrap(route, std::move(handler)));
}

void HttpServer::Delete(const std::string& pattern, const std::string& route, Handler handler) {
  server_.Delete(pattern, Wrap(route, std::move(handler)));
}

void HttpServer::PutStream(const std::string& pattern, const std::string& route,
                           UploadHandler handler) {
  server_.Put(pattern, [this, route, handler = std::move(handler)](
                           const httplib::Request& req, httplib::Response& res,
                           const httplib::ContentReader& reader) {
    request_route = route;
    try {
      Guarded(req, res, route, [&] { handler(req, res, reader); });
    } catch (const Error& error) {
      SetError(res, HttpStatusFor(error.code()), std::string(ErrorCodeName(error.code())),
               error.what());
    } catch (const std::exception& error) {
      spdlog::error("{} {}: {}", req.method, req.path, error.what());
      SetError(res, 500, "INTERNAL_ERROR", "Internal error while serving " + req.path);
    }
    Finish(req, res);
  });
}

bool HttpServer::Listen() {
  if (options_.port == 0) {
    int port = server_.bind_to_any_port(options_.host);
    if (port <= 0) return false;
    bound_port_ = port;
  } else {
    if (!server_.bind_to_port(options_.host, options_.port)) return false;
    bound_port_ = options_.port;
  }
  return server_.listen_after_bind();
}

void HttpServer::Stop() { server_.stop(); }

}  // namespace slipway::http
