#include "data/dataset_diff.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "data/profile.h"

namespace slipway::data {
namespace {

namespace fs = std::filesystem;

class DatasetDiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("slipway_diff_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Version 1: id, score ~ N(100, 15), segment (a/b), zip (int), legacy.
  // Version 2: 20% more rows, score shifted by one sd, zip as text with a
  // letter (type change), legacy dropped, channel added, 10% of segment
  // missing.
  DatasetProfile Version(int version) {
    const int rows = version == 1 ? 2000 : 2400;
    std::mt19937_64 rng(version);
    std::normal_distribution<double> score(version == 1 ? 100 : 115, 15);
    const fs::path path = dir_ / ("v" + std::to_string(version) + ".csv");
    std::ofstream out(path);
    out << (version == 1 ? "id,score,segment,zip,legacy\n" : "id,score,segment,zip,channel\n");
    for (int i = 0; i < rows; ++i) {
      out << i << "," << score(rng) << ",";
      if (!(version == 2 && i % 10 == 0)) out << (i % 4 == 0 ? "a" : "b");
      out << "," << (version == 1 ? "" : "Z") << 10000 + i % 50 << ",";
      out << (version == 1 ? "old" : "web") << "\n";
    }
    out.close();
    return ProfileCsv(path);
  }

  fs::path dir_;
};

TEST_F(DatasetDiffTest, ReportsSchemaAndRowChanges) {
  const DatasetDiff diff = Diff(Version(1), Version(2));
  EXPECT_EQ(diff.added_columns, std::vector<std::string>{"channel"});
  EXPECT_EQ(diff.removed_columns, std::vector<std::string>{"legacy"});
  ASSERT_EQ(diff.type_changes.size(), 1u);
  EXPECT_EQ(diff.type_changes[0].column, "zip");
  EXPECT_EQ(diff.type_changes[0].before, ColumnType::kInt64);
  EXPECT_EQ(diff.type_changes[0].after, ColumnType::kString);
  EXPECT_EQ(diff.rows.before, 2000);
  EXPECT_EQ(diff.rows.after, 2400);
  EXPECT_EQ(diff.rows.delta, 400);
  EXPECT_DOUBLE_EQ(*diff.rows.relative_delta, 0.2);
  ASSERT_EQ(diff.columns.size(), 4u);  // id, score, segment, zip
  EXPECT_EQ(diff.columns[0].column, "id");
}

TEST_F(DatasetDiffTest, ReportsStatisticDeltas) {
  const DatasetProfile a = Version(1);
  const DatasetProfile b = Version(2);
  const DatasetDiff diff = Diff(a, b);
  const ColumnDiff* score = diff.Find("score");
  ASSERT_NE(score, nullptr);
  const StatisticChange* mean = score->Find("mean");
  ASSERT_NE(mean, nullptr);
  EXPECT_NEAR(*mean->before, 100, 1.5);
  EXPECT_NEAR(*mean->after, 115, 1.5);
  EXPECT_DOUBLE_EQ(*mean->delta, *mean->after - *mean->before);
  EXPECT_NEAR(*mean->relative_delta, 0.15, 0.03);
  EXPECT_NEAR(*score->Find("std")->after, 15, 1.0);
  EXPECT_NEAR(*score->Find("median")->delta, 15, 2.5);
  EXPECT_DOUBLE_EQ(*score->Find("min")->before, a.Find("score")->min);
  EXPECT_DOUBLE_EQ(*score->Find("max")->after, b.Find("score")->max);
  EXPECT_EQ(score->Find("count")->delta, 400);
  // The drift of a one-sd shift.
  EXPECT_EQ(score->drift.kind, DriftKind::kNumeric);
  EXPECT_GT(score->drift.psi, 0.2);
  EXPECT_GT(*score->drift.ks, 0.3);

  const ColumnDiff* segment = diff.Find("segment");
  const StatisticChange* missing = segment->Find("missing_share");
  EXPECT_EQ(*missing->before, 0.0);
  EXPECT_DOUBLE_EQ(*missing->after, 0.1);
  EXPECT_FALSE(missing->relative_delta.has_value());  // before is 0
  EXPECT_EQ(segment->Find("distinct")->after, 2);
  EXPECT_FALSE(segment->Find("mean")->before.has_value());  // not numeric
  EXPECT_FALSE(segment->Find("mean")->delta.has_value());
  EXPECT_EQ(segment->drift.kind, DriftKind::kCategorical);

  // zip turned into text: numeric statistics only on the before side, and
  // the drift compares texts, which share no value.
  const ColumnDiff* zip = diff.Find("zip");
  EXPECT_TRUE(zip->Find("min")->before.has_value());
  EXPECT_FALSE(zip->Find("min")->after.has_value());
  EXPECT_EQ(zip->drift.kind, DriftKind::kCategorical);
  EXPECT_EQ(zip->drift.new_categories.size(), 50u);
  EXPECT_EQ(zip->drift.missing_categories.size(), 50u);
  EXPECT_GT(zip->drift.js, 0.99);
}

TEST_F(DatasetDiffTest, IdenticalProfilesHaveNoChanges) {
  const DatasetProfile a = Version(1);
  const DatasetDiff diff = Diff(a, a);
  EXPECT_TRUE(diff.added_columns.empty());
  EXPECT_TRUE(diff.removed_columns.empty());
  EXPECT_TRUE(diff.type_changes.empty());
  for (const ColumnDiff& c : diff.columns) {
    for (const StatisticChange& s : c.statistics) {
      if (s.delta) {
        EXPECT_EQ(*s.delta, 0.0) << c.column << "." << s.statistic;
      }
    }
    EXPECT_NEAR(c.drift.psi, 0.0, 1e-12) << c.column;
    EXPECT_NEAR(c.drift.js, 0.0, 1e-6) << c.column;
  }
  const std::string text = diff.RenderText();
  EXPECT_NE(text.find("Schema: unchanged"), std::string::npos) << text;
  EXPECT_NE(text.find("statistics unchanged"), std::string::npos) << text;
}

TEST_F(DatasetDiffTest, JsonAndTextNameTheChanges) {
  const DatasetDiff diff = Diff(Version(1), Version(2));
  const nlohmann::json json = diff.ToJson();
  EXPECT_EQ(json["rows"]["before"], 2000.0);
  EXPECT_EQ(json["rows"]["after"], 2400.0);
  EXPECT_EQ(json["schema"]["added"], nlohmann::json::array({"channel"}));
  EXPECT_EQ(json["schema"]["removed"], nlohmann::json::array({"legacy"}));
  EXPECT_EQ(json["schema"]["type_changes"][0]["column"], "zip");
  EXPECT_EQ(json["schema"]["type_changes"][0]["before"], "int64");
  EXPECT_EQ(json["schema"]["type_changes"][0]["after"], "string");
  ASSERT_EQ(json["columns"].size(), 4u);
  const nlohmann::json& segment = json["columns"][2];
  EXPECT_EQ(segment["column"], "segment");
  EXPECT_EQ(segment["statistics"][3]["statistic"], "mean");
  EXPECT_TRUE(segment["statistics"][3]["before"].is_null());
  EXPECT_EQ(json["columns"][1]["drift"]["kind"], "numeric");

  const std::string text = diff.RenderText();
  EXPECT_NE(text.find("Rows: 2000 -> 2400  (+400, +20%)"), std::string::npos) << text;
  EXPECT_NE(text.find("+ channel (added)"), std::string::npos) << text;
  EXPECT_NE(text.find("- legacy (removed)"), std::string::npos) << text;
  EXPECT_NE(text.find("~ zip: int64 -> string"), std::string::npos) << text;
  EXPECT_NE(text.find("drift (numeric): PSI"), std::string::npos) << text;
}

}  // namespace
}  // namespace slipway::data
