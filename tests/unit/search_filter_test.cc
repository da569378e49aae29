#include "tracking/search_filter.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace slipway::tracking {
namespace {

using Strings = std::vector<std::string>;

// Runs `fn`, expecting INVALID_PARAMETER_VALUE with `fragment` in the message.
void ExpectInvalid(const std::function<void()>& fn, const std::string& fragment) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << fragment;
    return;
  }
  ADD_FAILURE() << "no error; expected one containing: " << fragment;
}

void ExpectRunFilterInvalid(const std::string& filter, const std::string& fragment) {
  SCOPED_TRACE(filter);
  ExpectInvalid([&] { ParseRunFilter(filter); }, fragment);
}

Comparison OnlyClause(const Filter& f) {
  EXPECT_EQ(f.clauses.size(), 1u);
  return f.clauses.empty() ? Comparison{} : f.clauses[0];
}

std::string StringOf(const Comparison& c) {
  const auto* s = std::get_if<std::string>(&c.value);
  EXPECT_NE(s, nullptr);
  return s ? *s : "";
}

double NumberOf(const Comparison& c) {
  const auto* d = std::get_if<double>(&c.value);
  EXPECT_NE(d, nullptr);
  return d ? *d : -12345;
}

Strings ListOf(const Comparison& c) {
  const auto* l = std::get_if<Strings>(&c.value);
  EXPECT_NE(l, nullptr);
  return l ? *l : Strings{};
}

TEST(ParseRunFilter, EmptyOrBlankMatchesEverything) {
  EXPECT_TRUE(ParseRunFilter("").clauses.empty());
  EXPECT_TRUE(ParseRunFilter("  \t\n ").clauses.empty());
}

TEST(ParseRunFilter, ClausesJoinedByAndInAnyCase) {
  const Filter f = ParseRunFilter(
      "metrics.rmse < 0.5 and params.model = 'xgb' AND tags.team != \"ml\" aNd "
      "attributes.status = 'FINISHED'");
  ASSERT_EQ(f.clauses.size(), 4u);
  EXPECT_EQ(f.clauses[0].kind, EntityKind::kMetric);
  EXPECT_EQ(f.clauses[0].key, "rmse");
  EXPECT_EQ(f.clauses[0].op, CompareOp::kLt);
  EXPECT_DOUBLE_EQ(NumberOf(f.clauses[0]), 0.5);
  EXPECT_EQ(f.clauses[1].kind, EntityKind::kParam);
  EXPECT_EQ(f.clauses[1].key, "model");
  EXPECT_EQ(StringOf(f.clauses[1]), "xgb");
  EXPECT_EQ(f.clauses[2].kind, EntityKind::kTag);
  EXPECT_EQ(f.clauses[2].op, CompareOp::kNe);
  EXPECT_EQ(StringOf(f.clauses[2]), "ml");
  EXPECT_EQ(f.clauses[3].kind, EntityKind::kAttribute);
  EXPECT_EQ(f.clauses[3].key, "status");
}

TEST(ParseRunFilter, NoSpacesNeededAroundOperators) {
  const Filter f = ParseRunFilter("metrics.rmse<=0.5 AND params.x='y'");
  ASSERT_EQ(f.clauses.size(), 2u);
  EXPECT_EQ(f.clauses[0].op, CompareOp::kLe);
  EXPECT_EQ(StringOf(f.clauses[1]), "y");
}

TEST(ParseRunFilter, EveryPrefixSpelling) {
  const struct {
    const char* prefix;
    EntityKind kind;
  } cases[] = {
      {"metric", EntityKind::kMetric},
      {"metrics", EntityKind::kMetric},
      {"param", EntityKind::kParam},
      {"params", EntityKind::kParam},
      {"parameter", EntityKind::kParam},
      {"parameters", EntityKind::kParam},
      {"tag", EntityKind::kTag},
      {"tags", EntityKind::kTag},
      {"dataset", EntityKind::kDataset},
      {"datasets", EntityKind::kDataset},
      {"attribute", EntityKind::kAttribute},
      {"attributes", EntityKind::kAttribute},
      {"attr", EntityKind::kAttribute},
      {"run", EntityKind::kAttribute},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.prefix);
    std::string filter = std::string(c.prefix);
    if (c.kind == EntityKind::kMetric) filter += ".m > 1";
    if (c.kind == EntityKind::kParam || c.kind == EntityKind::kTag) filter += ".k = 'v'";
    if (c.kind == EntityKind::kDataset) filter += ".name = 'v'";
    if (c.kind == EntityKind::kAttribute) filter += ".status = 'v'";
    EXPECT_EQ(OnlyClause(ParseRunFilter(filter)).kind, c.kind);
  }
  // Also quoted: MLflow trims backticks from the entity.
  EXPECT_EQ(OnlyClause(ParseRunFilter("`metrics`.m > 1")).kind, EntityKind::kMetric);
}

TEST(ParseRunFilter, BareNamesAreAttributes) {
  const Comparison c = OnlyClause(ParseRunFilter("status = 'RUNNING'"));
  EXPECT_EQ(c.kind, EntityKind::kAttribute);
  EXPECT_EQ(c.key, "status");
  EXPECT_EQ(StringOf(c), "RUNNING");
}

