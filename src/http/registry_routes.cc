#include "http/registry_routes.h"

#include "core/error.h"
#include "http/json_codec.h"
#include "http/route_helpers.h"
#include "registry/lineage.h"
#include "registry/model_card.h"

namespace slipway::http {
namespace {

Json VersionsJson(const std::vector<registry::ModelVersion>& versions) {
  Json items = Json::array();
  for (const auto& version : versions) items.push_back(ToJson(version));
  return items;
}

// Registers `handler` for both GET and POST, as MLflow serves some reads.
void GetOrPost(HttpServer& server, const std::string& path, const RouteSpec& route,
               const HttpServer::Handler& handler) {
  server.Get(path, route, handler);
  server.Post(path, route, handler);
}

void AddRegisteredModelRoutes(HttpServer& server, registry::RegistryService& registry) {
  const std::string base = "/api/2.0/mlflow/registered-models";
  server.Post(base + "/create", RouteSpec("registered-models/create").SignedIn(),
              [&registry](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                Reply(res,
                      {{"registered_model", ToJson(registry.CreateRegisteredModel(
                                                fields.RequiredString("name"), fields.Tags("tags"),
                                                fields.OptionalString("description")))}});
              });
  server.Get(base + "/get", RouteSpec("registered-models/get").Needs(kRegisteredModel, kRead),
             [&registry](const Request& req, Response& res) {
               Json body = RequestJson(req);
               Reply(res, {{"registered_model", ToJson(registry.GetRegisteredModel(
                                                    RequestFields(body).RequiredString("name")))}});
             });
  server.Post(
      base + "/rename", RouteSpec("registered-models/rename").Needs(kRegisteredModel, kEdit),
      [&registry](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        Reply(res, {{"registered_model",
                     ToJson(registry.RenameRegisteredModel(fields.RequiredString("name"),
                                                           fields.RequiredString("new_name")))}});
      });
  server.Patch(
      base + "/update", RouteSpec("registered-models/update").Needs(kRegisteredModel, kEdit),
      [&registry](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        Reply(res, {{"registered_model",
                     ToJson(registry.UpdateRegisteredModel(
                         fields.RequiredString("name"), fields.OptionalString("description")))}});
      });
  server.Delete(base + "/delete",
                RouteSpec("registered-models/delete").Needs(kRegisteredModel, kManage),
                [&registry](const Request& req, Response& res) {
                  Json body = RequestJson(req);
                  registry.DeleteRegisteredModel(RequestFields(body).RequiredString("name"));
                  Reply(res, Json::object());
                });
  GetOrPost(server, base + "/search", RouteSpec("registered-models/search").SignedIn().ReadOnly(),
            [&registry](const Request& req, Response& res) {
              Json body = RequestJson(req);
              RequestFields fields(body);
              auto result = registry.SearchRegisteredModels(
                  fields.OptionalString("filter"), fields.StringList("order_by"),
                  fields.OptionalInt("max_results"), fields.OptionalString("page_token"));
              Json items = Json::array();
              for (const auto& model : result.items) items.push_back(ToJson(model));
              Reply(res, Paged("registered_models", std::move(items), result.next_page_token));
            });
  GetOrPost(
      server, base + "/get-latest-versions",
      RouteSpec("registered-models/get-latest-versions").Needs(kRegisteredModel, kRead).ReadOnly(),
      [&registry](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        Reply(res, {{"model_versions",
                     VersionsJson(registry.GetLatestVersions(fields.RequiredString("name"),
                                                             fields.StringList("stages")))}});
      });
  server.Post(base + "/set-tag",
              RouteSpec("registered-models/set-tag").Needs(kRegisteredModel, kEdit),
              [&registry](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                registry.SetRegisteredModelTag(
                    fields.RequiredString("name"),
                    {fields.RequiredString("key"), fields.OptionalString("value")});
                Reply(res, Json::object());
              });
  server.Delete(base + "/delete-tag",
                RouteSpec("registered-models/delete-tag").Needs(kRegisteredModel, kEdit),
                [&registry](const Request& req, Response& res) {
                  Json body = RequestJson(req);
                  RequestFields fields(body);
                  registry.DeleteRegisteredModelTag(fields.RequiredString("name"),
                                                    fields.RequiredString("key"));
                  Reply(res, Json::object());
                });
  server.Post(base + "/alias",
              RouteSpec("registered-models/alias/set").Needs(kRegisteredModel, kEdit),
              [&registry](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                registry.SetAlias(fields.RequiredString("name"), fields.RequiredString("alias"),
                                  fields.RequiredString("version"));
                Reply(res, Json::object());
              });
  server.Delete(
      base + "/alias", RouteSpec("registered-models/alias/delete").Needs(kRegisteredModel, kEdit),
      [&registry](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        registry.DeleteAlias(fields.RequiredString("name"), fields.RequiredString("alias"));
        Reply(res, Json::object());
      });
  server.Get(base + "/alias",
             RouteSpec("registered-models/alias/get").Needs(kRegisteredModel, kRead),
             [&registry](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               Reply(res, {{"model_version",
                            ToJson(registry.GetVersionByAlias(fields.RequiredString("name"),
                                                              fields.RequiredString("alias")))}});
             });
}

void AddModelVersionRoutes(HttpServer& server, registry::RegistryService& registry) {
  const std::string base = "/api/2.0/mlflow/model-versions";
  server.Post(
      base + "/create", RouteSpec("model-versions/create").Needs(kRegisteredModel, kEdit),
      [&registry](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        registry::RegistryService::NewVersion version;
        version.name = fields.RequiredString("name");
        version.source = fields.RequiredString("source");
        version.run_id = fields.OptionalString("run_id");
        version.run_link = fields.OptionalString("run_link");
        version.description = fields.OptionalString("description");
        version.model_id = fields.OptionalString("model_id");
        version.tags = fields.Tags("tags");
        Reply(res, {{"model_version", ToJson(registry.CreateModelVersion(std::move(version)))}});
      });
  server.Get(base + "/get", RouteSpec("model-versions/get").Needs(kRegisteredModel, kRead),
             [&registry](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               Reply(res, {{"model_version",
                            ToJson(registry.GetModelVersion(fields.RequiredString("name"),
                                                            fields.RequiredString("version")))}});
             });
  server.Patch(base + "/update", RouteSpec("model-versions/update").Needs(kRegisteredModel, kEdit),
               [&registry](const Request& req, Response& res) {
                 Json body = RequestJson(req);
                 RequestFields fields(body);
                 Reply(res, {{"model_version",
                              ToJson(registry.UpdateModelVersion(
                                  fields.RequiredString("name"), fields.RequiredString("version"),
                                  fields.OptionalString("description")))}});
               });
  server.Post(base + "/transition-stage",
              RouteSpec("model-versions/transition-stage").Needs(kRegisteredModel, kEdit),
              [&registry](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                Reply(res,
                      {{"model_version",
                        ToJson(registry.TransitionStage(
                            fields.RequiredString("name"), fields.RequiredString("version"),
                            fields.RequiredString("stage"),
                            fields.OptionalBool("archive_existing_versions").value_or(false)))}});
              });
  server.Delete(base + "/delete",
                RouteSpec("model-versions/delete").Needs(kRegisteredModel, kManage),
                [&registry](const Request& req, Response& res) {
                  Json body = RequestJson(req);
                  RequestFields fields(body);
                  registry.DeleteModelVersion(fields.RequiredString("name"),
                                              fields.RequiredString("version"));
                  Reply(res, Json::object());
                });
  GetOrPost(server, base + "/search", RouteSpec("model-versions/search").SignedIn().ReadOnly(),
            [&registry](const Request& req, Response& res) {
              Json body = RequestJson(req);
              RequestFields fields(body);
              auto result = registry.SearchModelVersions(
                  fields.OptionalString("filter"), fields.StringList("order_by"),
                  fields.OptionalInt("max_results"), fields.OptionalString("page_token"));
              Reply(res,
                    Paged("model_versions", VersionsJson(result.items), result.next_page_token));
            });
  server.Get(base + "/get-download-uri",
             RouteSpec("model-versions/get-download-uri").Needs(kRegisteredModel, kRead),
             [&registry](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               Reply(res,
                     {{"artifact_uri", registry.GetDownloadUri(fields.RequiredString("name"),
                                                               fields.RequiredString("version"))}});
             });
  server.Post(base + "/set-tag", RouteSpec("model-versions/set-tag").Needs(kRegisteredModel, kEdit),
              [&registry](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                registry.SetModelVersionTag(
                    fields.RequiredString("name"), fields.RequiredString("version"),
                    {fields.RequiredString("key"), fields.OptionalString("value")});
                Reply(res, Json::object());
              });
  server.Delete(base + "/delete-tag",
                RouteSpec("model-versions/delete-tag").Needs(kRegisteredModel, kEdit),
                [&registry](const Request& req, Response& res) {
                  Json body = RequestJson(req);
                  RequestFields fields(body);
                  registry.DeleteModelVersionTag(fields.RequiredString("name"),
                                                 fields.RequiredString("version"),
                                                 fields.RequiredString("key"));
                  Reply(res, Json::object());
                });
}

Json RunRefJson(const registry::RunRef& run) {
  return {{"run_id", run.run_id}, {"run_name", run.run_name}, {"status", run.status}};
}

Json DatasetsJson(const std::vector<registry::DatasetRef>& datasets) {
  Json out = Json::array();
  for (const auto& d : datasets) {
    out.push_back({{"name", d.name},
                   {"digest", d.digest},
                   {"source_type", d.source_type},
                   {"source", d.source},
                   {"context", d.context}});
  }
  return out;
}

Json LineageJson(const registry::ModelLineage& lineage) {
  Json out = {{"model_version", ToJson(lineage.version)}};
  if (lineage.logged_model) out["logged_model"] = ToJson(*lineage.logged_model);
  if (lineage.run) out["run"] = ToJson(*lineage.run);
  Json code = Json::object();
  if (!lineage.git_commit.empty()) code["git_commit"] = lineage.git_commit;
  if (!lineage.source_name.empty()) code["source_name"] = lineage.source_name;
  if (!lineage.source_type.empty()) code["source_type"] = lineage.source_type;
  out["code"] = std::move(code);
  out["datasets"] = DatasetsJson(lineage.datasets);
  if (lineage.parent_run) out["parent_run"] = RunRefJson(*lineage.parent_run);
  Json children = Json::array();
  for (const auto& child : lineage.child_runs) children.push_back(RunRefJson(child));
  out["child_runs"] = std::move(children);
  out["withheld"] = lineage.withheld;
  return out;
}

Json PairsJson(const std::vector<std::pair<std::string, std::string>>& pairs) {
  Json out = Json::object();
  for (const auto& [key, value] : pairs) out[key] = value;
  return out;
}

Json CardJson(const registry::ModelCard& card) {
  Json metrics = Json::object();
  for (const auto& [key, value] : card.metrics) metrics[key] = DoubleToJson(value);
  return {{"name", card.name},
          {"version", std::to_string(card.version)},
          {"stage", card.stage},
          {"aliases", card.aliases},
          {"intended_use", card.intended_use},
          {"owners", card.owners},
          {"training_data", DatasetsJson(card.training_data)},
          {"parameters", PairsJson(card.parameters)},
          {"metrics", std::move(metrics)},
          {"validation", PairsJson(card.validation)},
          {"approvals", PairsJson(card.approvals)},
          {"lineage",
           {{"source", card.source},
            {"model_id", card.model_id},
            {"run_id", card.run_id},
            {"experiment_id", card.experiment_id},
            {"git_commit", card.git_commit},
            {"source_name", card.source_name}}},
          {"withheld", card.withheld},
          {"creation_timestamp", card.created}};
}

void AddLineageRoutes(HttpServer& server, registry::RegistryService& registry,
                      tracking::TrackingService& tracking) {
  server.Get("/api/v1/lineage/model-versions/([^/]+)/([^/]+)",
             RouteSpec("lineage/model-version").Needs(kRegisteredModel, kRead),
             [&registry, &tracking](const Request& req, Response& res) {
               Reply(res, LineageJson(registry::BuildLineage(registry, tracking, req.matches[1],
                                                             req.matches[2])));
             });
  server.Get("/api/v1/models/([^/]+)/versions/([^/]+)/card",
             RouteSpec("models/card").Needs(kRegisteredModel, kRead),
             [&registry, &tracking](const Request& req, Response& res) {
               registry::ModelCard card = registry::BuildModelCard(
                   registry::BuildLineage(registry, tracking, req.matches[1], req.matches[2]));
               bool json =
                   req.get_param_value("format") == "json" ||
                   (req.get_param_value("format").empty() &&
                    req.get_header_value("Accept").find("application/json") != std::string::npos);
               if (json) {
                 Reply(res, CardJson(card));
               } else {
                 res.set_content(registry::RenderMarkdown(card), "text/markdown; charset=utf-8");
               }
             });
}

}  // namespace

void AddRegistryRoutes(HttpServer& server, registry::RegistryService& registry,
                       tracking::TrackingService& tracking) {
  AddRegisteredModelRoutes(server, registry);
  AddModelVersionRoutes(server, registry);
  AddLineageRoutes(server, registry, tracking);
}

}  // namespace slipway::http
