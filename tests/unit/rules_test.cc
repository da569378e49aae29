#include "data/rules.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "data/profile.h"

namespace slipway::data {
namespace {

namespace fs = std::filesystem;

using Table = std::vector<std::vector<std::string>>;  // header first

// Customers: id (unique int), age (18..90), plan (3 values), income (normal,
// every 200th row missing), active (bool).
Table Customers(int rows, uint64_t seed, double income_shift = 0) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> age(18, 90);
  std::uniform_real_distribution<double> unit(0, 1);
  std::normal_distribution<double> income(50000, 10000);
  Table t = {{"id", "age", "plan", "income", "active"}};
  for (int i = 0; i < rows; ++i) {
    const double u = unit(rng);
    const char* plan = u < 0.6 ? "basic" : (u < 0.9 ? "pro" : "enterprise");
    const double money = income(rng) + income_shift;
    t.push_back({std::to_string(i + 1), std::to_string(age(rng)), plan,
                 i % 200 == 199 ? "" : std::to_string(money), unit(rng) < 0.5 ? "true" : "false"});
  }
  return t;
}

// Line of data row `row` (0-based) in the CSV: the header is line 1.
int64_t LineOf(int row) { return row + 2; }

class RulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("slipway_rules_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    reference_ = ProfileCsv(Write("reference.csv", Customers(1500, 99)));
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path Write(const std::string& name, const Table& table) {
    const fs::path path = dir_ / name;
    std::ofstream out(path);
    for (const auto& row : table) {
      for (size_t i = 0; i < row.size(); ++i) out << (i ? "," : "") << row[i];
      out << "\n";
    }
    return path;
  }

  ValidationReport Check(const Table& table, const DatasetProfile* reference) {
    const fs::path path = Write("data.csv", table);
    return Validate(ParseRules(kRules, "rules.yaml"), ProfileCsv(path), path, {}, reference);
  }

  static std::set<std::pair<std::string, std::string>> Failures(const ValidationReport& report) {
    std::set<std::pair<std::string, std::string>> out;
    for (const RuleResult& r : report.results) {
      if (!r.passed) out.emplace(r.rule, r.column);
    }
    return out;
  }

  static constexpr const char* kRules = R"(# customer rules
rows: {min: 1000, max: 2000000}
columns:
  id:     {type: int64, required: true, unique: true, max_missing: 0}
  age:    {type: int64, required: true, max_missing: 0.01, min: 0, max: 120}
  plan:   {type: string, allowed: [basic, pro, enterprise], max_missing: 0}
  income: {type: float64, max_missing: 0.02, min: 0}
  active: {type: bool}
drift:
  default: {psi: 0.2, ks: 0.1, js: 0.1}
  columns:
    id: off
    income: {psi: 0.1}
)";

  fs::path dir_;
  DatasetProfile reference_;
};

TEST_F(RulesTest, ParsesTheDocumentedSchema) {
  const Rules rules = ParseRules(kRules, "rules.yaml");
  EXPECT_EQ(rules.rows.min, 1000);
  EXPECT_EQ(rules.rows.max, 2000000);
  ASSERT_EQ(rules.columns.size(), 5u);
  const ColumnRules* age = rules.Find("age");
  ASSERT_NE(age, nullptr);
  EXPECT_EQ(age->type, ColumnType::kInt64);
  EXPECT_TRUE(age->required);
  EXPECT_EQ(age->max_missing, 0.01);
  EXPECT_EQ(age->min, 0.0);
  EXPECT_EQ(age->max, 120.0);
  EXPECT_EQ(rules.Find("plan")->allowed, (std::vector<std::string>{"basic", "pro", "enterprise"}));
  EXPECT_TRUE(rules.Find("id")->unique);
  EXPECT_FALSE(rules.Find("plan")->required);
  ASSERT_TRUE(rules.drift.has_value());
  EXPECT_EQ(rules.drift->defaults, (DriftThresholds{0.2, 0.1, 0.1}));
  EXPECT_EQ(rules.drift->For("id"), DriftThresholds{});
  EXPECT_EQ(rules.drift->For("income"), (DriftThresholds{0.1, 0.1, 0.1}));
  EXPECT_EQ(rules.drift->For("age"), (DriftThresholds{0.2, 0.1, 0.1}));
}

