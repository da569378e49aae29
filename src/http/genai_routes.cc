#include "http/genai_routes.h"

#include <map>
#include <string>

#include "core/error.h"
#include "http/json_codec.h"
#include "http/route_helpers.h"

namespace slipway::http {
namespace {

using genai::DatasetRecord;
using genai::EvaluationDataset;

constexpr const char* kDatasets = "/api/3.0/mlflow/datasets";
// An upsert carries many records in one request, as the client sends them.
constexpr uint64_t kRecordsBodyLimit = 64ull << 20;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// The `tags` field: a JSON object as text, as MLflow's protos carry it.
// Values that are not strings are kept as their JSON text; null values are
// left out (as MLflow does).
std::map<std::string, std::string> TagsOf(const RequestFields& fields) {
  std::map<std::string, std::string> tags;
  const std::string text = fields.OptionalString("tags");
  if (text.empty()) return tags;
  Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) {
    ThrowInvalid(
        "Invalid value for parameter 'tags': expected a JSON object as text, such as "
        "'{\"team\": \"ml\"}'.");
  }
  for (const auto& [key, value] : parsed.items()) {
    if (value.is_null()) continue;
    tags[key] = value.is_string() ? value.get<std::string>() : Dump(value);
  }
  return tags;
}

Json DatasetJson(const EvaluationDataset& d) {
  Json tags = Json::object();
  for (const auto& [key, value] : d.tags) tags[key] = value;
  Json out = {{"dataset_id", d.dataset_id},
              {"name", d.name},
              {"tags", Dump(tags)},
              {"digest", d.digest},
              {"created_time", d.created_time},
              {"last_update_time", d.last_update_time}};
  if (d.schema) out["schema"] = *d.schema;
  if (d.profile) out["profile"] = *d.profile;
  if (d.created_by) out["created_by"] = *d.created_by;
  if (d.last_updated_by) out["last_updated_by"] = *d.last_updated_by;
  // MLflow sends these on create only and the client asks for them
  // otherwise (experiment-ids); sending them always saves that request.
  if (!d.experiment_ids.empty()) out["experiment_ids"] = d.experiment_ids;
  return out;
}

// As MLflow's DatasetRecord.to_dict.
Json RecordJson(const DatasetRecord& r) {
  Json out = {{"dataset_record_id", r.dataset_record_id},
              {"dataset_id", r.dataset_id},
              {"inputs", r.inputs}};
  if (r.expectations) out["expectations"] = *r.expectations;
  out["tags"] = r.tags.is_object() ? r.tags : Json::object();
  if (r.source) out["source"] = *r.source;
  if (!r.source_id.empty()) out["source_id"] = r.source_id;
  if (!r.source_type.empty()) out["source_type"] = r.source_type;
  out["created_time"] = r.created_time;
  out["last_update_time"] = r.last_update_time;
  if (r.created_by) out["created_by"] = *r.created_by;
  if (r.last_updated_by) out["last_updated_by"] = *r.last_updated_by;
  if (r.outputs) out["outputs"] = *r.outputs;
  return out;
}

void AddDatasetRoutes(HttpServer& server, genai::EvaluationDatasetService& datasets) {
  const std::string base = kDatasets;
  server.Post(base + "/create", RouteSpec("datasets/create").Needs(kExperiment, kEdit),
              [&datasets](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                EvaluationDataset created =
                    datasets.CreateDataset(fields.RequiredString("name"),
                                           fields.StringList("experiment_ids"), TagsOf(fields));
                Reply(res, {{"dataset", DatasetJson(created)}});
              });
  auto search = [&datasets](const Request& req, Response& res) {
    Json body = RequestJson(req);
    RequestFields fields(body);
    auto found = datasets.SearchDatasets(
        fields.StringList("experiment_ids"), fields.OptionalString("filter_string"),
        fields.OptionalInt("max_results"), fields.StringList("order_by"),
        fields.OptionalString("page_token"));
    Json items = Json::array();
    for (const EvaluationDataset& d : found.items) items.push_back(DatasetJson(d));
    Json reply = Json::object();
    if (!items.empty()) reply["datasets"] = std::move(items);
    if (!found.next_page_token.empty()) reply["next_page_token"] = found.next_page_token;
    Reply(res, reply);
  };
  server.Post(base + "/search", RouteSpec("datasets/search").SignedIn().ReadOnly(), search);
  server.Get(base + "/search", RouteSpec("datasets/search").SignedIn().ReadOnly(), search);

  const std::string one = base + "/([^/]+)";
  server.Get(one, RouteSpec("datasets/get").Needs(kExperiment, kRead),
             [&datasets](const Request& req, Response& res) {
               Reply(res, {{"dataset", DatasetJson(datasets.GetDataset(req.matches[1]))}});
             });
  server.Delete(one, RouteSpec("datasets/delete").Needs(kExperiment, kManage),
                [&datasets](const Request& req, Response& res) {
                  datasets.DeleteDataset(req.matches[1]);
                  Reply(res, Json::object());
                });
  server.Patch(one + "/tags", RouteSpec("datasets/set-tags").Needs(kExperiment, kEdit),
               [&datasets](const Request& req, Response& res) {
                 Json body = RequestJson(req);
                 RequestFields fields(body);
                 fields.RequiredString("tags");
                 datasets.SetDatasetTags(req.matches[1], TagsOf(fields));
                 Reply(res, Json::object());
               });
  server.Delete(one + "/tags/(.+)", RouteSpec("datasets/delete-tag").Needs(kExperiment, kEdit),
                [&datasets](const Request& req, Response& res) {
                  datasets.DeleteDatasetTag(req.matches[1], req.matches[2]);
                  Reply(res, Json::object());
                });
  server.Post(
      one + "/records",
      RouteSpec("datasets/upsert-records").Needs(kExperiment, kEdit).BodyLimit(kRecordsBodyLimit),
      [&datasets](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        genai::UpsertCounts counts =
            datasets.UpsertRecords(req.matches[1], fields.RequiredString("records"));
        Reply(res, {{"inserted_count", counts.inserted}, {"updated_count", counts.updated}});
      });
  server.Get(one + "/records", RouteSpec("datasets/get-records").Needs(kExperiment, kRead),
             [&datasets](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               auto found = datasets.GetRecords(req.matches[1], fields.OptionalInt("max_results"),
                                                fields.OptionalString("page_token"));
               Json records = Json::array();
               for (const DatasetRecord& r : found.items) records.push_back(RecordJson(r));
               Json reply = {{"records", Dump(records)}};
               if (!found.next_page_token.empty()) reply["next_page_token"] = found.next_page_token;
               Reply(res, reply);
             });
  server.Delete(one + "/records", RouteSpec("datasets/delete-records").Needs(kExperiment, kEdit),
                [&datasets](const Request& req, Response& res) {
                  Json body = RequestJson(req);
                  RequestFields fields(body);
                  int64_t deleted = datasets.DeleteRecords(req.matches[1],
                                                           fields.StringList("dataset_record_ids"));
                  Reply(res, {{"deleted_count", deleted}});
                });
  server.Get(one + "/experiment-ids",
             RouteSpec("datasets/get-experiment-ids").Needs(kExperiment, kRead),
             [&datasets](const Request& req, Response& res) {
               std::vector<std::string> ids = datasets.GetExperimentIds(req.matches[1]);
               Json reply = Json::object();
               if (!ids.empty()) reply["experiment_ids"] = ids;
               Reply(res, reply);
             });
  server.Post(one + "/add-experiments",
              RouteSpec("datasets/add-experiments").Needs(kExperiment, kEdit),
              [&datasets](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                EvaluationDataset updated =
                    datasets.AddToExperiments(req.matches[1], fields.StringList("experiment_ids"));
                Reply(res, {{"dataset", DatasetJson(updated)}});
              });
  server.Post(one + "/remove-experiments",
              RouteSpec("datasets/remove-experiments").Needs(kExperiment, kEdit),
              [&datasets](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                EvaluationDataset updated = datasets.RemoveFromExperiments(
                    req.matches[1], fields.StringList("experiment_ids"));
                Reply(res, {{"dataset", DatasetJson(updated)}});
              });
}

}  // namespace

void AddGenaiRoutes(HttpServer& server, genai::EvaluationDatasetService& datasets) {
  AddDatasetRoutes(server, datasets);
}

}  // namespace slipway::http
