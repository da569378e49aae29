#include "cli/api_client.h"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "core/error.h"

namespace slipway::cli {
namespace {

constexpr std::array kKnownCodes = {
    ErrorCode::kInternalError,
    ErrorCode::kInvalidParameterValue,
    ErrorCode::kResourceAlreadyExists,
    ErrorCode::kResourceDoesNotExist,
    ErrorCode::kBadRequest,
    ErrorCode::kEndpointNotFound,
    ErrorCode::kInvalidState,
    ErrorCode::kResourceConflict,
    ErrorCode::kPermissionDenied,
    ErrorCode::kUnauthenticated,
    ErrorCode::kRequestLimitExceeded,
    ErrorCode::kPayloadTooLarge,
    ErrorCode::kNotImplemented,
    ErrorCode::kTemporarilyUnavailable,
};

ErrorCode ErrorCodeFromName(std::string_view name) {
  for (ErrorCode code : kKnownCodes) {
    if (ErrorCodeName(code) == name) return code;
  }
  return ErrorCode::kInternalError;
}

struct ParsedUri {
  std::string host;
  int port = 80;
  std::string path_prefix;
};

[[noreturn]] void ThrowBadUri(std::string_view uri, std::string_view why) {
  ThrowInvalid(fmt::format("invalid tracking URI '{}': {}", uri, why));
}

ParsedUri ParseBaseUri(std::string_view uri) {
  constexpr std::string_view kScheme = "http://";
  if (uri.size() < kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), uri.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      })) {
    ThrowBadUri(uri, "only http://host[:port] URIs are supported");
  }
  std::string_view rest = uri.substr(kScheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) {
    ThrowBadUri(uri, "a query or fragment is not allowed");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  ParsedUri parsed;
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash);
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    parsed.path_prefix = prefix;
  }
  if (authority.find('@') != std::string_view::npos) {
    ThrowBadUri(uri, "credentials in the URI are not supported");
  }

  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) ThrowBadUri(uri, "unterminated IPv6 address");
    parsed.host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') ThrowBadUri(uri, "unexpected text after the IPv6 address");
      port = after.substr(1);
      if (port.empty()) ThrowBadUri(uri, "empty port");
    }
  } else {
    size_t colon = authority.rfind(':');
    parsed.host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) ThrowBadUri(uri, "empty port");
    }
  }
  if (parsed.host.empty()) ThrowBadUri(uri, "no host");
  if (!port.empty()) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), parsed.port);
    if (ec != std::errc() || end != port.data() + port.size() || parsed.port < 1 ||
        parsed.port > 65535) {
      ThrowBadUri(uri, fmt::format("bad port '{}'", port));
    }
  }
  return parsed;
}

std::string_view DescribeTransportError(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "connection failed";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "no reply could be read";
    case httplib::Error::Write:
      return "the request could not be sent";
    default:
      return "request failed";
  }
}

// The start of a reply body on one line, for error messages; HTML pages are left out.
std::string Excerpt(const httplib::Response& response) {
  constexpr size_t kMax = 200;
  if (response.get_header_value("Content-Type").find("html") != std::string::npos) return "";
  std::string text;
  for (char c : response.body) {
    if (text.size() == kMax) return text + "...";
    text += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
  }
  return text;
}

nlohmann::json ParseReply(const std::string& uri, std::string_view method, const std::string& path,
                          const httplib::Result& result) {
  if (!result) {
    throw Error(ErrorCode::kTemporarilyUnavailable,
                fmt::format("could not reach the tracking server at {} ({}); is it running?", uri,
                            DescribeTransportError(result.error())));
  }
  const httplib::Response& response = *result;
  const nlohmann::json body =
      nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (response.status >= 200 && response.status < 300) {
    if (response.body.empty()) return nlohmann::json::object();
    if (body.is_discarded()) {
      throw Error(ErrorCode::kInternalError,
                  fmt::format("{} {}{} returned a reply that is not JSON; is {} an MLflow "
                              "tracking server?",
                              method, uri, path, uri));
    }
    return body;
  }
  if (body.is_object() && body.contains("error_code")) {
    const nlohmann::json& code = body.at("error_code");
    auto message = body.find("message");
    throw Error(
        code.is_string() ? ErrorCodeFromName(code.get<std::string>()) : ErrorCode::kInternalError,
        message != body.end() && message->is_string() &&
                !message->get_ref<const std::string&>().empty()
            ? message->get<std::string>()
            : fmt::format("{} {}{} failed with HTTP {}", method, uri, path, response.status));
  }
  std::string excerpt = Excerpt(response);
  if (response.status == 404) {
    throw Error(ErrorCode::kEndpointNotFound,
                fmt::format("{} {}{} failed with HTTP 404{}{}; is {} an MLflow tracking server?",
                            method, uri, path, excerpt.empty() ? "" : ": ", excerpt, uri));
  }
  throw Error(ErrorCode::kInternalError,
              fmt::format("{} {}{} failed with HTTP {}{}{}", method, uri, path, response.status,
                          excerpt.empty() ? "" : ": ", excerpt));
}

}  // namespace