TEST(ParseRunFilter, AttributeAliases) {
  for (const char* filter : {"attributes.created > 5", "Created > 5", "attr.start_time > 5"}) {
    SCOPED_TRACE(filter);
    EXPECT_EQ(OnlyClause(ParseRunFilter(filter)).key, "start_time");
  }
  for (const char* filter : {"attributes.`run name` = 'x'", "`Run name` = 'x'",
                             "run.\"Run Name\" = 'x'", "run_name = 'x'"}) {
    SCOPED_TRACE(filter);
    EXPECT_EQ(OnlyClause(ParseRunFilter(filter)).key, "run_name");
  }
  EXPECT_EQ(OnlyClause(ParseRunFilter("run_id = 'abc'")).key, "run_id");
}

TEST(ParseRunFilter, QuotedKeysKeepOddCharacters) {
  EXPECT_EQ(OnlyClause(ParseRunFilter("tags.`my key` = 'v'")).key, "my key");
  EXPECT_EQ(OnlyClause(ParseRunFilter("tags.\"my-key/1\" = 'v'")).key, "my-key/1");
  EXPECT_EQ(OnlyClause(ParseRunFilter("metrics.`a.b c` > 1")).key, "a.b c");
  EXPECT_EQ(OnlyClause(ParseRunFilter("tags.`it``s` = 'v'")).key, "it`s");
  EXPECT_EQ(OnlyClause(ParseRunFilter("params.`a'b` = 'v'")).key, "a'b");
  // Unquoted keys may hold dots after the first one.
  EXPECT_EQ(OnlyClause(ParseRunFilter("metrics.val.loss < 1")).key, "val.loss");
  EXPECT_EQ(OnlyClause(ParseRunFilter("tags.mlflow.runName = 'x'")).key, "mlflow.runName");
}

TEST(ParseRunFilter, StringValues) {
  EXPECT_EQ(StringOf(OnlyClause(ParseRunFilter("params.p = 'single'"))), "single");
  EXPECT_EQ(StringOf(OnlyClause(ParseRunFilter("params.p = \"double\""))), "double");
  EXPECT_EQ(StringOf(OnlyClause(ParseRunFilter("params.p = \"it's\""))), "it's");
  EXPECT_EQ(StringOf(OnlyClause(ParseRunFilter("params.p = 'it''s'"))), "it's");
  EXPECT_EQ(StringOf(OnlyClause(ParseRunFilter("params.p = 'it\\'s'"))), "it's");
  EXPECT_EQ(StringOf(OnlyClause(ParseRunFilter("params.p = 'a\\b'"))), "a\\b");
  EXPECT_EQ(StringOf(OnlyClause(ParseRunFilter("params.p = ''"))), "");
  EXPECT_EQ(StringOf(OnlyClause(ParseRunFilter("params.p = ' AND x = 1 '"))), " AND x = 1 ");
}

TEST(ParseRunFilter, NumericValues) {
  EXPECT_DOUBLE_EQ(NumberOf(OnlyClause(ParseRunFilter("metrics.m > 3"))), 3);
  EXPECT_DOUBLE_EQ(NumberOf(OnlyClause(ParseRunFilter("metrics.m > -2.5"))), -2.5);
  EXPECT_DOUBLE_EQ(NumberOf(OnlyClause(ParseRunFilter("metrics.m > .5"))), 0.5);
  EXPECT_DOUBLE_EQ(NumberOf(OnlyClause(ParseRunFilter("metrics.m > 1."))), 1);
  EXPECT_DOUBLE_EQ(NumberOf(OnlyClause(ParseRunFilter("metrics.m > 1e-3"))), 0.001);
  EXPECT_DOUBLE_EQ(NumberOf(OnlyClause(ParseRunFilter("metrics.m > +2E2"))), 200);
  EXPECT_DOUBLE_EQ(NumberOf(OnlyClause(ParseRunFilter("start_time >= 1700000000000"))),
                   1700000000000.0);
}

TEST(ParseRunFilter, EveryComparator) {
  const struct {
    const char* filter;
    CompareOp op;
  } cases[] = {
      {"metrics.m = 1", CompareOp::kEq},
      {"metrics.m != 1", CompareOp::kNe},
      {"metrics.m < 1", CompareOp::kLt},
      {"metrics.m <= 1", CompareOp::kLe},
      {"metrics.m > 1", CompareOp::kGt},
      {"metrics.m >= 1", CompareOp::kGe},
      {"params.p LIKE 'a%'", CompareOp::kLike},
      {"params.p like 'a%'", CompareOp::kLike},
      {"tags.t ILIKE 'a%'", CompareOp::kILike},
      {"tags.t iLike 'a%'", CompareOp::kILike},
      {"run_id IN ('a')", CompareOp::kIn},
      {"run_id in ('a')", CompareOp::kIn},
      {"run_id NOT IN ('a')", CompareOp::kNotIn},
      {"run_id not  in ('a')", CompareOp::kNotIn},
      {"tags.t IS NULL", CompareOp::kIsNull},
      {"params.p is null", CompareOp::kIsNull},
      {"tags.t IS NOT NULL", CompareOp::kIsNotNull},
      {"params.p is  not null", CompareOp::kIsNotNull},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.filter);
    EXPECT_EQ(OnlyClause(ParseRunFilter(c.filter)).op, c.op);
  }
}

TEST(ParseRunFilter, StringAttributesTakeStringComparators) {
  for (const char* key : {"run_name", "status", "user_id", "artifact_uri", "run_id"}) {
    for (const char* op : {"=", "!=", "LIKE", "ILIKE"}) {
      const std::string filter = std::string("attributes.") + key + " " + op + " 'x'";
      SCOPED_TRACE(filter);
      EXPECT_EQ(StringOf(OnlyClause(ParseRunFilter(filter))), "x");
    }
  }
}

