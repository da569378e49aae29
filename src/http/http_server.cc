#include "http/http_server.h"

#include <spdlog/spdlog.h>
#include <strings.h>
#include <zlib.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <regex>
#include <unordered_map>

#include "core/cpus.h"
#include "core/error.h"
#include "core/executor.h"
#include "http/access_log.h"
#include "http/content_coding.h"
#include "http/json_codec.h"

namespace slipway::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
// The I/O threads each run an io_context of their own, and a connection
// lives on one of them for its whole life: its handlers never run on two
// threads, so it needs no strand, and what a request allocates is freed on
// the thread that allocated it (with one io_context shared by all I/O
// threads, connections moved between threads and their frees contended for
// malloc's arena locks). The socket names the executor's concrete type: with
// the default, type-erased any_io_executor, Asio allocated a copy of the
// executor on the heap for every read and write.
using ConnectionExecutor = asio::io_context::executor_type;
using ConnectionSocket = asio::basic_stream_socket<tcp, ConnectionExecutor>;
using ConnectionStream = beast::basic_stream<tcp, ConnectionExecutor, beast::unlimited_rate_policy>;
using Clock = std::chrono::steady_clock;

constexpr size_t kBodyPiece = 64 * 1024;
constexpr size_t kIdleBufferBytes = 8 * 1024;
constexpr size_t kHeaderReadBytes = 4 * 1024;
constexpr uint64_t kBodyReserveCap = 1024 * 1024;
// Bytes of a streamed body read ahead of the handler before reading pauses.
constexpr size_t kStreamReadAhead = 1024 * 1024;
// After an early reply (401, 413, ...) the rest of the request body is read
// and dropped for this long, so the client sees the reply instead of a reset.
constexpr std::chrono::milliseconds kLingerTime{2000};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoding (and '+' as a space in query strings). Malformed escapes are
// kept as they are, as cpp-httplib and Flask do.
std::string PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void ParseQuery(std::string_view query, std::multimap<std::string, std::string>* params) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1), true);
    params->emplace(std::move(key), std::move(value));
  }
}

// Control characters shown as '?' so a log line stays one line.
std::string Printable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

// Inflates a gzip or zlib ("deflate") request body as it arrives, refusing
// it once the inflated size passes the limit (so a small compressed body
// cannot make a large one in memory).
class Inflater {
 public:
  Inflater() {
    // 15 + 32: accept either a gzip or a zlib header.
    if (inflateInit2(&stream_, 15 + 32) != Z_OK) {
      throw Error(ErrorCode::kInternalError, "zlib could not start inflating");
    }
  }
  ~Inflater() { inflateEnd(&stream_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  void Feed(const char* data, size_t size, uint64_t limit, uint64_t* total,
            const std::function<void(const char*, size_t)>& sink) {
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    stream_.avail_in = static_cast<uInt>(size);
    std::array<char, 64 * 1024> out;
    while (stream_.avail_in > 0 && !finished_) {
      stream_.next_out = reinterpret_cast<Bytef*>(out.data());
      stream_.avail_out = static_cast<uInt>(out.size());
      int rc = inflate(&stream_, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        throw Error(ErrorCode::kBadRequest,
                    "The request body is not valid for its Content-Encoding (" +
                        std::string(stream_.msg ? stream_.msg : "corrupt data") + ").");
      }
      size_t produced = out.size() - stream_.avail_out;
      *total += produced;
      if (*total > limit) {
        throw Error(ErrorCode::kPayloadTooLarge, "Request body exceeds the limit of " +
                                                     std::to_string(limit) +
                                                     " bytes once decompressed.");
      }
      if (produced > 0) sink(out.data(), produced);
      if (rc == Z_STREAM_END) finished_ = true;
      if (rc == Z_BUF_ERROR && produced == 0) break;
    }
  }

 private:
  z_stream stream_{};
  bool finished_ = false;
};

// A streaming route's body between the I/O thread that reads it and the
// worker whose handler consumes it.
struct BodyChannel {
  std::mutex mu;  // guards everything below
  std::condition_variable changed;
  std::deque<std::string> pieces;
  size_t queued_bytes = 0;
  bool complete = false;   // the whole body has been queued
  bool paused = false;     // the reader stopped reading until the handler catches up
  bool abandoned = false;  // the handler returned; later pieces are dropped
  std::optional<Error> failure;
};

}  // namespace

// ---- Request / Response ----------------------------------------------------

bool Request::has_header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (strcasecmp(key.c_str(), name.c_str()) == 0) return true;
  }
  return false;
}

std::string Request::get_header_value(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (strcasecmp(key.c_str(), name.c_str()) == 0) return value;
  }
  return {};
}

bool Request::has_param(const std::string& key) const { return params.count(key) > 0; }

std::string Request::get_param_value(const std::string& key) const {
  auto it = params.find(key);
  return it == params.end() ? std::string() : it->second;
}

void Response::set_content(std::string content, std::string type) {
  body = std::move(content);
  content_type = std::move(type);
  provider = nullptr;
}

