#include "http/registry_routes.h"

#include "core/error.h"
#include "http/json_codec.h"
#include "http/route_helpers.h"

namespace slipway::http {
namespace {

using httplib::Request;
using httplib::Response;

Json VersionsJson(const std::vector<registry::ModelVersion>& versions) {
  Json items = Json::array();
  for (const auto& version : versions) items.push_back(ToJson(version));
  return items;
}

// Registers `handler` for both GET and POST, as MLflow serves some reads.
void GetOrPost(HttpServer& server, const std::string& path, const std::string& route,
               const HttpServer::Handler& handler) {
  server.Get(path, route, handler);
  server.Post(path, route, handler);
}

void AddRegisteredModelRoutes(HttpServer& server, registry::RegistryService& registry) {
  const std::string base = "/api/2.0/mlflow/registered-models";
  server.Post(
      base + "/create", "registered-models/create", [&registry](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        Reply(res, {{"registered_model", ToJson(registry.CreateRegisteredModel(
                                             fields.RequiredString("name"), fields.Tags("tags"),
                                             fields.OptionalString("description")))}});
      });
  server.Get(
      base + "/get", "registered-models/get", [&registry](const Request& req, Response& res) {
        Json body = RequestJson(req);
        Reply(res,
              {{"registered_model",
                ToJson(registry.GetRegisteredModel(RequestFields(body).RequiredString("name")))}});
      });
  server.Post(
      base + "/rename", "registered-models/rename", [&registry](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        Reply(res, {{"registered_model",
                     ToJson(registry.RenameRegisteredModel(fields.RequiredString("name"),
                                                           fields.RequiredString("new_name")))}});
      });
  server.Patch(
      base + "/update", "registered-models/update", [&registry](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        Reply(res, {{"registered_model",
                     ToJson(registry.UpdateRegisteredModel(
                         fields.RequiredString("name"), fields.OptionalString("description")))}});
      });
  server.Delete(base + "/delete", "registered-models/delete",
                [&registry](const Request& req, Response& res) {
                  Json body = RequestJson(req);
                  registry.DeleteRegisteredModel(RequestFields(body).RequiredString("name"));
                  Reply(res, Json::object());
                });
  GetOrPost(server, base + "/search", "registered-models/search",
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
  GetOrPost(server, base + "/get-latest-versions", "registered-models/get-latest-versions",
            [&registry](const Request& req, Response& res) {
              Json body = RequestJson(req);
              RequestFields fields(body);
              Reply(res, {{"model_versions",
                           VersionsJson(registry.GetLatestVersions(fields.RequiredString("name"),
                                                                   fields.StringList("stages")))}});
            });
  server.Post(base + "/set-tag", "registered-models/set-tag",
              [&registry](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                registry.SetRegisteredModelTag(
                    fields.RequiredString("name"),
                    {fields.RequiredString("key"), fields.OptionalString("value")});
                Reply(res, Json::object());
              });
  server.Delete(base + "/delete-tag", "registered-models/delete-tag",
                [&registry](const Request& req, Response& res) {
                  Json body = RequestJson(req);
                  RequestFields fields(body);
                  registry.DeleteRegisteredModelTag(fields.RequiredString("name"),
                                                    fields.RequiredString("key"));
                  Reply(res, Json::object());
                });
  server.Post(base + "/alias", "registered-models/alias/set",
              [&registry](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                registry.SetAlias(fields.RequiredString("name"), fields.RequiredString("alias"),
                                  fields.RequiredString("version"));
                Reply(res, Json::object());
              });
  server.Delete(base + "/alias", "registered-models/alias/delete",
                [&registry](const Request& req, Response& res) {
                  Json body = RequestJson(req);
                  RequestFields fields(body);
                  registry.DeleteAlias(fields.RequiredString("name"),
                                       fields.RequiredString("alias"));
                  Reply(res, Json::object());
                });
  server.Get(base + "/alias", "registered-models/alias/get",
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
      base + "/create", "model-versions/create", [&registry](const Request& req, Response& res) {
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
  server.Get(base + "/get", "model-versions/get", [&registry](const Request& req, Response& res) {
    Json body = RequestJson(req);
    RequestFields fields(body);
    Reply(res,
          {{"model_version", ToJson(registry.GetModelVersion(fields.RequiredString("name"),
                                                             fields.RequiredString("version")))}});
  });
  server.Patch(
      base + "/update", "model-versions/update", [&registry](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        Reply(res, {{"model_version",
                     ToJson(registry.UpdateModelVersion(fields.RequiredString("name"),
                                                        fields.RequiredString("version"),
                                                        fields.OptionalString("description")))}});
      });
  server.Post(base + "/transition-stage", "model-versions/transition-stage",
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
  server.Delete(base + "/delete", "model-versions/delete",
                [&registry](const Request& req, Response& res) {
                  Json body = RequestJson(req);
                  RequestFields fields(body);
                  registry.DeleteModelVersion(fields.RequiredString("name"),
                                              fields.RequiredString("version"));
                  Reply(res, Json::object());
                });
  GetOrPost(server, base + "/search", "model-versions/search",
            [&registry](const Request& req, Response& res) {
              Json body = RequestJson(req);
              RequestFields fields(body);
              auto result = registry.SearchModelVersions(
                  fields.OptionalString("filter"), fields.StringList("order_by"),
                  fields.OptionalInt("max_results"), fields.OptionalString("page_token"));
              Reply(res,
                    Paged("model_versions", VersionsJson(result.items), result.next_page_token));
            });
  server.Get(base + "/get-download-uri", "model-versions/get-download-uri",
             [&registry](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               Reply(res,
                     {{"artifact_uri", registry.GetDownloadUri(fields.RequiredString("name"),
                                                               fields.RequiredString("version"))}});
             });
  server.Post(
      base + "/set-tag", "model-versions/set-tag", [&registry](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        registry.SetModelVersionTag(fields.RequiredString("name"), fields.RequiredString("version"),
                                    {fields.RequiredString("key"), fields.OptionalString("value")});
        Reply(res, Json::object());
      });
  server.Delete(base + "/delete-tag", "model-versions/delete-tag",
                [&registry](const Request& req, Response& res) {
                  Json body = RequestJson(req);
                  RequestFields fields(body);
                  registry.DeleteModelVersionTag(fields.RequiredString("name"),
                                                 fields.RequiredString("version"),
                                                 fields.RequiredString("key"));
                  Reply(res, Json::object());
                });
}

}  // namespace

void AddRegistryRoutes(HttpServer& server, registry::RegistryService& registry) {
  AddRegisteredModelRoutes(server, registry);
  AddModelVersionRoutes(server, registry);
}

}  // namespace slipway::http
