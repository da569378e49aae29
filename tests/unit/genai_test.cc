// GenAI evaluation datasets: the record rules (parse, key, merge, schema,
// digest), the search grammar, and the service over a real SQLite store
// (upsert in one transaction, search with visibility, links).
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "genai/dataset_records.h"
#include "genai/dataset_search.h"
#include "genai/evaluation_dataset_service.h"
#include "genai/issue_service.h"
#include "genai/scorer_service.h"
#include "store/metadata_store.h"
#include "store/sql_genai_search.h"

namespace slipway::genai {
namespace {

using tracking::CompareOp;

std::string MessageOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// ---------------------------------------------------------------- records

TEST(DatasetRecordsTest, ParsesRecordsAndUpperCasesSourceTypes) {
  auto records = ParseRecords(
      R"([{"inputs": {"q": 1}, "source": {"source_type": "trace", "source_data": {"trace_id": "t"}}},
          {"outputs": "x"}])");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["source"]["source_type"], "TRACE");
  EXPECT_FALSE(records[1].contains("inputs"));
}

TEST(DatasetRecordsTest, BadRecordsSayWhichAndWhere) {
  EXPECT_NE(MessageOf([] {
              ParseRecords("[{\"inputs\": {}},\n  {\"inputs\" }]");
            }).find("line 2, column"),
            std::string::npos);
  EXPECT_NE(MessageOf([] { ParseRecords("{}"); }).find("JSON array"), std::string::npos);
  EXPECT_NE(MessageOf([] { ParseRecords(R"([{}, {"inputs": [1]}])"); }).find("records[1].inputs"),
            std::string::npos);
  EXPECT_NE(
      MessageOf([] { ParseRecords(R"([{"expectations": 3}])"); }).find("records[0].expectations"),
      std::string::npos);
  EXPECT_NE(MessageOf([] {
              ParseRecords(R"([{"source": {"source_type": "nope"}}])");
            }).find("Invalid dataset record source type: NOPE"),
            std::string::npos);
  EXPECT_NE(MessageOf([] {
              ParseRecords(R"([{"source": {"source_type": "CODE", "x": 1}}])");
            }).find("records[0].source.x"),
            std::string::npos);
}

TEST(DatasetRecordsTest, InputsKeyIgnoresKeyOrderButNotTypes) {
  EXPECT_EQ(InputsKey(Json::parse(R"({"a": 1, "b": "x"})")),
            InputsKey(Json::parse(R"({"b": "x", "a": 1})")));
  EXPECT_NE(InputsKey(Json::parse(R"({"a": 1})")), InputsKey(Json::parse(R"({"a": 1.0})")));
  EXPECT_NE(InputsKey(Json::parse(R"({"a": 1})")), InputsKey(Json::parse(R"({"a": "1"})")));
  EXPECT_NE(InputsKey(Json::parse(R"({"a": 1})")), InputsKey(Json::parse(R"({"a": true})")));
}

TEST(DatasetRecordsTest, NewRecordTakesMlflowsDefaultsAndTheSourceId) {
  DatasetRecord r = NewRecord(Json::parse(R"({"inputs": {"q": "a"}, "tags": {"mlflow.user": "ann"},
                      "source": {"source_type": "TRACE", "source_data": {"trace_id": "tr-9"}}})"),
                              "d-1", 42);
  EXPECT_EQ(r.dataset_record_id.rfind("dr-", 0), 0u);
  EXPECT_EQ(r.outputs, Json::object());  // no outputs key: {}
  EXPECT_FALSE(r.expectations);
  EXPECT_EQ(r.source_type, "TRACE");
  EXPECT_EQ(r.source_id, "tr-9");
  EXPECT_EQ(r.created_by, "ann");
  EXPECT_EQ(r.created_time, 42);
  DatasetRecord human =
      NewRecord(Json::parse(R"({"outputs": null, "source": {"source_type": "HUMAN",
                      "source_data": {"source_id": "s-1"}}})"),
                "d-1", 1);
  EXPECT_FALSE(human.outputs);  // an explicit null: none
  EXPECT_EQ(human.source_id, "s-1");
}

TEST(DatasetRecordsTest, MergeReplacesOutputsAndMergesExpectationsAndTags) {
  DatasetRecord r =
      NewRecord(Json::parse(R"({"inputs": {"q": "a"}, "outputs": "x", "expectations": {"a": 1},
                      "tags": {"k": "1"}, "source": {"source_type": "HUMAN"}})"),
                "d-1", 1);
  MergeRecord(r, Json::parse(R"({"expectations": {"b": 2, "a": 3}, "tags": {"j": "2",
                             "mlflow.user": "bo"}, "source": {"source_type": "CODE"}})"),
              5);
  EXPECT_EQ(r.outputs, "x");  // not given: kept
  EXPECT_EQ(*r.expectations, Json::parse(R"({"a": 3, "b": 2})"));
  EXPECT_EQ(r.tags, Json::parse(R"({"k": "1", "j": "2", "mlflow.user": "bo"})"));
  EXPECT_EQ(r.source_type, "HUMAN");  // the first source stays
  EXPECT_EQ(r.last_updated_by, "bo");
  EXPECT_EQ(r.created_time, 1);
  EXPECT_EQ(r.last_update_time, 5);
  MergeRecord(r, Json::parse(R"({"outputs": null})"), 6);
  EXPECT_FALSE(r.outputs);
}