void Response::set_header(std::string name, std::string value) {
  for (auto& [key, existing] : headers) {
    if (strcasecmp(key.c_str(), name.c_str()) == 0) {
      existing = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

void Response::set_content_provider(uint64_t size, std::string type, ContentProvider content) {
  body.clear();
  content_type = std::move(type);
  provided_size = size;
  provider = std::move(content);
}

void SetError(Response& res, int status, const std::string& error_code,
              const std::string& message) {
  res.status = status;
  res.set_content(ErrorBody(error_code, message), "application/json");
}

void SetJson(Response& res, const std::string& body) {
  res.status = 200;
  res.set_content(body, "application/json");
}

// ---- The server's insides --------------------------------------------------

namespace {

struct Route {
  std::string method;
  std::string name;
  RouteSpec spec{""};
  std::string literal;                // the path, when the pattern has no regex syntax
  std::optional<std::regex> pattern;  // otherwise
  HttpServer::Handler handler;
  HttpServer::StreamHandler stream_handler;  // set for streaming routes
  uint64_t body_limit = 0;
  bool guarded = true;
  // Looked up once: the latency histogram, and the request counter per status.
  monitoring::Histogram* latency = nullptr;
  std::array<std::atomic<monitoring::Counter*>, 500> by_status{};  // 100..599
};

bool IsLiteral(const std::string& pattern) {
  return pattern.find_first_of("()[]{}*+?.\\|^$") == std::string::npos;
}

// One request on its way through the server.
struct Exchange {
  Request req;
  Response res;
  Route* route = nullptr;
  std::string raw_path;  // as sent, for the log
  Clock::time_point start;
  Clock::time_point body_deadline;
  std::shared_ptr<void> caller;  // from Guard::authenticate
  bool authenticated = false;
  bool keep_alive = true;
  bool body_pending = false;  // the headers announced a body
  bool head = false;
  bool expect_continue = false;
  std::optional<Inflater> inflater;
  uint64_t inflated = 0;
  uint64_t received = 0;
  std::shared_ptr<BodyChannel> channel;  // streaming routes
  std::string error_message;             // for the log
};

}  // namespace

class Connection;

struct HttpServer::Impl {
  explicit Impl(HttpServer& server)
      : owner(server), control(asio::make_strand(ioc)), acceptor(control) {}

  const HttpServer::Options& options() const { return owner.options_; }
  const HttpServer::Guard& guard() const { return owner.guard_; }
  // The route for the request's method and path, or null; rewrites
  // req.path to the spelling the route answers (aliases, mounts).
  Route* Match(Request& req);
  Route* MatchPath(Request& req, bool api_only);
  // A declared route (RouteSpec); throws std::logic_error if it declares no access.
  Route* Declare(const std::string& method, const std::string& pattern, RouteSpec spec,
                 uint64_t default_limit);
  // Registers a route, its metric handles looked up once here.
  Route* AddRoute(const std::string& method, const std::string& pattern, const std::string& name,
                  uint64_t body_limit);
  void Finish(Exchange& ex, bool observe);
  monitoring::Counter& CounterFor(Route* route, const std::string& method, int status);
  void Log(const Exchange& ex, double seconds);
  void Accept();
  void ConnectionClosed();

  HttpServer& owner;
  // The first I/O thread's io_context (the thread that calls Listen); it
  // also runs the server's own state.
  asio::io_context ioc{1};
  // The other I/O threads', one each; filled by Listen.
  std::vector<std::unique_ptr<asio::io_context>> more_io;
  std::atomic<size_t> next_io{0};  // round robin of new connections
  // Serializes the server's own state (acceptor, work guards, stop deadline).
  asio::strand<asio::io_context::executor_type> control;
  tcp::acceptor acceptor;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;

  asio::io_context& NextIo() {
    const size_t k = next_io.fetch_add(1, std::memory_order_relaxed) % (more_io.size() + 1);
    return k == 0 ? ioc : *more_io[k - 1];
  }
  void StopIo() {
    ioc.stop();
    for (auto& context : more_io) context->stop();
  }
  std::vector<std::unique_ptr<Route>> routes;                           // fixed once Listen() runs
  std::unordered_map<std::string, std::vector<Route*>> literal_routes;  // by path
  std::vector<Route*> pattern_routes;
  std::vector<std::pair<std::string, std::string>> path_aliases;  // from, to
  std::vector<std::string> api_mounts;                            // prefixes, no trailing '/'
  Route unmatched;
  std::unique_ptr<core::Executor> workers;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> open{0};
  std::atomic<uint64_t> next_request{0};
  uint32_t id_prefix = 0;
  std::mutex connections_mu;  // guards connections
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections;
  std::optional<asio::steady_timer> stop_deadline;  // used on `control` only
};

// One client connection: reads requests one after another (no pipelining
// overlap), hands each to a worker, writes its reply. Every member is used
// on the connection's strand only; a worker holds a shared_ptr while it
// serves a request and posts back to the strand to reply.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpServer::Impl& server, ConnectionSocket socket)
      : server_(server), options_(server.options()), stream_(std::move(socket)) {
    beast::error_code ec;
    auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = endpoint.address().to_string();
    stream_.socket().set_option(tcp::no_delay(true), ec);
  }

  ~Connection() { server_.ConnectionClosed(); }

  void Start() {
    {
      std::lock_guard lock(server_.connections_mu);
      server_.connections[this] = weak_from_this();
    }
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Connection::ReadHeader, shared_from_this()));
  }

  // On stop: a connection waiting for a request's headers is closed; one
  // whose body is arriving, or whose request is being served, finishes it
  // first (within its timeouts and the stop deadline).
  void CloseIfIdle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->phase_ == Phase::kHeader) self->Close();
    });
  }

  // Called on the strand by a worker's post once the reply is ready.
  void Reply(std::shared_ptr<Exchange> ex) {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kWriting;
    if (!BodyConsumed() || server_.stopping) ex->keep_alive = false;
    Response& res = ex->res;
    uint64_t length = res.provider ? res.provided_size : res.body.size();
    auto out = std::make_shared<std::string>();
    out->reserve(256 + (ex->head || res.provider ? 0 : res.body.size()));
    auto status = static_cast<bhttp::status>(res.status);
    *out += "HTTP/1.1 " + std::to_string(res.status) + " ";
    auto reason = bhttp::obsolete_reason(status);
    out->append(reason.data(), reason.size());
    *out += "\r\nServer: slipway\r\nX-Request-Id: " + ex->req.request_id;
    if (!res.content_type.empty()) *out += "\r\nContent-Type: " + Printable(res.content_type);
    for (const auto& [name, value] : res.headers) {
      *out += "\r\n" + Printable(name) + ": " + Printable(value);
    }
    *out += "\r\nContent-Length: " + std::to_string(length);
    *out += ex->keep_alive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
    bool provided = res.provider && !ex->head;
    if (!ex->head && !res.provider) out->append(res.body);
    // Give a large reply's memory back now rather than when the exchange ends.
    std::string().swap(res.body);
    stream_.expires_after(options_.idle_timeout);
    asio::async_write(stream_, asio::buffer(*out),
                      [self = shared_from_this(), ex, out, provided](beast::error_code ec, size_t) {
                        if (ec || !provided) return self->AfterWrite(ex, ec);
                        self->WriteProvided(ex, 0);
                      });
  }

  // Reads more of a streamed body once the handler has caught up (called
  // by the worker's BodyReader).
  void ResumeBody(std::shared_ptr<Exchange> ex) {
    asio::post(stream_.get_executor(),
               [self = shared_from_this(), ex] { self->ReadBody(std::move(ex)); });
  }

 private:
  enum class Phase { kHeader, kBody, kServing, kWriting, kLingering, kClosed };

  void ReadHeader() {
    if (server_.stopping) return Close();
    phase_ = Phase::kHeader;
    // An idle keep-alive connection keeps a small buffer (see ReadBody).
    if (buffer_.capacity() > kIdleBufferBytes && buffer_.size() <= kIdleBufferBytes)
      buffer_.shrink_to_fit();
    // Beast reads as much as the buffer has room for (512 bytes at first):
    // room for a whole small request saves a second recv per request.
    if (buffer_.capacity() < kHeaderReadBytes) buffer_.reserve(kHeaderReadBytes);
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    // Each route's limit is checked as the body arrives. (Not boost::none:
    // Beast 1.74 compares a Content-Length against an empty optional as
    // larger than it.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    stream_.expires_after(options_.header_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Connection::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t) {
    if (ec == bhttp::error::header_limit) {
      // Beast parses (and stores) the request line before the fields, so
      // an empty target means the request line itself was too long.
      if (parser_->get().target().empty()) {
        return RejectEarly(NewExchange(false), 414, "BAD_REQUEST",
                           "Request URI too long: send long values in a POST body instead.", true);
      }
      return RejectEarly(
          NewExchange(false), 431, "BAD_REQUEST",
          "Request headers exceed " + std::to_string(options_.max_header_bytes) + " bytes.", true);
    }
    if (ec == beast::error::timeout || ec == bhttp::error::end_of_stream ||
        ec == asio::error::eof || ec == asio::error::operation_aborted) {
      return Close();
    }
    if (ec) {
      // Not HTTP (bad request line, bad header syntax): answer once, close.
      return RejectEarly(NewExchange(false), 400, "BAD_REQUEST",
                         "Malformed HTTP request: " + ec.message() + ".", true);
    }
    std::shared_ptr<Exchange> ex = NewExchange(true);
    Request& req = ex->req;
    ex->route = server_.Match(req);
    if (ex->route == nullptr) {
      ex->route = &server_.unmatched;
      return RejectEarly(ex, 404, "ENDPOINT_NOT_FOUND",
                         "No endpoint " + req.method + " " + req.path + " exists on this server.");
    }
    Route& route = *ex->route;
    const auto& message = parser_->get();
    // Limits first, from the headers alone.
    auto length = parser_->content_length();
    if (length && *length > route.body_limit) {
      return RejectEarly(ex, 413, "BAD_REQUEST",
                         "Request body of " + std::to_string(*length) +
                             " bytes exceeds the limit of " + std::to_string(route.body_limit) +
                             " bytes for " + route.name + ".");
    }
    std::string encoding = std::string(message[bhttp::field::content_encoding]);
    if (!encoding.empty() && strcasecmp(encoding.c_str(), "identity") != 0) {
      if (strcasecmp(encoding.c_str(), "gzip") == 0 ||
          strcasecmp(encoding.c_str(), "x-gzip") == 0 ||
          strcasecmp(encoding.c_str(), "deflate") == 0) {
        ex->inflater.emplace();
      } else {
        return RejectEarly(ex, 415, "BAD_REQUEST",
                           "Unsupported Content-Encoding '" + Printable(encoding) +
                               "': send gzip, deflate or an uncompressed body.");
      }
    }
    ex->expect_continue =
        strcasecmp(std::string(message[bhttp::field::expect]).c_str(), "100-continue") == 0;
    ex->keep_alive = message.keep_alive();
    ex->body_pending = !parser_->is_done();
    if (route.guarded && server_.guard().authenticate) {
      // Credentials are checked (on a worker: a password hash is slow)
      // before a byte of the body is read.
      phase_ = Phase::kServing;
      Submit(ex);
      return;
    }
    ex->authenticated = true;
    ReceiveBody(ex);
  }

  // After the headers passed: read the body (or stream it) and serve.
  void ReceiveBody(std::shared_ptr<Exchange> ex) {
    if (ex->expect_continue && !parser_->is_done()) {
      ex->expect_continue = false;
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      phase_ = Phase::kBody;
      stream_.expires_after(options_.idle_timeout);
      asio::async_write(stream_, asio::buffer(kContinue),
                        [self = shared_from_this(), ex](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReceiveBody(ex);
                        });
      return;
    }
    if (ex->route->stream_handler) {
      ex->channel = std::make_shared<BodyChannel>();
      phase_ = Phase::kServing;
      if (Submit(ex)) ReadBody(ex);
      return;
    }
    phase_ = Phase::kBody;
    ex->body_deadline = Clock::now() + options_.body_timeout;
    // The declared length, up to a cap: a client may declare what it never
    // sends, and the body grows past the cap the ordinary way.
    if (auto length = parser_->content_length(); length && !ex->inflater)
      ex->req.body.reserve(static_cast<size_t>(std::min<uint64_t>(*length, kBodyReserveCap)));
    ReadBody(ex);
  }

  void ReadBody(std::shared_ptr<Exchange> ex) {
    // A worker's ResumeBody can arrive after a read was started another way
    // (the lingering read after an early reply): one read at a time.
    if (phase_ == Phase::kClosed || reading_) return;
    if (parser_->is_done()) return BodyDone(ex);
    if (piece_.empty()) piece_.resize(kBodyPiece);
    // Beast reads at most the connection buffer's free capacity (at least
    // 512 bytes) per system call, and the buffer never grows while the body
    // parser drains it: a 300 KB body took some 500 reads, each re-arming the
    // timer and the epoll registration. A body piece's worth of capacity
    // makes it a handful. ReadHeader gives the memory back. (Only for
    // bodies that do not fit already: for small ones the allocation and its
    // release cost more than the reads.)
    const auto declared = parser_->content_length();
    if (buffer_.capacity() < kBodyPiece && (!declared || *declared > buffer_.capacity()))
      buffer_.reserve(kBodyPiece);
    auto& body = parser_->get().body();
    body.data = piece_.data();
    body.size = piece_.size();
    auto timeout = options_.idle_timeout;
    if (phase_ == Phase::kBody) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(ex->body_deadline - Clock::now());
      timeout = std::max(std::chrono::milliseconds(1), std::min(timeout, left));
    } else if (phase_ == Phase::kLingering) {
      timeout = kLingerTime;
    }
    stream_.expires_after(timeout);
    reading_ = true;
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this(), ex](beast::error_code ec, size_t) {
                        self->OnBodyPiece(ex, ec);
                      });
  }

  void OnBodyPiece(std::shared_ptr<Exchange> ex, beast::error_code ec) {
    reading_ = false;
    if (phase_ == Phase::kClosed) return;
    if (ec == bhttp::error::need_buffer) ec = {};
    size_t got = piece_.size() - parser_->get().body().size;
    if (phase_ == Phase::kLingering) {
      if (ec || parser_->is_done()) return Close();
      return ReadBody(ex);
    }
    if (ec) {
      std::string why = ec == beast::error::timeout
                            ? "the client sent nothing for too long"
                            : "the connection failed (" + ec.message() + ")";
      if (ex->channel) return FailStream(ex, "The request body stopped arriving: " + why + ".");
      if (ec == beast::error::timeout) {
        return RejectEarly(ex, 408, "BAD_REQUEST",
                           "The request body did not arrive in time: " + why + ".");
      }
      return Close();
    }
    try {
      Consume(*ex, piece_.data(), got);
    } catch (const Error& error) {
      if (ex->channel) return FailStream(ex, error.what(), error.code());
      return RejectEarly(ex, HttpStatusFor(error.code()), std::string(ErrorCodeName(error.code())),
                         error.what());
    }
    if (ex->channel) {
      bool pause = false;
      {
        std::lock_guard lock(ex->channel->mu);
        if (parser_->is_done()) ex->channel->complete = true;
        if (ex->channel->abandoned) {
          ex->channel->pieces.clear();
          ex->channel->queued_bytes = 0;
        }
        pause = ex->channel->queued_bytes >= kStreamReadAhead && !parser_->is_done();
        ex->channel->paused = pause;
      }
      ex->channel->changed.notify_all();
      if (pause || parser_->is_done()) return;
      return ReadBody(ex);
    }
    ReadBody(ex);
  }

  // Appends a piece of body (inflated when compressed) to the request or
  // the stream, enforcing the route's limit.
  void Consume(Exchange& ex, const char* data, size_t size) {
    uint64_t limit = ex.route->body_limit;
    ex.received += size;
    auto sink = [&](const char* bytes, size_t n) {
      if (ex.channel) {
        std::lock_guard lock(ex.channel->mu);
        if (ex.channel->abandoned) return;
        ex.channel->pieces.emplace_back(bytes, n);
        ex.channel->queued_bytes += n;
      } else {
        ex.req.body.append(bytes, n);
      }
    };
    if (ex.inflater) {
      ex.inflater->Feed(data, size, limit, &ex.inflated, sink);
      return;
    }
    if (ex.received > limit) {
      throw Error(ErrorCode::kPayloadTooLarge, "Request body exceeds the limit of " +
                                                   std::to_string(limit) + " bytes for " +
                                                   ex.route->name + ".");
    }
    if (size > 0) sink(data, size);
  }

  void BodyDone(std::shared_ptr<Exchange> ex) {
    if (ex->channel) return;  // the worker already serves it
    phase_ = Phase::kServing;
    Submit(ex);
  }

  void FailStream(std::shared_ptr<Exchange> ex, std::string why,
                  ErrorCode code = ErrorCode::kBadRequest) {
    {
      std::lock_guard lock(ex->channel->mu);
      ex->channel->failure.emplace(code, std::move(why));
    }
    ex->channel->changed.notify_all();
    // The worker answers (if the client is still there); the reply closes the
    // connection, since the body was not read to its end (see Reply).
  }

  bool BodyConsumed() const { return parser_ && parser_->is_done(); }

  std::shared_ptr<Exchange> NewExchange(bool parsed) {
    auto ex = std::make_shared<Exchange>();
    ex->start = Clock::now();
    char id[32];
    std::snprintf(id, sizeof id, "%08x%08llx", server_.id_prefix,
                  static_cast<unsigned long long>(server_.next_request.fetch_add(1)));
    ex->req.request_id = id;
    ex->req.remote_addr = remote_;
    ex->route = &server_.unmatched;
    if (!parsed) return ex;
    const auto& message = parser_->get();
    ex->req.method = std::string(message.method_string());
    std::string_view target(message.target().data(), message.target().size());
    size_t question = target.find('?');
    ex->raw_path = std::string(target.substr(0, question));
    ex->req.path = PercentDecode(target.substr(0, question), false);
    if (question != std::string_view::npos) {
      ParseQuery(target.substr(question + 1), &ex->req.params);
    }
    ex->req.headers.reserve(16);
    for (const auto& field : message) {
      ex->req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    if (ex->req.method == "HEAD") {
      ex->head = true;
      ex->req.method = "GET";
    }
    return ex;
  }

  // Answers without serving: a limit or a malformed request. The body, if
  // any, is not read into memory: it is drained briefly so the client sees
  // the reply, and the connection closes.
  void RejectEarly(std::shared_ptr<Exchange> ex, int status, const std::string& code,
                   const std::string& message, bool close = false) {
    SetError(ex->res, status, code, message);
    ex->error_message = message;
    if (close) ex->keep_alive = false;
    server_.Finish(*ex, false);
    Reply(std::move(ex));
  }

  // Hands the exchange to a worker; false (and a 503 sent) when they are
  // all busy and the queue is full.
  bool Submit(std::shared_ptr<Exchange> ex);

  void WriteProvided(std::shared_ptr<Exchange> ex, uint64_t offset) {
    Response& res = ex->res;
    if (offset >= res.provided_size) return AfterWrite(ex, {});
    auto piece = std::make_shared<std::string>();
    size_t want = static_cast<size_t>(std::min<uint64_t>(kBodyPiece, res.provided_size - offset));
    if (!res.provider(offset, want, piece.get()) || piece->empty()) {
      spdlog::error("{} {}: reading the reply body failed at byte {}", ex->req.method,
                    Printable(ex->raw_path), offset);
      return Close();
    }
    stream_.expires_after(options_.idle_timeout);
    asio::async_write(stream_, asio::buffer(*piece),
                      [self = shared_from_this(), ex, piece, offset](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->WriteProvided(ex, offset + piece->size());
                      });
  }

  void AfterWrite(std::shared_ptr<Exchange> ex, beast::error_code ec) {
    if (ec) return Close();
    if (ex->keep_alive) return ReadHeader();
    if (parser_ && parser_->is_header_done() && !parser_->is_done() && !ex->channel) {
      // Drop what is left of the body for a moment before closing.
      phase_ = Phase::kLingering;
      return ReadBody(ex);
    }
    if (ex->channel && !parser_->is_done()) {
      // The handler stopped reading: drop the rest for a moment (a read
      // may still be outstanding; it sees the phase).
      phase_ = Phase::kLingering;
      if (!reading_) ReadBody(ex);
      return;
    }
    Close();
  }

  void Close() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
    std::lock_guard lock(server_.connections_mu);
    server_.connections.erase(this);
  }

  HttpServer::Impl& server_;
  const HttpServer::Options& options_;
  ConnectionStream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> parser_;
  std::string piece_;  // the body read buffer, allocated on first use
  std::string remote_;
  Phase phase_ = Phase::kHeader;
  bool reading_ = false;  // a body read is outstanding

  friend struct HttpServer::Impl;
  friend void ServeOnWorker(HttpServer::Impl&, std::shared_ptr<Connection>,
                            std::shared_ptr<Exchange>);
};

