// The GraphQL front end of /graphql: parsing, MLflow's safety scan,
// validation and execution against a small schema with fake resolvers.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "core/error.h"
#include "http/graphql_document.h"
#include "http/graphql_schema.h"

namespace slipway::http::graphql {
namespace {

// The message of the syntax error `text` raises ("" when it parses).
std::string SyntaxErrorOf(const std::string& text, const ParseOptions& options = {}) {
  try {
    ParseDocument(text, options);
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidParameterValue);
    return error.what();
  }
  return "";
}

TEST(GraphqlParseTest, ReadsOperationsFragmentsAndValues) {
  Document document = ParseDocument(R"(
    # a comment
    query GetRun($data: MlflowGetRunInput!, $n: Int = 3) @component(name: "MLflow.Run") {
      run: mlflowGetRun(input: $data) { __typename ...Info ... on X @skip(if: false) { y } }
      list(items: [1, -2.5e3, "s\u00e9", true, null, ENUM_VALUE, {a: [], b: {}}],)
    }
    mutation { testMutation(inputString: """
        block
          string
    """) { output } }
    fragment Info on MlflowGetRunResponse { apiError { code } }
  )");
  ASSERT_EQ(document.operations.size(), 2u);
  const Operation& query = document.operations[0];
  EXPECT_EQ(query.type, "query");
  EXPECT_EQ(query.name, "GetRun");
  EXPECT_EQ(query.location.line, 3);
  ASSERT_EQ(query.variables.size(), 2u);
  EXPECT_EQ(query.variables[0].type.ToString(), "MlflowGetRunInput!");
  ASSERT_TRUE(query.variables[1].default_value.has_value());
  EXPECT_EQ(query.variables[1].default_value->text, "3");
  ASSERT_EQ(query.directives.size(), 1u);
  EXPECT_EQ(query.directives[0].name, "component");

  const Selection& run = query.selections[0];
  EXPECT_EQ(run.alias, "run");
  EXPECT_EQ(run.name, "mlflowGetRun");
  EXPECT_EQ(run.ResponseKey(), "run");
  EXPECT_EQ(run.arguments[0].value.kind, Value::Kind::kVariable);
  ASSERT_EQ(run.selections.size(), 3u);
  EXPECT_EQ(run.selections[1].kind, Selection::Kind::kFragmentSpread);
  EXPECT_EQ(run.selections[1].name, "Info");
  EXPECT_EQ(run.selections[2].kind, Selection::Kind::kInlineFragment);
  EXPECT_EQ(run.selections[2].type_condition, "X");
  EXPECT_EQ(run.selections[2].directives[0].name, "skip");

  const Value& items = query.selections[1].arguments[0].value;
  ASSERT_EQ(items.kind, Value::Kind::kList);
  ASSERT_EQ(items.items.size(), 7u);
  EXPECT_EQ(items.items[0].kind, Value::Kind::kInt);
  EXPECT_EQ(items.items[1].kind, Value::Kind::kFloat);
  EXPECT_EQ(items.items[1].text, "-2.5e3");
  EXPECT_EQ(items.items[2].text, "s\xC3\xA9");
  EXPECT_EQ(items.items[3].kind, Value::Kind::kBoolean);
  EXPECT_EQ(items.items[4].kind, Value::Kind::kNull);
  EXPECT_EQ(items.items[5].kind, Value::Kind::kEnum);
  EXPECT_EQ(items.items[6].fields.size(), 2u);

  const Operation& mutation = document.operations[1];
  EXPECT_EQ(mutation.type, "mutation");
  EXPECT_EQ(mutation.name, "");
  EXPECT_EQ(mutation.selections[0].arguments[0].value.text, "block\n  string");

  ASSERT_EQ(document.fragments.size(), 1u);
  EXPECT_EQ(document.fragments[0].type_condition, "MlflowGetRunResponse");
  EXPECT_NE(document.FindFragment("Info"), nullptr);
}

TEST(GraphqlParseTest, ShorthandQueryAndTrailingCommas) {
  Document document = ParseDocument("{ a(x: {y: 1,},) }");
  ASSERT_EQ(document.operations.size(), 1u);
  EXPECT_EQ(document.operations[0].type, "query");
  EXPECT_EQ(document.operations[0].selections[0].arguments[0].value.fields.size(), 1u);
}

TEST(GraphqlParseTest, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(SyntaxErrorOf("{ a {\n  b\n"),
            "Syntax Error: Expected Name, found <EOF>. (line 3, column 1)");
  EXPECT_EQ(SyntaxErrorOf("query {\n  a(x: )\n}"),
            "Syntax Error: Unexpected ')'. (line 2, column 8)");
  EXPECT_EQ(SyntaxErrorOf("{ a }}"), "Syntax Error: Unexpected '}'. (line 1, column 6)");
  EXPECT_EQ(SyntaxErrorOf(""), "Syntax Error: Unexpected <EOF>. (line 1, column 1)");
  EXPECT_EQ(SyntaxErrorOf("{ a(x: \"open) }"),
            "Syntax Error: Unterminated string. (line 1, column 8)");
  EXPECT_EQ(SyntaxErrorOf("{ a(x: 01) }"),
            "Syntax Error: Invalid number, unexpected digit after 0: '1'. (line 1, column 9)");
  EXPECT_EQ(SyntaxErrorOf("{ a % }"),
            "Syntax Error: Unexpected character: '%'. (line 1, column 5)");
  EXPECT_EQ(SyntaxErrorOf("{}"), "Syntax Error: Expected Name, found '}'. (line 1, column 2)");
  EXPECT_EQ(SyntaxErrorOf("{ a(x: \"\\q\") }"),
            "Syntax Error: Invalid character escape sequence: '\\q'. (line 1, column 9)");
  EXPECT_EQ(SyntaxErrorOf("type A { b: C }"),
            "Syntax Error: Unexpected Name 'type'. (line 1, column 1)");
}

TEST(GraphqlParseTest, NestingIsBounded) {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "a { ";
  deep += "b";
  for (int i = 0; i < 100; ++i) deep += " }";
  EXPECT_NE(SyntaxErrorOf("{ " + deep + " }").find("nests deeper than 64 levels"),
            std::string::npos);
  std::string list(100000, '[');
  EXPECT_NE(SyntaxErrorOf("{ a(x: " + list + ") }").find("nests deeper than 64 levels"),
            std::string::npos);
  ParseOptions loose;
  loose.max_nesting = 200;
  EXPECT_EQ(SyntaxErrorOf("{ " + deep + " }", loose), "");
}

TEST(GraphqlParseTest, DefinitionsAreBounded) {
  // A chain of fragments each spreading the next, which validation and
  // execution would follow recursively.
  std::string chain = "{ a { ...F0 } }";
  for (int i = 0; i < 600; ++i) {
    chain += " fragment F" + std::to_string(i) + " on A { ...F" + std::to_string(i + 1) + " }";
  }
  EXPECT_NE(SyntaxErrorOf(chain).find("Document has more than 500 definitions."),
            std::string::npos);
}

// ---- Safety scan -----------------------------------------------------------

std::string ScanOf(const std::string& text, SafetyLimits limits = {}) {
  return CheckQuerySafety(ParseDocument(text), limits).value_or("");
}

std::string Repeat(int n, const std::string& item) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i > 0 ? " " : "") + item + std::to_string(i);
  return out;
}

