#include "http/route_helpers.h"

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

}  // namespace slipway::http
