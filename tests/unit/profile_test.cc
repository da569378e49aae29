#include "data/profile.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "core/executor.h"
#include "test_util/executor_blocker.h"
#include "test_util/temp_dir.h"

namespace slipway::data {
namespace {

namespace fs = std::filesystem;

class ProfileTest : public ::testing::Test {
 protected:
  fs::path Write(const std::string& content, const std::string& name = "t.csv") {
    return dir_.Write(name, content);
  }

  std::string ErrorOf(const std::string& content, const CsvOptions& csv = {}, int threads = 1) {
    const fs::path path = Write(content);
    ProfileOptions options;
    options.threads = threads;
    options.executor = &executor_;
    try {
      ProfileCsv(path, csv, options);
    } catch (const Error& e) {
      const std::string message = e.what();
      const std::string prefix = path.string() + ": ";
      EXPECT_EQ(message.rfind(prefix, 0), 0u) << message;
      return message.substr(std::min(prefix.size(), message.size()));
    }
    return "";
  }

  slipway::testing::TempDir dir_{"slipway-profile-test"};
  // Where ranges beyond the caller's are parsed, as in the App.
  core::Executor executor_{{"test-data", 2, 64}};
};

// Exact reference statistics of a numeric column.
struct Exact {
  int64_t count = 0;
  double min = INFINITY, max = -INFINITY, mean = 0, stddev = 0;
};

Exact ExactStats(const std::vector<double>& v) {
  Exact e;
  e.count = static_cast<int64_t>(v.size());
  long double sum = 0;
  for (double x : v) {
    sum += x;
    e.min = std::min(e.min, x);
    e.max = std::max(e.max, x);
  }
  e.mean = static_cast<double>(sum / v.size());
  long double ss = 0;
  for (double x : v) ss += (x - e.mean) * (x - e.mean);
  e.stddev = v.size() > 1 ? std::sqrt(static_cast<double>(ss / (v.size() - 1))) : 0;
  return e;
}

void ExpectRelNear(double actual, double expected, double rel, const std::string& what) {
  EXPECT_LE(std::fabs(actual - expected), rel * std::max(1.0, std::fabs(expected)))
      << what << ": " << actual << " vs " << expected;
}

TEST_F(ProfileTest, InfersTypesAndCounts) {
  const fs::path path = Write(
      "b,i,f,s,i2f,i2s,b2s,empty\n"
      "true,1,1.5,x,1,1,true,\n"
      "False,-2,2,y,2,2,3,\n"
      ",3,,x,1.5,abc,false,\n"
      "TRUE,,-0.5,,4,4,true,\n");
  const DatasetProfile p = ProfileCsv(path);
  EXPECT_EQ(p.row_count, 4);
  ASSERT_EQ(p.columns.size(), 8u);
  const auto type = [&](const char* name) { return p.Find(name)->type; };
  EXPECT_EQ(type("b"), ColumnType::kBool);
  EXPECT_EQ(type("i"), ColumnType::kInt64);
  EXPECT_EQ(type("f"), ColumnType::kFloat64);
  EXPECT_EQ(type("s"), ColumnType::kString);
  EXPECT_EQ(type("i2f"), ColumnType::kFloat64);  // int column with one "1.5"
  EXPECT_EQ(type("i2s"), ColumnType::kString);   // int column with one "abc"
  EXPECT_EQ(type("b2s"), ColumnType::kString);   // bool with a number
  EXPECT_EQ(type("empty"), ColumnType::kEmpty);

  const ColumnProfile& b = *p.Find("b");
  EXPECT_EQ(b.count, 3);
  EXPECT_EQ(b.missing, 1);
  EXPECT_EQ(b.top_items.Lookup("true").lower_bound, 1);
  EXPECT_EQ(b.DistinctEstimate(), 3);  // texts: true, False, TRUE

  const ColumnProfile& i = *p.Find("i");
  EXPECT_EQ(i.count, 3);
  EXPECT_EQ(i.missing, 1);
  EXPECT_EQ(i.min, -2);
  EXPECT_EQ(i.max, 3);
  EXPECT_DOUBLE_EQ(i.mean, 2.0 / 3);
  EXPECT_DOUBLE_EQ(i.Stddev(), ExactStats({1, -2, 3}).stddev);
  EXPECT_EQ(i.Quantile(0.5), 1);

  const ColumnProfile& i2f = *p.Find("i2f");
  EXPECT_EQ(i2f.count, 4);
  EXPECT_DOUBLE_EQ(i2f.mean, (1 + 2 + 1.5 + 4) / 4);
  EXPECT_EQ(i2f.quantiles.count(), 4);

  const ColumnProfile& i2s = *p.Find("i2s");
  EXPECT_EQ(i2s.count, 4);
  EXPECT_EQ(i2s.quantiles.count(), 0) << "the numeric view is dropped";
  EXPECT_THROW(i2s.Quantile(0.5), Error);
  EXPECT_TRUE(i2s.Histogram().empty());
  EXPECT_EQ(i2s.min_length, 1);
  EXPECT_EQ(i2s.max_length, 3);

  const ColumnProfile& empty = *p.Find("empty");
  EXPECT_EQ(empty.count, 0);
  EXPECT_EQ(empty.missing, 4);
  EXPECT_EQ(empty.DistinctEstimate(), 0);
}

TEST_F(ProfileTest, MissingValuesAreConfigurable) {
  CsvOptions csv;
  csv.missing_values = {"", "NA", "null"};
  const DatasetProfile p = ProfileCsv(Write("x,y\n1,NA\nnull,2\n3,\nNA,na\n"), csv);
  EXPECT_EQ(p.Find("x")->type, ColumnType::kInt64);
  EXPECT_EQ(p.Find("x")->missing, 2);
  EXPECT_EQ(p.Find("x")->count, 2);
  EXPECT_EQ(p.Find("y")->type, ColumnType::kString);  // "na" is not in the list
  EXPECT_EQ(p.Find("y")->missing, 2);
  // The default: only the empty field is missing, so "NA" makes a string.
  EXPECT_EQ(ProfileCsv(Write("x\n1\nNA\n")).Find("x")->type, ColumnType::kString);
}

TEST_F(ProfileTest, TypeOverrides) {
  CsvOptions csv;
  csv.type_overrides = {
      {"f", ColumnType::kFloat64}, {"s", ColumnType::kString}, {"e", ColumnType::kInt64}};
  const DatasetProfile p = ProfileCsv(Write("f,s,e\n1,2,\n2,3,\n"), csv);
  EXPECT_EQ(p.Find("f")->type, ColumnType::kFloat64);
  EXPECT_EQ(p.Find("f")->mean, 1.5);
  EXPECT_EQ(p.Find("s")->type, ColumnType::kString);
  EXPECT_EQ(p.Find("s")->quantiles.count(), 0);
  EXPECT_EQ(p.Find("e")->type, ColumnType::kInt64);  // all missing, but declared

  CsvOptions ints;
  ints.type_overrides = {{"age", ColumnType::kInt64}};
  EXPECT_EQ(ErrorOf("id,age\n1,30\n2,31\n3,1.5\n", ints),
            "line 4, column 3: value '1.5' of column 'age' is not an int64 (type override)");
  CsvOptions bools;
  bools.type_overrides = {{"ok", ColumnType::kBool}};
  EXPECT_EQ(ErrorOf("ok,n\ntrue,1\n\"yes\",2\n", bools),
            "line 3, column 1: value 'yes' of column 'ok' is not a bool (type override)");
  CsvOptions floats;
  floats.type_overrides = {{"x", ColumnType::kFloat64}};
  EXPECT_EQ(ErrorOf("x\n1\n2.5\nnan\n", floats),
            "line 4, column 1: value 'nan' of column 'x' is not a float64 (type override)");
}

TEST_F(ProfileTest, HeaderOnlyFileHasNoRows) {
  const DatasetProfile p = ProfileCsv(Write("a,b\n"));
  EXPECT_EQ(p.row_count, 0);
  ASSERT_EQ(p.columns.size(), 2u);
  EXPECT_EQ(p.columns[0].type, ColumnType::kEmpty);
  EXPECT_EQ(p.columns[1].name, "b");
  const nlohmann::json json = p.ToJson();
  EXPECT_EQ(DatasetProfile::FromJson(json).ToJson(), json);
}

TEST_F(ProfileTest, CsvErrorsPassThroughWithLocation) {
  EXPECT_EQ(ErrorOf("a,b\n1,2\n1,2,3\n"), "line 3: expected 2 fields (as in the header), found 3");
  EXPECT_EQ(ErrorOf("a\n\xff\n"), "line 2, column 1: invalid UTF-8 (byte 0xff)");
}

// A mixed table: ints, floats with missing values, categories, bools, and
// text needing quotes (with newlines), rows in random order.
std::string MixedCsv(int rows, uint32_t seed, bool with_header = true) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(100, 15);
  std::string out = with_header ? "id,score,grade,flag,note,big\n" : "";
  char buf[64];
  for (int i = 0; i < rows; ++i) {
    out += std::to_string(i) + ",";
    if (rng() % 20 != 0) {
      std::snprintf(buf, sizeof buf, "%.6f", normal(rng));
      out += buf;
    }
    out += ",grade";
    out += static_cast<char>('A' + rng() % 5);
    out += rng() % 3 == 0 ? ",true" : ",false";
    switch (rng() % 3) {
      case 0:
        out += ",plain";
        break;
      case 1:
        out += ",\"with, comma\"";
        break;
      default:
        out += ",\"two\nlines \"\"quoted\"\"\"";
    }
    out += "," + std::to_string(static_cast<int64_t>(rng() % 2000000000) - 1000000000) + "\n";
  }
  return out;
}

void ExpectSameExact(const ColumnProfile& a, const ColumnProfile& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.type, b.type) << a.name;
  EXPECT_EQ(a.count, b.count) << a.name;
  EXPECT_EQ(a.missing, b.missing) << a.name;
  EXPECT_EQ(a.min_length, b.min_length) << a.name;
  EXPECT_EQ(a.max_length, b.max_length) << a.name;
  EXPECT_EQ(a.distinct, b.distinct) << a.name << ": HyperLogLog merges exactly";
  if (IsNumeric(a.type)) {
    EXPECT_EQ(a.min, b.min) << a.name;
    EXPECT_EQ(a.max, b.max) << a.name;
    ExpectRelNear(a.mean, b.mean, 1e-9, a.name + " mean");
    ExpectRelNear(a.Stddev(), b.Stddev(), 1e-9, a.name + " stddev");
    EXPECT_EQ(a.quantiles.count(), b.quantiles.count());
    // Both approximate the same values: each one's median has rank ~0.5 in
    // the other, within the two sketches' errors.
    for (double q : {0.05, 0.25, 0.5, 0.75, 0.95}) {
      EXPECT_NEAR(b.quantiles.Rank(a.quantiles.Quantile(q)), q, 0.04) << a.name << " q=" << q;
    }
  }
  if (a.top_items.exact() && b.top_items.exact()) {
    const auto ta = a.top_items.Top(100);
    const auto tb = b.top_items.Top(100);
    ASSERT_EQ(ta.size(), tb.size()) << a.name;
    for (size_t i = 0; i < ta.size(); ++i) {
      EXPECT_EQ(ta[i].value, tb[i].value);
      EXPECT_EQ(ta[i].lower_bound, tb[i].lower_bound);
    }
  }
}

