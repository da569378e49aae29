// Slipway's HTTP front: routing, request metrics, error replies, shutdown.
//
// HttpServer wraps cpp-httplib. Subsystems register routes on it; each route
// has a stable name used as the `route` label of the request metrics
// (`slipway_http_requests_total`, `slipway_http_request_duration_seconds`),
// so metrics do not grow with ids in paths. A handler reports failure by
// throwing slipway::Error; the server turns it into MLflow's error body and
// status, and any other exception into INTERNAL_ERROR without leaking its
// text. /health and /metrics are always served.
//
// Thread-safe once Listen() runs: requests are served by a pool of threads.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "monitoring/metric_registry.h"

namespace slipway::http {

class HttpServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 5000;
    int threads = 64;                         // one per concurrently open connection (keep-alive)
    size_t max_json_body = 16 * 1024 * 1024;  // larger API bodies get 413
    size_t max_upload = size_t{64} * 1024 * 1024 * 1024;  // artifact uploads
  };

  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  using UploadHandler = std::function<void(const httplib::Request&, httplib::Response&,
                                           const httplib::ContentReader&)>;

  explicit HttpServer(Options options);

  // `pattern` is a cpp-httplib regex path; `route` names it in metrics.
  void Get(const std::string& pattern, const std::string& route, Handler handler);
  void Post(const std::string& pattern, const std::string& route, Handler handler);
  void Patch(const std::string& pattern, const std::string& route, Handler handler);
  void Delete(const std::string& pattern, const std::string& route, Handler handler);
  // A PUT whose body is streamed to the handler instead of buffered.
  void PutStream(const std::string& pattern, const std::string& route, UploadHandler handler);

  monitoring::MetricRegistry& metrics() { return metrics_; }

  // Called for every routed request after its handler and before its reply
  // is written (so what it records is durable before the client hears back).
  // Set before Listen(); `route` is the route's name.
  using Observer = std::function<void(const httplib::Request&, const httplib::Response&,
                                      const std::string& route)>;
  void SetObserver(Observer observer) { observer_ = std::move(observer); }

  // Runs around every routed handler except /health and /metrics. `before`
  // may refuse the request by throwing slipway::Error (it may set reply
  // headers first, such as WWW-Authenticate); `after` sees the reply of a
  // handler that succeeded and may rewrite it. Set before Listen().
  struct Guard {
    std::function<void(const httplib::Request&, httplib::Response&, const std::string& route)>
        before;
    std::function<void(const httplib::Request&, httplib::Response&, const std::string& route)>
        after;
  };
  void SetGuard(Guard guard) { guard_ = std::move(guard); }

  // Binds and serves until Stop(); false if the address could not be bound.
  bool Listen();
  // Stops accepting, lets in-flight requests finish, and makes Listen() return.
  void Stop();
  int bound_port() const { return bound_port_.load(); }

 private:
  Handler Wrap(std::string route, Handler handler);
  // Counts the request in the metrics (once; the logger covers the rest).
  void Finish(const httplib::Request& req, const httplib::Response& res);
  void Record(const std::string& route, const std::string& method, int status, double seconds);

  // Runs `handler` between the guard's hooks.
  void Guarded(const httplib::Request& req, httplib::Response& res, const std::string& route,
               const std::function<void()>& handler);

  Options options_;
  Observer observer_;
  Guard guard_;
  httplib::Server server_;
  monitoring::MetricRegistry metrics_;
  std::atomic<int> bound_port_{0};  // set by Listen(), read by any thread
};

// Who the current request acts for: "anonymous" until a guard names the
// authenticated user. A request is served on one thread, start to end, so
// this is per thread; the audit trail reads it.
const std::string& CurrentPrincipal();
void SetCurrentPrincipal(std::string name);

// Writes an MLflow error reply.
void SetError(httplib::Response& res, int status, const std::string& error_code,
              const std::string& message);

// Replies with a JSON body.
void SetJson(httplib::Response& res, const std::string& body);

}  // namespace slipway::http