TEST(DatasetRecordsTest, SchemaGainsNewKeysOnlyWithMlflowsTypeNames) {
  std::string schema = ExtendSchema(
      std::nullopt,
      {Json::parse(R"({"inputs": {"s": "x", "i": 1, "f": 1.5, "b": true, "n": null, "l": [],
                      "o": {}}, "outputs": "text", "expectations": {"e": 1}})")});
  Json parsed = Json::parse(schema);
  EXPECT_EQ(parsed["inputs"], Json::parse(R"({"s": "string", "i": "integer", "f": "float",
      "b": "boolean", "n": "null", "l": "array", "o": "object"})"));
  EXPECT_EQ(parsed["outputs"], "string");
  EXPECT_EQ(parsed["version"], "1.0");
  // Types recorded stay; a dict after a scalar output keeps the scalar type.
  Json again = Json::parse(ExtendSchema(
      schema, {Json::parse(R"({"inputs": {"s": 5, "t": "y"}, "outputs": {"k": 1}})")}));
  EXPECT_EQ(again["inputs"]["s"], "string");
  EXPECT_EQ(again["inputs"]["t"], "string");
  EXPECT_EQ(again["outputs"], "string");
}

TEST(DatasetRecordsTest, DigestIsMlflows) {
  // hashlib.sha256(b"ds1:1000").hexdigest()[:8], as MLflow's _compute_dataset_digest.
  EXPECT_EQ(DatasetDigest("ds1", 1000), "e6f23901");
}

// ---------------------------------------------------------------- search

TEST(DatasetSearchTest, ParsesAttributesTagsAndTimes) {
  auto clauses =
      ParseDatasetFilter("name LIKE 'qa%' AND tags.mlflow.user = 'ann' AND created_time >= 5");
  ASSERT_EQ(clauses.size(), 3u);
  EXPECT_EQ(clauses[0].field, DatasetField::kName);
  EXPECT_EQ(clauses[0].op, CompareOp::kLike);
  EXPECT_EQ(clauses[1].field, DatasetField::kTag);
  EXPECT_EQ(clauses[1].tag_key, "mlflow.user");
  EXPECT_EQ(std::get<int64_t>(clauses[2].value), 5);
  auto in = ParseDatasetFilter("name IN ('a', 'b')");
  EXPECT_EQ(std::get<std::vector<std::string>>(in[0].value).size(), 2u);
}

TEST(DatasetSearchTest, RefusesWhatMlflowRefuses) {
  for (const char* bad :
       {"name = 'a' OR name = 'b'", "digest = 'x'", "created_time = '5'", "created_time = 1.5",
        "created_time LIKE '5'", "tags.k > 'a'", "created_by IN ('a')", "name NOT IN ('a')",
        "name = qa", "attributes.name = 'a'"}) {
    EXPECT_THROW(ParseDatasetFilter(bad), Error) << bad;
  }
  EXPECT_THROW(ParseDatasetOrderBy({"digest"}), Error);
  EXPECT_THROW(ParseDatasetOrderBy({"tags.k"}), Error);
  EXPECT_THROW(ParseDatasetOrderBy({"name sideways"}), Error);
  auto order = ParseDatasetOrderBy({});
  ASSERT_EQ(order.size(), 1u);
  EXPECT_EQ(order[0].field, DatasetField::kCreatedTime);
  EXPECT_FALSE(order[0].ascending);
}

TEST(DatasetSearchTest, SqlBindsEveryValue) {
  DatasetQuery query;
  query.clauses = ParseDatasetFilter("name = 'x''; DROP TABLE evaluation_datasets; --'");
  query.order = ParseDatasetOrderBy({"name"});
  store::SqlQuery sql =
      store::BuildEvaluationDatasetSearch(store::SqlDialect::Sqlite(), query, 10, 0);
  EXPECT_EQ(sql.sql.find("DROP"), std::string::npos);
  EXPECT_NE(sql.sql.find("ORDER BY d.name ASC"), std::string::npos);
}

// ---------------------------------------------------------------- service + store

class EvaluationDatasetServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("slipway-genai-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    stores_ = store::OpenMetadataStore("sqlite:///" + (dir_ / "slipway.db").string());
    service_ = std::make_unique<EvaluationDatasetService>(*stores_->genai, *stores_->tracking);
    for (const char* name : {"a", "b"}) {
      tracking::Experiment e;
      e.name = name;
      experiments_.push_back(stores_->tracking->CreateExperiment(e, "mlflow-artifacts:"));
    }
  }
  void TearDown() override {
    service_.reset();
    stores_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::MetadataStores> stores_;
  std::unique_ptr<EvaluationDatasetService> service_;
  std::vector<std::string> experiments_;
};

TEST_F(EvaluationDatasetServiceTest, UpsertMergesWithinOneBatchAndUpdatesTheDataset) {
  EvaluationDataset d = service_->CreateDataset("qa", {experiments_[0]}, {{"mlflow.user", "ann"}});
  EXPECT_EQ(d.created_by, "ann");
  UpsertCounts counts = service_->UpsertRecords(
      d.dataset_id, R"([{"inputs": {"q": "a", "n": 1}}, {"inputs": {"n": 1, "q": "a"},
                        "expectations": {"x": 1}}, {"inputs": {"q": "b"},
                        "tags": {"mlflow.user": "bo"}}])");
  EXPECT_EQ(counts.inserted, 2);
  EXPECT_EQ(counts.updated, 1);
  EvaluationDataset after = service_->GetDataset(d.dataset_id);
  EXPECT_EQ(*after.profile, R"({"num_records":2})");
  EXPECT_EQ(after.last_updated_by, "bo");
  EXPECT_EQ(after.digest, DatasetDigest("qa", after.last_update_time));
  auto page = service_->GetRecords(d.dataset_id, 1, "");
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_FALSE(page.next_page_token.empty());
  EXPECT_EQ(service_->DeleteRecords(d.dataset_id, {page.items[0].dataset_record_id, "dr-x"}), 1);
  EXPECT_EQ(*service_->GetDataset(d.dataset_id).profile, R"({"num_records":1})");
}

TEST_F(EvaluationDatasetServiceTest, ABadRecordWritesNothing) {
  EvaluationDataset d = service_->CreateDataset("qa", {experiments_[0]}, {});
  EXPECT_THROW(service_->UpsertRecords(d.dataset_id, R"([{"inputs": {}}, {"inputs": 3}])"), Error);
  EXPECT_TRUE(service_->GetRecords(d.dataset_id, std::nullopt, "").items.empty());
  EXPECT_FALSE(service_->GetDataset(d.dataset_id).schema);
}

TEST_F(EvaluationDatasetServiceTest, LinksAreCanonicalIdempotentAndMustExist) {
  EvaluationDataset d = service_->CreateDataset("qa", {experiments_[0], experiments_[0]}, {});
  EXPECT_EQ(d.experiment_ids, std::vector<std::string>{experiments_[0]});
  EXPECT_THROW(service_->CreateDataset("qa", {"0" + experiments_[0]}, {}), Error);
  EXPECT_THROW(service_->AddToExperiments(d.dataset_id, {"424242"}), Error);
  service_->AddToExperiments(d.dataset_id, {experiments_[1], experiments_[0]});
  EXPECT_EQ(service_->GetExperimentIds(d.dataset_id), experiments_);
  service_->RemoveFromExperiments(d.dataset_id, {experiments_[0], "999"});
  EXPECT_EQ(service_->GetExperimentIds(d.dataset_id), std::vector<std::string>{experiments_[1]});
  EXPECT_NE(MessageOf([&] {
              service_->AddToExperiments("d-missing", {experiments_[0]});
            }).find("Dataset 'd-missing' not found"),
            std::string::npos);
}

TEST_F(EvaluationDatasetServiceTest, SearchHonoursVisibilityOfEveryLinkedExperiment) {
  EvaluationDataset only_a = service_->CreateDataset("only-a", {experiments_[0]}, {});
  EvaluationDataset both = service_->CreateDataset("both", experiments_, {});
  EvaluationDataset none = service_->CreateDataset("none", {}, {});
  DatasetQuery query;
  query.order = ParseDatasetOrderBy({"name ASC"});
  auto names = [&](const DatasetQuery& q) {
    std::vector<std::string> out;
    for (const auto& d : stores_->genai->SearchDatasets(q, {0, 10}).items) {
      out.push_back(d.name);
    }
    return out;
  };
  EXPECT_EQ(names(query), (std::vector<std::string>{"both", "none", "only-a"}));
  query.visible = Visibility::Only({experiments_[0]});
  EXPECT_EQ(names(query), std::vector<std::string>{"only-a"});
  query.visible = Visibility::AllExcept({experiments_[0]});
  EXPECT_TRUE(names(query).empty());
  query.visible = Visibility::AllExcept({"777"});
  EXPECT_EQ(names(query), (std::vector<std::string>{"both", "only-a"}));
  query.visible = Visibility::All();
  query.experiment_ids = {experiments_[1]};
  EXPECT_EQ(names(query), std::vector<std::string>{"both"});
  auto page = service_->SearchDatasets({}, "", 2, {"name ASC"}, "");
  EXPECT_EQ(page.items.size(), 2u);
  auto next = service_->SearchDatasets({}, "", 2, {"name ASC"}, page.next_page_token);
  ASSERT_EQ(next.items.size(), 1u);
  EXPECT_EQ(next.items[0].name, "only-a");
  EXPECT_TRUE(next.next_page_token.empty());
  (void)only_a;
  (void)both;
  (void)none;
}