TEST_F(ProfileTest, ParallelEqualsSingleThreaded) {
  const fs::path path = Write(MixedCsv(60000, 1));
  ProfileOptions one;
  one.threads = 1;
  ProfileOptions two;
  two.threads = 2;
  two.executor = &executor_;
  ProfileOptions seven;
  seven.threads = 7;
  seven.executor = &executor_;
  ProfileOptions seven_alone;  // the caller parses every range
  seven_alone.threads = 7;
  const DatasetProfile a = ProfileCsv(path, {}, one);
  for (const ProfileOptions& options : {two, seven, seven_alone}) {
    const DatasetProfile b = ProfileCsv(path, {}, options);
    EXPECT_EQ(b.row_count, 60000);
    ASSERT_EQ(a.columns.size(), b.columns.size());
    for (size_t i = 0; i < a.columns.size(); ++i) ExpectSameExact(a.columns[i], b.columns[i]);
  }
}

// Ranges queued for an executor whose threads are all taken are parsed by
// the caller once its own is done, rather than waited for.
TEST_F(ProfileTest, FinishesWhenTheExecutorHasNoThreadToGive) {
  const fs::path path = Write(MixedCsv(20000, 3));
  ProfileOptions options;
  options.threads = 4;
  options.executor = &executor_;
  test_util::ExecutorBlocker blocker(executor_);
  std::future<DatasetProfile> profile =
      std::async(std::launch::async, [&] { return ProfileCsv(path, {}, options); });
  EXPECT_TRUE(test_util::ReadyWithin(profile, 120)) << "deadlock";
  blocker.Release();
  EXPECT_EQ(profile.get().row_count, 20000);
}

