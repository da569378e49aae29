#include "http/serving_routes.h"

#include <chrono>

#include "core/error.h"
#include "http/json_codec.h"
#include "http/oip_codec.h"
#include "http/route_helpers.h"
#include "http/scoring_codec.h"

namespace slipway::http {
namespace {

// Clients that want canary stickiness send a key in this header (a user id,
// a session): the same key always lands on the same side of the split.
constexpr const char* kRouteKeyHeader = "X-Slipway-Route-Key";
constexpr const char* kVersionHeader = "X-Model-Version";

const ml::Schema* InputSchema(const serving::Deployment& deployment) {
  std::shared_ptr<const serving::Routing> routing = deployment.routing();
  if (!routing || !routing->primary) return nullptr;
  const ml::MlModel& mlmodel = routing->primary->model->mlmodel();
  return mlmodel.signature ? &mlmodel.signature->inputs : nullptr;
}

// Runs `predict`, adding Retry-After to a 503 so clients back off.
template <typename F>
void WithRetryAfter(Response& res, F&& predict) {
  try {
    predict();
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kTemporarilyUnavailable) res.set_header("Retry-After", "1");
    throw;
  }
}

void Invoke(const Request& req, Response& res, serving::Deployment& deployment) {
  WithRetryAfter(res, [&] {
    // The schema only types columns the body leaves ambiguous; Predict reads
    // the routing again, so a swap in between is harmless.
    ScoringRequest parsed = ParseScoringRequest(req.get_header_value("Content-Type"), req.body,
                                                InputSchema(deployment));
    serving::Deployment::Answer answer =
        deployment.Predict(std::move(parsed.frame), parsed.params_json,
                           req.get_header_value(kRouteKeyHeader), req.request_id);
    res.set_content(WriteScoringResponse(answer.predictions), "application/json");
    res.set_header(kVersionHeader, answer.servable->version);
  });
}

void Infer(const Request& req, Response& res, serving::Deployment& deployment,
           const std::string& name, const std::string& version) {
  WithRetryAfter(res, [&] {
    std::optional<std::string_view> header_length;
    std::string length_text = req.get_header_value("Inference-Header-Content-Length");
    if (req.has_header("Inference-Header-Content-Length")) header_length = length_text;
    InferRequest parsed = ParseInferRequest(req.body, header_length);
    std::string id = parsed.id;
    serving::Deployment::Answer answer =
        deployment.Predict(std::move(parsed.inputs), parsed.parameters_json,
                           req.get_header_value(kRouteKeyHeader), req.request_id, version);
    InferResponse reply = WriteInferResponse(name, answer.servable->version, id, answer.predictions,
                                             parsed.outputs, parsed.binary_data_output);
    if (reply.json_header_length) {
      res.set_content(std::move(reply.body), "application/octet-stream");
      res.set_header("Inference-Header-Content-Length", std::to_string(*reply.json_header_length));
    } else {
      res.set_content(std::move(reply.body), "application/json");
    }
    res.set_header(kVersionHeader, answer.servable->version);
  });
}

std::string Platform(const serving::Servable& servable) {
  return std::string(servable.model->flavor()) + (servable.model->native() ? "_native" : "_python");
}

void Metadata(Response& res, const serving::Deployment& deployment, const std::string& name,
              const std::string& version) {
  std::shared_ptr<const serving::Routing> routing = deployment.routing();
  if (!routing || !routing->primary) {
    throw Error(ErrorCode::kTemporarilyUnavailable,
                "Model '" + name + "' has no version loaded yet; retry later.");
  }
  std::shared_ptr<const serving::Servable> servable =
      version.empty() ? routing->primary : routing->Version(version);
  if (!servable) ThrowNotFound("Model '" + name + "' has no version " + version + " loaded.");
  const std::vector<std::string> versions = routing->VersionLabels();
  const ml::MlModel& mlmodel = servable->model->mlmodel();
  const ml::Schema* inputs = mlmodel.signature ? &mlmodel.signature->inputs : nullptr;
  const ml::Schema* outputs = mlmodel.signature ? &mlmodel.signature->outputs : nullptr;
  SetJson(res, WriteModelMetadata(name, versions, Platform(*servable), inputs, outputs));
}

void Ready(Response& res, const serving::Deployment& deployment, const std::string& version) {
  std::shared_ptr<const serving::Routing> routing = deployment.routing();
  bool ready = routing && routing->primary && (version.empty() || routing->Version(version));
  if (!ready) {
    throw Error(ErrorCode::kTemporarilyUnavailable, "The model is not ready.");
  }
  res.status = 200;
  res.set_content("", "text/plain");
}

void OipServerRoutes(HttpServer& server) {
  server.Get("/v2", RouteSpec("oip/server-metadata").SignedIn(), [](const Request&, Response& res) {
    SetJson(res, R"({"name":"slipway","version":")" SLIPWAY_VERSION_STRING
                 R"(","extensions":["binary_tensor_data"]})");
  });
  server.Get("/v2/health/live", RouteSpec("oip/live").SignedIn(),
             [](const Request&, Response& res) { res.set_content("", "text/plain"); });
  server.Get("/v2/health/ready", RouteSpec("oip/ready").SignedIn(),
             [](const Request&, Response& res) { res.set_content("", "text/plain"); });
}