namespace {

// The BodyReader a streaming handler gets: pieces from the channel, waiting
// for the I/O thread to read more.
BodyReader MakeBodyReader(std::shared_ptr<Connection> connection, std::shared_ptr<Exchange> ex) {
  return [connection, ex](const BodyReceiver& receiver) {
    BodyChannel& channel = *ex->channel;
    for (;;) {
      std::string piece;
      bool resume = false;
      {
        std::unique_lock lock(channel.mu);
        channel.changed.wait(
            lock, [&] { return !channel.pieces.empty() || channel.complete || channel.failure; });
        if (channel.pieces.empty()) {
          if (channel.failure) throw *channel.failure;
          return true;  // complete
        }
        piece = std::move(channel.pieces.front());
        channel.pieces.pop_front();
        channel.queued_bytes -= piece.size();
        if (channel.paused && channel.queued_bytes < kStreamReadAhead / 2) {
          channel.paused = false;
          resume = true;
        }
      }
      if (resume) connection->ResumeBody(ex);
      if (!receiver(piece.data(), piece.size())) return false;
    }
  };
}

}  // namespace

// Runs on a worker: authentication (when the headers alone were checked so
// far), then the guard, the handler and the hooks; posts the reply back.
void ServeOnWorker(HttpServer::Impl& server, std::shared_ptr<Connection> connection,
                   std::shared_ptr<Exchange> ex) {
  const HttpServer::Guard& guard = server.guard();
  Request& req = ex->req;
  Response& res = ex->res;
  Route& route = *ex->route;
  // The guard's scope for this request (its governance::Operation), alive
  // until the observer has run.
  std::shared_ptr<void> scope;
  auto fail = [&](int status, std::string_view code, const std::string& message) {
    SetError(res, status, std::string(code), message);
    ex->error_message = message;
  };
  try {
    if (!ex->authenticated) {
      ex->caller = guard.authenticate(req, res, route.spec);
      ex->authenticated = true;
      if (ex->body_pending || route.stream_handler) {
        // The body is read now that the caller is known.
        asio::post(connection->stream_.get_executor(),
                   [connection, ex] { connection->ReceiveBody(ex); });
        return;
      }
    }
    if (route.guarded && guard.before) guard.before(req, res, route.spec, ex->caller, &scope);
    if (route.stream_handler) {
      route.stream_handler(req, res, MakeBodyReader(connection, ex));
    } else {
      route.handler(req, res);
    }
    if (route.guarded && guard.after && res.status == 200) guard.after(req, res, route.spec);
  } catch (const Error& error) {
    fail(HttpStatusFor(error.code()), ErrorCodeName(error.code()), error.what());
  } catch (const nlohmann::json::exception& error) {
    fail(400, "INVALID_PARAMETER_VALUE", std::string("Malformed JSON in request: ") + error.what());
  } catch (const std::exception& error) {
    spdlog::error("{} {} [{}]: {}", req.method, Printable(ex->raw_path), req.request_id,
                  error.what());
    fail(500, "INTERNAL_ERROR", "Internal error while serving " + req.path);
  }
  if (ex->channel) {
    std::lock_guard lock(ex->channel->mu);
    ex->channel->abandoned = true;
    ex->channel->pieces.clear();
    ex->channel->queued_bytes = 0;
  }
  server.Finish(*ex, true);
  scope.reset();
  if (!ex->head) CompressReply(req, res);
  asio::post(connection->stream_.get_executor(),
             [connection, ex]() mutable { connection->Reply(std::move(ex)); });
}