TEST_F(ProfileTest, ProfileMatchesExactStatistics) {
  const std::string content = MixedCsv(50000, 2);
  const DatasetProfile p = ProfileCsv(Write(content));
  // Recompute the score column exactly from the file.
  auto reader = CsvReader::Open(dir_.path() / "t.csv");
  std::vector<double> scores;
  std::map<std::string, int64_t> grades;
  reader->ForEachRow(reader->DataRange(), [&](const CsvRow& row) {
    if (!row.fields[1].empty()) scores.push_back(std::stod(std::string(row.fields[1])));
    ++grades[std::string(row.fields[2])];
  });
  const Exact e = ExactStats(scores);
  const ColumnProfile& score = *p.Find("score");
  EXPECT_EQ(score.type, ColumnType::kFloat64);
  EXPECT_EQ(score.count, e.count);
  EXPECT_EQ(score.missing, 50000 - e.count);
  EXPECT_EQ(score.min, e.min);
  EXPECT_EQ(score.max, e.max);
  ExpectRelNear(score.mean, e.mean, 1e-12, "mean");
  ExpectRelNear(score.Stddev(), e.stddev, 1e-10, "stddev");
  std::sort(scores.begin(), scores.end());
  for (double q : kProfileQuantiles) {
    const double v = score.Quantile(q);
    const double rank =
        static_cast<double>(std::upper_bound(scores.begin(), scores.end(), v) - scores.begin()) /
        scores.size();
    EXPECT_NEAR(rank, std::max(q, 1.0 / scores.size()), 0.02) << "q=" << q;
  }
  // Histogram: 20 bins from min to max; counts within the KLL bound of exact.
  const std::vector<HistogramBin> bins = score.Histogram(20);
  ASSERT_EQ(bins.size(), 20u);
  EXPECT_EQ(bins.front().lower, e.min);
  EXPECT_EQ(bins.back().upper, e.max);
  double total = 0;
  for (size_t i = 0; i < bins.size(); ++i) {
    total += bins[i].count;
    const auto lo = std::lower_bound(scores.begin(), scores.end(), bins[i].lower);
    const auto hi = i + 1 == bins.size()
                        ? scores.end()
                        : std::lower_bound(scores.begin(), scores.end(), bins[i].upper);
    EXPECT_NEAR(bins[i].count, hi - lo, 0.0165 * scores.size()) << "bin " << i;
  }
  EXPECT_EQ(total, e.count);

  const ColumnProfile& grade = *p.Find("grade");
  EXPECT_EQ(grade.type, ColumnType::kString);
  EXPECT_TRUE(grade.top_items.exact());
  EXPECT_EQ(grade.DistinctEstimate(), 5);
  for (const auto& item : grade.top_items.Top(10)) {
    EXPECT_EQ(item.lower_bound, grades[item.value]) << item.value;
  }
  const ColumnProfile& id = *p.Find("id");
  EXPECT_EQ(id.type, ColumnType::kInt64);
  EXPECT_NEAR(id.DistinctEstimate(), 50000, 3 * id.distinct.RelativeStandardError() * 50000);
  EXPECT_EQ(p.Find("flag")->type, ColumnType::kBool);
  EXPECT_EQ(p.Find("note")->DistinctEstimate(), 3);
  EXPECT_EQ(p.Find("big")->type, ColumnType::kInt64);
}