Json RatesJson(const serving::RateWindow::Recent& r) {
  return {{"seconds", r.seconds},
          {"requests", r.requests},
          {"requests_per_s", r.requests_per_s},
          {"errors_per_s", r.errors_per_s},
          {"rows_per_s", r.rows_per_s},
          {"latency_p50_ms", r.latency_p50_ms},
          {"latency_p99_ms", r.latency_p99_ms}};
}

Json HistoryJson(const std::vector<serving::RateSample>& samples) {
  Json out = Json::array();
  for (const serving::RateSample& sample : samples) {
    Json versions = Json::array();
    for (const serving::VersionRates& v : sample.versions) {
      Json item = RatesJson(v.rates);
      item["role"] = v.role;
      item["model_name"] = v.model_name;
      item["version"] = v.version;
      versions.push_back(std::move(item));
    }
    out.push_back({{"time", sample.time_ms}, {"versions", std::move(versions)}});
  }
  return {{"interval_seconds", serving::ServingService::kRateSampleInterval.count()},
          {"samples", std::move(out)}};
}

Json VersionJson(const serving::VersionStatus& v) {
  Json out = {{"role", v.role},
              {"model_name", v.model_name},
              {"version", v.version},
              {"state", v.state},
              {"time", v.time_ms}};
  if (!v.error.empty()) out["error"] = v.error;
  if (v.requests) {
    out["requests"] = v.requests;
    out["errors"] = v.errors;
    out["rows"] = v.rows;
    out["latency_p50_ms"] = v.latency_p50_ms;
    out["latency_p99_ms"] = v.latency_p99_ms;
  }
  if (v.recent) out["recent"] = RatesJson(*v.recent);
  return out;
}

Json DeploymentJson(const serving::DeploymentInfo& info) {
  const serving::DeploymentSpec& s = info.spec;
  Json versions = Json::array();
  for (const serving::VersionStatus& v : info.versions) versions.push_back(VersionJson(v));
  Json events = Json::array();
  for (const serving::DeploymentEvent& e : info.events) {
    events.push_back({{"time", e.time_ms}, {"text", e.text}});
  }
  return {{"name", s.name},
          {"model_uri", s.model_uri},
          {"canary_uri", s.canary_uri},
          {"canary_weight", s.canary_weight},
          {"shadow_uri", s.shadow_uri},
          {"pinned_version", s.pinned_version},
          {"previous_version", s.previous_version},
          {"previous_model", s.previous_model},
          {"max_queued", s.max_queued},
          {"max_batch_rows", s.max_batch_rows},
          {"max_queue_delay_us", s.max_queue_delay_us},
          {"log_sample_rate", s.log_sample_rate},
          {"created_by", s.created_by},
          {"creation_time", s.creation_time},
          {"last_updated_time", s.last_updated_time},
          {"in_flight", info.in_flight},
          {"shadow_dropped", info.shadow_dropped},
          {"versions", versions},
          {"events", events}};
}

std::optional<double> OptionalNumber(const Json& body, const char* key) {
  if (!body.contains(key) || body[key].is_null()) return std::nullopt;
  if (!body[key].is_number()) ThrowInvalid(std::string("'") + key + "' must be a number");
  return body[key].get<double>();
}

std::optional<std::string> OptionalText(const Json& body, const char* key) {
  if (!body.contains(key) || body[key].is_null()) return std::nullopt;
  if (!body[key].is_string()) ThrowInvalid(std::string("'") + key + "' must be a string");
  return body[key].get<std::string>();
}

