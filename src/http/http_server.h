// Slipway's HTTP front: connections, limits, routing, request metrics, the
// access log, error replies, shutdown.
//
// HttpServer is event-driven (Boost.Beast on Asio): a few I/O threads own
// every connection and read headers and bodies asynchronously, so an idle
// keep-alive connection or a client that trickles its request costs memory,
// never a thread. A request reaches a worker thread only once it is whole
// (or, for streaming routes, once its headers passed every check), and a
// handler runs start to end on that one worker.
//
// Limits are enforced before work is done for a caller who may not be
// signed in: header size, a deadline for the headers and for the body, the
// route's body limit (from Content-Length, and again while a chunked or
// compressed body is read or inflated), and the guard's `authenticate` hook,
// which sees only the headers. A request that fails them is answered and its
// connection closed without reading the body.
//
// Subsystems register routes; each has a stable name used as the `route`
// label of the request metrics (`slipway_http_requests_total`,
// `slipway_http_request_duration_seconds`), so metrics do not grow with ids
// in paths. A handler reports failure by throwing slipway::Error; the server
// turns it into MLflow's error body and status, and any other exception into
// INTERNAL_ERROR without leaking its text. /health and /metrics are always
// served.
//
// Register routes and hooks before Listen(); after that every method is
// thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "governance/authorization.h"
#include "monitoring/metric_registry.h"

namespace slipway::http {

// A request as handlers see it. The path is percent-decoded; `params` holds
// the decoded query string (a key may repeat); `matches[0]` is the path and
// `matches[i]` the i-th capture of the route's pattern.
struct Request {
  std::string method;
  std::string path;
  std::multimap<std::string, std::string> params;
  std::vector<std::string> matches;
  std::string body;  // empty for streaming routes: they read it through a BodyReader
  std::string remote_addr;
  std::string request_id;
  std::vector<std::pair<std::string, std::string>> headers;

  bool has_header(const std::string& name) const;  // names compare case-insensitively
  std::string get_header_value(const std::string& name) const;
  bool has_param(const std::string& key) const;
  std::string get_param_value(const std::string& key) const;  // the first value, or ""
};

// Produces a reply body that is not held in memory: appends up to `max`
// bytes from `offset` on to `out`; false on a read error (the connection is
// then closed, since the status line is already sent). Called on an I/O
// thread, so it must not block for long (reads from local disk are fine).
using ContentProvider = std::function<bool(uint64_t offset, size_t max, std::string* out)>;

struct Response {
  int status = 200;
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  uint64_t provided_size = 0;
  ContentProvider provider;  // set: the body comes from it instead of `body`

  void set_content(std::string content, std::string type);
  void set_header(std::string name, std::string value);
  void set_content_provider(uint64_t size, std::string type, ContentProvider content);
};

// A streaming route's body, read as it arrives: `receiver` is called with
// each piece (inflated if the request was compressed) and may return false
// to stop. Returns false when the receiver stopped. Throws slipway::Error
// (413) past the route's body limit, and (400) when the client stops
// sending or disconnects.
using BodyReceiver = std::function<bool(const char* data, size_t length)>;
using BodyReader = std::function<bool(const BodyReceiver& receiver)>;

// Everything that belongs to a route, declared where it is registered: its
// name (the `route` label of metrics and the audit action), who may call it,
// whether a successful call is audited, and its body limit.
//
//   server.Post(api + "/runs/log-metric",
//               RouteSpec("runs/log-metric").Needs(kExperiment, kEdit), handler);
//
// Needs(type, level): the service the handler calls checks `level` on a
// resource of `type` (governance::Require); after a successful handler the
// server holds the route to it, and a handler that made no such check is
// answered 500 and logged, so a declaration cannot silently go unchecked.
// SignedIn(): any signed-in caller; the service checks what the request
// reaches (creates, searches, user management). AdminOnly(): refused
// before the handler unless the caller is an admin. Public(): no caller
// needed, not even with --auth, and no audit: the route never reaches a
// store's data (the web UI's embedded files, which must load before anyone
// signs in, and the question whether anyone is; the data they show comes
// through the declared API routes). Every route declares
// one of these; registering one that does not throws std::logic_error.
//
// Audit: a route whose method is not GET is audited when it succeeds, unless
// ReadOnly() says it changes nothing (a POST search); every route is audited
// when it refuses (401, 403, 429). The entry names the route as its action
// and, as its target, the resource the service acted on.
class RouteSpec {
 public:
  enum class Access { kUndeclared, kSignedIn, kAdmin, kResource, kPublic };

