#include "blob/s3/s3_client.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <thread>

#include "blob/blob_store.h"
#include "core/error.h"
#include "core/sha256.h"

namespace slipway::blob::s3 {
namespace {

constexpr size_t kMaxIdleConnections = 16;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string TrimmedCopy(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const size_t last = text.find_last_not_of(" \t\r");
  return std::string(text.substr(first, last - first + 1));
}

// `key` of `section` in an INI-style AWS file, or nothing.
std::optional<std::string> IniValue(const std::string& path, const std::string& section,
                                    const std::string& key) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    const std::string trimmed = TrimmedCopy(line);
    if (trimmed.empty() || trimmed[0] == '#' || trimmed[0] == ';') continue;
    if (trimmed.front() == '[' && trimmed.back() == ']') {
      inside = TrimmedCopy(trimmed.substr(1, trimmed.size() - 2)) == section;
      continue;
    }
    if (!inside) continue;
    const size_t equals = trimmed.find('=');
    if (equals == std::string::npos) continue;
    if (TrimmedCopy(trimmed.substr(0, equals)) == key) {
      return TrimmedCopy(trimmed.substr(equals + 1));
    }
  }
  return std::nullopt;
}

bool Retryable(int status) { return status == 429 || status >= 500; }

// `name`'s value as a positive number of seconds, in milliseconds; nothing
// when unset.
std::optional<std::chrono::milliseconds> SecondsFrom(const std::string& name,
                                                     const std::string& value) {
  if (value.empty()) return std::nullopt;
  size_t used = 0;
  double seconds = 0;
  try {
    seconds = std::stod(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || !(seconds > 0) || seconds > 3600) {
    ThrowInvalid(name + "='" + value + "' is not a number of seconds between 0 and 3600");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

}  // namespace

void FillFromEnvironment(ClientOptions& options, const EnvLookup& lookup) {
  auto env = [&](const char* name) -> std::string {
    const char* value = lookup ? lookup(name) : std::getenv(name);
    return value ? value : "";
  };
  const std::string home = env("HOME");
  const std::string profile = env("AWS_PROFILE").empty() ? "default" : env("AWS_PROFILE");
  std::string credentials_file = env("AWS_SHARED_CREDENTIALS_FILE");
  if (credentials_file.empty() && !home.empty()) credentials_file = home + "/.aws/credentials";
  std::string config_file = env("AWS_CONFIG_FILE");
  if (config_file.empty() && !home.empty()) config_file = home + "/.aws/config";
  // ~/.aws/config names profiles "[profile x]", except "[default]".
  const std::string config_section = profile == "default" ? profile : "profile " + profile;

  if (options.endpoint.empty()) {
    options.endpoint = env("AWS_ENDPOINT_URL_S3");
    if (options.endpoint.empty()) options.endpoint = env("AWS_ENDPOINT_URL");
  }
  if (!env("AWS_REGION").empty()) {
    options.region = env("AWS_REGION");
  } else if (!env("AWS_DEFAULT_REGION").empty()) {
    options.region = env("AWS_DEFAULT_REGION");
  } else if (auto region = IniValue(config_file, config_section, "region")) {
    options.region = *region;
  }
  if (const std::string attempts = env("AWS_MAX_ATTEMPTS"); !attempts.empty()) {
    size_t used = 0;
    int value = 0;
    try {
      value = std::stoi(attempts, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != attempts.size() || value < 1 || value > 20) {
      ThrowInvalid("AWS_MAX_ATTEMPTS='" + attempts + "' is not a whole number from 1 to 20");
    }
    options.max_attempts = value;
  }
  if (auto timeout = SecondsFrom("SLIPWAY_S3_CONNECT_TIMEOUT_SECONDS",
                                 env("SLIPWAY_S3_CONNECT_TIMEOUT_SECONDS"))) {
    options.connect_timeout = *timeout;
  }
  if (auto timeout =
          SecondsFrom("SLIPWAY_S3_IO_TIMEOUT_SECONDS", env("SLIPWAY_S3_IO_TIMEOUT_SECONDS"))) {
    options.io_timeout = *timeout;
  }
  Credentials& credentials = options.credentials;
  if (!credentials.access_key_id.empty()) return;
  if (!env("AWS_ACCESS_KEY_ID").empty()) {
    credentials.access_key_id = env("AWS_ACCESS_KEY_ID");
    credentials.secret_access_key = env("AWS_SECRET_ACCESS_KEY");
    credentials.session_token = env("AWS_SESSION_TOKEN");
    return;
  }
  if (auto id = IniValue(credentials_file, profile, "aws_access_key_id")) {
    credentials.access_key_id = *id;
    credentials.secret_access_key =
        IniValue(credentials_file, profile, "aws_secret_access_key").value_or("");
    credentials.session_token =
        IniValue(credentials_file, profile, "aws_session_token").value_or("");
  }
}

std::string Response::Header(const std::string& lowercase_name) const {
  auto it = headers.find(lowercase_name);
  return it == headers.end() ? "" : it->second;
}

std::unique_ptr<Client> Client::Create(ClientOptions options) {
  if (options.bucket.empty()) ThrowInvalid("S3: no bucket given");
  if (options.credentials.access_key_id.empty() || options.credentials.secret_access_key.empty()) {
    ThrowInvalid(
        "S3: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in "
        "~/.aws/credentials");
  }
  if (options.region.empty()) options.region = "us-east-1";
  if (options.max_attempts < 1) options.max_attempts = 1;
  return std::unique_ptr<Client>(new Client(std::move(options)));
}

Client::Client(ClientOptions options) : options_(std::move(options)) {
  std::string endpoint = options_.endpoint;
  const bool on_aws = endpoint.empty();
  if (on_aws) endpoint = "https://s3." + options_.region + ".amazonaws.com";
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  const size_t scheme_end = endpoint.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : endpoint.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    ThrowInvalid("S3 endpoint '" + options_.endpoint +
                 "' is not a URL: write http://host:port or https://host");
  }
  std::string host = endpoint.substr(scheme_end + 3);
  if (host.empty() || host.find('/') != std::string::npos) {
    ThrowInvalid("S3 endpoint '" + options_.endpoint +
                 "' must be scheme://host[:port], without a path");
  }
  const bool path_style = options_.addressing == Addressing::kPath ||
                          (options_.addressing == Addressing::kAuto && !on_aws);
  if (path_style) {
    path_prefix_ = "/" + UriEncode(options_.bucket, true);
  } else {
    host = options_.bucket + "." + host;
  }
  host_header_ = host;
  base_url_ = scheme + "://" + host;
}

Client::~Client() = default;

std::string Client::Describe() const {
  return "s3://" + options_.bucket + " (" + base_url_ + path_prefix_ + ")";
}

std::string Client::What(const Request& request) const {
  std::string what = "S3 " + request.method + " s3://" + options_.bucket + "/" + request.key;
  // A listing names what it lists.
  auto prefix = request.query.find("prefix");
  if (request.key.empty() && prefix != request.query.end()) what += prefix->second + " (listing)";
  return what;
}

std::unique_ptr<httplib::Client> Client::TakeConnection() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<httplib::Client> connection = std::move(idle_.back());
      idle_.pop_back();
      return connection;
    }
  }
  auto connection = std::make_unique<httplib::Client>(base_url_);
  auto seconds = [](std::chrono::milliseconds ms) {
    return static_cast<time_t>(ms.count() / 1000);
  };
  auto micros = [](std::chrono::milliseconds ms) {
    return static_cast<time_t>((ms.count() % 1000) * 1000);
  };
  connection->set_connection_timeout(seconds(options_.connect_timeout),
                                     micros(options_.connect_timeout));
  connection->set_read_timeout(seconds(options_.io_timeout), micros(options_.io_timeout));
  connection->set_write_timeout(seconds(options_.io_timeout), micros(options_.io_timeout));
  connection->set_keep_alive(true);
  connection->set_url_encode(false);  // paths are encoded here, exactly as signed
  connection->set_decompress(false);
  return connection;
}

