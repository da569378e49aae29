#include "monitoring/alert_notifier.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "core/clock.h"

namespace slipway::monitoring {
namespace {

using nlohmann::json;

json LabelsJson(const Labels& labels) {
  json out = json::object();
  for (const auto& [k, v] : labels) out[k] = v;
  return out;
}

json MapJson(const std::map<std::string, std::string>& map) {
  json out = json::object();
  for (const auto& [k, v] : map) out[k] = v;
  return out;
}

}  // namespace

std::string PostJson(const std::string& url, const std::string& path, const std::string& body,
                     const std::map<std::string, std::string>& headers,
                     std::chrono::milliseconds timeout) {
  // url is http://host[:port][/prefix] (checked when the rules were set).
  const size_t authority = url.find("://") + 3;
  const size_t slash = url.find('/', authority);
  const std::string origin = slash == std::string::npos ? url : url.substr(0, slash);
  const std::string prefix = slash == std::string::npos ? "" : url.substr(slash);
  httplib::Client client(origin);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  httplib::Headers request_headers;
  for (const auto& [k, v] : headers) request_headers.emplace(k, v);
  httplib::Result result = client.Post(prefix + path, request_headers, body, "application/json");
  if (!result) return "could not reach " + origin + ": " + httplib::to_string(result.error());
  if (result->status >= 200 && result->status < 300) return "";
  std::string answer = result->body.substr(0, 200);
  return "HTTP " + std::to_string(result->status) + (answer.empty() ? "" : ": " + answer);
}

std::string AlertmanagerBody(const AlertTransition& transition, int64_t ends_at_ms,
                             const std::string& generator_url) {
  json alert = {{"labels", LabelsJson(transition.labels)},
                {"annotations", MapJson(transition.annotations)},
                {"startsAt", FormatIso8601(transition.starts_at_ms)}};
  if (ends_at_ms > 0) alert["endsAt"] = FormatIso8601(ends_at_ms);
  if (!generator_url.empty()) alert["generatorURL"] = generator_url;
  return json::array({alert}).dump();
}

std::string WebhookBody(const AlertTransition& transition, const std::string& receiver,
                        const std::string& external_url, const std::string& generator_url) {
  json alert = {{"status", transition.state},
                {"labels", LabelsJson(transition.labels)},
                {"annotations", MapJson(transition.annotations)},
                {"startsAt", FormatIso8601(transition.starts_at_ms)},
                {"endsAt", transition.ends_at_ms > 0 ? FormatIso8601(transition.ends_at_ms)
                                                     : "0001-01-01T00:00:00Z"},
                {"generatorURL", generator_url},
                {"fingerprint", transition.fingerprint},
                {"value", transition.value}};
  json group = {{"alertname", transition.rule}, {"deployment", transition.deployment}};
  return json{
      {"version", "4"},
      {"status", transition.state},
      {"receiver", receiver},
      {"groupKey", transition.deployment + "/" + transition.rule + "/" + transition.fingerprint},
      {"groupLabels", group},
      {"commonLabels", LabelsJson(transition.labels)},
      {"commonAnnotations", MapJson(transition.annotations)},
      {"externalURL", external_url},
      {"idempotency_key", transition.idempotency_key},
      {"alerts", json::array({alert})}}
      .dump();
}

}  // namespace slipway::monitoring