TEST(ParseRunFilter, Lists) {
  EXPECT_EQ(ListOf(OnlyClause(ParseRunFilter("run_id IN ('a', \"b\",'c')"))),
            (Strings{"a", "b", "c"}));
  EXPECT_EQ(ListOf(OnlyClause(ParseRunFilter("attributes.run_id NOT IN ('a', 'b',)"))),
            (Strings{"a", "b"}));
  EXPECT_EQ(ListOf(OnlyClause(ParseRunFilter("run_id IN ('a')"))), (Strings{"a"}));
  EXPECT_EQ(ListOf(OnlyClause(ParseRunFilter("run_id IN('it''s','x y')"))),
            (Strings{"it's", "x y"}));
  for (const char* key : {"name", "digest", "context"}) {
    const std::string filter = std::string("datasets.") + key + " IN ('a', 'b')";
    SCOPED_TRACE(filter);
    EXPECT_EQ(ListOf(OnlyClause(ParseRunFilter(filter))), (Strings{"a", "b"}));
  }
}

TEST(ParseRunFilter, Datasets) {
  const Filter f = ParseRunFilter(
      "datasets.name = 'train' AND dataset.digest != 'abc' AND datasets.context LIKE 'eval%'");
  ASSERT_EQ(f.clauses.size(), 3u);
  EXPECT_EQ(f.clauses[0].kind, EntityKind::kDataset);
  EXPECT_EQ(f.clauses[0].key, "name");
  EXPECT_EQ(f.clauses[1].key, "digest");
  EXPECT_EQ(f.clauses[2].key, "context");
  EXPECT_EQ(f.clauses[2].op, CompareOp::kLike);
}

TEST(ParseRunFilter, RejectsOr) {
  ExpectRunFilterInvalid("metrics.a > 1 OR metrics.b > 1",
                         "Invalid clause(s) in filter string: 'OR'");
  ExpectRunFilterInvalid("metrics.a > 1 or metrics.b > 1", "'or'");
}

TEST(ParseRunFilter, RejectsBrokenStructure) {
  ExpectRunFilterInvalid("metrics.a > 1 metrics.b > 1", "Expected AND between conditions");
  ExpectRunFilterInvalid("metrics.a > 1 AND", "ends with AND");
  ExpectRunFilterInvalid("AND metrics.a > 1", "Invalid clause(s) in filter string: 'AND'");
  ExpectRunFilterInvalid("metrics.a > 1 AND AND metrics.b > 1", "'AND'");
  ExpectRunFilterInvalid("(metrics.a > 1)", "Invalid clause(s) in filter string: '(metrics.a'");
  ExpectRunFilterInvalid("metrics.a > 1; metrics.b > 1",
                         "Search filter contained multiple expression");
  ExpectRunFilterInvalid("metrics.a", "'metrics.a'. Expected a comparison operator");
  ExpectRunFilterInvalid("metrics.a >", "Expected a value after '>'");
  ExpectRunFilterInvalid("metrics.a > )", "Expected a value after '>', found ')'");
  ExpectRunFilterInvalid("metrics.a BETWEEN 1", "found 'BETWEEN'");
  ExpectRunFilterInvalid("tags.a-b = 'x'", "after 'tags.a', found '-b'");
  ExpectRunFilterInvalid("tags.t = 'open", "the quoted text 'open is not closed");
  ExpectRunFilterInvalid("tags.`open = 'x'", "is not closed");
  ExpectRunFilterInvalid("tags.`a`b = 'x'", "Invalid identifier 'tags.`a`b'");
  ExpectRunFilterInvalid("tags. = 'x'", "Invalid identifier 'tags.'");
  ExpectRunFilterInvalid("tags.t IS 'x'", "found 'IS'");
  ExpectRunFilterInvalid("run_id NOT ('a')", "found 'NOT'");
}

TEST(ParseRunFilter, RejectsUnknownEntitiesAndKeys) {
  ExpectRunFilterInvalid("foo.x = 'a'",
                         "Invalid entity type 'foo'. Valid values are ['metric', "
                         "'parameter', 'tag', 'attribute', 'dataset']");
  ExpectRunFilterInvalid("Metrics.x > 1", "Invalid entity type 'Metrics'");
  ExpectRunFilterInvalid("attributes.foo = 'a'", "Invalid attribute key 'foo' specified");
  ExpectRunFilterInvalid("experiment_id = '1'", "Invalid attribute key 'experiment_id'");
  ExpectRunFilterInvalid("datasets.foo = 'a'", "Invalid dataset key 'foo' specified");
}

TEST(ParseRunFilter, RejectsComparatorsAnEntityDoesNotTake) {
  ExpectRunFilterInvalid("metrics.m LIKE 1", "Invalid comparator 'LIKE' not one of");
  ExpectRunFilterInvalid("metrics.m == 1", "Invalid comparator '==' not one of");
  ExpectRunFilterInvalid("metrics.m <> 1", "Invalid comparator '<>'");
  ExpectRunFilterInvalid("metrics.m IN ('1')", "Invalid comparator 'IN'");
  ExpectRunFilterInvalid("params.p > 'a'", "Invalid comparator '>' not one of");
  ExpectRunFilterInvalid("tags.t IN ('a')", "Invalid comparator 'IN' not one of");
  ExpectRunFilterInvalid("attributes.status < 'a'", "Invalid comparator '<'");
  ExpectRunFilterInvalid("attributes.start_time LIKE 1", "Invalid comparator 'LIKE'");
  ExpectRunFilterInvalid("end_time IN ('1')", "Invalid comparator 'IN'");
  ExpectRunFilterInvalid("datasets.name > 'a'", "Invalid comparator '>'");
  ExpectRunFilterInvalid("metrics.m IS NULL",
                         "IS NULL / IS NOT NULL is only supported for tags and params, not for "
                         "'metric' 'm'");
  ExpectRunFilterInvalid("attributes.status IS NOT NULL", "not for 'attribute' 'status'");
  ExpectRunFilterInvalid("datasets.name IS NULL", "not for 'dataset' 'name'");
}