TEST(GraphqlSafetyTest, WithinLimits) {
  EXPECT_EQ(ScanOf("{ " + Repeat(10, "a") + " }"), "");
  EXPECT_EQ(ScanOf("{ x { " + Repeat(10, "k: a") + " } }").size(), 0u);
}

TEST(GraphqlSafetyTest, RootFields) {
  EXPECT_EQ(ScanOf("query { " + Repeat(12, "a") + " }"),
            "GraphQL queries should have at most 10 root fields, got 12 root fields. To increase "
            "the limit, set the MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS environment variable.");
  SafetyLimits wider;
  wider.max_root_fields = 12;
  EXPECT_EQ(ScanOf("query { " + Repeat(12, "a") + " }", wider), "");
  // Root fields of every operation count, not only the one executed.
  EXPECT_NE(ScanOf("query A { " + Repeat(6, "a") + " } query B { " + Repeat(6, "b") + " }"), "");
}

TEST(GraphqlSafetyTest, AliasesCountAcrossFragmentsOfOneLevel) {
  std::string aliases;
  for (int i = 0; i < 12; ++i) aliases += " e" + std::to_string(i) + ": experiment { name }";
  EXPECT_EQ(ScanOf("{ g {" + aliases + " } }"),
            "GraphQL queries should have at most 10 aliases, got 12 aliases. To increase the "
            "limit, set the MLFLOW_SERVER_GRAPHQL_MAX_ALIASES environment variable.");
  // Six in a fragment, six inline: one level, twelve aliases.
  std::string six_a, six_b;
  for (int i = 0; i < 6; ++i) six_a += " a" + std::to_string(i) + ": n";
  for (int i = 0; i < 6; ++i) six_b += " b" + std::to_string(i) + ": n";
  EXPECT_NE(ScanOf("{ g { ...F ... {" + six_b + " } } } fragment F on G {" + six_a + " }")
                .find("got 12 aliases"),
            std::string::npos);
  // Twelve aliases on two levels are six per level.
  EXPECT_EQ(ScanOf("{ g {" + six_a + " x {" + six_b + " } } }"), "");
  SafetyLimits wider;
  wider.max_aliases = 12;
  EXPECT_EQ(ScanOf("{ g {" + aliases + " } }", wider), "");
}