bool Connection::Submit(std::shared_ptr<Exchange> ex) {
  auto self = shared_from_this();
  const RouteSpec& spec = ex->route->spec;
  if (spec.inline_when() && ex->authenticated && !ex->route->stream_handler &&
      !server_.guard().authenticate && ex->req.body.size() <= RouteSpec::kInlineBodyLimit &&
      spec.inline_when()(ex->req)) {
    // Quick work (see RouteSpec::Inline): served here, the reply posted to
    // this connection as a worker would.
    ServeOnWorker(server_, self, ex);
    return true;
  }
  bool queued = server_.workers->TrySubmit(
      [&server = server_, self, ex] { ServeOnWorker(server, self, ex); });
  if (!queued) {
    RejectEarly(ex, 503, "TEMPORARILY_UNAVAILABLE",
                "The server is busy (" + std::to_string(options_.max_queued_requests) +
                    " requests waiting): retry later.");
  }
  return queued;
}

Route* HttpServer::Impl::Match(Request& req) {
  // "//model-versions/get-artifact" is "/model-versions/get-artifact", as
  // MLflow's server (Werkzeug) merges the slashes of a route's fixed part.
  // Only leading ones here: a path parameter keeps its slashes (an artifact
  // path "/etc/x" stays absolute, and is refused as such).
  const size_t slashes = req.path.find_first_not_of('/');
  if (slashes != std::string::npos && slashes > 1) req.path.erase(0, slashes - 1);
  std::string spelled = req.path;
  if (Route* route = MatchPath(req, false)) return route;
  for (const std::string& prefix : api_mounts) {
    if (spelled.size() <= prefix.size() || spelled.compare(0, prefix.size(), prefix) != 0 ||
        spelled[prefix.size()] != '/') {
      continue;
    }
    req.path = spelled.substr(prefix.size());
    if (Route* route = MatchPath(req, true)) return route;
    req.path = spelled;
    break;
  }
  return nullptr;
}