TEST_F(RulesTest, CleanDataPassesEveryRule) {
  const ValidationReport report = Check(Customers(1500, 1), &reference_);
  EXPECT_TRUE(report.ok) << report.RenderText();
  EXPECT_EQ(report.failed(), 0);
  // rows; id: required type max_missing unique; age: required type
  // max_missing range; plan: type max_missing allowed; income: type
  // max_missing range; active: type; drift: psi/ks/js for age and income,
  // psi/js for plan and active.
  EXPECT_EQ(report.results.size(), 1u + 4 + 4 + 3 + 3 + 1 + 3 + 3 + 2 + 2);
  ASSERT_NE(report.Find("unique", "id"), nullptr);
  ASSERT_NE(report.Find("drift.ks", "income"), nullptr);
  EXPECT_EQ(report.Find("drift.ks", "plan"), nullptr);  // KS is numeric only
  EXPECT_EQ(report.Find("drift.psi", "id"), nullptr);   // id: off
  EXPECT_EQ(report.Find("drift.psi", "income")->expected, "<= 0.1");
  EXPECT_NE(report.RenderText().find("OK: all 26 rules passed"), std::string::npos);
}

TEST_F(RulesTest, MissingValuesAboveTheThresholdFail) {
  Table t = Customers(1500, 1);
  for (int row = 0; row < 1500; row += 20) t[row + 1][2] = "";  // 5% of plan
  const ValidationReport report = Check(t, &reference_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(Failures(report),
            (std::set<std::pair<std::string, std::string>>{{"max_missing", "plan"}}));
  const RuleResult* r = report.Find("max_missing", "plan");
  EXPECT_EQ(r->observed, "5%");
  EXPECT_EQ(r->expected, "<= 0%");
  EXPECT_EQ(r->offending_rows, 75);
}

TEST_F(RulesTest, OutOfRangeValuesNameTheFirstLine) {
  Table t = Customers(1500, 1);
  t[41 + 1][1] = "150";
  t[900 + 1][1] = "-3";
  const ValidationReport report = Check(t, &reference_);
  EXPECT_EQ(Failures(report), (std::set<std::pair<std::string, std::string>>{{"range", "age"}}));
  const RuleResult* r = report.Find("range", "age");
  EXPECT_EQ(r->lines, std::vector<int64_t>{LineOf(41)});
  EXPECT_EQ(r->offending_rows, 2);
  EXPECT_EQ(r->observed, "'150'");
  EXPECT_EQ(r->expected, "[0, 120]");
  EXPECT_NE(r->message.find("line 43: value '150' is above the maximum 120; 2 rows outside"),
            std::string::npos)
      << r->message;
}

TEST_F(RulesTest, ValuesOfTheWrongTypeFailTypeAndRange) {
  Table t = Customers(1500, 1);
  t[700 + 1][1] = "unknown";
  const ValidationReport report = Check(t, &reference_);
  EXPECT_TRUE(Failures(report).count({"type", "age"}));
  EXPECT_EQ(report.Find("type", "age")->observed, "string");
  const RuleResult* r = report.Find("range", "age");
  ASSERT_FALSE(r->passed);
  EXPECT_EQ(r->lines, std::vector<int64_t>{LineOf(700)});
  EXPECT_NE(r->message.find("'unknown' is not a number"), std::string::npos) << r->message;
}

TEST_F(RulesTest, NewCategoryOutsideAllowedFails) {
  Table t = Customers(1500, 1);
  t[10 + 1][2] = "premium";
  t[20 + 1][2] = "premium";
  t[30 + 1][2] = "trial";
  const ValidationReport report = Check(t, &reference_);
  EXPECT_EQ(Failures(report), (std::set<std::pair<std::string, std::string>>{{"allowed", "plan"}}));
  const RuleResult* r = report.Find("allowed", "plan");
  EXPECT_EQ(r->observed, "'premium'");
  EXPECT_EQ(r->lines, std::vector<int64_t>{LineOf(10)});
  EXPECT_EQ(r->offending_rows, 3);
}

TEST_F(RulesTest, DuplicateIdNamesBothLines) {
  Table t = Customers(1500, 1);
  t[500 + 1][0] = t[10 + 1][0];
  const ValidationReport report = Check(t, &reference_);
  EXPECT_EQ(Failures(report), (std::set<std::pair<std::string, std::string>>{{"unique", "id"}}));
  const RuleResult* r = report.Find("unique", "id");
  EXPECT_EQ(r->observed, "'11'");
  EXPECT_EQ(r->lines, (std::vector<int64_t>{LineOf(10), LineOf(500)}));
  EXPECT_NE(r->message.find("appears on line 12 and again on line 502"), std::string::npos);
}

TEST_F(RulesTest, DroppedRequiredColumnIsAFailureNotAnError) {
  Table t = Customers(1500, 1);
  for (auto& row : t) row.erase(row.begin() + 1);  // age
  const ValidationReport report = Check(t, &reference_);
  EXPECT_EQ(Failures(report), (std::set<std::pair<std::string, std::string>>{{"required", "age"}}));
  EXPECT_EQ(report.Find("type", "age"), nullptr);  // not evaluated
  EXPECT_NE(report.Find("required", "age")->message.find("missing from the file"),
            std::string::npos);
}

TEST_F(RulesTest, AbsentOptionalColumnIsSkipped) {
  Table t = Customers(1500, 1);
  for (auto& row : t) row.pop_back();  // active
  const ValidationReport report = Check(t, &reference_);
  EXPECT_TRUE(report.ok) << report.RenderText();
  const RuleResult* r = report.Find("optional", "active");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->passed);
}

