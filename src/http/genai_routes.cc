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

Json IssueJson(const genai::Issue& issue) {
  Json out = {{"issue_id", issue.issue_id},
              {"experiment_id", issue.experiment_id},
              {"name", issue.name},
              {"description", issue.description},
              {"status", issue.status},
              {"created_timestamp", issue.created_timestamp},
              {"last_updated_timestamp", issue.last_updated_timestamp}};
  if (!issue.severity.empty()) out["severity"] = issue.severity;
  if (!issue.root_causes.empty()) out["root_causes"] = issue.root_causes;
  if (!issue.source_run_id.empty()) out["source_run_id"] = issue.source_run_id;
  if (!issue.created_by.empty()) out["created_by"] = issue.created_by;
  if (!issue.categories.empty()) out["categories"] = issue.categories;
  if (issue.trace_count) out["trace_count"] = *issue.trace_count;
  return out;
}

std::optional<std::string> Present(const RequestFields& fields, const char* key) {
  if (!fields.Has(key)) return std::nullopt;
  return fields.OptionalString(key);
}

void AddIssueRoutes(HttpServer& server, genai::IssueService& issues) {
  const std::string base = "/api/3.0/mlflow/issues";
  server.Post(base, RouteSpec("issues/create").Needs(kExperiment, kEdit),
              [&issues](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                genai::Issue issue;
                issue.experiment_id = fields.RequiredString("experiment_id");
                issue.name = fields.RequiredString("name");
                issue.description = fields.RequiredString("description");
                if (auto status = Present(fields, "status")) issue.status = *status;
                issue.severity = fields.OptionalString("severity");
                issue.root_causes = fields.StringList("root_causes");
                issue.categories = fields.StringList("categories");
                issue.source_run_id = fields.OptionalString("source_run_id");
                issue.created_by = fields.OptionalString("created_by");
                Reply(res, {{"issue", IssueJson(issues.CreateIssue(std::move(issue)))}});
              });
  server.Post(base + "/search", RouteSpec("issues/search").SignedIn().ReadOnly(),
              [&issues](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                auto found = issues.SearchIssues(
                    fields.OptionalString("experiment_id"), fields.OptionalString("filter_string"),
                    fields.OptionalInt("max_results"), fields.OptionalString("page_token"),
                    fields.OptionalBool("include_trace_count").value_or(false));
                Json items = Json::array();
                for (const genai::Issue& issue : found.items) items.push_back(IssueJson(issue));
                Json reply = Json::object();
                if (!items.empty()) reply["issues"] = std::move(items);
                // As MLflow: present, and "" on the last page.
                reply["next_page_token"] = found.next_page_token;
                Reply(res, reply);
              });
  const std::string one = base + "/([^/]+)";
  server.Get(one, RouteSpec("issues/get").Needs(kExperiment, kRead),
             [&issues](const Request& req, Response& res) {
               Reply(res, {{"issue", IssueJson(issues.GetIssue(req.matches[1]))}});
             });
  server.Patch(one, RouteSpec("issues/update").Needs(kExperiment, kEdit),
               [&issues](const Request& req, Response& res) {
                 Json body = RequestJson(req);
                 RequestFields fields(body);
                 fields.RequiredString("issue_id");  // required, as MLflow; the path names it
                 genai::IssueService::Change change;
                 change.name = fields.OptionalString("name");
                 change.description = fields.OptionalString("description");
                 change.status = Present(fields, "status");
                 change.severity = Present(fields, "severity");
                 Reply(res, {{"issue", IssueJson(issues.UpdateIssue(req.matches[1], change))}});
               });
}

// The Scorer message: experiment_id is an int32 there.
Json ScorerJson(const genai::ScorerVersion& v) {
  return {{"experiment_id", std::stoll(v.experiment_id)},
          {"scorer_name", v.name},
          {"scorer_version", v.version},
          {"serialized_scorer", v.serialized_scorer},
          {"creation_time", v.creation_time},
          {"scorer_id", v.scorer_id}};
}

Json ScorerList(const std::vector<genai::ScorerVersion>& versions) {
  Json items = Json::array();
  for (const auto& v : versions) items.push_back(ScorerJson(v));
  Json reply = Json::object();
  if (!items.empty()) reply["scorers"] = std::move(items);
  return reply;
}