Route* HttpServer::Impl::MatchPath(Request& req, bool api_only) {
  for (const auto& [from, to] : path_aliases) {
    if (req.path.compare(0, from.size(), from) == 0) {
      req.path = to + req.path.substr(from.size());
      break;
    }
  }
  // Through a mount, only the guarded routes, the API: not the server's
  // own /health and /metrics, nor the Public routes (a web UI's files).
  auto eligible = [api_only](const Route* route) { return !api_only || route->guarded; };
  auto literal = literal_routes.find(req.path);
  if (literal != literal_routes.end()) {
    for (Route* route : literal->second) {
      if (route->method == req.method && eligible(route)) {
        req.matches = {req.path};
        return route;
      }
    }
  }
  std::smatch match;
  for (Route* route : pattern_routes) {
    if (route->method != req.method || !eligible(route)) continue;
    if (!std::regex_match(req.path, match, *route->pattern)) continue;
    req.matches.clear();
    for (const auto& group : match) req.matches.push_back(group.str());
    return route;
  }
  return nullptr;
}

monitoring::Counter& HttpServer::Impl::CounterFor(Route* route, const std::string& method,
                                                  int status) {
  auto lookup = [&]() -> monitoring::Counter& {
    return owner.metrics_.GetCounter(
        "slipway_http_requests_total", "HTTP requests served, by route and status.",
        {{"route", route->name}, {"method", method}, {"status", std::to_string(status)}});
  };
  if (method != route->method || status < 100 || status > 599) return lookup();
  std::atomic<monitoring::Counter*>& slot = route->by_status[status - 100];
  monitoring::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    counter = &lookup();
    slot.store(counter, std::memory_order_release);
  }
  return *counter;
}

