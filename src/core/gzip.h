// gzip (RFC 1952) compression of a buffer in memory, through zlib, and
// which media types are worth it.
#pragma once

#include <string>
#include <string_view>

namespace slipway {

// `data` as one gzip member, without a file name and with a zero time stamp
// (so the same input always gives the same bytes). `level` is zlib's: 1 is
// fastest, 9 smallest. Throws std::runtime_error if zlib fails.
std::string Gzip(std::string_view data, int level);

// Whether content of this media type (a Content-Type value, parameters
// allowed) is worth compressing: text, JSON, JavaScript, SVG, XML,
// WebAssembly; not images, fonts, archives or octet streams.
bool CompressibleType(std::string_view content_type);

}  // namespace slipway
