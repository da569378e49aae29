// Tracing: the trace filter grammar, the OTLP codecs, the wire forms of
// times, and the trace service over a real SQLite store (spans before or
// after the trace's info, widening, finalizing, searches, deletes,
// assessments and their overrides).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "http/otlp_codec.h"
#include "http/trace_routes.h"
#include "postgres_test_cluster.h"
#include "store/metadata_store.h"
#include "tracing/trace_analysis.h"
#include "tracing/trace_search.h"
#include "tracing/trace_service.h"

namespace slipway::tracing {
namespace {

using tracking::CompareOp;

// ---------------------------------------------------------------- protobuf

std::string Varint(uint64_t n) {
  std::string out;
  do {
    uint8_t byte = n & 0x7f;
    n >>= 7;
    out.push_back(static_cast<char>(n ? byte | 0x80 : byte));
  } while (n);
  return out;
}

std::string Field(int number, const std::string& bytes) {
  return Varint(static_cast<uint64_t>(number) << 3 | 2) + Varint(bytes.size()) + bytes;
}

std::string VarintField(int number, uint64_t value) {
  return Varint(static_cast<uint64_t>(number) << 3) + Varint(value);
}

std::string Fixed64Field(int number, uint64_t value) {
  std::string out = Varint(static_cast<uint64_t>(number) << 3 | 1);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(value >> (8 * i)));
  return out;
}

std::string Bytes(size_t n, char fill) { return std::string(n, fill); }

std::string KeyValue(const std::string& key, const std::string& any_value) {
  return Field(1, key) + Field(2, any_value);
}

std::string OtlpRequest(const std::string& span, const std::string& resource_attrs = "") {
  const std::string resource = Field(1, resource_attrs);
  const std::string scope = Field(2, span);
  return Field(1, Field(1, resource) + Field(2, scope));
}

TEST(OtlpCodecTest, DecodesSpansWithEveryKindOfAttributeValue) {
  const std::string kvlist = Field(1, KeyValue("a", VarintField(3, 1)));
  const std::string array = Field(1, Field(1, "x")) + Field(1, VarintField(2, 1));
  std::string double_bits(8, '\0');
  const double d = 2.5;
  std::memcpy(double_bits.data(), &d, 8);
  const std::string span =
      Field(1, Bytes(16, '\x11')) + Field(2, Bytes(8, '\x22')) + Field(4, Bytes(8, '\x33')) +
      Field(5, "child") + Fixed64Field(7, 1000) + Fixed64Field(8, 3000) +
      Field(9, KeyValue("s", Field(1, "text"))) +
      Field(9, KeyValue("i", VarintField(3, static_cast<uint64_t>(-5)))) +
      Field(9, KeyValue("d", Varint(4 << 3 | 1) + double_bits)) +
      Field(9, KeyValue("kv", Field(6, kvlist))) + Field(9, KeyValue("arr", Field(5, array))) +
      Field(11, Fixed64Field(1, 2000) + Field(2, "evt") + Field(3, KeyValue("e", Field(1, "v")))) +
      Field(15, Field(2, "boom") + VarintField(3, 2)) + VarintField(6, 1) /* kind: skipped */;
  const OtelBatch batch =
      http::DecodeOtlpProtobuf(OtlpRequest(span, KeyValue("service.name", Field(1, "svc"))));
  ASSERT_EQ(batch.spans.size(), 1u);
  ASSERT_EQ(batch.resources.size(), 1u);
  EXPECT_EQ(batch.resources[0][0].first, "service.name");
  const OtelSpan& s = batch.spans[0];
  EXPECT_EQ(s.trace_id, Bytes(16, '\x11'));
  EXPECT_EQ(s.parent_span_id, Bytes(8, '\x33'));
  EXPECT_EQ(s.name, "child");
  EXPECT_EQ(s.start_ns, 1000u);
  EXPECT_EQ(s.end_ns, 3000u);
  EXPECT_EQ(s.status_code, 2);
  EXPECT_EQ(s.status_message, "boom");
  ASSERT_EQ(s.attributes.size(), 5u);
  EXPECT_EQ(s.attributes[0].second, "text");
  EXPECT_EQ(s.attributes[1].second, -5);
  EXPECT_EQ(s.attributes[2].second, 2.5);
  EXPECT_EQ(s.attributes[3].second, (nlohmann::json{{"a", 1}}));
  EXPECT_EQ(s.attributes[4].second, (nlohmann::json::array({"x", true})));
  ASSERT_EQ(s.events.size(), 1u);
  EXPECT_EQ(s.events[0].name, "evt");
  EXPECT_EQ(s.events[0].time_ns, 2000u);
}

TEST(OtlpCodecTest, RefusesTruncatedWrongTypedAndDeeplyNestedInput) {
  const std::string span = Field(1, Bytes(16, 'a')) + Field(2, Bytes(8, 'b'));
  std::string request = OtlpRequest(span);
  for (size_t cut = 1; cut < request.size(); ++cut) {
    // A prefix is either refused or decodes to fewer complete parts; never a crash.
    try {
      http::DecodeOtlpProtobuf(request.substr(0, cut));
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
    }
  }
  // name (field 5) sent as a varint.
  EXPECT_THROW(http::DecodeOtlpProtobuf(OtlpRequest(VarintField(5, 1))), Error);
  std::string value = Field(1, "leaf");
  for (int i = 0; i < 100; ++i) value = Field(5, Field(1, value));
  try {
    http::DecodeOtlpProtobuf(OtlpRequest(span + Field(9, KeyValue("deep", value))));
    FAIL() << "100 levels of nesting were taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nest"), std::string::npos) << e.what();
  }
}

