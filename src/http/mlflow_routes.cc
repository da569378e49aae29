#include "http/mlflow_routes.h"

#include <memory>

#include "core/error.h"
#include "http/json_codec.h"
#include "http/route_helpers.h"

namespace slipway::http {
namespace {

using tracking::ViewType;

constexpr const char* kApi = "/api/2.0/mlflow";

ViewType ParseViewType(const RequestFields& fields, const char* key) {
  if (!fields.Has(key)) return ViewType::kActiveOnly;
  std::string text = fields.OptionalString(key, "");
  if (text == "ACTIVE_ONLY" || text == "1") return ViewType::kActiveOnly;
  if (text == "DELETED_ONLY" || text == "2") return ViewType::kDeletedOnly;
  if (text == "ALL" || text == "3") return ViewType::kAll;
  ThrowInvalid("Invalid value \"" + text + "\" for parameter '" + key +
               "' supplied: must be ACTIVE_ONLY, DELETED_ONLY or ALL.");
}

// View types may arrive as numbers; normalise them to text for ParseViewType.
Json WithTextEnums(Json body, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    auto it = body.find(key);
    if (it != body.end() && it->is_number_integer()) *it = std::to_string(it->get<int64_t>());
  }
  return body;
}

std::string RunIdOf(const RequestFields& fields) {
  if (fields.Has("run_id")) return fields.RequiredString("run_id");
  if (fields.Has("run_uuid")) return fields.RequiredString("run_uuid");
  return fields.RequiredString("run_id");
}

tracking::MetricPoint ReadMetric(const RequestFields& fields) {
  tracking::MetricPoint point;
  point.key = fields.RequiredString("key");
  point.value = fields.RequiredDouble("value");
  point.timestamp = fields.RequiredInt("timestamp");
  point.step = fields.OptionalInt("step").value_or(0);
  point.model_id = fields.OptionalString("model_id");
  point.dataset_name = fields.OptionalString("dataset_name");
  point.dataset_digest = fields.OptionalString("dataset_digest");
  return point;
}

std::vector<tracking::Param> ReadParams(const RequestFields& fields, const char* key) {
  std::vector<tracking::Param> params;
  for (const RequestFields& item : fields.ObjectList(key)) {
    params.push_back({item.RequiredString("key"), item.OptionalString("value")});
  }
  return params;
}

void AddExperimentRoutes(HttpServer& server, tracking::TrackingService& tracking) {
  std::string api = kApi;
  server.Post(api + "/experiments/create", RouteSpec("experiments/create").SignedIn(),
              [&tracking](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                std::string id = tracking.CreateExperiment(
                    fields.RequiredString("name"), fields.OptionalString("artifact_location"),
                    fields.Tags("tags"));
                Reply(res, {{"experiment_id", id}});
              });
  server.Get(api + "/experiments/get", RouteSpec("experiments/get").Needs(kExperiment, kRead),
             [&tracking](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               Reply(res,
                     {{"experiment",
                       ToJson(tracking.GetExperiment(fields.RequiredString("experiment_id")))}});
             });
  server.Get(api + "/experiments/get-by-name",
             RouteSpec("experiments/get-by-name").Needs(kExperiment, kRead),
             [&tracking](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               Reply(res, {{"experiment", ToJson(tracking.GetExperimentByName(
                                              fields.RequiredString("experiment_name")))}});
             });
  auto search = [&tracking](const Request& req, Response& res) {
    Json body = WithTextEnums(RequestJson(req), {"view_type"});
    RequestFields fields(body);
    auto result = tracking.SearchExperiments(
        ParseViewType(fields, "view_type"), fields.OptionalString("filter"),
        fields.StringList("order_by"), fields.OptionalInt("max_results"),
        fields.OptionalString("page_token"));
    Json items = Json::array();
    for (const auto& experiment : result.items) items.push_back(ToJson(experiment));
    Reply(res, Paged("experiments", std::move(items), result.next_page_token));
  };
  server.Post(api + "/experiments/search", RouteSpec("experiments/search").SignedIn().ReadOnly(),
              search);
  server.Get(api + "/experiments/search", RouteSpec("experiments/search").SignedIn().ReadOnly(),
             search);
  server.Post(api + "/experiments/update",
              RouteSpec("experiments/update").Needs(kExperiment, kEdit),
              [&tracking](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                tracking.RenameExperiment(fields.RequiredString("experiment_id"),
                                          fields.RequiredString("new_name"));
                Reply(res, Json::object());
              });
  server.Post(api + "/experiments/delete",
              RouteSpec("experiments/delete").Needs(kExperiment, kManage),
              [&tracking](const Request& req, Response& res) {
                Json body = RequestJson(req);
                tracking.DeleteExperiment(RequestFields(body).RequiredString("experiment_id"));
                Reply(res, Json::object());
              });
  server.Post(api + "/experiments/restore",
              RouteSpec("experiments/restore").Needs(kExperiment, kManage),
              [&tracking](const Request& req, Response& res) {
                Json body = RequestJson(req);
                tracking.RestoreExperiment(RequestFields(body).RequiredString("experiment_id"));
                Reply(res, Json::object());
              });
  server.Post(api + "/experiments/set-experiment-tag",
              RouteSpec("experiments/set-experiment-tag").Needs(kExperiment, kEdit),
              [&tracking](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                tracking.SetExperimentTag(
                    fields.RequiredString("experiment_id"),
                    {fields.RequiredString("key"), fields.OptionalString("value")});
                Reply(res, Json::object());
              });
  server.Post(api + "/experiments/delete-experiment-tag",
              RouteSpec("experiments/delete-experiment-tag").Needs(kExperiment, kEdit),
              [&tracking](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                tracking.DeleteExperimentTag(fields.RequiredString("experiment_id"),
                                             fields.RequiredString("key"));
                Reply(res, Json::object());
              });
}

void AddRunRoutes(HttpServer& server, tracking::TrackingService& tracking) {
  std::string api = kApi;
  server.Post(api + "/runs/create", RouteSpec("runs/create").Needs(kExperiment, kEdit),
              [&tracking](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                tracking::TrackingService::NewRun run;
                run.experiment_id = fields.OptionalString("experiment_id");
                run.user_id = fields.OptionalString("user_id");
                run.start_time = fields.OptionalInt("start_time");
                run.run_name = fields.OptionalString("run_name");
                run.tags = fields.Tags("tags");
                Reply(res, {{"run", ToJson(tracking.CreateRun(std::move(run)))}});
              });
  server.Get(api + "/runs/get", RouteSpec("runs/get").Needs(kExperiment, kRead),
             [&tracking](const Request& req, Response& res) {
               Json body = RequestJson(req);
               Reply(res, {{"run", ToJson(tracking.GetRun(RunIdOf(RequestFields(body))))}});
             });
  server.Post(api + "/runs/update", RouteSpec("runs/update").Needs(kExperiment, kEdit),
              [&tracking](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                tracking::RunUpdate update;
                if (fields.Has("status")) update.status = fields.OptionalString("status");
                update.end_time = fields.OptionalInt("end_time");
                if (fields.Has("run_name")) update.run_name = fields.OptionalString("run_name");
                Reply(res, {{"run_info", ToJson(tracking.UpdateRun(RunIdOf(fields), update))}});
              });
  server.Post(api + "/runs/delete", RouteSpec("runs/delete").Needs(kExperiment, kManage),
              [&tracking](const Request& req, Response& res) {
                Json body = RequestJson(req);
                tracking.DeleteRun(RequestFields(body).RequiredString("run_id"));
                Reply(res, Json::object());
              });
  server.Post(api + "/runs/restore", RouteSpec("runs/restore").Needs(kExperiment, kManage),
              [&tracking](const Request& req, Response& res) {
                Json body = RequestJson(req);
                tracking.RestoreRun(RequestFields(body).RequiredString("run_id"));
                Reply(res, Json::object());
              });
  server.Post(api + "/runs/log-metric", RouteSpec("runs/log-metric").Needs(kExperiment, kEdit),
              [&tracking](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                // Fields are checked in MLflow's order: the run first.
                const std::string run_id = RunIdOf(fields);
                tracking.LogMetric(run_id, ReadMetric(fields));
                Reply(res, Json::object());
              });
  server.Post(
      api + "/runs/log-parameter", RouteSpec("runs/log-parameter").Needs(kExperiment, kEdit),
      [&tracking](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        const std::string run_id = RunIdOf(fields);  // MLflow checks it first
        tracking.LogParam(run_id, {fields.RequiredString("key"), fields.OptionalString("value")});
        Reply(res, Json::object());
      });
  server.Post(
      api + "/runs/set-tag", RouteSpec("runs/set-tag").Needs(kExperiment, kEdit),
      [&tracking](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        const std::string run_id = RunIdOf(fields);  // MLflow checks it first
        tracking.SetTag(run_id, {fields.RequiredString("key"), fields.OptionalString("value")});
        Reply(res, Json::object());
      });
  server.Post(api + "/runs/delete-tag", RouteSpec("runs/delete-tag").Needs(kExperiment, kEdit),
              [&tracking](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                tracking.DeleteTag(fields.RequiredString("run_id"), fields.RequiredString("key"));
                Reply(res, Json::object());
              });
  server.Post(api + "/runs/log-batch", RouteSpec("runs/log-batch").Needs(kExperiment, kEdit),
              [&tracking](const Request& req, Response& res) {
                if (req.body.size() > tracking::kMaxBatchRequestBytes) {
                  ThrowInvalid("Batched logging API requests must be at most " +
                               std::to_string(tracking::kMaxBatchRequestBytes) +
                               " bytes, got a request of size " + std::to_string(req.body.size()) +
                               ".");
                }
                Json body = RequestJson(req);
                RequestFields fields(body);
                tracking::RunWrites writes;
                auto metrics = fields.ObjectList("metrics");
                writes.metrics.reserve(metrics.size());
                for (const RequestFields& metric : metrics) {
                  writes.metrics.push_back(ReadMetric(metric));
                }
                writes.params = ReadParams(fields, "params");
                writes.tags = fields.Tags("tags");
                tracking.LogBatch(fields.RequiredString("run_id"), std::move(writes));
                Reply(res, Json::object());
              });
  server.Post(
      api + "/runs/log-inputs", RouteSpec("runs/log-inputs").Needs(kExperiment, kEdit),
      [&tracking](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        std::vector<tracking::DatasetInput> datasets;
        for (const RequestFields& item : fields.ObjectList("datasets")) {
          tracking::DatasetInput input;
          input.tags = item.Tags("tags");
          auto dataset = item.OptionalObject("dataset");
          if (!dataset) {
            ThrowInvalid("Missing value for required parameter '" + item.prefix() + "dataset'.");
          }
          input.dataset.name = dataset->RequiredString("name");
          input.dataset.digest = dataset->RequiredString("digest");
          input.dataset.source_type = dataset->RequiredString("source_type");
          input.dataset.source = dataset->RequiredString("source");
          input.dataset.schema = dataset->OptionalString("schema");
          input.dataset.profile = dataset->OptionalString("profile");
          datasets.push_back(std::move(input));
        }
        std::vector<tracking::ModelLink> models;
        for (const RequestFields& item : fields.ObjectList("models")) {
          models.push_back({item.RequiredString("model_id"), 0});
        }
        tracking.LogInputs(fields.RequiredString("run_id"), datasets, models);
        Reply(res, Json::object());
      });
  server.Post(
      api + "/runs/outputs", RouteSpec("runs/outputs").Needs(kExperiment, kEdit),
      [&tracking](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        std::vector<tracking::ModelLink> models;
        for (const RequestFields& item : fields.ObjectList("models")) {
          models.push_back({item.RequiredString("model_id"), item.OptionalInt("step").value_or(0)});
        }
        tracking.LogOutputs(fields.RequiredString("run_id"), models);
        Reply(res, Json::object());
      });
  auto search = [&tracking](const Request& req, Response& res) {
    Json body = WithTextEnums(RequestJson(req), {"run_view_type"});
    RequestFields fields(body);
    auto result = tracking.SearchRuns(
        fields.StringList("experiment_ids"), fields.OptionalString("filter"),
        ParseViewType(fields, "run_view_type"), fields.OptionalInt("max_results"),
        fields.StringList("order_by"), fields.OptionalString("page_token"));
    Json items = Json::array();
    for (const auto& run : result.items) items.push_back(ToJson(run));
    Reply(res, Paged("runs", std::move(items), result.next_page_token));
  };
  server.Post(api + "/runs/search", RouteSpec("runs/search").SignedIn().ReadOnly(), search);
  server.Get(api + "/runs/search", RouteSpec("runs/search").SignedIn().ReadOnly(), search);
  server.Get(
      api + "/metrics/get-history", RouteSpec("metrics/get-history").Needs(kExperiment, kRead),
      [&tracking](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        std::string run_id = RunIdOf(fields);
        std::string key = fields.RequiredString("metric_key");
        auto result = tracking.GetMetricHistory(run_id, key, fields.OptionalInt("max_results"),
                                                fields.OptionalString("page_token"));
        SetJson(res, MetricHistoryJson(run_id, key, result.items, result.next_page_token));
      });
  // The UI's routes (MLflow serves the first under /ajax-api only, Slipway
  // under both, as every route); each run is checked for READ by the service.
  auto bulk = [&tracking](const Request& req, Response& res) {
    Json body = RequestJson(req);
    RequestFields fields(body);
    SetJson(res, MetricsWithRunIdsJson(tracking.GetMetricHistoryBulk(
                     fields.StringList("run_id"), fields.OptionalString("metric_key"),
                     fields.OptionalInt("max_results"))));
  };
  server.Get(api + "/metrics/get-history-bulk",
             RouteSpec("metrics/get-history-bulk").SignedIn().ReadOnly(), bulk);
  server.Get(api + "/metrics/get-history-bulk-interval",
             RouteSpec("metrics/get-history-bulk-interval").SignedIn().ReadOnly(),
             [&tracking](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               SetJson(res, MetricsWithRunIdsJson(tracking.GetMetricHistoryBulkInterval(
                                fields.StringList("run_ids"), fields.OptionalString("metric_key"),
                                fields.OptionalInt("max_results"), fields.OptionalInt("start_step"),
                                fields.OptionalInt("end_step"))));
             });
}

void AddDatasetSummaryRoute(HttpServer& server, tracking::TrackingService& tracking) {
  // MLflow's UI route (MLflow serves it under /ajax-api only).
  server.Post(
      std::string(kApi) + "/experiments/search-datasets",
      RouteSpec("experiments/search-datasets").SignedIn().ReadOnly(),
      [&tracking](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        Json summaries = Json::array();
        for (const auto& summary : tracking.SearchDatasets(fields.StringList("experiment_ids"))) {
          Json item = {{"experiment_id", summary.experiment_id},
                       {"name", summary.name},
                       {"digest", summary.digest}};
          if (summary.context) item["context"] = *summary.context;
          summaries.push_back(std::move(item));
        }
        // As MLflow's proto JSON: an empty list is no field.
        Json out = Json::object();
        if (!summaries.empty()) out["dataset_summaries"] = std::move(summaries);
        Reply(res, out);
      });
}

void AddLoggedModelRoutes(HttpServer& server, tracking::TrackingService& tracking) {
  std::string base = std::string(kApi) + "/logged-models";
  server.Post(base, RouteSpec("logged-models/create").Needs(kExperiment, kEdit),
              [&tracking](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                tracking::TrackingService::NewLoggedModel model;
                model.experiment_id = fields.RequiredString("experiment_id");
                model.name = fields.OptionalString("name");
                model.model_type = fields.OptionalString("model_type");
                model.source_run_id = fields.OptionalString("source_run_id");
                model.params = ReadParams(fields, "params");
                model.tags = fields.Tags("tags");
                Reply(res, {{"model", ToJson(tracking.CreateLoggedModel(std::move(model)))}});
              });
  server.Post(
      base + "/search", RouteSpec("logged-models/search").SignedIn().ReadOnly(),
      [&tracking](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        std::vector<tracking::OrderTerm> order;
        for (const RequestFields& item : fields.ObjectList("order_by")) {
          order.push_back(tracking::ParseLoggedModelOrderBy(
              item.RequiredString("field_name"), item.OptionalBool("ascending").value_or(true)));
        }
        std::vector<tracking::DatasetRef> datasets;
        for (const RequestFields& item : fields.ObjectList("datasets")) {
          tracking::DatasetRef dataset{item.OptionalString("dataset_name"), std::nullopt};
          if (item.Has("dataset_digest")) dataset.digest = item.OptionalString("dataset_digest");
          datasets.push_back(std::move(dataset));
        }
        auto result = tracking.SearchLoggedModels(
            fields.StringList("experiment_ids"), fields.OptionalString("filter"), order,
            fields.OptionalInt("max_results"), fields.OptionalString("page_token"),
            std::move(datasets));
        Json items = Json::array();
        for (const auto& model : result.items) items.push_back(ToJson(model));
        Reply(res, Paged("models", std::move(items), result.next_page_token));
      });
  std::string one = base + "/([^/]+)";
  server.Get(one, RouteSpec("logged-models/get").Needs(kExperiment, kRead),
             [&tracking](const Request& req, Response& res) {
               Reply(res, {{"model", ToJson(tracking.GetLoggedModel(req.matches[1]))}});
             });
  server.Patch(one, RouteSpec("logged-models/finalize").Needs(kExperiment, kEdit),
               [&tracking](const Request& req, Response& res) {
                 Json body = RequestJson(req);
                 auto status = body.find("status");
                 if (status != body.end() && status->is_number_integer()) {
                   static const char* kNames[] = {"LOGGED_MODEL_STATUS_UNSPECIFIED",
                                                  "LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY",
                                                  "LOGGED_MODEL_UPLOAD_FAILED"};
                   int64_t index = status->get<int64_t>();
                   *status = index >= 0 && index < 4 ? kNames[index] : "";
                 }
                 RequestFields fields(body);
                 Reply(res, {{"model", ToJson(tracking.FinalizeLoggedModel(
                                           req.matches[1], fields.RequiredString("status")))}});
               });
  server.Delete(one, RouteSpec("logged-models/delete").Needs(kExperiment, kManage),
                [&tracking](const Request& req, Response& res) {
                  tracking.DeleteLoggedModel(req.matches[1]);
                  Reply(res, Json::object());
                });
  server.Patch(one + "/tags", RouteSpec("logged-models/set-tags").Needs(kExperiment, kEdit),
               [&tracking](const Request& req, Response& res) {
                 Json body = RequestJson(req);
                 RequestFields fields(body);
                 Reply(res, {{"model", ToJson(tracking.SetLoggedModelTags(req.matches[1],
                                                                          fields.Tags("tags")))}});
               });
  server.Delete(one + "/tags/(.+)", RouteSpec("logged-models/delete-tag").Needs(kExperiment, kEdit),
                [&tracking](const Request& req, Response& res) {
                  tracking.DeleteLoggedModelTag(req.matches[1], req.matches[2]);
                  Reply(res, Json::object());
                });
  server.Post(one + "/params", RouteSpec("logged-models/log-params").Needs(kExperiment, kEdit),
              [&tracking](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                tracking.LogLoggedModelParams(req.matches[1], ReadParams(fields, "params"));
                Reply(res, Json::object());
              });
}

}  // namespace

void AddMlflowRoutes(HttpServer& server, tracking::TrackingService& tracking) {
  // MLflow serves every API route under /ajax-api too (its UI calls those).
  server.AddPathAlias("/ajax-api/2.0/", "/api/2.0/");
  server.AddPathAlias("/ajax-api/3.0/", "/api/3.0/");
  AddExperimentRoutes(server, tracking);
  AddRunRoutes(server, tracking);
  AddDatasetSummaryRoute(server, tracking);
  AddLoggedModelRoutes(server, tracking);
}

}  // namespace slipway::http