TEST(GraphqlSafetyTest, Depth) {
  std::string inner = "name";
  for (int i = 0; i < 12; ++i) inner = "name { " + inner + " }";
  EXPECT_EQ(ScanOf("{ a { b { " + inner + " } } }"), "Query exceeds maximum depth of 10");
  std::string nine = "x";
  for (int i = 0; i < 9; ++i) nine = "x { " + nine + " }";
  EXPECT_EQ(ScanOf("{ " + nine + " }"), "");  // ten levels
  EXPECT_EQ(ScanOf("{ x { " + nine + " } }"), "Query exceeds maximum depth of 10");
}

TEST(GraphqlSafetyTest, TotalSelections) {
  std::string fields;
  for (int i = 0; i < 1002; ++i) fields += " f" + std::to_string(i) + " { name }";
  EXPECT_EQ(ScanOf("{ a { b {" + fields + " } } }"),
            "Query exceeds maximum total selections of 1000");
  // A fragment spread twice on one level counts once; a self-spreading
  // fragment ends at the depth limit instead of looping.
  EXPECT_EQ(ScanOf("{ a { ...F ...F } } fragment F on A { b }"), "");
  EXPECT_EQ(ScanOf("{ a { ...F } } fragment F on A { a { ...F } }"),
            "Query exceeds maximum depth of 10");
}

TEST(GraphqlSafetyTest, LimitsFromEnvironment) {
  setenv("MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS", "3", 1);
  setenv("MLFLOW_SERVER_GRAPHQL_MAX_ALIASES", "not a number", 1);
  SafetyLimits limits = SafetyLimits::FromEnvironment();
  unsetenv("MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS");
  unsetenv("MLFLOW_SERVER_GRAPHQL_MAX_ALIASES");
  EXPECT_EQ(limits.max_root_fields, 3);
  EXPECT_EQ(limits.max_aliases, 10);
  EXPECT_EQ(SafetyLimits::FromEnvironment().max_root_fields, 10);
}

// ---- Validation and execution ----------------------------------------------

constexpr std::string_view kSchema = R"(
  directive @component(name: String!) on QUERY | MUTATION
  scalar LongString
  type Query {
    run(input: RunInput): Run
    echo(text: String, count: Int, big: LongString, kind: Kind, flags: [Boolean]): String
    failing: Run
  }
  type Mutation { touch(id: String): Run }
  """A run."""
  type Run {
    runId: String
    startTime: LongString
    endTime: LongString
    value: Float
    done: Boolean
    steps: Int
    status: Kind
    tags: [Tag!]
    parent: Run
  }
  type Tag { key: String value: String }
  enum Kind { RUNNING FINISHED }
  input RunInput { runId: String, kinds: [Kind], limit: Int = 5, when: LongString }
)";

class GraphqlExecuteTest : public ::testing::Test {
 protected:
  GraphqlExecuteTest() : schema_(Schema::FromText(kSchema)) {
    schema_.SetResolver("Query", "run", [this](const Json&, const Json& arguments) {
      last_arguments_ = arguments;
      return Json{{"run_id", "r1"},
                  {"start_time", 1796608033155},
                  {"value", "NaN"},
                  {"tags", {{{"key", "k"}, {"value", "v"}}}}};
    });
    schema_.SetResolver("Query", "echo", [this](const Json&, const Json& arguments) {
      last_arguments_ = arguments;
      return arguments.value("text", Json("none"));
    });
    schema_.SetResolver("Query", "failing", [](const Json&, const Json&) -> Json {
      ThrowNotFound("Run with id=x not found");
    });
  }

