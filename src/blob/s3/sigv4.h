// AWS Signature Version 4 for S3 requests (the "Authorization" header).
//
// Pure functions, no I/O: a request's method, path, query and headers go
// in, the headers to add come out. Following AWS's "Signature Version 4
// signing process" for S3: the path is URI-encoded once per segment (S3
// does not double-encode), query parameters sorted by name, every header
// given is signed, and the payload's SHA-256 travels in
// x-amz-content-sha256. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace slipway::blob::s3 {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials only
};

struct SignedRequest {
  std::string method;  // GET, PUT, ...
  // The path as sent, already encoded with UriEncode(segment, false).
  std::string encoded_path;
  // Query parameters, raw (unencoded); a flag like "uploads" has "".
  std::map<std::string, std::string> query;
  // Lowercase names; must include "host". Signing adds x-amz-date,
  // x-amz-content-sha256, x-amz-security-token and authorization.
  std::map<std::string, std::string> headers;
  std::string payload_sha256_hex;
};

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay,
// everything else is %XX (uppercase); '/' stays unless `encode_slash`.
std::string UriEncode(std::string_view text, bool encode_slash);

// The query string in canonical form ("a=1&b=x%2Fy"), also what is sent.
std::string CanonicalQuery(const std::map<std::string, std::string>& query);

// Signs `request` in place for `region` at `amz_date` ("20130524T000000Z").
void Sign(SignedRequest& request, const Credentials& credentials, std::string_view region,
          std::string_view amz_date);

// The query string of a presigned URL for `request` (AWS's "query string
// authentication"): its own parameters plus X-Amz-Algorithm, -Credential,
// -Date, -Expires, -SignedHeaders, -Security-Token (temporary credentials)
// and -Signature, for a payload the URL's user sends unsigned. Signs the
// headers given ("host" at least); valid for `expires_seconds` (1 to
// 604800) from `amz_date`.
std::string PresignedQuery(const SignedRequest& request, const Credentials& credentials,
                           std::string_view region, std::string_view amz_date,
                           int64_t expires_seconds);

// "YYYYMMDDTHHMMSSZ" for now, UTC.
std::string AmzDateNow();

}  // namespace slipway::blob::s3
