// A client for one bucket of an S3-compatible object store (AWS S3, MinIO,
// S3Proxy, Ceph RGW, ...): signed requests, timeouts and retries. It knows
// S3's wire rules (SigV4, addressing, error bodies) and nothing about
// blobs; S3BlobStore (s3_blob_store.h) gives the requests their meaning.
//
// HTTP is cpp-httplib, the client the CLI and the alert notifier already
// use (Debian's libcpp-httplib, built with OpenSSL, so https endpoints
// work): S3 needs plain blocking request/response with a streaming body
// sink, which it does in a few lines, where Boost.Beast would need a
// hand-written client and TLS set-up. Connections are kept alive in a small
// pool, one request per connection at a time.
//
// Retries: a request marked idempotent (GET, HEAD, PUT of an object or a
// part, DELETE, listings, a multi-object delete) is sent again on a network
// error, a timeout, a 5xx or a 429, up to Options::max_attempts times with
// exponential backoff and jitter; any other request is sent once. Other
// statuses (404, 412, 403, ...) are returned to the caller, which knows
// what they mean.
//
// The secret key and session token are never logged nor put in an error
// message: errors name the method, bucket, key, status and S3's own error
// code and message. Thread-safe: any number of threads may Send at once.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "blob/s3/sigv4.h"

namespace httplib {
class Client;
}

namespace slipway::blob::s3 {

enum class Addressing {
  kAuto,           // path style with an explicit endpoint, virtual-hosted on AWS
  kPath,           // http://endpoint/bucket/key (S3Proxy, MinIO)
  kVirtualHosted,  // http://bucket.endpoint/key
};

struct ClientOptions {
  std::string bucket;
  // scheme://host[:port] of the server; empty: AWS, https://s3.<region>.amazonaws.com.
  std::string endpoint;
  std::string region = "us-east-1";
  Addressing addressing = Addressing::kAuto;
  Credentials credentials;
  std::chrono::milliseconds connect_timeout{10'000};
  // The longest wait for any read or write on the socket.
  std::chrono::milliseconds io_timeout{60'000};
  int max_attempts = 4;
  std::chrono::milliseconds first_backoff{200};
};

// Where ClientOptions' endpoint, region and credentials come from unless
// given: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; AWS_REGION or
// AWS_DEFAULT_REGION, else the profile's region in ~/.aws/config
// (AWS_CONFIG_FILE); AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN, else the profile in ~/.aws/credentials
// (AWS_SHARED_CREDENTIALS_FILE). The profile is AWS_PROFILE or "default".
// Attempts per request from AWS_MAX_ATTEMPTS (1 to 20); timeouts from
// SLIPWAY_S3_CONNECT_TIMEOUT_SECONDS and SLIPWAY_S3_IO_TIMEOUT_SECONDS
// (AWS's SDKs name no variable for them). INVALID_PARAMETER_VALUE for a
// value that is not a number in range.
// `getenv` is std::getenv unless a test passes its own.
using EnvLookup = std::function<const char*(const char*)>;
void FillFromEnvironment(ClientOptions& options, const EnvLookup& getenv = nullptr);

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercase
  std::string body;                            // the whole body, unless a sink took a 2xx body

  std::string Header(const std::string& lowercase_name) const;
};

struct Request {
  std::string method{};
  std::string key{};  // object key, raw; empty for requests on the bucket
  std::map<std::string, std::string> query{};
  std::map<std::string, std::string> headers{};  // lowercase names
  std::string_view body{};
  bool idempotent = true;
  // When set, a 2xx body is appended here instead of Response::body (a
  // retried attempt first takes back what the failed one appended).
  std::string* sink = nullptr;
};

class Client {
 public:
  // Throws INVALID_PARAMETER_VALUE for a malformed endpoint or a missing
  // bucket or credentials.
  static std::unique_ptr<Client> Create(ClientOptions options);
  ~Client();

  // Sends `request` (with retries if idempotent) and returns S3's answer,
  // whatever its status; throws blob::StorageUnavailable when no answer
  // came (network errors, timeouts) or only 5xx/429 came after the last
  // attempt.
  Response Send(const Request& request);

  // Throws what `response` means: StorageUnavailable for a 5xx or 429,
  // else INTERNAL_ERROR, saying what failed: "S3 PUT s3://bucket/key: 403
  // AccessDenied: <S3's message>".
  [[noreturn]] void Fail(const Request& request, const Response& response) const;

  // A URL with which anyone may send `request` (an object's method, key
  // and query; the body is theirs) within `valid_for`, signed with this
  // client's credentials (which the URL does not contain).
  std::string PresignedUrl(const Request& request, std::chrono::seconds valid_for) const;

  const ClientOptions& options() const { return options_; }
  // "s3://bucket (http://127.0.0.1:9000)".
  std::string Describe() const;

 private:
  explicit Client(ClientOptions options);
  std::unique_ptr<httplib::Client> TakeConnection();
  void ReturnConnection(std::unique_ptr<httplib::Client> connection);
  // One attempt; false when no HTTP answer came (`network_error` says why).
  bool SendOnce(const Request& request, Response& response, std::string& network_error);
  std::string What(const Request& request) const;

  const ClientOptions options_;
  std::string base_url_;     // scheme://host[:port] the connections go to
  std::string host_header_;  // host[:port], as signed
  std::string path_prefix_;  // "/bucket" with path addressing, else ""

  std::mutex mutex_;  // guards idle_
  std::vector<std::unique_ptr<httplib::Client>> idle_;
};

// Minimal XML reading for S3's response bodies (flat, known elements).
// The texts of every <tag>...</tag> in `xml`, entities decoded.
std::vector<std::string> XmlTexts(std::string_view xml, std::string_view tag);
// The raw inner XML of every <tag>...</tag> (for nested records).
std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag);
// The first text of <tag>, or "".
std::string XmlText(std::string_view xml, std::string_view tag);
// "&amp;" etc. and numeric references decoded.
std::string XmlUnescape(std::string_view text);
// The characters XML text cannot hold as they are, escaped.
std::string XmlEscape(std::string_view text);

// Milliseconds since the epoch of an ISO 8601 UTC time
// ("2024-01-02T03:04:05.678Z") or an HTTP date ("Tue, 02 Jan 2024
// 03:04:05 GMT"); 0 when it is neither.
int64_t ParseS3Time(std::string_view text);

}  // namespace slipway::blob::s3