  OrderedJson Run(const std::string& query, const Json& variables = nullptr,
                  const std::string& operation = "") {
    return Respond(schema_, query, variables, operation, SafetyLimits{});
  }

  std::string FirstError(const std::string& query, const Json& variables = nullptr,
                         const std::string& operation = "") {
    OrderedJson body = Run(query, variables, operation);
    if (!body["errors"].is_array() || body["errors"].empty()) return "";
    EXPECT_TRUE(body["data"].is_null()) << body.dump();
    return body["errors"][0].get<std::string>();
  }

  Schema schema_;
  Json last_arguments_;
};

TEST_F(GraphqlExecuteTest, ProjectsLikeGraphene) {
  OrderedJson body = Run(
      "query Q @component(name: \"x\") { __typename r: run { __typename runId startTime endTime "
      "value done steps status tags { key } parent { runId tags { key } } } }");
  EXPECT_TRUE(body["errors"].is_null()) << body.dump();
  EXPECT_EQ(body["data"].dump(),
            R"({"__typename":"Query","r":{"__typename":"Run","runId":"r1",)"
            R"("startTime":"1796608033155","endTime":"0","value":null,"done":false,"steps":0,)"
            R"("status":null,"tags":[{"key":"k"}],"parent":{"runId":"","tags":[]}}})");
}

TEST_F(GraphqlExecuteTest, ArgumentsAreCoerced) {
  Run(R"({ run(input: {runId: "a", kinds: RUNNING, when: 12345678901234}) { runId } })");
  EXPECT_EQ(last_arguments_.dump(),
            R"({"input":{"kinds":["RUNNING"],"limit":5,"runId":"a","when":12345678901234}})");
  Run(R"(query($in: RunInput!) { run(input: $in) { runId } })",
      Json{{"in", {{"runId", "b"}, {"when", "77"}, {"kinds", {"FINISHED"}}}}});
  EXPECT_EQ(last_arguments_.dump(),
            R"({"input":{"kinds":["FINISHED"],"limit":5,"runId":"b","when":77}})");
  // An object literal holding a variable that was not given leaves the field out.
  Run(R"(query($id: String) { run(input: {runId: $id}) { runId } })");
  EXPECT_EQ(last_arguments_.dump(), R"({"input":{"limit":5}})");
}

TEST_F(GraphqlExecuteTest, FieldErrorsNullTheFieldOnly) {
  OrderedJson body = Run("{ failing { runId } echo(text: \"hi\") }");
  EXPECT_EQ(body.dump(),
            R"({"data":{"failing":null,"echo":"hi"},"errors":["Run with id=x not found"]})");
}

TEST_F(GraphqlExecuteTest, FragmentsAndDirectives) {
  OrderedJson body =
      Run("query($no: Boolean!) { run { ...A ... on Run { steps } ... @include(if: $no) { done } "
          "parent @skip(if: true) { runId } } } fragment A on Run { runId tags { ...T } } "
          "fragment T on Tag { value }",
          Json{{"no", false}});
  EXPECT_EQ(body["data"].dump(), R"({"run":{"runId":"r1","tags":[{"value":"v"}],"steps":0}})");
}