TEST(OtlpCodecTest, JsonTakesHexIdsCamelOrSnakeNamesAndStringIntegers) {
  const OtelBatch batch = http::DecodeOtlpJson(R"({"resource_spans": [{"scopeSpans": [{"spans": [
      {"traceId": "0102030405060708090a0b0c0d0e0f10", "span_id": "1112131415161718",
       "name": "s", "startTimeUnixNano": "5", "end_time_unix_nano": 9,
       "attributes": [{"key": "n", "value": {"intValue": "42"}}],
       "status": {"code": "STATUS_CODE_ERROR", "message": "m"}}]}]}]})");
  ASSERT_EQ(batch.spans.size(), 1u);
  const OtelSpan& s = batch.spans[0];
  EXPECT_EQ(s.trace_id[0], '\x01');
  EXPECT_EQ(s.trace_id[15], '\x10');
  EXPECT_EQ(s.span_id[7], '\x18');
  EXPECT_EQ(s.start_ns, 5u);
  EXPECT_EQ(s.end_ns, 9u);
  EXPECT_EQ(s.attributes[0].second, 42);
  EXPECT_EQ(s.status_code, 2);
  EXPECT_THROW(http::DecodeOtlpJson("[1]"), Error);
  EXPECT_THROW(http::DecodeOtlpJson(R"({"resourceSpans": [{"scopeSpans": [{"spans": [
      {"traceId": "zz", "spanId": "1112131415161718"}]}]}]})"),
               Error);
  EXPECT_THROW(http::DecodeOtlpJson(R"({"resourceSpans": [{"scopeSpans": [{"spans": [
      {"startTimeUnixNano": "-3"}]}]}]})"),
               Error);
}

TEST(OtlpCodecTest, StoredSpansGoOutAsOpenTelemetryProtoJson) {
  OtelSpan otel;
  otel.trace_id = Bytes(16, '\x01');
  otel.span_id = Bytes(8, '\x02');
  otel.name = "root";
  otel.start_ns = 10;
  otel.end_ns = 20;
  otel.status_code = 1;
  otel.attributes = {{"mlflow.spanInputs", {{"q", "hi"}}}, {"n", 3}, {"f", 0.5}, {"none", nullptr}};
  const Span span = ToMlflowSpan(otel, TraceIdOf(otel.trace_id));
  EXPECT_EQ(span.span_id, "0202020202020202");
  EXPECT_EQ(span.status, "OK");
  const auto dict = nlohmann::json::parse(span.content);
  EXPECT_EQ(dict["attributes"]["mlflow.spanInputs"], R"({"q":"hi"})");
  EXPECT_EQ(dict["attributes"]["mlflow.traceRequestId"], "\"tr-01010101010101010101010101010101\"");
  EXPECT_TRUE(dict["parent_span_id"].is_null());
  const auto out = http::SpanToOtelJson(span);
  EXPECT_EQ(out["span_id"], "AgICAgICAgI=");
  EXPECT_FALSE(out.contains("parent_span_id"));
  EXPECT_EQ(out["status"]["code"], "STATUS_CODE_OK");
  std::map<std::string, nlohmann::json> attrs;
  for (const auto& kv : out["attributes"]) attrs[kv["key"]] = kv["value"];
  EXPECT_EQ(attrs["n"], (nlohmann::json{{"int_value", 3}}));
  EXPECT_EQ(attrs["f"], (nlohmann::json{{"double_value", 0.5}}));
  EXPECT_EQ(attrs["none"], nlohmann::json::object());
  EXPECT_EQ(attrs["mlflow.spanInputs"]["kvlist_value"]["values"][0]["key"], "q");
}