TEST_F(ProfileTest, MergeOfPartsEqualsWhole) {
  const std::string all = MixedCsv(80000, 3);
  // Split the rows at a row boundary (the header plus the first 30000 rows).
  auto reader = CsvReader::Open(Write(all, "whole.csv"));
  uint64_t cut = 0;
  int64_t seen = 0;
  reader->ForEachRow(reader->DataRange(), [&](const CsvRow& row) {
    if (++seen == 30001) cut = row.offset;
  });
  ASSERT_GT(cut, 0u);
  const std::string header = all.substr(0, reader->DataRange().begin);
  const fs::path first = Write(all.substr(0, cut), "first.csv");
  const fs::path second = Write(header + all.substr(cut), "second.csv");

  ProfileOptions one;
  one.threads = 1;
  const DatasetProfile whole = ProfileCsv(dir_.path() / "whole.csv", {}, one);
  const DatasetProfile a = ProfileCsv(first, {}, one);
  const DatasetProfile b = ProfileCsv(second, {}, one);
  EXPECT_EQ(a.row_count, 30000);
  const DatasetProfile merged = Merge(a, b);
  EXPECT_EQ(merged.row_count, 80000);
  for (size_t i = 0; i < whole.columns.size(); ++i) {
    ExpectSameExact(merged.columns[i], whole.columns[i]);
  }
  // Merging stored profiles gives the same.
  const DatasetProfile restored =
      Merge(DatasetProfile::FromJson(a.ToJson()), DatasetProfile::FromJson(b.ToJson()));
  for (size_t i = 0; i < whole.columns.size(); ++i) {
    ExpectSameExact(restored.columns[i], whole.columns[i]);
  }
}