TEST_F(GraphqlExecuteTest, ValidationErrors) {
  EXPECT_EQ(FirstError("{ run { bogus } }"), "Cannot query field 'bogus' on type 'Run'.");
  EXPECT_EQ(FirstError("mutation { run { runId } }"),
            "Cannot query field 'run' on type 'Mutation'.");
  EXPECT_EQ(FirstError("{ echo(bogus: 1) }"), "Unknown argument 'bogus' on field 'Query.echo'.");
  EXPECT_EQ(FirstError("{ run }"),
            "Field 'run' of type 'Run' must have a selection of subfields. Did you mean "
            "'run { ... }'?");
  EXPECT_EQ(FirstError("{ echo { x } }"),
            "Field 'echo' must not have a selection since type 'String' has no subfields.");
  EXPECT_EQ(FirstError("{ echo(text: 5) }"), "String cannot represent a non string value: 5");
  EXPECT_EQ(FirstError("{ echo(count: \"x\") }"), "Int cannot represent non-integer value: \"x\"");
  EXPECT_EQ(FirstError("{ echo(big: \"5\") }"),
            "Expected value of type 'LongString', found \"5\".");
  EXPECT_EQ(FirstError("{ echo(kind: DONE) }"), "Value 'DONE' does not exist in 'Kind' enum.");
  EXPECT_EQ(FirstError("{ run(input: {nope: 1}) { runId } }"),
            "Field 'nope' is not defined by type 'RunInput'.");
  EXPECT_EQ(FirstError("{ run { ...F } } fragment F on Tag { key }"),
            "Fragment 'F' cannot be spread here as objects of type 'Run' can never be of type "
            "'Tag'.");
  EXPECT_EQ(FirstError("{ run { ...Nope } }"), "Unknown fragment 'Nope'.");
  // (A cycle through sub-selections ends at the safety scan's depth limit first.)
  EXPECT_EQ(FirstError("{ run { ...F } } fragment F on Run { runId ...G } "
                       "fragment G on Run { ...F }"),
            "Cannot spread fragment 'F' within itself via G.");
  EXPECT_EQ(FirstError("query Q { echo(text: $t) }"),
            "Variable '$t' is not defined by operation 'Q'.");
  EXPECT_EQ(FirstError("query Q { run { ...F } } fragment F on Run { parent { runId } "
                       "p2: parent { runId } } fragment G on Run { runId } "
                       "query R($x: String) { echo(text: $x) run { ...H } } "
                       "fragment H on Run { tags @include(if: $y) { key } }"),
            "Variable '$y' is not defined by operation 'R'.");
  EXPECT_EQ(FirstError("query Q($unused: Int) { echo }"),
            "Variable '$unused' is never used in operation 'Q'.");
  EXPECT_EQ(FirstError("query($r: Run) { echo(text: $r) }"),
            "Variable '$r' cannot be non-input type 'Run'.");
  EXPECT_EQ(FirstError("{ echo @bogus }"), "Unknown directive '@bogus'.");
  EXPECT_EQ(FirstError("{ __schema { types { name } } }"),
            "Cannot query field '__schema' on type 'Query'.");
}

TEST_F(GraphqlExecuteTest, OperationAndVariableErrors) {
  EXPECT_EQ(FirstError("query A { echo } query B { echo }"),
            "Must provide operation name if query contains multiple operations.");
  EXPECT_EQ(FirstError("query A { echo }", nullptr, "nope"), "Unknown operation named 'nope'.");
  EXPECT_EQ(Run("query A { echo } query B { echo(text: \"b\") }", nullptr, "B")["data"].dump(),
            R"({"echo":"b"})");
  EXPECT_EQ(FirstError("query($t: String!) { echo(text: $t) }"),
            "Variable '$t' of required type 'String!' was not provided.");
  EXPECT_EQ(FirstError("query($t: String!) { echo(text: $t) }", Json{{"t", nullptr}}),
            "Variable '$t' of non-null type 'String!' must not be null.");
  EXPECT_EQ(
      FirstError("query($d: RunInput) { run(input: $d) { runId } }", Json{{"d", {{"limit", "x"}}}}),
      "Variable '$d' got invalid value {'limit': 'x'} at 'd.limit'; Int cannot represent "
      "non-integer value: 'x'");
  EXPECT_EQ(FirstError("subscription { echo }"),
            "Schema is not configured to execute subscription operation.");
}

TEST_F(GraphqlExecuteTest, SafetyScanRunsBeforeValidation) {
  EXPECT_EQ(FirstError("{ " + Repeat(11, "unknown") + " }"),
            "GraphQL queries should have at most 10 root fields, got 11 root fields. To "
            "increase the limit, set the MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS environment "
            "variable.");
}

TEST(GraphqlSchemaTest, RejectsBrokenSchemaText) {
  EXPECT_THROW(Schema::FromText("type Query { a: Missing }"), std::logic_error);
  EXPECT_THROW(Schema::FromText("type Query { a: String"), std::logic_error);
  EXPECT_THROW(Schema::FromText("type Other { a: String }"), std::logic_error);
  Schema schema = Schema::FromText("type Query { a: String }");
  EXPECT_THROW(schema.SetResolver("Query", "b", nullptr), std::logic_error);
}

TEST(GraphqlSchemaTest, SnakeCase) {
  EXPECT_EQ(SnakeCase("experimentId"), "experiment_id");
  EXPECT_EQ(SnakeCase("isDir"), "is_dir");
  EXPECT_EQ(SnakeCase("name"), "name");
}

}  // namespace
}  // namespace slipway::http::graphql