TEST(TraceWireTest, TimestampsAndDurationsAsProtobufJson) {
  EXPECT_EQ(http::FormatTimestamp(1796598106754), "2026-12-06T23:01:46.754Z");
  EXPECT_EQ(http::FormatTimestamp(1796598106000), "2026-12-06T23:01:46Z");
  EXPECT_EQ(http::ParseTimestamp("2026-12-06T23:01:46.754Z", "t"), 1796598106754);
  EXPECT_EQ(http::ParseTimestamp("2026-12-06T23:01:46.754123Z", "t"), 1796598106754);
  EXPECT_EQ(http::ParseTimestamp("2026-12-07T00:01:46.754+01:00", "t"), 1796598106754);
  EXPECT_THROW(http::ParseTimestamp("yesterday", "t"), Error);
  EXPECT_THROW(http::ParseTimestamp("2026-12-06T23:01:46Zjunk", "t"), Error);
  EXPECT_EQ(http::FormatDuration(309), "0.309s");
  EXPECT_EQ(http::FormatDuration(2000), "2s");
  EXPECT_EQ(http::ParseDuration("0.309s", "d"), 309);
  EXPECT_EQ(http::ParseDuration("12s", "d"), 12000);
  EXPECT_THROW(http::ParseDuration("12", "d"), Error);
  EXPECT_THROW(http::ParseDuration("1.5ms", "d"), Error);
}

// ---------------------------------------------------------------- grammar

TEST(TraceSearchTest, ParsesMlflowsTraceFilterGrammar) {
  const TraceFilter f = ParseTraceFilter(
      "timestamp > 5 AND trace.status = 'OK' AND tags.`a.b` LIKE 'x%' AND "
      "metadata.user IS NULL AND span.type IN ('LLM', 'TOOL') AND feedback.quality >= 0.5 AND "
      "run_id = 'abc'");
  ASSERT_EQ(f.clauses.size(), 7u);
  EXPECT_EQ(f.clauses[0].key, "timestamp_ms");
  EXPECT_EQ(std::get<double>(f.clauses[0].value), 5.0);
  EXPECT_EQ(f.clauses[1].key, "status");
  EXPECT_EQ(f.clauses[2].field, TraceField::kTag);
  EXPECT_EQ(f.clauses[2].key, "a.b");
  EXPECT_EQ(f.clauses[3].op, CompareOp::kIsNull);
  EXPECT_EQ(f.clauses[4].field, TraceField::kSpan);
  EXPECT_EQ(std::get<std::vector<std::string>>(f.clauses[4].value).size(), 2u);
  EXPECT_EQ(f.clauses[5].field, TraceField::kFeedback);
  EXPECT_EQ(f.clauses[6].key, "run_id");
  for (const char* bad :
       {"status = OK", "a = 'x' OR b = 'y'", "nope.x = 'y'", "attributes.nope = 'x'", "status > 1",
        "timestamp_ms = 'soon'", "run_id != 'x'", "span.attributes.x = 'y'", "tags.x > 'y'"}) {
    EXPECT_THROW(ParseTraceFilter(bad), Error) << bad;
  }
}

TEST(TraceSearchTest, OrderTermsGetMlflowsTieBreakers) {
  auto order = ParseTraceOrderBy({});
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0].key, "timestamp_ms");
  EXPECT_FALSE(order[0].ascending);
  EXPECT_EQ(order[1].key, "request_id");
  order = ParseTraceOrderBy({"execution_time DESC", "tags.x"});
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[0].key, "execution_time_ms");
  EXPECT_EQ(order[1].field, TraceField::kTag);
  EXPECT_THROW(ParseTraceOrderBy({"timestamp", "timestamp_ms"}), Error);
  EXPECT_THROW(ParseTraceOrderBy({"span.name"}), Error);
}

// ---------------------------------------------------------------- service + store

// The service over the trace store of each engine: SQLite, and PostgreSQL
// (a database of its own from postgres_test_cluster.h; those runs skip,
// saying why, when there is no PostgreSQL).
enum class Engine { kSqlite, kPostgres };

class TraceServiceTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    if (GetParam() == Engine::kPostgres) {
      std::string why_not;
      const std::string uri = slipway::testing::FreshPostgresDatabase(&why_not);
      if (uri.empty()) GTEST_SKIP() << "no PostgreSQL for this test: " << why_not;
      stores_ = store::OpenMetadataStore(uri);
    } else {
      std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::replace(name.begin(), name.end(), '/', '-');  // "Test/Sqlite"
      dir_ = std::filesystem::temp_directory_path() /
             ("slipway-tracing-test-" + std::to_string(::getpid()) + "-" + name);
      std::filesystem::remove_all(dir_);
      stores_ = store::OpenMetadataStore("sqlite:///" + (dir_ / "slipway.db").string());
    }
    TraceService::Options options;
    options.complete_wait = std::chrono::milliseconds(300);
    service_ = std::make_unique<TraceService>(*stores_->traces, *stores_->tracking, options);
    tracking::Experiment e;
    e.name = "exp";
    experiment_ = stores_->tracking->CreateExperiment(e, "mlflow-artifacts:");
  }
  void TearDown() override {
    service_.reset();
    stores_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  static OtelSpan MakeSpan(char trace, char id, char parent, uint64_t start, uint64_t end,
                           int status = 1) {
    OtelSpan s;
    s.trace_id = Bytes(16, trace);
    s.span_id = Bytes(8, id);
    if (parent != 0) s.parent_span_id = Bytes(8, parent);
    s.name = std::string("span-") + id;
    s.start_ns = start;
    s.end_ns = end;
    s.status_code = status;
    return s;
  }

  TraceInfo Info(const std::string& trace_id, int64_t request_time) {
    TraceInfo info;
    info.trace_id = trace_id;
    info.experiment_id = experiment_;
    info.request_time = request_time;
    info.execution_duration = 5;
    info.state = "OK";
    info.tags["mlflow.traceName"] = "t";
    info.metadata[kSizeStatsKey] = R"({"num_spans": 2})";
    return info;
  }

  std::filesystem::path dir_;  // SQLite's folder
  std::unique_ptr<store::MetadataStores> stores_;
  std::unique_ptr<TraceService> service_;
  std::string experiment_;
};