TEST_F(ProfileTest, MergePromotesTypes) {
  const DatasetProfile ints = ProfileCsv(Write("x,y,z\n1,1,true\n2,2,false\n", "a.csv"));
  const DatasetProfile mixed = ProfileCsv(Write("x,y,z\n2.5,abc,\n,3,true\n", "b.csv"));
  const DatasetProfile merged = Merge(ints, mixed);
  const ColumnProfile& x = *merged.Find("x");
  EXPECT_EQ(x.type, ColumnType::kFloat64);
  EXPECT_EQ(x.count, 3);
  EXPECT_EQ(x.missing, 1);
  EXPECT_DOUBLE_EQ(x.mean, 5.5 / 3);
  EXPECT_EQ(x.max, 2.5);
  EXPECT_EQ(x.quantiles.count(), 3);
  const ColumnProfile& y = *merged.Find("y");
  EXPECT_EQ(y.type, ColumnType::kString);
  EXPECT_EQ(y.quantiles.count(), 0);
  EXPECT_EQ(y.top_items.Lookup("2").lower_bound, 1);
  EXPECT_EQ(y.DistinctEstimate(), 4);  // 1, 2, abc, 3
  EXPECT_EQ(merged.Find("z")->type, ColumnType::kBool);
  // Merging with an empty side keeps the other's numeric view.
  const DatasetProfile none = ProfileCsv(Write("x,y,z\n,,\n", "c.csv"));
  const DatasetProfile kept = Merge(none, ints);
  EXPECT_EQ(kept.Find("x")->type, ColumnType::kInt64);
  EXPECT_EQ(kept.Find("x")->mean, 1.5);
  EXPECT_EQ(kept.Find("x")->missing, 1);

  const DatasetProfile other = ProfileCsv(Write("x,q,z\n1,2,3\n", "d.csv"));
  try {
    Merge(ints, other);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "Cannot merge profiles: column 2 is 'y' in one and 'q' in the other");
  }
  EXPECT_THROW(Merge(ints, ProfileCsv(Write("x\n1\n", "e.csv"))), Error);
}