TEST_F(RulesTest, TooFewRowsFail) {
  const ValidationReport report = Check(Customers(500, 1), &reference_);
  EXPECT_EQ(Failures(report), (std::set<std::pair<std::string, std::string>>{{"rows", ""}}));
  const RuleResult* r = report.Find("rows");
  EXPECT_EQ(r->observed, "500");
  EXPECT_EQ(r->expected, "[1000, 2000000]");
}

TEST_F(RulesTest, ShiftedDistributionExceedsDriftThresholds) {
  const ValidationReport report = Check(Customers(1500, 1, 10000), &reference_);
  EXPECT_EQ(Failures(report),
            (std::set<std::pair<std::string, std::string>>{
                {"drift.psi", "income"}, {"drift.ks", "income"}, {"drift.js", "income"}}));
  EXPECT_GT(std::stod(report.Find("drift.ks", "income")->observed), 0.3);
}

TEST_F(RulesTest, DriftRulesWithoutReferenceFailClearly) {
  const ValidationReport report = Check(Customers(1500, 1), nullptr);
  EXPECT_EQ(Failures(report), (std::set<std::pair<std::string, std::string>>{{"drift", ""}}));
  EXPECT_NE(report.Find("drift")->message.find("needs --reference"), std::string::npos);
  EXPECT_NE(report.RenderText().find("FAILED: 1 of"), std::string::npos);
}

TEST_F(RulesTest, UniquenessIsExactForQuotedValues) {
  // Texts with delimiters and escaped quotes: the earlier occurrence is
  // re-read from the file and unescaped before being compared.
  Table t = {{"code", "n"}};
  for (int i = 0; i < 300; ++i) {
    t.push_back({"\"c,\"\"" + std::to_string(i) + "\"\"\"", std::to_string(i)});
  }
  const fs::path unique_path = Write("codes.csv", t);
  const Rules rules = ParseRules("columns: {code: {unique: true}, n: {unique: true}}");
  ValidationReport report = Validate(rules, ProfileCsv(unique_path), unique_path);
  EXPECT_TRUE(report.ok) << report.RenderText();

  t[250 + 1][0] = t[100 + 1][0];
  const fs::path dup_path = Write("codes_dup.csv", t);
  report = Validate(rules, ProfileCsv(dup_path), dup_path);
  EXPECT_EQ(Failures(report), (std::set<std::pair<std::string, std::string>>{{"unique", "code"}}));
  const RuleResult* r = report.Find("unique", "code");
  EXPECT_EQ(r->observed, "'c,\"100\"'");
  EXPECT_EQ(r->lines, (std::vector<int64_t>{LineOf(100), LineOf(250)}));
}

