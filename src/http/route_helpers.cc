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

std::string FindStringField(const std::string& json, const std::string& key) {
  const std::string quoted = "\"" + key + "\"";
  for (size_t at = json.find(quoted); at != std::string::npos; at = json.find(quoted, at + 1)) {
    size_t colon = json.find_first_not_of(" \t\r\n", at + quoted.size());
    if (colon == std::string::npos || json[colon] != ':') continue;
    size_t open = json.find_first_not_of(" \t\r\n", colon + 1);
    if (open == std::string::npos) return {};
    if (json[open] != '"') {
      // A number (MLflow sends some ids as numbers): up to the next delimiter.
      size_t end = json.find_first_of(",}] \t\r\n", open);
      return json.substr(open, end == std::string::npos ? std::string::npos : end - open);
    }
    size_t close = open + 1;
    while (close < json.size() && json[close] != '"') close += json[close] == '\\' ? 2 : 1;
    // Decode escapes (\u00fc, \") so a name is the same however it was sent.
    Json token = Json::parse(json.substr(open, close - open + 1), nullptr, false);
    return token.is_string() ? token.get<std::string>() : std::string();
  }
  return {};
}

}  // namespace slipway::http