TEST_F(ProfileTest, JsonSummaryAndRoundTrip) {
  const DatasetProfile p = ProfileCsv(Write(MixedCsv(20000, 4)));
  const nlohmann::json json = p.ToJson();
  EXPECT_EQ(json["format"], "slipway.dataset_profile");
  EXPECT_EQ(json["row_count"], 20000);
  const nlohmann::json& score = json["columns"][1];
  EXPECT_EQ(score["name"], "score");
  EXPECT_EQ(score["type"], "float64");
  ASSERT_EQ(score["quantiles"].size(), kProfileQuantiles.size());
  EXPECT_EQ(score["quantiles"][4]["q"], 0.5);
  EXPECT_EQ(score["quantiles"][0]["value"], score["min"]);
  EXPECT_EQ(score["histogram"].size(), 20u);
  EXPECT_TRUE(score["sketches"].contains("kll"));
  EXPECT_FALSE(score.contains("top_values")) << "inexact float top values are noise";
  const nlohmann::json& id = json["columns"][0];
  EXPECT_TRUE(id["min"].is_number_integer());
  const nlohmann::json& grade = json["columns"][2];
  EXPECT_EQ(grade["type"], "string");
  EXPECT_EQ(grade["distinct"], 5);
  EXPECT_EQ(grade["distinct_exact"], true);
  ASSERT_EQ(grade["top_values"].size(), 5u);
  EXPECT_EQ(grade["top_values"][0]["count"], grade["top_values"][0]["count_upper_bound"]);
  EXPECT_FALSE(grade.contains("quantiles"));

  // Restored profiles are equal, and serialize to the same JSON.
  const DatasetProfile back = DatasetProfile::FromJson(nlohmann::json::parse(json.dump()));
  EXPECT_EQ(back.ToJson(), json);
  for (size_t i = 0; i < p.columns.size(); ++i) {
    ExpectSameExact(back.columns[i], p.columns[i]);
    EXPECT_EQ(back.columns[i].mean, p.columns[i].mean);
    EXPECT_EQ(back.columns[i].m2, p.columns[i].m2);
  }

  nlohmann::json broken = json;
  broken["columns"][1]["sketches"]["kll"] = "!!!";
  EXPECT_THROW(DatasetProfile::FromJson(broken), Error);
  broken = json;
  broken["columns"][0].erase("count");
  try {
    DatasetProfile::FromJson(broken);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "Invalid dataset profile JSON: profile.columns[0]: missing field 'count'");
  }
}

TEST_F(ProfileTest, FirstErrorInFileOrderWithThreads) {
  // Errors near the start and near the end: with 2 or 4 threads the first
  // one is still the one reported.
  std::string content = "a,b\n1,2\n1,2,3\n";
  for (int i = 0; i < 20000; ++i) content += "1,2\n";
  content += "\xff,2\n";
  for (int threads : {1, 2, 4}) {
    EXPECT_EQ(ErrorOf(content, {}, threads),
              "line 3: expected 2 fields (as in the header), found 3")
        << threads;
  }
  CsvOptions ints;
  ints.type_overrides = {{"b", ColumnType::kInt64}};
  std::string late = "a,b\n";
  for (int i = 0; i < 20000; ++i) late += "1,2\n";
  EXPECT_EQ(ErrorOf(late + "1,x\n" + late.substr(4) + "1,y\n", ints, 2),
            "line 20002, column 3: value 'x' of column 'b' is not an int64 (type override)");
}

TEST_F(ProfileTest, ReportsProgress) {
  const fs::path path = Write(MixedCsv(5000, 5));
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  ProfileCsv(path, {}, {}, [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); });
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back().first, fs::file_size(path));
  EXPECT_EQ(calls.back().second, fs::file_size(path));
}

TEST_F(ProfileTest, BuilderProfilesRowsFromAnySource) {
  DatasetProfileBuilder builder({"n", "s"});
  const std::vector<std::string_view> r1 = {"1", "a"};
  const std::vector<std::string_view> r2 = {"3", ""};
  builder.AddRowOrThrow(r1);
  builder.AddRowOrThrow(r2);
  const DatasetProfile p = std::move(builder).Finish();
  EXPECT_EQ(p.row_count, 2);
  EXPECT_EQ(p.Find("n")->mean, 2);
  EXPECT_EQ(p.Find("s")->missing, 1);

  CsvOptions csv;
  csv.type_overrides = {{"n", ColumnType::kInt64}};
  DatasetProfileBuilder strict({"n"}, csv);
  const std::vector<std::string_view> bad = {"x"};
  try {
    strict.AddRowOrThrow(bad);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "Value 'x' of column 'n' is not an int64 (type override)");
  }
}