ApiClient::ApiClient(std::string_view base_uri) : uri_(base_uri) {
  while (!uri_.empty() && uri_.back() == '/') uri_.pop_back();
  ParsedUri parsed = ParseBaseUri(uri_);
  path_prefix_ = std::move(parsed.path_prefix);
  client_ = std::make_unique<httplib::Client>(parsed.host, parsed.port);
  client_->set_connection_timeout(10, 0);
  client_->set_read_timeout(60, 0);
  client_->set_write_timeout(60, 0);
  client_->set_keep_alive(true);
  client_->set_default_headers({{"Accept", "application/json"}, {"User-Agent", "slipway-cli"}});
  // The same variables the mlflow client reads.
  auto env = [](const char* name) {
    const char* value = std::getenv(name);
    return value == nullptr ? std::string() : std::string(value);
  };
  if (std::string token = env("MLFLOW_TRACKING_TOKEN"); !token.empty()) {
    client_->set_bearer_token_auth(token);
  } else if (std::string user = env("MLFLOW_TRACKING_USERNAME"); !user.empty()) {
    client_->set_basic_auth(user, env("MLFLOW_TRACKING_PASSWORD"));
  }
}

ApiClient::~ApiClient() = default;

nlohmann::json ApiClient::Get(std::string_view path, const QueryParams& query) {
  std::string full_path = path_prefix_ + std::string(path);
  httplib::Params params(query.begin(), query.end());
  httplib::Result result = client_->Get(full_path, params, httplib::Headers{});
  return ParseReply(uri_, "GET", std::string(path), result);
}

std::string ApiClient::GetText(std::string_view path, const QueryParams& query,
                               std::string_view accept) {
  std::string full_path = path_prefix_ + std::string(path);
  httplib::Params params(query.begin(), query.end());
  httplib::Result result =
      client_->Get(full_path, params, httplib::Headers{{"Accept", std::string(accept)}});
  if (result && result->status >= 200 && result->status < 300) return result->body;
  ParseReply(uri_, "GET", std::string(path), result);
  throw Error(ErrorCode::kInternalError, "unreachable: ParseReply accepted an error reply");
}

nlohmann::json ApiClient::Post(std::string_view path, const nlohmann::json& body) {
  std::string full_path = path_prefix_ + std::string(path);
  httplib::Result result = client_->Post(full_path, body.dump(), "application/json");
  return ParseReply(uri_, "POST", std::string(path), result);
}

std::string ApiClient::PostForBytes(std::string_view path, const nlohmann::json& body) {
  std::string full_path = path_prefix_ + std::string(path);
  httplib::Result result = client_->Post(full_path, body.dump(), "application/json");
  if (result && result->status >= 200 && result->status < 300) return result->body;
  ParseReply(uri_, "POST", std::string(path), result);
  throw Error(ErrorCode::kInternalError, "unreachable: ParseReply accepted an error reply");
}

nlohmann::json ApiClient::Delete(std::string_view path, const nlohmann::json& body) {
  std::string full_path = path_prefix_ + std::string(path);
  httplib::Result result = client_->Delete(full_path, body.dump(), "application/json");
  return ParseReply(uri_, "DELETE", std::string(path), result);
}

nlohmann::json ApiClient::Patch(std::string_view path, const nlohmann::json& body) {
  std::string full_path = path_prefix_ + std::string(path);
  httplib::Result result = client_->Patch(full_path, body.dump(), "application/json");
  return ParseReply(uri_, "PATCH", std::string(path), result);
}

nlohmann::json ApiClient::Put(std::string_view path, const std::string& bytes,
                              std::string_view content_type) {
  std::string full_path = path_prefix_ + std::string(path);
  httplib::Result result = client_->Put(full_path, bytes, std::string(content_type).c_str());
  return ParseReply(uri_, "PUT", std::string(path), result);
}

}  // namespace slipway::cli