TEST_F(RulesTest, MissingValuesAreIgnoredByRowChecks) {
  Table t = {{"id", "v"}};
  for (int i = 0; i < 200; ++i) t.push_back({i % 3 == 0 ? "" : std::to_string(i), "NA"});
  const fs::path path = Write("m.csv", t);
  CsvOptions options;
  options.missing_values = {"", "NA"};
  const Rules rules =
      ParseRules("columns: {id: {unique: true, min: 1}, v: {allowed: [x], min: 0, max: 1}}");
  const ValidationReport report = Validate(rules, ProfileCsv(path, options), path, options);
  EXPECT_TRUE(report.ok) << report.RenderText();
}

TEST_F(RulesTest, WithoutTheCsvDecidesFromTheProfileWherePossible) {
  Table t = Customers(1500, 1);
  t[41 + 1][1] = "150";
  t[500 + 1][0] = t[10 + 1][0];
  t[10 + 1][2] = "premium";
  const DatasetProfile profile = ProfileCsv(Write("data.csv", t));
  const ValidationReport report =
      Validate(ParseRules(kRules, "rules.yaml"), profile, "", {}, &reference_);
  const RuleResult* range = report.Find("range", "age");
  EXPECT_FALSE(range->passed);
  EXPECT_EQ(range->observed, "[18, 150]");
  EXPECT_TRUE(range->lines.empty());
  // plan has 4 distinct values: the profile's counts are exact.
  const RuleResult* allowed = report.Find("allowed", "plan");
  EXPECT_FALSE(allowed->passed);
  EXPECT_EQ(allowed->observed, "'premium'");
  EXPECT_EQ(allowed->offending_rows, 1);
  // 1499 distinct ids: only the rows can tell.
  const RuleResult* unique = report.Find("unique", "id");
  EXPECT_FALSE(unique->passed);
  EXPECT_NE(unique->message.find("needs the CSV"), std::string::npos);
}

TEST_F(RulesTest, ReportHasJsonAndText) {
  Table t = Customers(1500, 1);
  t[41 + 1][1] = "150";
  const ValidationReport report = Check(t, &reference_);
  const nlohmann::json json = report.ToJson();
  EXPECT_EQ(json["ok"], false);
  EXPECT_EQ(json["failed"], 1);
  EXPECT_EQ(json["rules"], report.results.size());
  bool found = false;
  for (const auto& r : json["results"]) {
    if (r["rule"] == "range" && r["column"] == "age") {
      found = true;
      EXPECT_EQ(r["passed"], false);
      EXPECT_EQ(r["lines"], nlohmann::json::array({43}));
      EXPECT_EQ(r["offending_rows"], 1);
      EXPECT_EQ(r["expected"], "[0, 120]");
    }
  }
  EXPECT_TRUE(found);
  const std::string text = report.RenderText();
  EXPECT_EQ(text.rfind("FAIL  age", 0), 0u) << text;  // failures first
  EXPECT_NE(text.find("line 43"), std::string::npos);
}

// ----- YAML errors