serving::DeploymentUpdate UpdateOf(const Json& body) {
  serving::DeploymentUpdate update;
  update.model_uri = OptionalText(body, "model_uri");
  update.canary_uri = OptionalText(body, "canary_uri");
  update.shadow_uri = OptionalText(body, "shadow_uri");
  auto integer = [&](const char* key) -> std::optional<int64_t> {
    std::optional<double> value = OptionalNumber(body, key);
    if (!value) return std::nullopt;
    if (*value != static_cast<double>(static_cast<int64_t>(*value))) {
      ThrowInvalid(std::string("'") + key + "' must be a whole number");
    }
    return static_cast<int64_t>(*value);
  };
  if (auto weight = integer("canary_weight")) update.canary_weight = static_cast<int>(*weight);
  update.max_queued = integer("max_queued");
  update.max_batch_rows = integer("max_batch_rows");
  update.max_queue_delay_us = integer("max_queue_delay_us");
  update.log_sample_rate = OptionalNumber(body, "log_sample_rate");
  return update;
}

}  // namespace

void AddDeploymentRoutes(HttpServer& server, serving::ServingService& serving) {
  server.Post("/deployments/([^/]+)/invocations",
              RouteSpec("deployments/invocations")
                  .Needs(kDeployment, kUse)
                  .ReadOnly()
                  .Inline([&serving](const Request& req) {
                    return serving.AnswersQuickly(req.matches[1]);
                  }),
              [&serving](const Request& req, Response& res) {
                Invoke(req, res, *serving.Find(req.matches[1]));
              });
  OipServerRoutes(server);
  const std::string model = "/v2/models/([^/]+)";
  const std::string version = model + "/versions/([^/]+)";
  auto quick = [&serving](const Request& req) { return serving.AnswersQuickly(req.matches[1]); };
  server.Get(model, RouteSpec("oip/model-metadata").Needs(kDeployment, kUse),
             [&serving](const Request& req, Response& res) {
               Metadata(res, *serving.Find(req.matches[1]), req.matches[1], "");
             });
  server.Get(version, RouteSpec("oip/model-metadata").Needs(kDeployment, kUse),
             [&serving](const Request& req, Response& res) {
               Metadata(res, *serving.Find(req.matches[1]), req.matches[1], req.matches[2]);
             });
  server.Get(model + "/ready", RouteSpec("oip/model-ready").Needs(kDeployment, kUse),
             [&serving](const Request& req, Response& res) {
               Ready(res, *serving.Find(req.matches[1]), "");
             });
  server.Get(version + "/ready", RouteSpec("oip/model-ready").Needs(kDeployment, kUse),
             [&serving](const Request& req, Response& res) {
               Ready(res, *serving.Find(req.matches[1]), req.matches[2]);
             });
  server.Post(model + "/infer",
              RouteSpec("oip/infer").Needs(kDeployment, kUse).ReadOnly().Inline(quick),
              [&serving](const Request& req, Response& res) {
                Infer(req, res, *serving.Find(req.matches[1]), req.matches[1], "");
              });
  server.Post(version + "/infer",
              RouteSpec("oip/infer").Needs(kDeployment, kUse).ReadOnly().Inline(quick),
              [&serving](const Request& req, Response& res) {
                Infer(req, res, *serving.Find(req.matches[1]), req.matches[1], req.matches[2]);
              });

  const std::string api = "/api/v1/deployments";
  server.Post(api, RouteSpec("deployments/create").SignedIn(),
              [&serving](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                serving::DeploymentSpec spec;
                spec.name = fields.RequiredString("name");
                spec.model_uri = fields.RequiredString("model_uri");
                serving::DeploymentUpdate options = UpdateOf(body);
                spec.canary_uri = options.canary_uri.value_or("");
                spec.canary_weight = options.canary_weight.value_or(0);
                spec.shadow_uri = options.shadow_uri.value_or("");
                spec.max_queued = options.max_queued.value_or(spec.max_queued);
                spec.max_batch_rows = options.max_batch_rows.value_or(0);
                spec.max_queue_delay_us = options.max_queue_delay_us.value_or(0);
                spec.log_sample_rate = options.log_sample_rate.value_or(1.0);
                Reply(res, {{"deployment", DeploymentJson(serving.Create(std::move(spec)))}});
              });
  server.Get(api, RouteSpec("deployments/list").SignedIn(),
             [&serving](const Request&, Response& res) {
               Json items = Json::array();
               for (const serving::DeploymentInfo& info : serving.List()) {
                 items.push_back(DeploymentJson(info));
               }
               Reply(res, {{"deployments", items}});
             });
  server.Get(api + "/([^/]+)", RouteSpec("deployments/get").Needs(kDeployment, kRead),
             [&serving](const Request& req, Response& res) {
               Reply(res, {{"deployment", DeploymentJson(serving.Get(req.matches[1]))}});
             });
  server.Get(api + "/([^/]+)/metrics", RouteSpec("deployments/metrics").Needs(kDeployment, kRead),
             [&serving](const Request& req, Response& res) {
               Json query = RequestJson(req);
               int64_t since_ms = RequestFields(query).OptionalInt("since_ms").value_or(0);
               Reply(res, HistoryJson(serving.History(req.matches[1], since_ms)));
             });
  server.Patch(
      api + "/([^/]+)", RouteSpec("deployments/update").Needs(kDeployment, kEdit),
      [&serving](const Request& req, Response& res) {
        serving::DeploymentUpdate update = UpdateOf(RequestJson(req));
        Reply(res, {{"deployment", DeploymentJson(serving.Update(req.matches[1], update))}});
      });
  server.Post(api + "/([^/]+)/rollback",
              RouteSpec("deployments/rollback").Needs(kDeployment, kEdit),
              [&serving](const Request& req, Response& res) {
                Reply(res, {{"deployment", DeploymentJson(serving.Rollback(req.matches[1]))}});
              });
  // EDIT on the deployment; moving an alias also needs EDIT on its model,
  // which the service checks (ServingService::Promote).
  server.Post(api + "/([^/]+)/promote", RouteSpec("deployments/promote").Needs(kDeployment, kEdit),
              [&serving](const Request& req, Response& res) {
                Reply(res, {{"deployment", DeploymentJson(serving.Promote(req.matches[1]))}});
              });
  server.Delete(api + "/([^/]+)", RouteSpec("deployments/delete").Needs(kDeployment, kManage),
                [&serving](const Request& req, Response& res) {
                  serving.Delete(req.matches[1]);
                  Reply(res, Json::object());
                });
}