INSTANTIATE_TEST_SUITE_P(Engines, TraceServiceTest,
                         ::testing::Values(Engine::kSqlite, Engine::kPostgres),
                         [](const ::testing::TestParamInfo<Engine>& info) {
                           return info.param == Engine::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST_P(TraceServiceTest, SpansFirstThenInfoOrInfoFirstThenSpansGiveTheSameTrace) {
  const std::string a = TraceIdOf(Bytes(16, 'a'));
  const std::string b = TraceIdOf(Bytes(16, 'b'));
  OtelSpan root_a = MakeSpan('a', '1', 0, 2'000'000, 9'000'000);
  root_a.attributes = {{"mlflow.spanInputs", {{"q", 1}}}, {"mlflow.traceTag.team", "x"}};
  // a: spans, then info. b: info, then spans.
  service_->LogSpans(experiment_, {{}, {root_a, MakeSpan('a', '2', '1', 3'000'000, 4'000'000)}});
  TraceInfo info_a = service_->GetTraceInfo(a);
  EXPECT_EQ(info_a.state, "OK");
  EXPECT_EQ(info_a.request_time, 2);
  EXPECT_EQ(info_a.execution_duration, 7);
  EXPECT_EQ(info_a.request_preview, R"({"q":1})");
  EXPECT_EQ(info_a.tags.at("team"), "x");
  EXPECT_EQ(info_a.tags.at(kSpansLocationTag), kSpansInTrackingStore);
  const TraceInfo started = service_->StartTrace(Info(a, 1));
  EXPECT_EQ(started.tags.at(kSpansLocationTag), kSpansInTrackingStore);
  EXPECT_EQ(started.tags.at("team"), "x");
  EXPECT_EQ(started.request_time, 1);
  EXPECT_EQ(started.metadata.at(kInfoFinalizedKey), "true");

  const TraceInfo first = service_->StartTrace(Info(b, 100));
  EXPECT_EQ(first.tags.count(kSpansLocationTag), 0u);
  EXPECT_EQ(first.tags.at(kArtifactLocationTag),
            "mlflow-artifacts:/" + experiment_ + "/traces/" + b + "/artifacts");
  // Spans after a finalized info do not move its times.
  service_->LogSpans(experiment_, {{},
                                   {MakeSpan('b', '1', 0, 1'000'000, 900'000'000),
                                    MakeSpan('b', '2', '1', 2'000'000, 3'000'000)}});
  const Trace trace = service_->GetTrace(b, false);
  EXPECT_EQ(trace.info.request_time, 100);
  EXPECT_EQ(trace.info.execution_duration, 5);
  ASSERT_EQ(trace.spans.size(), 2u);
  EXPECT_TRUE(trace.spans[0].parent_span_id.empty());  // root first
  EXPECT_EQ(trace.info.tags.at(kSpansLocationTag), kSpansInTrackingStore);
}

TEST_P(TraceServiceTest, PartialTracesWaitThenAreNotFoundAndBatchGetLeavesThemOut) {
  const std::string c = TraceIdOf(Bytes(16, 'c'));
  service_->StartTrace(Info(c, 1));  // says 2 spans
  service_->LogSpans(experiment_, {{}, {MakeSpan('c', '1', 0, 1, 2)}});
  try {
    service_->GetTrace(c, false);
    FAIL() << "a trace with 1 of its 2 spans was returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kResourceDoesNotExist);
    EXPECT_NE(std::string(e.what()).find("not fully exported"), std::string::npos);
  }
  EXPECT_EQ(service_->GetTrace(c, true).spans.size(), 1u);
  EXPECT_TRUE(service_->BatchGetTraces({c, "tr-nope"}).empty());
  service_->LogSpans(experiment_, {{}, {MakeSpan('c', '2', '1', 1, 2)}});
  EXPECT_EQ(service_->BatchGetTraces({c}).size(), 1u);
}

TEST_P(TraceServiceTest, SearchFiltersOrdersPagesAndDeletes) {
  for (int i = 0; i < 5; ++i) {
    TraceInfo info = Info(TraceIdOf(Bytes(16, static_cast<char>('k' + i))), 10 * (i + 1));
    info.tags["parity"] = i % 2 ? "odd" : "even";
    info.execution_duration = 100 - i;
    service_->StartTrace(info);
  }
  auto ids = [&](const std::string& filter, std::vector<std::string> order = {}, int64_t max = 100,
                 const std::string& token = "") {
    std::vector<int64_t> times;
    for (const auto& t : service_->SearchTraces({experiment_}, filter, max, order, token).items)
      times.push_back(t.request_time);
    return times;
  };
  EXPECT_EQ(ids(""), (std::vector<int64_t>{50, 40, 30, 20, 10}));
  EXPECT_EQ(ids("tags.parity = 'odd'"), (std::vector<int64_t>{40, 20}));
  EXPECT_EQ(ids("timestamp_ms >= 20 AND timestamp_ms < 40", {"timestamp ASC"}),
            (std::vector<int64_t>{20, 30}));
  EXPECT_EQ(ids("execution_time_ms > 97"), (std::vector<int64_t>{30, 20, 10}));
  EXPECT_EQ(ids("", {"tags.parity ASC", "timestamp_ms ASC"}),
            (std::vector<int64_t>{10, 30, 50, 20, 40}));
  const auto page = service_->SearchTraces({experiment_}, "", 2, {}, "");
  ASSERT_EQ(page.items.size(), 2u);
  EXPECT_FALSE(page.next_page_token.empty());
  EXPECT_EQ(ids("", {}, 2, page.next_page_token), (std::vector<int64_t>{30, 20}));
  EXPECT_TRUE(service_->SearchTraces({"424242", "x"}, "", {}, {}, "").items.empty());

  EXPECT_EQ(service_->DeleteTraces(experiment_, {}, 30, 2), 2);
  EXPECT_EQ(ids(""), (std::vector<int64_t>{50, 40, 30}));
  EXPECT_EQ(service_->DeleteTraces(experiment_, {TraceIdOf(Bytes(16, 'o'))}, {}, {}), 1);
  EXPECT_EQ(ids(""), (std::vector<int64_t>{40, 30}));
  EXPECT_EQ(service_->DeleteTraces(experiment_, {}, 35, {}), 1);  // no max_traces: every one
  EXPECT_EQ(ids(""), (std::vector<int64_t>{40}));
  EXPECT_THROW(service_->DeleteTraces(experiment_, {}, {}, {}), Error);
  EXPECT_THROW(service_->DeleteTraces(experiment_, {"x"}, 5, {}), Error);
  EXPECT_THROW(service_->DeleteTraces(experiment_, {}, 5, 0), Error);
}

TEST_P(TraceServiceTest, AssessmentsOverrideAndDeletingTheOverrideRestores) {
  const std::string t = TraceIdOf(Bytes(16, 't'));
  service_->StartTrace(Info(t, 1));
  Assessment a;
  a.trace_id = t;
  a.name = "quality";
  a.kind = "feedback";
  a.value = "0.8";
  const Assessment first = service_->CreateAssessment(a);
  EXPECT_EQ(first.assessment_id.rfind("a-", 0), 0u);
  a.value = "0.2";
  a.overrides = first.assessment_id;
  const Assessment second = service_->CreateAssessment(a);
  auto valid = [&] {
    std::map<std::string, bool> out;
    for (const auto& x : service_->GetTraceInfo(t).assessments) out[x.assessment_id] = x.valid;
    return out;
  };
  EXPECT_FALSE(valid()[first.assessment_id]);
  EXPECT_TRUE(valid()[second.assessment_id]);
  EXPECT_EQ(
      service_->SearchTraces({experiment_}, "feedback.quality > 0.5", {}, {}, "").items.size(), 0u);
  service_->DeleteAssessment(t, second.assessment_id);
  service_->DeleteAssessment(t, second.assessment_id);  // twice is fine
  EXPECT_TRUE(valid()[first.assessment_id]);
  EXPECT_EQ(
      service_->SearchTraces({experiment_}, "feedback.quality > 0.5", {}, {}, "").items.size(), 1u);
  Assessment update;
  update.value = "1.0";
  update.metadata = {{"k", "v"}};
  const Assessment updated =
      service_->UpdateAssessment(t, first.assessment_id, update, {"feedback", "metadata"});
  EXPECT_EQ(updated.value, "1.0");
  EXPECT_EQ(updated.metadata.at("k"), "v");
  EXPECT_THROW(service_->UpdateAssessment(t, first.assessment_id, update, {"expectation"}), Error);
  a.overrides = "a-missing";
  EXPECT_THROW(service_->CreateAssessment(a), Error);
  a.trace_id = "tr-missing";
  a.overrides.clear();
  EXPECT_THROW(service_->CreateAssessment(a), Error);
}

TEST_P(TraceServiceTest, IssueLinksNameAnIssueOfTheTracesExperiment) {
  TraceService::Options options;
  options.issue_experiment = [this](const std::string& id) -> std::optional<std::string> {
    if (id == "iss-here") return experiment_;
    if (id == "iss-elsewhere") return std::string("9999");
    return std::nullopt;
  };
  TraceService service(*stores_->traces, *stores_->tracking, options);
  const std::string t = TraceIdOf(Bytes(16, 'i'));
  service.StartTrace(Info(t, 1));
  Assessment link;
  link.trace_id = t;
  link.kind = "issue";
  link.value = R"({"issue_name": "prices"})";
  for (const char* id : {"iss-elsewhere", "iss-none"}) {
    link.name = id;
    EXPECT_THROW(service.CreateAssessment(link), Error) << id;
  }
  link.name = "iss-here";
  service.CreateAssessment(link);
  EXPECT_EQ(service.SearchTraces({experiment_}, "issue.id = 'iss-here'", {}, {}, "").items.size(),
            1u);
  EXPECT_EQ(
      service.SearchTraces({experiment_}, "issue.id = 'iss-elsewhere'", {}, {}, "").items.size(),
      0u);
  // A feedback named like the issue is no link.
  EXPECT_EQ(service.SearchTraces({experiment_}, "feedback.`iss-here` IS NOT NULL", {}, {}, "")
                .items.size(),
            0u);
  // Without a way to find issues, no link is taken.
  EXPECT_THROW(service_->CreateAssessment(link), Error);
  // Nor in a trace's own assessments.
  TraceInfo carried = Info(TraceIdOf(Bytes(16, 'j')), 2);
  link.name = "iss-elsewhere";
  carried.assessments.push_back(link);
  EXPECT_THROW(service.StartTrace(carried), Error);
}

TEST_P(TraceServiceTest, TracesStayInTheirExperiment) {
  const std::string t = TraceIdOf(Bytes(16, 'x'));
  service_->StartTrace(Info(t, 1));
  tracking::Experiment other;
  other.name = "other";
  const std::string other_id = stores_->tracking->CreateExperiment(other, "mlflow-artifacts:");
  TraceInfo moved = Info(t, 1);
  moved.experiment_id = other_id;
  EXPECT_THROW(service_->StartTrace(moved), Error);
  EXPECT_THROW(service_->LogSpans(other_id, {{}, {MakeSpan('x', '1', 0, 1, 2)}}), Error);
  EXPECT_EQ(service_->GetTraceInfo(t).experiment_id, experiment_);
  EXPECT_THROW(service_->SetTraceTag(t, kArtifactLocationTag, "mlflow-artifacts:/0"), Error);
  EXPECT_THROW(service_->SetTraceTag(t, kSpansLocationTag, "ARTIFACT_REPO"), Error);
  EXPECT_THROW(service_->LogSpans("999", {{}, {MakeSpan('y', '1', 0, 1, 2)}}), Error);
  // A root span's mlflow.traceTag.* attributes may not say where the data is.
  OtelSpan root = MakeSpan('z', '1', 0, 1, 2);
  root.attributes = {{"mlflow.traceTag.mlflow.artifactLocation", "mlflow-artifacts:/0/x"},
                     {"mlflow.traceTag.mlflow.trace.spansLocation", "ARTIFACT_REPO"},
                     {"mlflow.traceTag.team", "blue"}};
  service_->LogSpans(experiment_, {{}, {root}});
  const TraceInfo z = service_->GetTraceInfo(TraceIdOf(Bytes(16, 'z')));
  EXPECT_EQ(z.tags.at("team"), "blue");
  EXPECT_EQ(z.tags.at(kSpansLocationTag), kSpansInTrackingStore);
  EXPECT_EQ(z.tags.at(kArtifactLocationTag),
            "mlflow-artifacts:/" + experiment_ + "/traces/" + z.trace_id + "/artifacts");
  EXPECT_THROW(service_->LogSpans(experiment_, {}), Error);
}

// ---------------------------------------------------------------- analysis

TEST(TraceAnalysisTest, NpmiMatchesMlflows) {
  // The values MLflow 3.17.2's server answers for these counts.
  Correlation c = CorrelationOf(6, 6, 7, 10);
  ASSERT_TRUE(c.npmi && c.npmi_smoothed);
  EXPECT_NEAR(*c.npmi, 0.6982322877799215, 1e-12);
  EXPECT_NEAR(*c.npmi_smoothed, 0.5404578674731575, 1e-12);
  Correlation d = CorrelationOf(3, 4, 3, 10);
  EXPECT_NEAR(*d.npmi, 0.7610560044063087, 1e-12);
  EXPECT_NEAR(*d.npmi_smoothed, 0.6021516451320165, 1e-12);
  EXPECT_FALSE(CorrelationOf(0, 0, 7, 10).npmi);        // no support: undefined
  EXPECT_EQ(*CorrelationOf(0, 3, 4, 10).npmi, -1.0);    // never together
  EXPECT_EQ(*CorrelationOf(10, 10, 10, 10).npmi, 1.0);  // always together
  EXPECT_FALSE(CorrelationOf(5, 3, 4, 10).npmi);        // inconsistent counts
  EXPECT_EQ(CorrelationOf(0, 0, 0, 0).total_count, 0);
}

TEST(TraceAnalysisTest, MetricsGroupBucketAndAggregate) {
  std::vector<MetricRow> rows;
  for (int i = 0; i < 5; ++i) {
    MetricRow row;
    row.time_ms = 1000 * i;
    row.dimensions["trace_name"] = i < 3 ? "a" : "b";
    row.dimensions["trace_status"] = i == 4 ? "ERROR" : "OK";
    row.values["trace_count"] = 1;
    row.values["latency"] = 10 * (i + 1);
    row.values["total_tokens"] = i;
    if (i % 2 == 0) row.session = "s" + std::to_string(i / 4);
    rows.push_back(row);
  }
  MetricRow unnamed;  // no trace_name: left out of groupings by it
  unnamed.dimensions["trace_status"] = "OK";
  unnamed.values["trace_count"] = 1;
  unnamed.time_ms = 100;
  rows.push_back(unnamed);
  TraceMetricsQuery query;
  query.view_type = "TRACES";
  query.metric_name = "latency";
  query.aggregations = {{"AVG", 0}, {"PERCENTILE", 50}, {"PERCENTILE", 99.9}};
  query.dimensions = {"trace_name"};
  CheckTraceMetricsQuery(query);
  auto points = AggregateTraceMetrics(rows, query);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].dimensions.at("trace_name"), "a");
  EXPECT_DOUBLE_EQ(points[0].values.at("AVG"), 20.0);
  EXPECT_DOUBLE_EQ(points[0].values.at("P50.0"), 20.0);
  EXPECT_NEAR(points[0].values.at("P99.9"), 29.98, 1e-9);  // numpy's linear interpolation

  query.metric_name = "trace_count";
  query.aggregations = {{"COUNT", 0}};
  query.dimensions = {"trace_status"};
  query.time_interval_seconds = 2;
  query.start_time_ms = 0;
  query.end_time_ms = 5000;
  points = AggregateTraceMetrics(rows, query);
  ASSERT_EQ(points.size(), 3u);  // buckets 0 and 2000 (OK), 4000 (ERROR)
  EXPECT_EQ(points[0].dimensions.at("time_bucket"), "1970-01-01T00:00:00+00:00");
  EXPECT_DOUBLE_EQ(points[0].values.at("COUNT"), 3.0);
  query.max_results = 1;
  EXPECT_EQ(AggregateTraceMetrics(rows, query).size(), 1u);

  TraceMetricsQuery sessions;
  sessions.view_type = "TRACES";
  sessions.metric_name = "session_count";
  sessions.aggregations = {{"COUNT", 0}};
  points = AggregateTraceMetrics(rows, sessions);
  ASSERT_EQ(points.size(), 1u);
  EXPECT_DOUBLE_EQ(points[0].values.at("COUNT"), 2.0);  // s0 and s1
}