void AddScorerRoutes(HttpServer& server, genai::ScorerService& scorers) {
  const std::string base = "/api/3.0/mlflow/scorers";
  server.Post(base + "/register", RouteSpec("scorers/register").Needs(kExperiment, kEdit),
              [&scorers](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                genai::ScorerVersion v = scorers.RegisterScorer(
                    fields.RequiredString("experiment_id"), fields.RequiredString("name"),
                    fields.RequiredString("serialized_scorer"));
                // RegisterScorer's own reply: flat, experiment_id as text.
                Reply(res, {{"version", v.version},
                            {"scorer_id", v.scorer_id},
                            {"experiment_id", v.experiment_id},
                            {"name", v.name},
                            {"serialized_scorer", v.serialized_scorer},
                            {"creation_time", v.creation_time}});
              });
  server.Get(base + "/list", RouteSpec("scorers/list").SignedIn(),
             [&scorers](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               std::vector<std::string> ids = fields.StringList("experiment_ids");
               if (fields.Has("experiment_id")) {
                 if (!ids.empty()) {
                   ThrowInvalid(
                       "Cannot specify both 'experiment_id' and 'experiment_ids'. Use "
                       "'experiment_ids' to scope the query to multiple experiments, or "
                       "'experiment_id' to scope it to a single experiment.");
                 }
                 ids.push_back(fields.RequiredString("experiment_id"));
               }
               Reply(res, ScorerList(scorers.ListScorers(ids)));
             });
  server.Get(base + "/versions", RouteSpec("scorers/versions").Needs(kExperiment, kRead),
             [&scorers](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               Reply(res,
                     ScorerList(scorers.ListScorerVersions(fields.RequiredString("experiment_id"),
                                                           fields.RequiredString("name"))));
             });
  server.Get(
      base + "/get", RouteSpec("scorers/get").Needs(kExperiment, kRead),
      [&scorers](const Request& req, Response& res) {
        Json body = RequestJson(req);
        RequestFields fields(body);
        Reply(res, {{"scorer", ScorerJson(scorers.GetScorer(fields.RequiredString("experiment_id"),
                                                            fields.RequiredString("name"),
                                                            fields.OptionalInt("version")))}});
      });
  // Online scoring (MLflow's server running registered scorers on new
  // traces through its AI gateway) is not served: Slipway never runs
  // scorers. Setting a configuration is refused, so no scorer has one, and
  // the listing the client makes beside list_scorers is truthfully empty.
  server.Put(base + "/online-config", RouteSpec("scorers/online-config").SignedIn(),
             [](const Request&, Response&) {
               throw Error(ErrorCode::kNotImplemented,
                           "Online scoring is not served by Slipway: it stores registered "
                           "scorers and never runs them. Run mlflow.genai.evaluate() with the "
                           "scorers instead.");
             });
  server.Get(base + "/online-configs", RouteSpec("scorers/online-configs").SignedIn(),
             [](const Request& req, Response& res) {
               Json body = RequestJson(req);
               RequestFields fields(body);
               if (fields.StringList("scorer_ids").empty()) {
                 ThrowInvalid("Missing value for required parameter 'scorer_ids'.");
               }
               Reply(res, {{"configs", Json::array()}});
             });
  server.Delete(base + "/delete", RouteSpec("scorers/delete").Needs(kExperiment, kManage),
                [&scorers](const Request& req, Response& res) {
                  Json body = RequestJson(req);
                  RequestFields fields(body);
                  scorers.DeleteScorer(fields.RequiredString("experiment_id"),
                                       fields.RequiredString("name"),
                                       fields.OptionalInt("version"));
                  Reply(res, Json::object());
                });
}

}  // namespace

void AddGenaiRoutes(HttpServer& server, genai::EvaluationDatasetService& datasets,
                    genai::IssueService& issues, genai::ScorerService& scorers) {
  AddDatasetRoutes(server, datasets);
  AddIssueRoutes(server, issues);
  AddScorerRoutes(server, scorers);
}

}  // namespace slipway::http