void AddStandaloneRoutes(HttpServer& server, std::shared_ptr<serving::Deployment> deployment,
                         const std::string& name) {
  auto serve_quick = [deployment](const Request&) { return deployment->AnswersQuickly(); };
  server.Get("/ping", RouteSpec("serve/ping").SignedIn(),
             [deployment](const Request&, Response& res) {
               Ready(res, *deployment, "");
               res.set_content("\n", "application/json");
             });
  server.Get("/version", RouteSpec("serve/version").SignedIn(), [](const Request&, Response& res) {
    res.set_content(SLIPWAY_VERSION_STRING, "text/plain");
  });
  server.Post("/invocations",
              RouteSpec("serve/invocations").SignedIn().ReadOnly().Inline(serve_quick),
              [deployment](const Request& req, Response& res) { Invoke(req, res, *deployment); });
  OipServerRoutes(server);
  auto check = [name](const std::string& asked) {
    if (asked != name)
      ThrowNotFound("Model '" + asked + "' is not served here (this serves '" + name + "').");
  };
  const std::string model = "/v2/models/([^/]+)";
  const std::string version = model + "/versions/([^/]+)";
  server.Get(model, RouteSpec("oip/model-metadata").SignedIn(),
             [deployment, name, check](const Request& req, Response& res) {
               check(req.matches[1]);
               Metadata(res, *deployment, name, "");
             });
  server.Get(version, RouteSpec("oip/model-metadata").SignedIn(),
             [deployment, name, check](const Request& req, Response& res) {
               check(req.matches[1]);
               Metadata(res, *deployment, name, req.matches[2]);
             });
  server.Get(model + "/ready", RouteSpec("oip/model-ready").SignedIn(),
             [deployment, check](const Request& req, Response& res) {
               check(req.matches[1]);
               Ready(res, *deployment, "");
             });
  server.Get(version + "/ready", RouteSpec("oip/model-ready").SignedIn(),
             [deployment, check](const Request& req, Response& res) {
               check(req.matches[1]);
               Ready(res, *deployment, req.matches[2]);
             });
  server.Post(model + "/infer", RouteSpec("oip/infer").SignedIn().ReadOnly().Inline(serve_quick),
              [deployment, name, check](const Request& req, Response& res) {
                check(req.matches[1]);
                Infer(req, res, *deployment, name, "");
              });
  server.Post(version + "/infer", RouteSpec("oip/infer").SignedIn().ReadOnly().Inline(serve_quick),
              [deployment, name, check](const Request& req, Response& res) {
                check(req.matches[1]);
                Infer(req, res, *deployment, name, req.matches[2]);
              });
}

}  // namespace slipway::http