std::string ParseError(const std::string& yaml) {
  try {
    ParseRules(yaml, "rules.yaml");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << yaml;
  return "";
}

TEST(RulesParseTest, ErrorsNameLineColumnAndKeyPath) {
  EXPECT_EQ(ParseError("columns:\n  age: {type: int64, maxx: 3}\n"),
            "rules.yaml:2:22: columns.age.maxx: unknown key 'maxx'; expected one of: type, "
            "required, max_missing, min, max, allowed, unique");
  EXPECT_EQ(ParseError("columns:\n  age:\n    max: abc\n"),
            "rules.yaml:3:10: columns.age.max: expected a number, got 'abc'");
  EXPECT_EQ(ParseError("columns:\n  age: {type: integer}\n"),
            "rules.yaml:2:15: columns.age.type: unknown type 'integer'; expected one of: bool, "
            "int64, float64, string");
  EXPECT_EQ(ParseError("columns:\n  age: {min: 10, max: 5}\n"),
            "rules.yaml:2:8: columns.age: min 10 is greater than max 5");
  EXPECT_EQ(ParseError("rows: {min: 10, max: 5}\n"),
            "rules.yaml:1:7: rows: min 10 is greater than max 5");
  EXPECT_EQ(ParseError("rowz: {min: 1}\n"),
            "rules.yaml:1:1: rowz: unknown key 'rowz'; expected one of: rows, columns, drift");
  EXPECT_EQ(ParseError("rows: {min: -1}\n"),
            "rules.yaml:1:13: rows.min: expected a non-negative integer, got '-1'");
  EXPECT_EQ(ParseError("rows: {min: 1.5}\n"),
            "rules.yaml:1:13: rows.min: expected a non-negative integer, got '1.5'");
  EXPECT_EQ(ParseError("columns:\n  a: {max_missing: 1.5}\n"),
            "rules.yaml:2:20: columns.a.max_missing: expected a share of rows in [0, 1], got 1.5");
  EXPECT_EQ(ParseError("columns:\n  a: {required: maybe}\n"),
            "rules.yaml:2:17: columns.a.required: expected true or false, got 'maybe'");
  EXPECT_EQ(ParseError("columns:\n  a: {allowed: x}\n"),
            "rules.yaml:2:16: columns.a.allowed: expected a list of values, got 'x'");
  EXPECT_EQ(ParseError("columns:\n  a: {allowed: []}\n"),
            "rules.yaml:2:16: columns.a.allowed: expected at least one allowed value");
  EXPECT_EQ(ParseError("columns:\n  a: {allowed: [x, y, x]}\n"),
            "rules.yaml:2:23: columns.a.allowed[2]: duplicate value 'x'");
  EXPECT_EQ(ParseError("columns:\n  a: {type: int64}\n  a: {type: string}\n"),
            "rules.yaml:3:3: columns.a: duplicate key 'a'");
  EXPECT_EQ(ParseError("columns:\n  a: 3\n"),
            "rules.yaml:2:6: columns.a: expected a mapping, got '3'");
  EXPECT_EQ(ParseError("columns: [a, b]\n"),
            "rules.yaml:1:10: columns: expected a mapping, got a list");
  EXPECT_EQ(ParseError("drift:\n  default: {psi: 0.2, kss: 0.1}\n"),
            "rules.yaml:2:23: drift.default.kss: unknown key 'kss'; expected one of: psi, ks, js");
  EXPECT_EQ(ParseError("drift:\n  columns:\n    x: {ks: 2}\n"),
            "rules.yaml:3:13: drift.columns.x.ks: expected a threshold in [0, 1] or off, got '2'");
  EXPECT_EQ(ParseError("drift:\n  default: {psi: -1}\n"),
            "rules.yaml:2:18: drift.default.psi: expected a non-negative threshold or off, got "
            "'-1'");
  EXPECT_EQ(ParseError("drift:\n  columns:\n    x: on\n"),
            "rules.yaml:3:8: drift.columns.x: expected a mapping of psi, ks, js thresholds or off, "
            "got 'on'");
  EXPECT_EQ(ParseError("drift:\n  defaults: {}\n"),
            "rules.yaml:2:3: drift.defaults: unknown key 'defaults'; expected one of: reference, "
            "default, columns");
  EXPECT_EQ(ParseRules("drift:\n  reference: churn@1\n", "rules.yaml").drift->reference, "churn@1");
  EXPECT_EQ(ParseError("drift:\n  reference: [a]\n"),
            "rules.yaml:2:14: drift.reference: expected a dataset version such as churn@1, got a "
            "list");
  // A null value is reported where its key is.
  EXPECT_EQ(ParseError("columns:\n  a:\n    min:\n"),
            "rules.yaml:3:5: columns.a.min: expected a number, got nothing (null)");
}

TEST(RulesParseTest, InvalidYamlNamesLineAndColumn) {
  const std::string message = ParseError("columns:\n  a: {min: 1\n  b: 2\n");
  EXPECT_EQ(message.rfind("rules.yaml:", 0), 0u) << message;
  EXPECT_NE(message.find("invalid YAML"), std::string::npos) << message;
  EXPECT_EQ(ParseError(""),
            "rules.yaml:1:1: the rules are empty; expected a mapping with rows, columns or drift");
}

TEST(RulesParseTest, QuotedNumbersAreNotNumbers) {
  EXPECT_EQ(ParseError("columns:\n  a: {min: \"3\"}\n"),
            "rules.yaml:2:12: columns.a.min: expected a number, got '3'");
}

TEST(RulesParseTest, LoadRulesNamesTheFile) {
  const fs::path path =
      fs::temp_directory_path() / ("slipway_rules_" + std::to_string(::getpid()) + ".yaml");
  {
    std::ofstream out(path);
    out << "columns:\n  a: {typo: 1}\n";
  }
  try {
    LoadRules(path);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path.string() + ":2:7: columns.a.typo:", 0), 0u)
        << e.what();
  }
  fs::remove(path);
  try {
    LoadRules(path);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kResourceDoesNotExist);
  }
}