  explicit RouteSpec(std::string name) : name_(std::move(name)) {}

  RouteSpec& Needs(governance::ResourceType type, governance::Permission level) {
    access_ = Access::kResource;
    type_ = type;
    level_ = level;
    return *this;
  }
  RouteSpec& SignedIn() {
    access_ = Access::kSignedIn;
    return *this;
  }
  RouteSpec& AdminOnly() {
    access_ = Access::kAdmin;
    return *this;
  }
  RouteSpec& Public() {
    access_ = Access::kPublic;
    return *this;
  }
  RouteSpec& ReadOnly() {
    read_only_ = true;
    return *this;
  }
  RouteSpec& BodyLimit(uint64_t bytes) {
    body_limit_ = bytes;
    return *this;
  }
  // The handler may run on the I/O thread that read the request, instead of
  // being handed to a worker, for requests `when` says yes to: only for
  // work that takes microseconds and never blocks (a native model's
  // prediction). Two thread switches are most of such a request's cost.
  // The server still hands it to a worker when the body is larger than
  // kInlineBodyLimit or callers must sign in (the guard may read the store).
  RouteSpec& Inline(std::function<bool(const Request&)> when) {
    inline_when_ = std::move(when);
    return *this;
  }
  static constexpr size_t kInlineBodyLimit = 64 * 1024;

  const std::string& name() const { return name_; }
  Access access() const { return access_; }
  governance::ResourceType type() const { return type_; }
  governance::Permission level() const { return level_; }
  bool read_only() const { return read_only_; }
  uint64_t body_limit() const { return body_limit_; }
  const std::function<bool(const Request&)>& inline_when() const { return inline_when_; }