TEST(ParseRunFilter, RejectsValuesOfTheWrongType) {
  ExpectRunFilterInvalid("metrics.m = 'a'", "Expected numeric value type for metric. Found 'a'");
  ExpectRunFilterInvalid("metrics.m < 1e", "Expected numeric value type for metric. Found 1e");
  ExpectRunFilterInvalid("metrics.m < abc", "Found abc");
  ExpectRunFilterInvalid("params.p = 1",
                         "Expected a quoted string value for parameter (e.g. 'my-value'). Got "
                         "value 1");
  ExpectRunFilterInvalid("tags.t = 1.5", "quoted string value for tag");
  ExpectRunFilterInvalid("params.p = abc",
                         "Parameter value is either not quoted or unidentified quote types used "
                         "for string value abc");
  ExpectRunFilterInvalid("tags.t = `abc`", "string value `abc`");
  ExpectRunFilterInvalid("attributes.start_time = '1'",
                         "Expected numeric value type for numeric attribute: start_time. Found "
                         "'1'");
  ExpectRunFilterInvalid("attributes.created > 'x'", "numeric attribute: start_time");
  ExpectRunFilterInvalid("status = 1", "quoted string value for attributes");
  ExpectRunFilterInvalid("datasets.name = 1", "quoted string value for dataset attributes");
}

TEST(ParseRunFilter, RejectsBadLists) {
  ExpectRunFilterInvalid("attributes.status IN ('a')",
                         "Only ['run_id'] attributes support comparison with a list of quoted "
                         "string values.");
  ExpectRunFilterInvalid("params.p = ('a')", "Only attributes support comparison with a list");
  ExpectRunFilterInvalid("run_id IN ()",
                         "expected a non-empty list of string values, but got "
                         "empty list");
  ExpectRunFilterInvalid("run_id IN (1, 2)", "but got different type in list: (1, 2)");
  ExpectRunFilterInvalid("run_id IN ('a' 'b')", "ill-formed list");
  ExpectRunFilterInvalid("run_id IN ('a',, 'b')", "ill-formed list");
  ExpectRunFilterInvalid("run_id IN ('a'", "ill-formed list");
  ExpectRunFilterInvalid("run_id IN 'a'", "Expected a list of quoted string values");
  ExpectRunFilterInvalid("run_id = ('a', 'b')", "'=' does not take a list of values");
}

TEST(ParseRunOrderBy, Forms) {
  const auto terms =
      ParseRunOrderBy({"metrics.rmse DESC", "attributes.start_time ASC", "params.x", "tags.`a b`",
                       "run_name desc", "metric.\"val loss\"  asc", "end_time"});
  ASSERT_EQ(terms.size(), 7u);
  EXPECT_EQ(terms[0].kind, EntityKind::kMetric);
  EXPECT_EQ(terms[0].key, "rmse");
  EXPECT_FALSE(terms[0].ascending);
  EXPECT_EQ(terms[1].kind, EntityKind::kAttribute);
  EXPECT_EQ(terms[1].key, "start_time");
  EXPECT_TRUE(terms[1].ascending);
  EXPECT_EQ(terms[2].kind, EntityKind::kParam);
  EXPECT_TRUE(terms[2].ascending);
  EXPECT_EQ(terms[3].kind, EntityKind::kTag);
  EXPECT_EQ(terms[3].key, "a b");
  EXPECT_EQ(terms[4].key, "run_name");
  EXPECT_FALSE(terms[4].ascending);
  EXPECT_EQ(terms[5].key, "val loss");
  EXPECT_TRUE(terms[5].ascending);
  EXPECT_EQ(terms[6].key, "end_time");
  EXPECT_EQ(ParseRunOrderBy({"Created DESC"})[0].key, "start_time");
  EXPECT_EQ(ParseRunOrderBy({"run.created"})[0].key, "start_time");
}

TEST(ParseRunOrderBy, Errors) {
  const auto invalid = [](Strings order_by, const std::string& fragment) {
    SCOPED_TRACE(order_by.empty() ? "" : order_by.back());
    ExpectInvalid([&] { ParseRunOrderBy(order_by); }, fragment);
  };
  invalid({"metrics.rmse up"}, "Invalid ordering key in order_by clause 'metrics.rmse up'");
  invalid({"metrics.rmse DESC ASC"},
          "Invalid order_by clause 'metrics.rmse DESC ASC'. Could not be parsed.");
  invalid({""}, "Invalid order_by clause ''. Could not be parsed.");
  invalid({"metrics.a, metrics.b"}, "Could not be parsed");
  invalid({"foo.x"}, "Invalid entity type 'foo'");
  invalid({"attributes.foo"}, "Invalid attribute key 'foo' specified");
  invalid({"`run name`"}, "Invalid attribute key 'run name'");
  invalid({"datasets.name"}, "Invalid identifier type 'dataset'");
  invalid({"metrics.a", "metric.a DESC"}, "`order_by` contains duplicate fields");
  invalid({"created", "start_time"}, "duplicate fields");
}

