#include "http/graphql_routes.h"

#include <memory>
#include <optional>

#include "core/error.h"
#include "http/artifact_routes.h"
#include "http/graphql_schema.h"
#include "http/json_codec.h"
#include "http/route_helpers.h"

namespace slipway::http {
namespace {

// MLflow 3.17's GraphQL schema (graphene's SDL of
// mlflow/server/graphql/graphql_schema_extensions.py, descriptions left out).
constexpr std::string_view kMlflowSchema = R"graphql(
directive @component(name: String!) on QUERY | MUTATION

type Query {
  mlflowGetExperiment(input: MlflowGetExperimentInput): MlflowGetExperimentResponse
  mlflowGetMetricHistoryBulkInterval(input: MlflowGetMetricHistoryBulkIntervalInput): MlflowGetMetricHistoryBulkIntervalResponse
  mlflowGetRun(input: MlflowGetRunInput): MlflowGetRunResponse
  mlflowListArtifacts(input: MlflowListArtifactsInput): MlflowListArtifactsResponse
  mlflowSearchModelVersions(input: MlflowSearchModelVersionsInput): MlflowSearchModelVersionsResponse
  test(inputString: String): Test
  mlflowSearchRuns(input: MlflowSearchRunsInput): MlflowSearchRunsResponse
}

type MlflowGetExperimentResponse {
  experiment: MlflowExperiment
  apiError: ApiError
}

type MlflowExperiment {
  experimentId: String
  name: String
  artifactLocation: String
  lifecycleStage: String
  lastUpdateTime: LongString
  creationTime: LongString
  tags: [MlflowExperimentTag!]
  effectiveTraceArchivalRetention: String
  workspace: String
}
scalar LongString

type MlflowExperimentTag {
  key: String
  value: String
}

type ApiError {
  code: String
  message: String
  helpUrl: String
  traceId: String
  errorDetails: [ErrorDetail]
}

type ErrorDetail {
  field: String
  message: String
}

input MlflowGetExperimentInput {
  experimentId: String
}

type MlflowGetMetricHistoryBulkIntervalResponse {
  metrics: [MlflowMetricWithRunId!]
  apiError: ApiError
}

type MlflowMetricWithRunId {
  key: String
  value: Float
  timestamp: LongString
  step: LongString
  runId: String
}

input MlflowGetMetricHistoryBulkIntervalInput {
  runIds: [String]
  metricKey: String
  startStep: Int
  endStep: Int
  maxResults: Int
}

type MlflowGetRunResponse {
  run: MlflowRunExtension
  apiError: ApiError
}

type MlflowRunExtension {
  info: MlflowRunInfo
  data: MlflowRunData
  inputs: MlflowRunInputs
  outputs: MlflowRunOutputs
  experiment: MlflowExperiment
  modelVersions: [MlflowModelVersion!]
}

type MlflowRunInfo {
  runId: String
  runUuid: String
  runName: String
  experimentId: String
  userId: String
  status: MlflowRunStatus
  startTime: LongString
  endTime: LongString
  artifactUri: String
  lifecycleStage: String
}

enum MlflowRunStatus {
  RUNNING
  SCHEDULED
  FINISHED
  FAILED
  KILLED
}

type MlflowRunData {
  metrics: [MlflowMetricExtension!]
  params: [MlflowParam!]
  tags: [MlflowRunTag!]
}

type MlflowMetricExtension {
  key: String
  value: Float
  timestamp: LongString
  step: LongString
  datasetName: String
  datasetDigest: String
  modelId: String
  runId: String
}

type MlflowParam {
  key: String
  value: String
}

type MlflowRunTag {
  key: String
  value: String
}

type MlflowRunInputs {
  datasetInputs: [MlflowDatasetInput!]
  modelInputs: [MlflowModelInput!]
}

type MlflowDatasetInput {
  tags: [MlflowInputTag!]
  dataset: MlflowDataset
}

type MlflowInputTag {
  key: String
  value: String
}

type MlflowDataset {
  name: String
  digest: String
  sourceType: String
  source: String
  schema: String
  profile: String
}

type MlflowModelInput {
  modelId: String
}

type MlflowRunOutputs {
  modelOutputs: [MlflowModelOutput!]
}

type MlflowModelOutput {
  modelId: String
  step: LongString
}

type MlflowModelVersion {
  name: String
  version: String
  creationTimestamp: LongString
  lastUpdatedTimestamp: LongString
  userId: String
  currentStage: String
  description: String
  source: String
  runId: String
  status: MlflowModelVersionStatus
  statusMessage: String
  tags: [MlflowModelVersionTag!]
  runLink: String
  aliases: [String]
  modelId: String
  modelParams: [MlflowModelParam!]
  modelMetrics: [MlflowModelMetric!]
  deploymentJobState: MlflowModelVersionDeploymentJobState
}

enum MlflowModelVersionStatus {
  PENDING_REGISTRATION
  FAILED_REGISTRATION
  READY
}

type MlflowModelVersionTag {
  key: String
  value: String
}

type MlflowModelParam {
  name: String
  value: String
}

type MlflowModelMetric {
  key: String
  value: Float
  timestamp: LongString
  step: LongString
  datasetName: String
  datasetDigest: String
  modelId: String
  runId: String
}

type MlflowModelVersionDeploymentJobState {
  jobId: String
  runId: String
  jobState: MlflowDeploymentJobConnectionState
  runState: MlflowModelVersionDeploymentJobStateDeploymentJobRunState
  currentTaskName: String
}

enum MlflowDeploymentJobConnectionState {
  DEPLOYMENT_JOB_CONNECTION_STATE_UNSPECIFIED
  NOT_SET_UP
  CONNECTED
  NOT_FOUND
  REQUIRED_PARAMETERS_CHANGED
}

enum MlflowModelVersionDeploymentJobStateDeploymentJobRunState {
  DEPLOYMENT_JOB_RUN_STATE_UNSPECIFIED
  NO_VALID_DEPLOYMENT_JOB_FOUND
  RUNNING
  SUCCEEDED
  FAILED
  PENDING
  APPROVAL
}

input MlflowGetRunInput {
  runId: String
  runUuid: String
}

type MlflowListArtifactsResponse {
  rootUri: String
  files: [MlflowFileInfo!]
  nextPageToken: String
  apiError: ApiError
}

type MlflowFileInfo {
  path: String
  isDir: Boolean
  fileSize: LongString
}

input MlflowListArtifactsInput {
  runId: String
  runUuid: String
  path: String
  pageToken: String
}

type MlflowSearchModelVersionsResponse {
  modelVersions: [MlflowModelVersion!]
  nextPageToken: String
  apiError: ApiError
}

input MlflowSearchModelVersionsInput {
  filter: String
  maxResults: LongString
  orderBy: [String]
  pageToken: String
}

type Test {
  output: String
}

type MlflowSearchRunsResponse {
  runs: [MlflowRunExtension!]
  nextPageToken: String
  apiError: ApiError
}

input MlflowSearchRunsInput {
  experimentIds: [String]
  filter: String
  runViewType: MlflowViewType = null
  maxResults: Int
  orderBy: [String]
  pageToken: String
}

enum MlflowViewType {
  ACTIVE_ONLY
  DELETED_ONLY
  ALL
}

type Mutation {
  mlflowSearchDatasets(input: MlflowSearchDatasetsInput): MlflowSearchDatasetsResponse
  mlflowSearchRuns(input: MlflowSearchRunsInput): MlflowSearchRunsResponse
  testMutation(inputString: String): TestMutation
}

type MlflowSearchDatasetsResponse {
  datasetSummaries: [MlflowDatasetSummary!]
  apiError: ApiError
}

type MlflowDatasetSummary {
  experimentId: String
  name: String
  digest: String
  context: String
}

input MlflowSearchDatasetsInput {
  experimentIds: [String]
}

type TestMutation {
  output: String
}
)graphql";

// Reads of the coerced `input` argument: absent and null read as empty.
const Json& InputOf(const Json& arguments) {
  static const Json kEmpty = Json::object();
  auto it = arguments.find("input");
  return it != arguments.end() && it->is_object() ? *it : kEmpty;
}

std::string StringField(const Json& input, const char* key) {
  auto it = input.find(key);
  return it != input.end() && it->is_string() ? it->get<std::string>() : "";
}

std::optional<int64_t> IntField(const Json& input, const char* key) {
  auto it = input.find(key);
  if (it == input.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

// A [String] input: null items are left out.
std::vector<std::string> StringsField(const Json& input, const char* key) {
  std::vector<std::string> out;
  auto it = input.find(key);
  if (it == input.end() || !it->is_array()) return out;
  for (const Json& item : *it) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

// `runId`, else `runUuid`, as MLflow's get_run_impl reads them.
std::string RunIdField(const Json& input) {
  std::string run_id = StringField(input, "runId");
  return run_id.empty() ? StringField(input, "runUuid") : run_id;
}

tracking::ViewType ViewTypeField(const Json& input) {
  std::string name = StringField(input, "runViewType");
  if (name == "DELETED_ONLY") return tracking::ViewType::kDeletedOnly;
  if (name == "ALL") return tracking::ViewType::kAll;
  return tracking::ViewType::kActiveOnly;
}

Json RunsJson(const tracking::SearchResult<tracking::Run>& result) {
  Json runs = Json::array();
  for (const tracking::Run& run : result.items) runs.push_back(ToJson(run));
  return Paged("runs", std::move(runs), result.next_page_token);
}

Json ModelVersionsJson(const tracking::SearchResult<registry::ModelVersion>& result) {
  Json versions = Json::array();
  for (const registry::ModelVersion& version : result.items) versions.push_back(ToJson(version));
  return Paged("model_versions", std::move(versions), result.next_page_token);
}

void AddQueryResolvers(graphql::Schema& schema, tracking::TrackingService& tracking,
                       registry::RegistryService& registry, tracking::ArtifactStore& artifacts) {
  schema.SetResolver("Query", "test", [](const Json&, const Json& arguments) {
    return Json{{"output", arguments.value("inputString", Json())}};
  });
  schema.SetResolver("Query", "mlflowGetExperiment", [&tracking](const Json&, const Json& args) {
    const Json& input = InputOf(args);
    return Json{{"experiment", ToJson(tracking.GetExperiment(StringField(input, "experimentId")))}};
  });
  schema.SetResolver("Query", "mlflowGetRun", [&tracking](const Json&, const Json& args) {
    return Json{{"run", ToJson(tracking.GetRun(RunIdField(InputOf(args))))}};
  });
  // As MLflow's resolver: the REST handler reads max_results and the step
  // window from the URL's query string, so over /graphql they are not used
  // (every run's points sampled to at most 2,500, all steps).
  schema.SetResolver(
      "Query", "mlflowGetMetricHistoryBulkInterval", [&tracking](const Json&, const Json& args) {
        const Json& input = InputOf(args);
        Json metrics = Json::array();
        for (const tracking::MetricPoint& point : tracking.GetMetricHistoryBulkInterval(
                 StringsField(input, "runIds"), StringField(input, "metricKey"), std::nullopt,
                 std::nullopt, std::nullopt)) {
          metrics.push_back(ToJson(point));
        }
        return Json{{"metrics", std::move(metrics)}};
      });
  schema.SetResolver("Query", "mlflowListArtifacts",
                     [&tracking, &artifacts](const Json&, const Json& args) {
                       const Json& input = InputOf(args);
                       // The path first, as the REST route checks it.
                       std::string path = tracking::CheckRequestedPath(StringField(input, "path"));
                       tracking::Run run = tracking.GetRun(RunIdField(input));
                       return ArtifactListing(run.info.artifact_uri, artifacts, path);
                     });
  schema.SetResolver("Query", "mlflowSearchModelVersions",
                     [&registry](const Json&, const Json& args) {
                       const Json& input = InputOf(args);
                       return ModelVersionsJson(registry.SearchModelVersions(
                           StringField(input, "filter"), StringsField(input, "orderBy"),
                           IntField(input, "maxResults"), StringField(input, "pageToken")));
                     });
  auto search_runs = [&tracking](const Json&, const Json& args) {
    const Json& input = InputOf(args);
    return RunsJson(
        tracking.SearchRuns(StringsField(input, "experimentIds"), StringField(input, "filter"),
                            ViewTypeField(input), IntField(input, "maxResults"),
                            StringsField(input, "orderBy"), StringField(input, "pageToken")));
  };
  schema.SetResolver("Query", "mlflowSearchRuns", search_runs);
  schema.SetResolver("Mutation", "mlflowSearchRuns", search_runs);
  schema.SetResolver("Mutation", "mlflowSearchDatasets",
                     [&tracking](const Json&, const Json& args) {
                       Json summaries = Json::array();
                       for (const tracking::DatasetSummary& summary :
                            tracking.SearchDatasets(StringsField(InputOf(args), "experimentIds"))) {
                         Json item = {{"experiment_id", summary.experiment_id},
                                      {"name", summary.name},
                                      {"digest", summary.digest}};
                         if (summary.context) item["context"] = *summary.context;
                         summaries.push_back(std::move(item));
                       }
                       return Json{{"dataset_summaries", std::move(summaries)}};
                     });
  // MLflow's resolver of this field is misnamed (resolve_test_mutation for
  // `testMutation`), so graphene resolves it to null; kept so.
  schema.SetResolver("Mutation", "testMutation", [](const Json&, const Json&) { return Json(); });
}

void AddRunResolvers(graphql::Schema& schema, tracking::TrackingService& tracking,
                     registry::RegistryService& registry) {
  schema.SetResolver("MlflowRunExtension", "experiment", [&tracking](const Json& run, const Json&) {
    std::string experiment_id = run.value("info", Json::object()).value("experiment_id", "");
    return ToJson(tracking.GetExperiment(experiment_id));
  });
  schema.SetResolver("MlflowRunExtension", "modelVersions",
                     [&registry](const Json& run, const Json&) {
                       std::string run_id = run.value("info", Json::object()).value("run_id", "");
                       return ModelVersionsJson(registry.SearchModelVersions(
                           "run_id='" + run_id + "'", {}, std::nullopt, ""))["model_versions"];
                     });
  // MLflow's responses never fill apiError: errors go to `errors`.
  for (const auto& [name, type] : schema.types()) {
    if (graphql::Schema::FindField(type, "apiError") != nullptr) {
      schema.SetResolver(name, "apiError", [](const Json&, const Json&) { return Json(); });
    }
  }
}

// The request's query, variables and operation name: the JSON body of a
// POST, the query string of a GET. Throws INVALID_PARAMETER_VALUE when they
// are not there or of the wrong type.
struct GraphqlRequest {
  std::string query;
  Json variables;
  std::string operation_name;
};

// JSON nested deeper than this is refused while it is parsed: copying,
// printing and coercing values recurse.
constexpr int kMaxJsonNesting = 64;

// `text` as JSON, or discarded when it is not JSON.
Json ParseJson(std::string_view text) {
  return Json::parse(
      text,
      [](int depth, Json::parse_event_t, Json&) {
        if (depth > kMaxJsonNesting) {
          ThrowInvalid("The request nests JSON deeper than " + std::to_string(kMaxJsonNesting) +
                       " levels.");
        }
        return true;
      },
      false);
}

GraphqlRequest ReadRequest(const Request& req) {
  Json body;
  if (req.method == "GET") {
    body = Json::object();
    for (const char* key : {"query", "operationName"}) {
      if (req.has_param(key)) body[key] = req.get_param_value(key);
    }
    if (req.has_param("variables")) {
      body["variables"] = ParseJson(req.get_param_value("variables"));
      if (body["variables"].is_discarded()) ThrowInvalid("Variables are invalid JSON.");
    }
  } else {
    body = ParseJson(req.body);
    if (body.is_discarded() || !body.is_object()) {
      ThrowInvalid("The request body must be a JSON object with a 'query'.");
    }
  }
  GraphqlRequest request;
  auto query = body.find("query");
  if (query == body.end() || !query->is_string() || query->get_ref<const std::string&>().empty()) {
    ThrowInvalid("Must provide query string.");
  }
  request.query = query->get<std::string>();
  auto variables = body.find("variables");
  if (variables != body.end() && !variables->is_null()) {
    if (!variables->is_object()) ThrowInvalid("Variables must be a JSON object.");
    request.variables = *variables;
  }
  auto name = body.find("operationName");
  if (name != body.end() && !name->is_null()) {
    if (!name->is_string()) ThrowInvalid("operationName must be a string.");
    request.operation_name = name->get<std::string>();
  }
  return request;
}

// MLflow answers a malformed request or a syntax error with a 500 HTML page;
// Slipway with 400 and the GraphQL form of the error.
void ReplyRequestError(Response& res, const std::string& message) {
  graphql::OrderedJson body = {{"data", nullptr}, {"errors", {message}}};
  SetJson(res, body.dump(-1, ' ', false, graphql::OrderedJson::error_handler_t::replace));
  res.status = 400;
}

}  // namespace

void AddGraphqlRoutes(HttpServer& server, tracking::TrackingService& tracking,
                      registry::RegistryService& registry, tracking::ArtifactStore& artifacts) {
  // Shared by the two routes' handlers; read-only once registered.
  auto schema = std::make_shared<graphql::Schema>(graphql::Schema::FromText(kMlflowSchema));
  AddQueryResolvers(*schema, tracking, registry, artifacts);
  AddRunResolvers(*schema, tracking, registry);
  const graphql::SafetyLimits limits = graphql::SafetyLimits::FromEnvironment();
  auto handler = [schema, limits](const Request& req, Response& res) {
    GraphqlRequest request;
    graphql::OrderedJson body;
    try {
      request = ReadRequest(req);
      body = graphql::Respond(*schema, request.query, request.variables, request.operation_name,
                              limits);
    } catch (const Error& error) {
      if (error.code() != ErrorCode::kInvalidParameterValue) throw;
      ReplyRequestError(res, error.what());
      return;
    }
    SetJson(res, body.dump(-1, ' ', false, graphql::OrderedJson::error_handler_t::replace));
  };
  // Every field reads (MLflow's two mutations are searches), so neither
  // route changes anything.
  auto spec = [] {
    return RouteSpec("graphql").SignedIn().ReadOnly().BodyLimit(kMaxGraphqlBodyBytes);
  };
  server.Post("/graphql", spec(), handler);
  server.Get("/graphql", spec(), handler);
}

}  // namespace slipway::http
