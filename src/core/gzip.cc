#include "core/gzip.h"

#include <strings.h>
#include <zlib.h>

#include <stdexcept>

namespace slipway {
namespace {

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool EndsWithNoCase(std::string_view text, std::string_view suffix) {
  return text.size() > suffix.size() &&
         EqualsNoCase(text.substr(text.size() - suffix.size()), suffix);
}

}  // namespace

std::string Gzip(std::string_view data, int level) {
  z_stream stream{};
  // 15 + 16: a gzip wrapper; zlib writes no name and a zero time stamp.
  if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("zlib: deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  int status = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (status != Z_STREAM_END) throw std::runtime_error("zlib: deflate did not finish");
  return out;
}
bool CompressibleType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  if (type.size() > 5 && EqualsNoCase(type.substr(0, 5), "text/")) return true;
  for (std::string_view known : {"application/json", "application/javascript", "application/xml",
                                 "image/svg+xml", "application/x-ndjson", "application/wasm"}) {
    if (EqualsNoCase(type, known)) return true;
  }
  // Structured syntax suffixes (RFC 6839): application/problem+json, ...
  return EndsWithNoCase(type, "+json") || EndsWithNoCase(type, "+xml");
}

}  // namespace slipway