TEST(ParseExperimentFilter, ValidForms) {
  const Filter f = ParseExperimentFilter(
      "name LIKE 'exp%' AND attribute.creation_time >= 5 AND last_update_time < 10 AND "
      "tags.team = 'ml' AND tag.`my key` IS NULL AND experiment_id IN ('1', '2')");
  ASSERT_EQ(f.clauses.size(), 6u);
  EXPECT_EQ(f.clauses[0].key, "name");
  EXPECT_EQ(f.clauses[0].op, CompareOp::kLike);
  EXPECT_DOUBLE_EQ(NumberOf(f.clauses[1]), 5);
  EXPECT_EQ(f.clauses[2].key, "last_update_time");
  EXPECT_EQ(f.clauses[3].kind, EntityKind::kTag);
  EXPECT_EQ(f.clauses[4].key, "my key");
  EXPECT_EQ(f.clauses[4].op, CompareOp::kIsNull);
  EXPECT_EQ(ListOf(f.clauses[5]), (Strings{"1", "2"}));
  EXPECT_EQ(StringOf(OnlyClause(ParseExperimentFilter("experiment_id != '7'"))), "7");
}

TEST(ParseExperimentFilter, Errors) {
  const auto invalid = [](const std::string& filter, const std::string& fragment) {
    SCOPED_TRACE(filter);
    ExpectInvalid([&] { ParseExperimentFilter(filter); }, fragment);
  };
  invalid("metrics.x > 1",
          "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')");
  invalid("attributes.name = 'a'", "Invalid entity type 'attributes'");
  invalid("artifact_location = 'x'", "Invalid attribute key 'artifact_location'");
  invalid("name IN ('a')", "Invalid comparator 'IN'");
  invalid("name > 'a'", "Invalid comparator '>'");
  invalid("name IS NULL",
          "IS NULL / IS NOT NULL is only supported for tags, not for attribute "
          "'name'");
  invalid("creation_time > 5.5", "Invalid value for numeric attribute 'creation_time': '5.5'");
  invalid("creation_time > '5'", "Expected numeric value type for numeric attribute");
  invalid("experiment_id = 'abc'", "Invalid experiment ID 'abc'");
  invalid("experiment_id IN ('1', 'x')", "Invalid experiment ID 'x'");
  invalid("experiment_id LIKE '1%'", "Invalid comparator 'LIKE'");
  invalid("experiment_id = 1", "quoted string value");
  invalid("tags.t > 'a'", "Invalid comparator '>'");
}

TEST(ParseExperimentOrderBy, AttributesOnly) {
  const auto terms =
      ParseExperimentOrderBy({"name", "creation_time DESC", "attribute.last_update_time asc"});
  ASSERT_EQ(terms.size(), 3u);
  EXPECT_EQ(terms[0].key, "name");
  EXPECT_FALSE(terms[1].ascending);
  EXPECT_EQ(terms[2].key, "last_update_time");
  ExpectInvalid([] { ParseExperimentOrderBy({"tags.team"}); }, "Invalid order_by entity: tag");
  ExpectInvalid([] { ParseExperimentOrderBy({"foo"}); }, "Invalid attribute key 'foo'");
}

TEST(ParseLoggedModelFilter, ValidForms) {
  const Filter f = ParseLoggedModelFilter(
      "metrics.accuracy > 0.9 AND params.lr = '0.1' AND tags.`my tag` ILIKE 'A%' AND "
      "name IN ('a', 'b') AND creation_time >= 100 AND attributes.last_updated_timestamp < 5 "
      "AND status = 'READY'");
  ASSERT_EQ(f.clauses.size(), 7u);
  EXPECT_EQ(f.clauses[0].kind, EntityKind::kMetric);
  EXPECT_DOUBLE_EQ(NumberOf(f.clauses[0]), 0.9);
  EXPECT_EQ(f.clauses[1].kind, EntityKind::kParam);
  EXPECT_EQ(f.clauses[2].key, "my tag");
  EXPECT_EQ(ListOf(f.clauses[3]), (Strings{"a", "b"}));
  EXPECT_EQ(f.clauses[4].key, "creation_timestamp");
  EXPECT_EQ(f.clauses[5].key, "last_updated_timestamp");
  EXPECT_EQ(f.clauses[6].key, "status");
  EXPECT_EQ(ListOf(OnlyClause(ParseLoggedModelFilter("params.p NOT IN ('x')"))), (Strings{"x"}));
}

TEST(ParseLoggedModelFilter, Errors) {
  const auto invalid = [](const std::string& filter, const std::string& fragment) {
    SCOPED_TRACE(filter);
    ExpectInvalid([&] { ParseLoggedModelFilter(filter); }, fragment);
  };
  invalid("metric.x > 1",
          "Invalid entity type: 'metric'. Expected one of ['attributes', "
          "'metrics', 'params', 'tags'].");
  invalid("datasets.name = 'x'", "Invalid entity type: 'datasets'");
  invalid("bogus = 'x'", "Invalid attribute key 'bogus'");
  invalid("metrics.x LIKE 'a'", "Invalid comparison operator for metrics.x: 'LIKE'");
  invalid("creation_time LIKE 'a'", "Invalid comparison operator for creation_time: 'LIKE'");
  invalid("name > 'a'", "Invalid comparison operator for name: '>'");
  invalid("tags.t IS NULL", "Invalid comparison operator for tags.t: 'IS NULL'");
  invalid("metrics.x > 'abc'", "Expected numeric value type for metric. Found 'abc'");
  invalid("params.p = 3", "quoted string value for parameter");
  invalid("metrics.x > 1 OR metrics.y > 1", "'OR'");
}

