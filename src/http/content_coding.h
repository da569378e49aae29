// Content codings of replies: whether a client accepts gzip, and gzip for
// the server's own replies.
//
// The server compresses a reply it holds in memory when the client accepts
// gzip, the reply is at least kCompressMinBytes of a type CompressibleType
// (core/gzip.h) accepts, and it does not say it is encoded already or carry
// an ETag (a strong tag names one representation; those replies, the web
// UI's files, choose their own coding). Level 1, zlib's fastest: a 62 KB
// search reply becomes 7 KB for about 0.15 ms of CPU; level 9 would make a
// metric history sample 15% smaller (3.8 against 4.4 KB) for more CPU.
#pragma once

#include <string_view>

#include "http/http_server.h"

namespace slipway::http {

inline constexpr size_t kCompressMinBytes = 1024;
inline constexpr int kCompressLevel = 1;

// `text` without leading and trailing spaces and tabs.
std::string_view TrimSpaces(std::string_view text);

// Calls `each` with every comma-separated item of a header value, trimmed
// (empty items skipped).
template <typename F>
void ForEachListItem(std::string_view list, F each) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = TrimSpaces(list.substr(0, comma));
    if (!item.empty()) each(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

// Whether an Accept-Encoding header accepts gzip (named, or `*`, with q > 0).
bool AcceptsGzip(std::string_view accept_encoding);

// Compresses `res` in place for `req` when the rules above allow it:
// replaces the body, adds Content-Encoding: gzip; adds Vary: Accept-Encoding
// to every reply it could have compressed. Keeps the body when gzip would
// not make it smaller.
void CompressReply(const Request& req, Response& res);

}  // namespace slipway::http