void Client::ReturnConnection(std::unique_ptr<httplib::Client> connection) {
  std::lock_guard lock(mutex_);
  if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(connection));
}

bool Client::SendOnce(const Request& request, Response& response, std::string& network_error) {
  SignedRequest signed_request;
  signed_request.method = request.method;
  signed_request.encoded_path = request.key.empty()
                                    ? (path_prefix_.empty() ? "/" : path_prefix_)
                                    : path_prefix_ + "/" + UriEncode(request.key, false);
  signed_request.query = request.query;
  signed_request.headers = request.headers;
  signed_request.headers["host"] = host_header_;
  signed_request.payload_sha256_hex = Sha256::Hex(request.body);
  Sign(signed_request, options_.credentials, options_.region, AmzDateNow());

  httplib::Request http;
  http.method = request.method;
  http.path = signed_request.encoded_path;
  const std::string query = CanonicalQuery(request.query);
  if (!query.empty()) http.path += "?" + query;
  for (const auto& [name, value] : signed_request.headers) {
    http.headers.emplace(name == "host" ? "Host" : name, value);
  }
  http.body = std::string(request.body);
  const size_t sink_start = request.sink ? request.sink->size() : 0;
  int status = 0;
  if (request.sink) {
    http.response_handler = [&status](const httplib::Response& head) {
      status = head.status;
      return true;
    };
    http.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
      if (status >= 200 && status < 300) {
        request.sink->append(data, size);
      } else {
        response.body.append(data, size);
      }
      return true;
    };
  }
  httplib::Response http_response;
  httplib::Error error = httplib::Error::Success;
  std::unique_ptr<httplib::Client> connection = TakeConnection();
  const bool answered = connection->send(http, http_response, error);
  if (!answered) {
    if (request.sink) request.sink->resize(sink_start);
    network_error = httplib::to_string(error);
    return false;  // the connection is dropped, not reused
  }
  ReturnConnection(std::move(connection));
  response.status = http_response.status;
  for (const auto& [name, value] : http_response.headers) response.headers[Lower(name)] = value;
  if (!request.sink) response.body = std::move(http_response.body);
  if (request.sink && Retryable(response.status)) request.sink->resize(sink_start);
  return true;
}