TEST(ParseLoggedModelOrderBy, FieldNames) {
  OrderTerm t = ParseLoggedModelOrderBy("metrics.accuracy", false);
  EXPECT_EQ(t.kind, EntityKind::kMetric);
  EXPECT_EQ(t.key, "accuracy");
  EXPECT_FALSE(t.ascending);
  t = ParseLoggedModelOrderBy("metrics.`val loss`", true);
  EXPECT_EQ(t.key, "val loss");
  t = ParseLoggedModelOrderBy("creation_time", true);
  EXPECT_EQ(t.kind, EntityKind::kAttribute);
  EXPECT_EQ(t.key, "creation_timestamp");
  EXPECT_EQ(ParseLoggedModelOrderBy(" name ", true).key, "name");
  ExpectInvalid([] { ParseLoggedModelOrderBy("params.lr", true); },
                "Invalid order by field name: params, only `metrics.<name>` is allowed.");
  ExpectInvalid([] { ParseLoggedModelOrderBy("bogus", true); },
                "Invalid order by field name: bogus.");
}

TEST(ParseRegisteredModelFilter, ValidForms) {
  const Filter f = ParseRegisteredModelFilter(
      "name = 'alpha' AND attribute.name LIKE 'a%' AND tags.team ILIKE 'ML' AND tag.`my key` != "
      "\"x\" AND name IN ('a', 'b') AND name not in ('c') AND name ilike 'A%'");
  ASSERT_EQ(f.clauses.size(), 7u);
  EXPECT_EQ(f.clauses[0].kind, EntityKind::kAttribute);
  EXPECT_EQ(f.clauses[0].key, "name");
  EXPECT_EQ(f.clauses[0].op, CompareOp::kEq);
  EXPECT_EQ(StringOf(f.clauses[0]), "alpha");
  EXPECT_EQ(f.clauses[1].key, "name");
  EXPECT_EQ(f.clauses[1].op, CompareOp::kLike);
  EXPECT_EQ(f.clauses[2].kind, EntityKind::kTag);
  EXPECT_EQ(f.clauses[2].key, "team");
  EXPECT_EQ(f.clauses[2].op, CompareOp::kILike);
  EXPECT_EQ(StringOf(f.clauses[2]), "ML");
  EXPECT_EQ(f.clauses[3].kind, EntityKind::kTag);
  EXPECT_EQ(f.clauses[3].key, "my key");
  EXPECT_EQ(f.clauses[3].op, CompareOp::kNe);
  EXPECT_EQ(StringOf(f.clauses[3]), "x");
  EXPECT_EQ(f.clauses[4].op, CompareOp::kIn);
  EXPECT_EQ(ListOf(f.clauses[4]), (Strings{"a", "b"}));
  EXPECT_EQ(f.clauses[5].op, CompareOp::kNotIn);
  EXPECT_EQ(ListOf(f.clauses[5]), (Strings{"c"}));
  EXPECT_EQ(f.clauses[6].op, CompareOp::kILike);
  EXPECT_TRUE(ParseRegisteredModelFilter("").clauses.empty());
}

TEST(ParseRegisteredModelFilter, Errors) {
  const auto invalid = [](const std::string& filter, const std::string& fragment) {
    SCOPED_TRACE(filter);
    ExpectInvalid([&] { ParseRegisteredModelFilter(filter); }, fragment);
  };
  invalid("name > 'a'", "Invalid comparator for attribute: >");
  invalid("name == 'alpha'", "Invalid comparator for attribute: ==");
  invalid("name IS NULL", "Invalid comparator for attribute: IS NULL");
  invalid("tags.team > 'a'", "Invalid comparator for tag: >");
  invalid("tags.t IS NOT NULL", "Invalid comparator for tag: IS NOT NULL");
  invalid("tags.team IN ('a')",
          "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('a')");
  invalid("tags.t = 1", "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1");
  invalid("name = 1",
          "Expected a quoted string value or a list of quoted string values for attributes. Got "
          "value 1");
  invalid("name = abc",
          "Parameter value is either not quoted or unidentified quote types used for string "
          "value abc. Use either single or double quotes.");
  invalid("tags.t = abc", "unidentified quote types used for string value abc");
  invalid("name = ('a', 'b')", "Comparator '=' does not take a list of values");
  invalid("name IN 'a'", "Expected a list of quoted string values such as ('a', 'b') after IN");
  invalid("name IN (1, 2)", "but got different type in list: (1, 2)");
  invalid("name IN ()", "expected a non-empty list of string values, but got empty list");
  invalid("foo = 'x'", "Invalid attribute key 'foo' specified. Valid keys are '{'name'}'");
  invalid("creation_timestamp > 1", "Invalid attribute key 'creation_timestamp' specified");
  invalid("Name = 'alpha'", "Invalid attribute key 'Name' specified");
  invalid("attributes.name = 'x'",
          "Invalid entity type 'attributes'. Valid entity types are ('attribute', 'tag', 'tags')");
  invalid("metrics.x > 1", "Invalid entity type 'metrics'");
  invalid("name = 'a' OR name = 'b'", "Invalid clause(s) in filter string: 'OR'");
}

