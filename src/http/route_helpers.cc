#include "http/route_helpers.h"

#include <strings.h>

#include <algorithm>

#include "core/error.h"
#include "http/http_server.h"

namespace slipway::http {

Json RequestJson(const Request& req) {
  if (req.method == "GET" || (req.body.empty() && !req.params.empty())) {
    Json out = Json::object();
    for (const auto& [key, value] : req.params) {
      auto it = out.find(key);
      if (it == out.end()) {
        out[key] = value;
      } else if (it->is_array()) {
        it->push_back(value);
      } else {
        *it = Json::array({*it, value});
      }
    }
    return out;
  }
  if (req.body.empty()) return Json::object();
  Json body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded()) {
    ThrowInvalid("Malformed JSON in the request body: it could not be parsed as JSON.");
  }
  if (!body.is_object()) ThrowInvalid("The request body must be a JSON object.");
  return body;
}

void Reply(Response& res, const Json& body) {
  SetJson(res, body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

Json Paged(const char* key, Json items, const std::string& token) {
  Json out = {{key, std::move(items)}};
  if (!token.empty()) out["next_page_token"] = token;
  return out;
}

std::string CookieValue(const Request& req, std::string_view name) {
  for (const auto& [key, value] : req.headers) {
    if (key.size() != 6 || strncasecmp(key.c_str(), "cookie", 6) != 0) continue;
    // RFC 6265: "a=1; b=2".
    std::string_view rest = value;
    while (!rest.empty()) {
      const size_t end = std::min(rest.find(';'), rest.size());
      std::string_view pair = rest.substr(0, end);
      rest.remove_prefix(std::min(end + 1, rest.size()));
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      const size_t eq = pair.find('=');
      if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
      std::string_view cookie = pair.substr(eq + 1);
      while (!cookie.empty() && cookie.back() == ' ') cookie.remove_suffix(1);
      if (cookie.size() >= 2 && cookie.front() == '"' && cookie.back() == '"')
        cookie = cookie.substr(1, cookie.size() - 2);
      return std::string(cookie);
    }
  }
  return "";
}

}  // namespace slipway::http