// ---------------------------------------------------------------- issues, scorers

TEST(IssueRulesTest, SeverityRanksInMlflowsOrder) {
  EXPECT_EQ(SeverityRank(""), -1);
  EXPECT_EQ(SeverityRank("not_an_issue"), 0);
  EXPECT_EQ(SeverityRank("high"), 3);
  EXPECT_FALSE(SeverityRank("HIGH"));
}

TEST(ScorerRulesTest, RefusesCodeAndRedirectsAnywhereInTheScorer) {
  EXPECT_NO_THROW(CheckSerializedScorer(R"({"name": "j", "call_source": null})"));
  EXPECT_THROW(CheckSerializedScorer("{"), Error);
  EXPECT_THROW(CheckSerializedScorer(R"({"a": [{"b": {"call_source": "x"}}]})"), Error);
  EXPECT_THROW(CheckSerializedScorer(
                   R"({"third_party_scorer_data": {"kwargs": {"x": [["base_url", "h"]]}}})"),
               Error);
  EXPECT_THROW(CheckSerializedScorer(R"({"third_party_scorer_data": {"kwargs": [1]}})"), Error);
  EXPECT_NO_THROW(
      CheckSerializedScorer(R"({"third_party_scorer_data": {"kwargs": {"temperature": 0}}})"));
}

TEST_F(EvaluationDatasetServiceTest, ScorerVersionsRestartAtOneOnceAllAreGone) {
  ScorerService scorers(*stores_->genai, *stores_->tracking);
  EXPECT_EQ(scorers.RegisterScorer(experiments_[0], "j", "{}").version, 1);
  EXPECT_EQ(scorers.RegisterScorer(experiments_[0], "j", R"({"v": 2})").version, 2);
  EXPECT_EQ(scorers.RegisterScorer(experiments_[1], "j", "{}").version, 1);
  EXPECT_EQ(scorers.GetScorer(experiments_[0], "j", std::nullopt).serialized_scorer, R"({"v": 2})");
  EXPECT_EQ(scorers.ListScorers({}).size(), 2u);
  scorers.DeleteScorer(experiments_[0], "j", 2);
  EXPECT_EQ(scorers.GetScorer(experiments_[0], "j", std::nullopt).version, 1);
  scorers.DeleteScorer(experiments_[0], "j", std::nullopt);
  EXPECT_THROW(scorers.GetScorer(experiments_[0], "j", std::nullopt), Error);
  EXPECT_EQ(scorers.RegisterScorer(experiments_[0], "j", "{}").version, 1);
  EXPECT_THROW(scorers.RegisterScorer("424242", "j", "{}"), Error);
}

TEST_F(EvaluationDatasetServiceTest, IssuesSortBySeverityThenNewest) {
  IssueService issues(*stores_->genai, *stores_->tracking);
  auto make = [&](const std::string& name, const std::string& severity) {
    Issue issue;
    issue.experiment_id = experiments_[0];
    issue.name = name;
    issue.description = "d";
    issue.severity = severity;
    return issues.CreateIssue(issue).issue_id;
  };
  std::string none = make("none", "");
  std::string low = make("low", "low");
  std::string high = make("high", "high");
  auto page = issues.SearchIssues(experiments_[0], "", std::nullopt, "", true);
  std::vector<std::string> ids;
  for (const Issue& i : page.items) ids.push_back(i.issue_id);
  EXPECT_EQ(ids, (std::vector<std::string>{high, low, none}));
  EXPECT_EQ(page.items[0].trace_count, 0);
  issues.UpdateIssue(none, {"", "", "resolved", "medium"});
  auto resolved = issues.SearchIssues("", "status = 'resolved'", std::nullopt, "", false);
  ASSERT_EQ(resolved.items.size(), 1u);
  EXPECT_EQ(resolved.items[0].severity, "medium");
  EXPECT_FALSE(resolved.items[0].trace_count);
  EXPECT_THROW(issues.UpdateIssue(none, {"", "", "open", std::nullopt}), Error);
}

}  // namespace
}  // namespace slipway::genai