void HttpServer::Impl::Finish(Exchange& ex, bool observe) {
  if (observe && owner.observer_) {
    try {
      owner.observer_(ex.req, ex.res, ex.route->spec);
    } catch (const std::exception& error) {
      spdlog::error("{} {}: request observer failed: {}", ex.req.method, Printable(ex.raw_path),
                    error.what());
    }
  }
  double seconds = std::chrono::duration<double>(Clock::now() - ex.start).count();
  const std::string& method = ex.req.method.empty() ? std::string("-") : ex.req.method;
  CounterFor(ex.route, method, ex.res.status).Increment();
  monitoring::Histogram* latency = ex.route->latency;
  if (latency == nullptr || method != ex.route->method) {
    latency =
        &owner.metrics_.GetHistogram("slipway_http_request_duration_seconds",
                                     "Time from reading the request headers to writing the reply.",
                                     monitoring::MetricRegistry::LatencyBuckets(),
                                     {{"route", ex.route->name}, {"method", method}});
  }
  latency->Observe(seconds);
  Log(ex, seconds);
}

void HttpServer::Impl::Log(const Exchange& ex, double seconds) {
  int status = ex.res.status;
  std::string error = ex.error_message;
  if (error.empty() && status >= 400 && ex.res.content_type == "application/json") {
    Json body = Json::parse(ex.res.body, nullptr, false);
    if (body.is_object()) error = body.value("message", std::string());
  }
  uint64_t bytes = ex.res.provider ? ex.res.provided_size : ex.res.body.size();
  std::string principal = ex.authenticated || status == 401 || status == 429
                              ? governance::CurrentActorName()
                              : std::string("anonymous");
  if (!owner.options_.access_log) {
    if (status >= 500)
      spdlog::error("{} {} -> {}: {}", ex.req.method, Printable(ex.raw_path), status, error);
    return;
  }
  if (owner.options_.json_log) {
    Json line = {{"time", std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count()},
                 {"request_id", ex.req.request_id},
                 {"principal", principal},
                 {"remote", ex.req.remote_addr},
                 {"method", ex.req.method},
                 {"path", ex.raw_path},
                 {"route", ex.route->name},
                 {"status", status},
                 {"bytes", bytes},
                 {"latency_ms", seconds * 1000.0}};
    if (status >= 400) line["error"] = error;
    AccessLog::Stderr().Write(line.dump(-1, ' ', false, Json::error_handler_t::replace), false);
    return;
  }
  std::string text =
      fmt::format("{} {} {} {} {} route={} status={} bytes={} ms={:.3f}", ex.req.request_id,
                  Printable(ex.req.remote_addr), Printable(principal),
                  ex.req.method.empty() ? "-" : ex.req.method, Printable(ex.raw_path),
                  ex.route->name, status, bytes, seconds * 1000.0);
  if (status >= 400) {
    text += " error=" + Json(error).dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  AccessLog::Stderr().Write(text, true);
}

void HttpServer::Impl::Accept() {
  acceptor.async_accept(NextIo().get_executor(), [this](beast::error_code ec,
                                                        ConnectionSocket socket) {
    if (stopping) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // Out of descriptors and the like: wait a little rather than spin.
      spdlog::warn("accepting a connection failed: {}", ec.message());
      auto timer = std::make_shared<asio::steady_timer>(control, std::chrono::milliseconds(100));
      timer->async_wait([this, timer](beast::error_code) { Accept(); });
      return;
    }
    ++open;
    std::make_shared<Connection>(*this, std::move(socket))->Start();
    Accept();
  });
}