 private:
  std::string name_;
  Access access_ = Access::kUndeclared;
  governance::ResourceType type_ = governance::ResourceType::kExperiment;
  governance::Permission level_ = governance::Permission::kNoPermissions;
  bool read_only_ = false;
  uint64_t body_limit_ = 0;
  std::function<bool(const Request&)> inline_when_;
};

class HttpServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 5000;
    int io_threads = 0;       // connections, parsing, writing replies; 0: one per usable core
    int worker_threads = 32;  // handlers: requests served at once
    size_t max_queued_requests = 4096;        // whole requests waiting for a worker; 503 beyond
    size_t max_header_bytes = 64 * 1024;      // request line plus headers; 431 beyond
    size_t max_json_body = 16 * 1024 * 1024;  // API requests; 413 beyond (after inflating)
    uint64_t max_upload = uint64_t{64} * 1024 * 1024 * 1024;  // streaming routes' default
    // Time to send the request line and headers, counted from when the
    // connection opened or finished its previous reply (so an idle
    // keep-alive connection is closed after this long too).
    std::chrono::milliseconds header_timeout{30000};
    // Longest silence while a body is read or a reply is written.
    std::chrono::milliseconds idle_timeout{30000};
    // Whole time to send a buffered (non-streaming) body.
    std::chrono::milliseconds body_timeout{300000};
    bool access_log = true;
    bool json_log = false;  // the access log as one JSON object a line
  };

  using Handler = std::function<void(const Request&, Response&)>;
  using StreamHandler = std::function<void(const Request&, Response&, const BodyReader&)>;

  explicit HttpServer(Options options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // `pattern` is an ECMAScript regex that must match the whole path; `route`
  // declares the rest (see RouteSpec). A body limit of 0 means the server's
  // default for that kind of route.
  void Get(const std::string& pattern, RouteSpec route, Handler handler);
  void Post(const std::string& pattern, RouteSpec route, Handler handler);
  void Patch(const std::string& pattern, RouteSpec route, Handler handler);
  void Put(const std::string& pattern, RouteSpec route, Handler handler);
  void Delete(const std::string& pattern, RouteSpec route, Handler handler);
  // A PUT whose body is streamed to the handler instead of buffered.
  void PutStream(const std::string& pattern, RouteSpec route, StreamHandler handler);
  // A path that starts with `from` is routed as the same path starting with
  // `to` (and the request's path is that one from then on: handlers, limits
  // and permissions see one spelling). Set before Listen().
  void AddPathAlias(std::string from, std::string to);
  // Serves every API route under `prefix` too ("/mlflow": a web app served
  // there calls "ajax-api/...", "graphql" relative to its page). A path
  // under `prefix` that no route answers as spelled is routed as the rest
  // of the path (after aliases), and that is the request's path from then
  // on: the same route, permission check, audit and metrics as without
  // the prefix. Only API routes are reached this way: not Public ones (the
  // web UI's files) nor /health and /metrics. Set before Listen().
  void AddApiMount(std::string prefix);

  monitoring::MetricRegistry& metrics() { return metrics_; }

  // Called for every routed request after its handler and before its reply
  // is written (so what it records is durable before the client hears back),
  // while the scope `before` returned is still alive. Set before Listen().
  using Observer = std::function<void(const Request&, const Response&, const RouteSpec& route)>;
  void SetObserver(Observer observer) { observer_ = std::move(observer); }

  // Hooks around every routed handler except /health and /metrics.
  // `authenticate` runs on an I/O thread with the request's headers only
  // (no body yet), before any of the body is read; it may refuse the
  // request by throwing slipway::Error (setting reply headers such as
  // WWW-Authenticate first) and may return an opaque value, handed back to
  // `before` on the worker, that stands for the caller. `before` runs on
  // the worker with the whole request and may refuse it the same way; what
  // it puts in `scope` (the request's governance::Operation) is kept until
  // the observer has run, also when it refuses. `after` sees the reply of a handler that
  // succeeded and may rewrite it, or refuse it by throwing.
  struct Guard {
    std::function<std::shared_ptr<void>(const Request&, Response&, const RouteSpec& route)>
        authenticate;
    std::function<void(const Request&, Response&, const RouteSpec& route,
                       const std::shared_ptr<void>& caller, std::shared_ptr<void>* scope)>
        before;
    std::function<void(const Request&, Response&, const RouteSpec& route)> after;
  };
  void SetGuard(Guard guard) { guard_ = std::move(guard); }

  // Binds and serves until Stop(); false if the address could not be bound.
  bool Listen();
  // Stops accepting, closes idle connections, lets in-flight requests
  // finish, and makes Listen() return. Safe from any thread, and from a
  // signal-waiting thread before Listen() has bound.
  void Stop();
  int bound_port() const { return bound_port_.load(); }
  // Connections open right now (for tests and /metrics).
  size_t open_connections() const;

  struct Impl;  // the Asio side, in http_server.cc

 private:
  Options options_;
  Observer observer_;
  Guard guard_;
  monitoring::Counter* access_log_dropped_ = nullptr;  // read from the access log at scrape
  monitoring::MetricRegistry metrics_;
  std::atomic<int> bound_port_{0};  // set by Listen(), read by any thread
  std::unique_ptr<Impl> impl_;
};

// Writes an MLflow error reply.
void SetError(Response& res, int status, const std::string& error_code, const std::string& message);

// Replies with a JSON body.
void SetJson(Response& res, const std::string& body);

}  // namespace slipway::http