// AddTypedValues (values whose types and numbers the caller knows) gives
// the profile AddColumnValues gives for the same texts: types promoted the
// same way, the same numbers in the numeric view, the same text sketches,
// missing values and type-override failures.
TEST_F(ProfileTest, TypedValuesProfileLikeTheirTexts) {
  auto typed = [](std::string_view text) {
    TypedValue value{text, ClassifyField(text), 0};
    if (text.empty()) value.type = ColumnType::kEmpty;
    if (IsNumeric(value.type)) ParseFloat64(text, &value.number);
    return value;
  };
  std::mt19937_64 rng(7);
  std::vector<std::vector<std::string>> columns = {
      {},                                            // ints then floats (int64 -> float64)
      {},                                            // floats with missing values
      {"true", "false", "", "True", "3", "x"},       // bool, then a number: string
      {"1", "2", "", "2.5", "abc", "4"},             // int, float, then a string
      {"-0", "0", "1e-05", "1e+20", "12345678901"},  // edges of number texts
      {"1.5", "-0", "2", "-0"}};                     // "-0" of a float64 column: -0.0
  for (int i = 0; i < 700; ++i) columns[0].push_back(std::to_string(int(rng() % 1000) - 500));
  for (int i = 0; i < 300; ++i) columns[0].push_back(fmt::format("{}", double(rng() % 100000) / 7));
  for (int i = 0; i < 1000; ++i) {
    columns[1].push_back(i % 9 == 0 ? "" : fmt::format("{}", double(rng() % 100000) / 3));
  }
  for (const std::vector<std::string>& texts : columns) {
    DatasetProfileBuilder by_text({"c"}, {}, ProfileOptions{});
    DatasetProfileBuilder by_type({"c"}, {}, ProfileOptions{});
    // In the same chunks (a row at a time, then the rest in one call).
    std::vector<std::string_view> views(texts.begin(), texts.end());
    std::vector<TypedValue> values;
    for (std::string_view text : views) values.push_back(typed(text));
    for (size_t i = 0; i < 3 && i < views.size(); ++i) {
      EXPECT_EQ(by_text.AddColumnValues(0, std::span(views).subspan(i, 1)), -1);
      EXPECT_EQ(by_type.AddTypedValues(0, std::span(values).subspan(i, 1)), -1);
    }
    if (views.size() > 3) {
      EXPECT_EQ(by_text.AddColumnValues(0, std::span(views).subspan(3)), -1);
      EXPECT_EQ(by_type.AddTypedValues(0, std::span(values).subspan(3)), -1);
    }
    const DatasetProfile a = std::move(by_text).Finish();
    const DatasetProfile b = std::move(by_type).Finish();
    EXPECT_EQ(a.ToJson().dump(), b.ToJson().dump()) << texts.front();
    EXPECT_EQ(a.columns[0].m2, b.columns[0].m2);  // bit for bit, not only as printed
    EXPECT_EQ(a.columns[0].mean, b.columns[0].mean);
  }
  // A type override: the first value that does not fit is reported alike.
  CsvOptions csv;
  csv.type_overrides = {{"c", ColumnType::kInt64}};
  DatasetProfileBuilder by_text({"c"}, csv);
  DatasetProfileBuilder by_type({"c"}, csv);
  const std::vector<std::string_view> texts = {"1", "", "2.5", "3"};
  std::vector<TypedValue> values;
  for (std::string_view text : texts) values.push_back(typed(text));
  EXPECT_EQ(by_text.AddColumnValues(0, texts), 2);
  EXPECT_EQ(by_type.AddTypedValues(0, values), 2);
  EXPECT_EQ(by_text.profile().ToJson().dump(), by_type.profile().ToJson().dump());
}

}  // namespace
}  // namespace slipway::data