TEST(TraceAnalysisTest, MetricsQueriesAreCheckedAsMlflowChecksThem) {
  TraceMetricsQuery q;
  q.view_type = "TRACES";
  q.metric_name = "trace_count";
  q.aggregations = {{"SUM", 0}};
  EXPECT_THROW(CheckTraceMetricsQuery(q), Error);
  q.aggregations = {{"COUNT", 0}};
  q.dimensions = {"span_type"};
  EXPECT_THROW(CheckTraceMetricsQuery(q), Error);
  q.dimensions = {};
  q.time_interval_seconds = 60;
  EXPECT_THROW(CheckTraceMetricsQuery(q), Error);
  q.time_interval_seconds.reset();
  q.metric_name = "bogus";
  EXPECT_THROW(CheckTraceMetricsQuery(q), Error);
  q.view_type = "SPANS";
  q.metric_name = "trace_count";
  EXPECT_THROW(CheckTraceMetricsQuery(q), Error);  // a TRACES metric
  q.metric_name = "span_count";
  q.dimensions = {"span_type", "span_model_name"};
  EXPECT_NO_THROW(CheckTraceMetricsQuery(q));
  q.view_type = "ASSESSMENTS";
  q.metric_name = "assessment_value";
  q.aggregations = {{"COUNT", 0}};
  q.dimensions = {};
  try {
    CheckTraceMetricsQuery(q);
    ADD_FAILURE();
  } catch (const Error& e) {  // MLflow's message, its lists sorted
    EXPECT_NE(std::string(e.what()).find("Found invalid aggregation_type(s): ['COUNT']. Supported "
                                         "aggregation types: ['AVG', 'MAX', 'MIN', 'PERCENTILE']"),
              std::string::npos)
        << e.what();
  }
  q.view_type = "EVENTS";
  EXPECT_THROW(CheckTraceMetricsQuery(q), Error);
}