TEST(ParseRegisteredModelOrderBy, NameAndLastUpdateTime) {
  EXPECT_TRUE(ParseRegisteredModelOrderBy({}).empty());
  const auto terms = ParseRegisteredModelOrderBy({"timestamp DESC", "`name`"});
  ASSERT_EQ(terms.size(), 2u);
  EXPECT_EQ(terms[0].kind, EntityKind::kAttribute);
  EXPECT_EQ(terms[0].key, "last_updated_timestamp");
  EXPECT_FALSE(terms[0].ascending);
  EXPECT_EQ(terms[1].kind, EntityKind::kAttribute);
  EXPECT_EQ(terms[1].key, "name");
  EXPECT_TRUE(terms[1].ascending);
  const auto one = ParseRegisteredModelOrderBy({"last_updated_timestamp asc"});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].key, "last_updated_timestamp");
  EXPECT_TRUE(one[0].ascending);
  EXPECT_FALSE(ParseRegisteredModelOrderBy({"name desc"})[0].ascending);
}

TEST(ParseRegisteredModelOrderBy, Errors) {
  const auto invalid = [](Strings order_by, const std::string& fragment) {
    SCOPED_TRACE(order_by.empty() ? "" : order_by.back());
    ExpectInvalid([&] { ParseRegisteredModelOrderBy(order_by); }, fragment);
  };
  invalid({"creation_timestamp"},
          "Invalid order by key 'creation_timestamp' specified. Valid keys are '{'name', "
          "'timestamp'}'");
  invalid({"attribute.name"}, "Invalid order by key 'attribute.name' specified");
  invalid({"tags.team DESC"}, "Invalid order by key 'tags.team' specified");
  invalid({"Name"}, "Invalid order by key 'Name' specified");
  invalid({"name up"}, "Invalid ordering key in order_by clause 'name up'.");
  invalid({"name DESC ASC"}, "Invalid order_by clause 'name DESC ASC'. Could not be parsed.");
  invalid({""}, "Invalid order_by clause ''. Could not be parsed.");
  invalid({"timestamp", "last_updated_timestamp"},
          "`order_by` contains duplicate fields: ['timestamp', 'last_updated_timestamp']");
  invalid({"name", "name DESC"}, "`order_by` contains duplicate fields: ['name', 'name DESC']");
}

TEST(ParseModelVersionFilter, ValidForms) {
  const Filter f = ParseModelVersionFilter(
      "name = 'm' AND version_number >= 2 AND run_id IN ('r1', 'r2') AND source_path LIKE "
      "'s3://%' AND tags.env != 'prod' AND attribute.run_id NOT IN ('x') AND name ILIKE 'M%' AND "
      "tag.owner LIKE 'b%'");
  ASSERT_EQ(f.clauses.size(), 8u);
  EXPECT_EQ(f.clauses[0].kind, EntityKind::kAttribute);
  EXPECT_EQ(f.clauses[0].key, "name");
  EXPECT_EQ(StringOf(f.clauses[0]), "m");
  EXPECT_EQ(f.clauses[1].key, "version_number");
  EXPECT_EQ(f.clauses[1].op, CompareOp::kGe);
  EXPECT_DOUBLE_EQ(NumberOf(f.clauses[1]), 2);
  EXPECT_EQ(f.clauses[2].key, "run_id");
  EXPECT_EQ(f.clauses[2].op, CompareOp::kIn);
  EXPECT_EQ(ListOf(f.clauses[2]), (Strings{"r1", "r2"}));
  EXPECT_EQ(f.clauses[3].key, "source_path");
  EXPECT_EQ(f.clauses[3].op, CompareOp::kLike);
  EXPECT_EQ(StringOf(f.clauses[3]), "s3://%");
  EXPECT_EQ(f.clauses[4].kind, EntityKind::kTag);
  EXPECT_EQ(f.clauses[4].key, "env");
  EXPECT_EQ(f.clauses[4].op, CompareOp::kNe);
  EXPECT_EQ(f.clauses[5].key, "run_id");
  EXPECT_EQ(f.clauses[5].op, CompareOp::kNotIn);
  EXPECT_EQ(ListOf(f.clauses[5]), (Strings{"x"}));
  EXPECT_EQ(f.clauses[6].op, CompareOp::kILike);
  EXPECT_EQ(f.clauses[7].kind, EntityKind::kTag);
  EXPECT_EQ(f.clauses[7].key, "owner");
}

TEST(ParseModelVersionFilter, VersionNumberIsAnIntegerBareOrQuoted) {
  const struct {
    const char* filter;
    CompareOp op;
    double value;
  } cases[] = {
      {"version_number = 3", CompareOp::kEq, 3},      {"version_number != 3", CompareOp::kNe, 3},
      {"version_number < 10", CompareOp::kLt, 10},    {"version_number <= 1", CompareOp::kLe, 1},
      {"version_number > -1", CompareOp::kGt, -1},    {"version_number >= 2", CompareOp::kGe, 2},
      {"version_number = '2'", CompareOp::kEq, 2},    {"version_number = ' 2 '", CompareOp::kEq, 2},
      {"version_number = \"+7\"", CompareOp::kEq, 7},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.filter);
    const Comparison clause = OnlyClause(ParseModelVersionFilter(c.filter));
    EXPECT_EQ(clause.kind, EntityKind::kAttribute);
    EXPECT_EQ(clause.key, "version_number");
    EXPECT_EQ(clause.op, c.op);
    EXPECT_DOUBLE_EQ(NumberOf(clause), c.value);
  }
}

