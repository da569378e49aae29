#include "http/content_coding.h"

#include <strings.h>

#include <cstdlib>
#include <string>

#include "core/gzip.h"

namespace slipway::http {
namespace {

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// The q value of an Accept-Encoding item ("gzip;q=0.5"): 1 when absent,
// 0 when malformed (a client that writes nonsense gets identity).
double Quality(std::string_view parameters) {
  double q = 1;
  size_t at = 0;
  while ((at = parameters.find(';')) != std::string_view::npos) {
    parameters.remove_prefix(at + 1);
    std::string_view parameter = TrimSpaces(parameters.substr(0, parameters.find(';')));
    if (parameter.size() > 2 && (parameter[0] == 'q' || parameter[0] == 'Q') &&
        parameter[1] == '=') {
      std::string value(parameter.substr(2));
      char* end = nullptr;
      q = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0' || q < 0 || q > 1) return 0;
    }
  }
  return q;
}

std::string* FindHeader(Response& res, std::string_view name) {
  for (auto& [key, value] : res.headers) {
    if (EqualsNoCase(key, name)) return &value;
  }
  return nullptr;
}

}  // namespace

std::string_view TrimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  bool gzip = false;
  bool named = false;
  bool star = false;
  ForEachListItem(accept_encoding, [&](std::string_view item) {
    std::string_view coding = TrimSpaces(item.substr(0, item.find(';')));
    double q = Quality(item);
    if (EqualsNoCase(coding, "gzip") || EqualsNoCase(coding, "x-gzip")) {
      named = true;
      gzip = q > 0;
    } else if (coding == "*") {
      star = q > 0;
    }
  });
  return named ? gzip : star;
}

void CompressReply(const Request& req, Response& res) {
  if (res.provider || res.body.size() < kCompressMinBytes || !CompressibleType(res.content_type) ||
      FindHeader(res, "Content-Encoding") || FindHeader(res, "ETag")) {
    return;
  }
  if (std::string* vary = FindHeader(res, "Vary")) {
    *vary += ", Accept-Encoding";
  } else {
    res.headers.emplace_back("Vary", "Accept-Encoding");
  }
  if (!AcceptsGzip(req.get_header_value("Accept-Encoding"))) return;
  std::string gzip = Gzip(res.body, kCompressLevel);
  if (gzip.size() >= res.body.size()) return;
  res.body = std::move(gzip);
  res.set_header("Content-Encoding", "gzip");
}

}  // namespace slipway::http