TEST(TraceSearchTest, TextIsAPatternOverSpanContent) {
  TraceFilter f = ParseTraceFilter("trace.text LIKE '%hello%'");
  ASSERT_EQ(f.clauses.size(), 1u);
  EXPECT_EQ(f.clauses[0].field, TraceField::kSpan);
  EXPECT_EQ(f.clauses[0].key, "content");
  EXPECT_THROW(ParseTraceFilter("text = 'hello'"), Error);
}

TEST(TraceMetricsTest, RowFiltersAreSplitFromTraceFilters) {
  std::string trace_filter;
  const std::vector<MetricRowFilter> rows = SplitMetricFilters(
      "SPANS",
      {"trace.status = 'OK'", " span.type = 'LLM'", "trace.tag.k = 'v'", "span.name = \"a\""},
      &trace_filter);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].field, "type");
  EXPECT_EQ(rows[0].value, "LLM");
  EXPECT_EQ(rows[1].field, "name");
  EXPECT_EQ(rows[1].value, "a");
  EXPECT_EQ(trace_filter, "trace.status = 'OK' AND tag.k = 'v'");
  EXPECT_EQ(
      SplitMetricFilters("ASSESSMENTS", {"assessment.type = 'issue'"}, &trace_filter)[0].field,
      "type");
  EXPECT_EQ(trace_filter, "");
  for (const auto& [view, filter] : std::vector<std::pair<std::string, std::string>>{
           {"TRACES", "span.name = 'a'"},
           {"SPANS", "assessment.name = 'a'"},
           {"ASSESSMENTS", "assessment.status = 'a'"},
           {"SPANS", "span.name LIKE 'a%'"},
           {"SPANS", "span.name = 3"},
           {"SPANS", "span.name = 'a' AND span.type = 'b'"}})
    EXPECT_THROW(SplitMetricFilters(view, {filter}, &trace_filter), Error) << filter;
}

TEST(TraceSearchTest, IssueIdIsTheOnlyIssueClause) {
  TraceFilter f = ParseTraceFilter("issue.id = 'iss-1' AND tag.k = 'v'");
  ASSERT_EQ(f.clauses.size(), 2u);
  EXPECT_EQ(f.clauses[0].field, TraceField::kIssue);
  EXPECT_EQ(std::get<std::string>(f.clauses[0].value), "iss-1");
  for (const char* bad : {"issue.name = 'x'", "issue.id != 'x'", "issue.id LIKE 'x%'",
                          "issue.id = 3", "issue.id IS NULL"})
    EXPECT_THROW(ParseTraceFilter(bad), Error) << bad;
}

}  // namespace
}  // namespace slipway::tracing