Response Client::Send(const Request& request) {
  const int attempts = request.idempotent ? options_.max_attempts : 1;
  thread_local std::mt19937 random{std::random_device{}()};
  std::string last_problem;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      // Exponential backoff with full jitter in its upper half, capped at 10 s.
      const auto base = std::min<int64_t>(options_.first_backoff.count() << (attempt - 2), 10'000);
      std::uniform_int_distribution<int64_t> jitter(base / 2, std::max<int64_t>(base, 1));
      std::this_thread::sleep_for(std::chrono::milliseconds(jitter(random)));
    }
    Response response;
    std::string network_error;
    if (!SendOnce(request, response, network_error)) {
      last_problem = "no answer from " + base_url_ + " (" + network_error + ")";
      continue;
    }
    if (!Retryable(response.status)) return response;
    if (attempt == attempts) Fail(request, response);
    last_problem = std::to_string(response.status);
  }
  throw StorageUnavailable(What(request) + ": " + last_problem + " after " +
                           std::to_string(attempts) + " attempt" + (attempts == 1 ? "" : "s"));
}

void Client::Fail(const Request& request, const Response& response) const {
  std::string message = What(request) + ": " + std::to_string(response.status);
  const std::string code = XmlText(response.body, "Code");
  const std::string detail = XmlText(response.body, "Message");
  if (!code.empty()) message += " " + code;
  if (!detail.empty()) message += ": " + detail;
  if (Retryable(response.status)) throw StorageUnavailable(message);
  throw Error(ErrorCode::kInternalError, message);
}