TEST(ParseModelVersionFilter, Errors) {
  const auto invalid = [](const std::string& filter, const std::string& fragment) {
    SCOPED_TRACE(filter);
    ExpectInvalid([&] { ParseModelVersionFilter(filter); }, fragment);
  };
  invalid("version_number = 1.5", "Invalid value for numeric attribute 'version_number': 1.5");
  invalid("version_number > 1e0", "Invalid value for numeric attribute 'version_number': 1e0");
  invalid("version_number = 'abc'", "Invalid value for numeric attribute 'version_number': 'abc'");
  invalid("version_number = '1.5'", "Invalid value for numeric attribute 'version_number': '1.5'");
  invalid("version_number LIKE '1'", "Invalid comparator for attribute version_number: LIKE");
  invalid("version_number == 1", "Invalid comparator for attribute version_number: ==");
  invalid("version_number IS NULL", "Invalid comparator for attribute version_number: IS NULL");
  invalid("version_number = abc", "unidentified quote types used for string value abc");
  invalid("version_number IN ('1')",
          "Only ['name', 'run_id'] attributes support comparison with a list of quoted string "
          "values.");
  invalid("source_path IN ('a')", "Only ['name', 'run_id'] attributes support comparison");
  invalid("source_path NOT IN ('a')", "Only ['name', 'run_id'] attributes support comparison");
  invalid("name = 1",
          "Only the '{'creation_timestamp', 'last_updated_timestamp', 'version_number'}' "
          "attributes support comparison with numeric values.");
  invalid("run_id = 1", "attributes support comparison with numeric values");
  invalid("run_id > 'a'", "Invalid comparator for attribute: >");
  invalid("name >= 'a'", "Invalid comparator for attribute: >=");
  invalid("run_id IS NULL", "Invalid comparator for attribute: IS NULL");
  invalid("run_id = ('a', 'b')", "Comparator '=' does not take a list of values");
  invalid("run_id IN 'a'", "Expected a list of quoted string values such as ('a', 'b') after IN");
  invalid("run_id IN (1)", "but got different type in list: (1)");
  invalid("name IN ()", "but got empty list");
  invalid("tags.env IN ('a')",
          "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('a')");
  invalid("tags.env = 1", "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1");
  invalid("tags.env > 'a'", "Invalid comparator for tag: >");
  invalid("tags.env IS NULL", "Invalid comparator for tag: IS NULL");
  invalid("status = 'READY'",
          "Invalid attribute key 'status' specified. Valid keys are '{'name', 'run_id', "
          "'source_path', 'version_number'}'");
  invalid("current_stage = 'x'", "Invalid attribute key 'current_stage' specified");
  invalid("creation_timestamp > 1", "Invalid attribute key 'creation_timestamp' specified");
  invalid("metrics.x > 1",
          "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')");
  invalid("attributes.name = 'x'", "Invalid entity type 'attributes'");
  invalid("name = 'a' OR name = 'b'", "Invalid clause(s) in filter string: 'OR'");
}

TEST(ParseModelVersionOrderBy, Attributes) {
  EXPECT_TRUE(ParseModelVersionOrderBy({}).empty());
  const auto terms =
      ParseModelVersionOrderBy({"name", "version_number DESC", "attribute.creation_timestamp asc",
                                "`last_updated_timestamp` desc"});
  ASSERT_EQ(terms.size(), 4u);
  EXPECT_EQ(terms[0].kind, EntityKind::kAttribute);
  EXPECT_EQ(terms[0].key, "name");
  EXPECT_TRUE(terms[0].ascending);
  EXPECT_EQ(terms[1].key, "version_number");
  EXPECT_FALSE(terms[1].ascending);
  EXPECT_EQ(terms[2].key, "creation_timestamp");
  EXPECT_TRUE(terms[2].ascending);
  EXPECT_EQ(terms[3].key, "last_updated_timestamp");
  EXPECT_FALSE(terms[3].ascending);
  // MLflow orders `tags.<attribute>` by the attribute.
  const auto tag = ParseModelVersionOrderBy({"tags.version_number desc"});
  ASSERT_EQ(tag.size(), 1u);
  EXPECT_EQ(tag[0].kind, EntityKind::kAttribute);
  EXPECT_EQ(tag[0].key, "version_number");
  EXPECT_FALSE(tag[0].ascending);
}

TEST(ParseModelVersionOrderBy, Errors) {
  const auto invalid = [](Strings order_by, const std::string& fragment) {
    SCOPED_TRACE(order_by.empty() ? "" : order_by.back());
    ExpectInvalid([&] { ParseModelVersionOrderBy(order_by); }, fragment);
  };
  invalid({"foo"},
          "Invalid attribute key 'foo' specified. Valid keys are '{'creation_timestamp', "
          "'last_updated_timestamp', 'name', 'version_number'}'");
  invalid({"timestamp"}, "Invalid attribute key 'timestamp' specified");
  invalid({"run_id"}, "Invalid attribute key 'run_id' specified");
  invalid({"tags.env"},
          "Invalid order by key 'env' specified. Valid keys are {'creation_timestamp', "
          "'last_updated_timestamp', 'name', 'version_number'}");
  invalid({"metrics.x"},
          "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')");
  invalid({"attributes.name"}, "Invalid entity type 'attributes'");
  invalid({"name up"}, "Invalid ordering key in order_by clause 'name up'.");
  invalid({"name", "attribute.name"},
          "`order_by` contains duplicate fields: ['name', 'attribute.name']");
  invalid({"version_number", "tags.version_number"},
          "`order_by` contains duplicate fields: ['version_number', 'tags.version_number']");
}

}  // namespace
}  // namespace slipway::tracking