void HttpServer::Impl::ConnectionClosed() {
  if (--open == 0 && stopping) {
    asio::post(control, [this] {
      work.clear();
      if (stop_deadline) stop_deadline->cancel();
    });
  }
}

// ---- HttpServer ------------------------------------------------------------

HttpServer::HttpServer(Options options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(*this)) {
  impl_->unmatched.name = "unmatched";
  impl_->unmatched.spec = RouteSpec("unmatched");
  impl_->unmatched.guarded = false;
  impl_->id_prefix =
      static_cast<uint32_t>(std::chrono::system_clock::now().time_since_epoch().count() ^
                            reinterpret_cast<uintptr_t>(this));
  // Always served, and never behind the guard.
  access_log_dropped_ = &metrics_.GetCounter(
      "slipway_access_log_dropped_total",
      "Access log lines dropped because stderr took them slower than requests came.", {});
  Route* health = impl_->AddRoute("GET", "/health", "health", 0);
  health->handler = [](const Request&, Response& res) { res.set_content("OK", "text/plain"); };
  health->guarded = false;
  Route* metrics = impl_->AddRoute("GET", "/metrics", "metrics", 0);
  metrics->handler = [this](const Request&, Response& res) {
    {
      // Read at scrape time: the access log counts what it dropped.
      static std::mutex mu;
      std::lock_guard lock(mu);
      const double dropped = static_cast<double>(AccessLog::Stderr().dropped());
      if (dropped > access_log_dropped_->Value())
        access_log_dropped_->Increment(dropped - access_log_dropped_->Value());
    }
    res.set_content(metrics_.Render(), "text/plain; version=0.0.4; charset=utf-8");
  };
  metrics->guarded = false;
}

HttpServer::~HttpServer() {
  Stop();
  if (impl_->workers) impl_->workers->Stop();
}

namespace {

std::unique_ptr<Route> MakeRoute(const std::string& method, const std::string& pattern,
                                 const std::string& name, uint64_t body_limit) {
  auto route = std::make_unique<Route>();
  route->method = method;
  route->name = name;
  route->body_limit = body_limit;
  if (IsLiteral(pattern)) {
    route->literal = pattern;
  } else {
    route->pattern.emplace(pattern, std::regex::ECMAScript | std::regex::optimize);
  }
  return route;
}

}  // namespace