std::string Client::PresignedUrl(const Request& request, std::chrono::seconds valid_for) const {
  SignedRequest signed_request;
  signed_request.method = request.method;
  signed_request.encoded_path = path_prefix_ + "/" + UriEncode(request.key, false);
  signed_request.query = request.query;
  signed_request.headers = request.headers;
  signed_request.headers["host"] = host_header_;
  return base_url_ + signed_request.encoded_path + "?" +
         PresignedQuery(signed_request, options_.credentials, options_.region, AmzDateNow(),
                        valid_for.count());
}

std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> found;
  const std::string open = "<" + std::string(tag);
  const std::string close = "</" + std::string(tag) + ">";
  size_t at = 0;
  while ((at = xml.find(open, at)) != std::string_view::npos) {
    const size_t after_name = at + open.size();
    if (after_name >= xml.size()) break;
    const char next = xml[after_name];
    if (next != '>' && next != ' ' && next != '/') {  // <KeyCount> is not <Key>
      at = after_name;
      continue;
    }
    const size_t gt = xml.find('>', after_name);
    if (gt == std::string_view::npos) break;
    if (xml[gt - 1] == '/') {  // <Tag/>
      found.push_back({});
      at = gt + 1;
      continue;
    }
    const size_t end = xml.find(close, gt + 1);
    if (end == std::string_view::npos) break;
    found.push_back(xml.substr(gt + 1, end - gt - 1));
    at = end + close.size();
  }
  return found;
}

std::vector<std::string> XmlTexts(std::string_view xml, std::string_view tag) {
  std::vector<std::string> texts;
  for (std::string_view inner : XmlElements(xml, tag)) texts.push_back(XmlUnescape(inner));
  return texts;
}

std::string XmlText(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> found = XmlElements(xml, tag);
  return found.empty() ? "" : XmlUnescape(found.front());
}

std::string XmlUnescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    const size_t semi = text.find(';', i);
    if (semi == std::string_view::npos) {
      out += text[i];
      continue;
    }
    const std::string_view entity = text.substr(i + 1, semi - i - 1);
    if (entity == "amp") {
      out += '&';
    } else if (entity == "lt") {
      out += '<';
    } else if (entity == "gt") {
      out += '>';
    } else if (entity == "quot") {
      out += '"';
    } else if (entity == "apos") {
      out += '\'';
    } else if (!entity.empty() && entity[0] == '#') {
      const bool hex = entity.size() > 1 && (entity[1] == 'x' || entity[1] == 'X');
      const uint32_t code = static_cast<uint32_t>(
          std::strtoul(std::string(entity.substr(hex ? 2 : 1)).c_str(), nullptr, hex ? 16 : 10));
      // UTF-8 of the code point.
      if (code < 0x80) {
        out += static_cast<char>(code);
      } else if (code < 0x800) {
        out += static_cast<char>(0xC0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3F));
      } else if (code < 0x10000) {
        out += static_cast<char>(0xE0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (code >> 18));
        out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
      }
    } else {
      out += text.substr(i, semi - i + 1);
    }
    i = semi;
  }
  return out;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\r':
        out += "&#13;";
        break;
      case '\n':
        out += "&#10;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

int64_t ParseS3Time(std::string_view text) {
  std::tm tm{};
  const std::string copy(text);
  int millis = 0;
  if (const char* rest = ::strptime(copy.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) {
    if (*rest == '.') {  // fractions of a second: the first three digits are milliseconds
      int scale = 100;
      for (const char* digit = rest + 1; std::isdigit(static_cast<unsigned char>(*digit)) && scale;
           ++digit, scale /= 10) {
        millis += (*digit - '0') * scale;
      }
    }
  } else if (!::strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S", &tm)) {
    return 0;
  }
  return static_cast<int64_t>(::timegm(&tm)) * 1000 + millis;
}

}  // namespace slipway::blob::s3
