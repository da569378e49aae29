#include "blob/s3/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <ctime>

#include "core/error.h"
#include "core/sha256.h"

namespace slipway::blob::s3 {
namespace {

std::string Hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length)) {
    throw Error(ErrorCode::kInternalError, "HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(out), length);
}

// The signing key of `date` (yyyymmdd) and `region`.
std::string SigningKey(const Credentials& credentials, const std::string& date,
                       std::string_view region) {
  std::string key = Hmac("AWS4" + credentials.secret_access_key, date);
  key = Hmac(key, region);
  key = Hmac(key, "s3");
  return Hmac(key, "aws4_request");
}

std::string Trim(std::string_view value) {
  const size_t first = value.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const size_t last = value.find_last_not_of(" \t");
  return std::string(value.substr(first, last - first + 1));
}

}  // namespace

std::string UriEncode(std::string_view text, bool encode_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (c == '/' && !encode_slash)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string CanonicalQuery(const std::map<std::string, std::string>& query) {
  std::map<std::string, std::string> encoded;
  for (const auto& [name, value] : query) encoded[UriEncode(name, true)] = UriEncode(value, true);
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

void Sign(SignedRequest& request, const Credentials& credentials, std::string_view region,
          std::string_view amz_date) {
  auto& headers = request.headers;
  headers["x-amz-date"] = std::string(amz_date);
  headers["x-amz-content-sha256"] = request.payload_sha256_hex;
  if (!credentials.session_token.empty()) {
    headers["x-amz-security-token"] = credentials.session_token;
  }
  std::string canonical_headers;
  std::string signed_headers;
  for (const auto& [name, value] : headers) {  // std::map: sorted by name
    canonical_headers += name + ":" + Trim(value) + "\n";
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += name;
  }
  const std::string canonical_request = request.method + "\n" + request.encoded_path + "\n" +
                                        CanonicalQuery(request.query) + "\n" + canonical_headers +
                                        "\n" + signed_headers + "\n" + request.payload_sha256_hex;
  const std::string date(amz_date.substr(0, 8));
  const std::string scope = date + "/" + std::string(region) + "/s3/aws4_request";
  const std::string string_to_sign = "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + scope +
                                     "\n" + Sha256::Hex(canonical_request);
  const std::string key = SigningKey(credentials, date, region);
  headers["authorization"] = "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" +
                             scope + ", SignedHeaders=" + signed_headers +
                             ", Signature=" + ToHex(Hmac(key, string_to_sign));
}

std::string PresignedQuery(const SignedRequest& request, const Credentials& credentials,
                           std::string_view region, std::string_view amz_date,
                           int64_t expires_seconds) {
  const std::string date(amz_date.substr(0, 8));
  const std::string scope = date + "/" + std::string(region) + "/s3/aws4_request";
  std::string canonical_headers;
  std::string signed_headers;
  for (const auto& [name, value] : request.headers) {  // std::map: sorted by name
    canonical_headers += name + ":" + Trim(value) + "\n";
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += name;
  }
  std::map<std::string, std::string> query = request.query;
  query["X-Amz-Algorithm"] = "AWS4-HMAC-SHA256";
  query["X-Amz-Credential"] = credentials.access_key_id + "/" + scope;
  query["X-Amz-Date"] = std::string(amz_date);
  query["X-Amz-Expires"] = std::to_string(expires_seconds);
  query["X-Amz-SignedHeaders"] = signed_headers;
  if (!credentials.session_token.empty()) query["X-Amz-Security-Token"] = credentials.session_token;
  const std::string canonical_query = CanonicalQuery(query);
  const std::string canonical_request = request.method + "\n" + request.encoded_path + "\n" +
                                        canonical_query + "\n" + canonical_headers + "\n" +
                                        signed_headers + "\nUNSIGNED-PAYLOAD";
  const std::string string_to_sign = "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + scope +
                                     "\n" + Sha256::Hex(canonical_request);
  const std::string signature = ToHex(Hmac(SigningKey(credentials, date, region), string_to_sign));
  return canonical_query + "&X-Amz-Signature=" + signature;
}

std::string AmzDateNow() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", &utc);
  return buffer;
}

}  // namespace slipway::blob::s3