Route* HttpServer::Impl::AddRoute(const std::string& method, const std::string& pattern,
                                  const std::string& name, uint64_t body_limit) {
  std::unique_ptr<Route> route = MakeRoute(method, pattern, name, body_limit);
  route->spec = RouteSpec(name);
  route->latency = &owner.metrics_.GetHistogram(
      "slipway_http_request_duration_seconds",
      "Time from reading the request headers to writing the reply.",
      monitoring::MetricRegistry::LatencyBuckets(), {{"route", name}, {"method", method}});
  Route* added = route.get();
  routes.push_back(std::move(route));
  if (!added->literal.empty()) {
    literal_routes[added->literal].push_back(added);
  } else {
    pattern_routes.push_back(added);
  }
  return added;
}

namespace {

// A route must say who may call it: there is no default to forget.
void RequireDeclared(const RouteSpec& spec) {
  if (spec.access() == RouteSpec::Access::kUndeclared) {
    throw std::logic_error("route " + spec.name() +
                           " declares no access (Needs, SignedIn, AdminOnly or Public)");
  }
}

}  // namespace

Route* HttpServer::Impl::Declare(const std::string& method, const std::string& pattern,
                                 RouteSpec spec, uint64_t default_limit) {
  RequireDeclared(spec);
  Route* route =
      AddRoute(method, pattern, spec.name(), spec.body_limit() ? spec.body_limit() : default_limit);
  // A public route is outside the guard, as /health is: no credentials read.
  route->guarded = spec.access() != RouteSpec::Access::kPublic;
  route->spec = std::move(spec);
  return route;
}

void HttpServer::Get(const std::string& pattern, RouteSpec route, Handler handler) {
  impl_->Declare("GET", pattern, std::move(route), 0)->handler = std::move(handler);
}

void HttpServer::Post(const std::string& pattern, RouteSpec route, Handler handler) {
  impl_->Declare("POST", pattern, std::move(route), options_.max_json_body)->handler =
      std::move(handler);
}

void HttpServer::Patch(const std::string& pattern, RouteSpec route, Handler handler) {
  impl_->Declare("PATCH", pattern, std::move(route), options_.max_json_body)->handler =
      std::move(handler);
}

void HttpServer::Put(const std::string& pattern, RouteSpec route, Handler handler) {
  impl_->Declare("PUT", pattern, std::move(route), options_.max_json_body)->handler =
      std::move(handler);
}

void HttpServer::Delete(const std::string& pattern, RouteSpec route, Handler handler) {
  impl_->Declare("DELETE", pattern, std::move(route), options_.max_json_body)->handler =
      std::move(handler);
}

void HttpServer::AddPathAlias(std::string from, std::string to) {
  impl_->path_aliases.emplace_back(std::move(from), std::move(to));
}

void HttpServer::AddApiMount(std::string prefix) {
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (prefix.empty() || prefix.front() != '/') {
    throw std::logic_error("an API mount is a path prefix such as /mlflow, not '" + prefix + "'");
  }
  impl_->api_mounts.push_back(std::move(prefix));
}

void HttpServer::PutStream(const std::string& pattern, RouteSpec route, StreamHandler handler) {
  impl_->Declare("PUT", pattern, std::move(route), options_.max_upload)->stream_handler =
      std::move(handler);
}

bool HttpServer::Listen() {
  Impl& impl = *impl_;
  if (impl.stopping) return true;
  core::Executor::Options worker_options;
  worker_options.name = "http-worker";
  worker_options.threads = options_.worker_threads;
  worker_options.max_queued = options_.max_queued_requests;
  impl.workers = std::make_unique<core::Executor>(worker_options);

  beast::error_code ec;
  auto address =
      asio::ip::make_address(options_.host == "localhost" ? "127.0.0.1" : options_.host, ec);
  if (ec) return false;
  tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
  impl.acceptor.open(endpoint.protocol(), ec);
  if (ec) return false;
  // SO_REUSEADDR only: SO_REUSEPORT would let a second server bind a port
  // already in use and silently take half its connections.
  impl.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  impl.acceptor.bind(endpoint, ec);
  if (ec) return false;
  impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return false;
  bound_port_ = impl.acceptor.local_endpoint().port();

  const int io_threads = options_.io_threads > 0 ? options_.io_threads : core::UsableCores();
  const int extra = io_threads - 1;
  for (int i = 0; i < extra; ++i) impl.more_io.push_back(std::make_unique<asio::io_context>(1));
  impl.work.push_back(asio::make_work_guard(impl.ioc));
  for (auto& context : impl.more_io) impl.work.push_back(asio::make_work_guard(*context));
  impl.Accept();
  std::vector<std::thread> io;
  for (auto& context : impl.more_io) {
    io.emplace_back([&context = *context] { context.run(); });
    pthread_setname_np(io.back().native_handle(), "http-io");
  }
  impl.ioc.run();
  for (std::thread& thread : io) thread.join();
  impl.workers->Stop();
  AccessLog::Stderr().Drain(std::chrono::seconds(2));
  return true;
}

void HttpServer::Stop() {
  Impl& impl = *impl_;
  if (impl.stopping.exchange(true)) return;
  asio::post(impl.control, [&impl] {
    beast::error_code ec;
    impl.acceptor.close(ec);
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard lock(impl.connections_mu);
      for (auto& [raw, weak] : impl.connections) {
        if (auto connection = weak.lock()) live.push_back(std::move(connection));
      }
    }
    for (auto& connection : live) connection->CloseIfIdle();
    if (impl.open == 0) {
      impl.work.clear();
      return;
    }
    // In-flight requests get a while to finish; then the loop is stopped.
    impl.stop_deadline.emplace(impl.control, std::chrono::seconds(10));
    impl.stop_deadline->async_wait([&impl](beast::error_code ec) {
      if (!ec && impl.open > 0) impl.StopIo();
    });
  });
}

size_t HttpServer::open_connections() const { return impl_->open.load(); }

}  // namespace slipway::http