TEST(RulesParseTest, ToYamlRoundTripsAwkwardNamesAndNumbers) {
  Rules rules;
  rules.rows.max = 7;
  ColumnRules a;
  a.name = "weird: name, with \"quotes\"";
  a.type = ColumnType::kFloat64;
  a.min = -3.5e-7;
  a.max = 0.1;
  a.max_missing = 1.0 / 3;
  a.allowed = {"", "null", "~", "true", "a b", "- x", "#hash", "ünïcode", "3"};
  rules.columns.push_back(a);
  ColumnRules b;
  b.name = "null";
  b.unique = true;
  b.required = true;
  rules.columns.push_back(b);
  ColumnRules c;
  c.name = "empty_rules";
  rules.columns.push_back(c);
  DriftRules drift;
  drift.defaults = {std::nullopt, 0.05, std::nullopt};
  drift.columns["off column"] = {};
  drift.columns["x"] = {0.3, std::nullopt, 0.2};
  rules.drift = drift;
  const std::string yaml = ToYaml(rules);
  EXPECT_EQ(ParseRules(yaml), rules) << yaml;
}

TEST_F(RulesTest, InferredRulesRoundTripAndPassOnTheirData) {
  Table t = Customers(3000, 5);
  const fs::path path = Write("data.csv", t);
  const DatasetProfile profile = ProfileCsv(path);
  const Rules inferred = InferRules(profile);

  EXPECT_EQ(inferred.rows.min, 1500);
  EXPECT_EQ(inferred.rows.max, 6000);
  ASSERT_EQ(inferred.columns.size(), 5u);
  const ColumnRules* id = inferred.Find("id");
  EXPECT_TRUE(id->unique);
  EXPECT_EQ(id->type, ColumnType::kInt64);
  // [1, 3000] widened by a tenth of the span, not below 0, whole numbers
  EXPECT_EQ(id->min, 0.0);
  EXPECT_EQ(id->max, 3300.0);
  EXPECT_EQ(id->max_missing, 0.0);
  EXPECT_TRUE(id->required);
  const ColumnRules* plan = inferred.Find("plan");
  EXPECT_EQ(std::set<std::string>(plan->allowed.begin(), plan->allowed.end()),
            (std::set<std::string>{"basic", "pro", "enterprise"}));
  EXPECT_FALSE(plan->unique);
  const ColumnRules* income = inferred.Find("income");
  EXPECT_EQ(income->type, ColumnType::kFloat64);
  EXPECT_GT(*income->max_missing, 15.0 / 3000);  // observed: every 200th row
  EXPECT_LT(*income->max_missing, 0.03);
  EXPECT_FALSE(income->unique);  // float columns are never guessed unique
  EXPECT_TRUE(inferred.Find("age")->allowed.empty());
  EXPECT_EQ(inferred.Find("active")->type, ColumnType::kBool);
  ASSERT_TRUE(inferred.drift.has_value());
  EXPECT_EQ(inferred.drift->For("id"), DriftThresholds{});
  EXPECT_EQ(inferred.drift->For("age"), (DriftThresholds{0.2, 0.1, 0.1}));

  const std::string yaml = ToYaml(inferred);
  EXPECT_NE(yaml.find("# unique is a guess"), std::string::npos) << yaml;
  EXPECT_EQ(ParseRules(yaml, "inferred.yaml"), inferred) << yaml;

  const ValidationReport report = Validate(ParseRules(yaml), profile, path, {}, &profile);
  EXPECT_TRUE(report.ok) << report.RenderText();

  // And they catch a fault in the next batch.
  t[42 + 1][1] = "200";
  const fs::path bad = Write("bad.csv", t);
  const ValidationReport bad_report = Validate(inferred, ProfileCsv(bad), bad, {}, &profile);
  EXPECT_EQ(Failures(bad_report),
            (std::set<std::pair<std::string, std::string>>{{"range", "age"}}));
  EXPECT_EQ(bad_report.Find("range", "age")->lines, std::vector<int64_t>{LineOf(42)});
}

}  // namespace
}  // namespace slipway::data
