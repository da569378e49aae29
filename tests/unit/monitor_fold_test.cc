// The live monitor's fold: windows from prediction records, the log folded
// exactly once through the store, and live accuracy.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "blob/local_blob_store.h"
#include "core/error.h"
#include "monitoring/live/live_metrics.h"
#include "monitoring/live/window_fold.h"
#include "serving/prediction_log.h"
#include "store/metadata_store.h"
#include "test_util/temp_dir.h"

namespace slipway::monitoring::live {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

serving::PredictionRecord Record(int64_t time_ms, std::vector<double> x,
                                 std::vector<std::string> color, bool shadow = false,
                                 std::string request_id = "") {
  auto frame = std::make_shared<ml::Frame>();
  frame->rows = x.size();
  ml::Column xs{"x", ml::DataType::kDouble, 1, x, {}, {}};
  frame->columns.push_back(xs);
  if (!color.empty()) {
    ml::Column colors{"color", ml::DataType::kString, 1, {}, color, {}};
    frame->columns.push_back(colors);
  }
  auto outputs = std::make_shared<ml::Predictions>();
  outputs->layout = ml::OutputLayout::kVector;
  outputs->frame.rows = x.size();
  ml::Column prediction{"", ml::DataType::kLong, 1, {}, {}, {}};
  for (double v : x) prediction.numbers.push_back(v > 0 ? 1 : 0);
  outputs->frame.columns.push_back(prediction);
  serving::PredictionRecord record;
  record.deployment = "d";
  record.request_id = request_id;
  record.model_name = "m";
  record.version = "1";
  record.shadow = shadow;
  record.time = system_clock::time_point(milliseconds(time_ms));
  record.inputs = frame;
  record.outputs = outputs;
  return record;
}

MonitorConfig Config(const std::string& window) {
  MonitorConfig config;
  config.deployment = "d";
  config.features = {"x", "color"};
  config.window = WindowSpec::Parse(window);
  config.generation = 1;
  return config;
}

WindowFold NewFold(const MonitorConfig& config) {
  return WindowFold(
      config, [](int64_t) { return std::optional<MonitorWindow>(); },
      [] { return std::optional<MonitorWindow>(); });
}

TEST(MonitorWindowSpec, ParsesTimesAndRowCounts) {
  EXPECT_EQ(WindowSpec::Parse("5m").millis, 5 * 60 * 1000);
  EXPECT_EQ(WindowSpec::Parse("30s").kind, WindowSpec::Kind::kTime);
  EXPECT_EQ(WindowSpec::Parse("2h").ToString(), "2h");
  EXPECT_EQ(WindowSpec::Parse("1000rows").rows, 1000);
  EXPECT_EQ(WindowSpec::Parse("250").kind, WindowSpec::Kind::kRows);
  EXPECT_EQ(WindowSpec::Parse("250").ToString(), "250rows");
}

TEST(MonitorWindowSpec, RefusesBadWindowsNamingTheField) {
  for (const char* bad : {"", "m5", "5x", "0m", "-1h", "40d", "5 m"}) {
    try {
      WindowSpec::Parse(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
      EXPECT_NE(std::string(e.what()).find("window"), std::string::npos) << e.what();
    }
  }
}

TEST(MonitorWindowFold, TimeWindowsSplitRecordsByTimeAndSkipShadows) {
  WindowFold fold = NewFold(Config("1s"));
  fold.Add(Record(500, {1, 2}, {"red", "blue"}, false, "a"));
  fold.Add(Record(600, {9, 9, 9}, {"red", "red", "red"}, /*shadow=*/true, "a"));
  fold.Add(Record(1500, {3}, {"red"}, false, "b"));
  fold.Add(Record(1999, {-4}, {"green"}, false, "c"));
  std::vector<MonitorWindow> windows = fold.Windows();
  ASSERT_EQ(windows.size(), 2u);
  EXPECT_EQ(windows[0].seq, 0);
  EXPECT_EQ(windows[0].start_ms, 0);
  EXPECT_EQ(windows[0].end_ms, 1000);
  EXPECT_EQ(windows[0].rows, 2);
  EXPECT_EQ(windows[0].inputs.Find("x")->count, 2);
  EXPECT_DOUBLE_EQ(windows[0].inputs.Find("x")->max, 2);
  EXPECT_EQ(windows[1].seq, 1);
  EXPECT_EQ(windows[1].rows, 2);
  EXPECT_DOUBLE_EQ(windows[1].inputs.Find("x")->min, -4);
  EXPECT_EQ(windows[1].outputs.Find("prediction")->count, 2);
  EXPECT_EQ(fold.shadow_skipped(), 1);
  std::vector<LoggedPrediction> predictions = fold.TakePredictions();
  ASSERT_EQ(predictions.size(), 3u);
  EXPECT_EQ(predictions[0].request_id, "a");
  EXPECT_EQ(nlohmann::json::parse(predictions[0].predictions), nlohmann::json::parse("[1, 1]"));
}

TEST(MonitorWindowFold, AFeatureARequestLacksCountsAsMissing) {
  WindowFold fold = NewFold(Config("1h"));
  fold.Add(Record(10, {1, 2}, {"red", "blue"}));
  fold.Add(Record(20, {3}, {}));
  std::vector<MonitorWindow> windows = fold.Windows();
  ASSERT_EQ(windows.size(), 1u);
  EXPECT_EQ(windows[0].rows, 3);
  EXPECT_EQ(windows[0].inputs.row_count, 3);
  EXPECT_EQ(windows[0].inputs.Find("color")->count, 2);
  EXPECT_EQ(windows[0].inputs.Find("color")->missing, 1);
}

TEST(MonitorWindowFold, RowWindowsFillInOrderAndContinueTheLastStoredOne) {
  MonitorConfig config = Config("3rows");
  WindowFold first = NewFold(config);
  first.Add(Record(10, {1, 2}, {"a", "b"}));
  std::vector<MonitorWindow> stored = first.Windows();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].rows, 2);
  // The next step continues the stored window (1 row left), then opens new ones.
  WindowFold next(
      config,
      [&](int64_t seq) {
        return seq == 0 ? std::optional<MonitorWindow>(stored[0]) : std::nullopt;
      },
      [&] { return std::optional<MonitorWindow>(stored[0]); });
  next.Add(Record(20, {3, 4, 5, 6, 7}, {"c", "d", "e", "f", "g"}));
  std::vector<MonitorWindow> windows = next.Windows();
  // 5 rows: 1 completes window 0, 3 fill window 1, 1 begins window 2.
  ASSERT_EQ(windows.size(), 3u);
  EXPECT_EQ(windows[0].seq, 0);
  EXPECT_EQ(windows[0].rows, 3);
  EXPECT_EQ(windows[0].inputs.Find("x")->count, 3);
  EXPECT_EQ(windows[0].start_ms, 10);
  EXPECT_EQ(windows[0].end_ms, 20);
  EXPECT_EQ(windows[1].seq, 1);
  EXPECT_EQ(windows[1].rows, 3);
  EXPECT_EQ(windows[1].inputs.Find("x")->count, 3);
  EXPECT_EQ(windows[2].seq, 2);
  EXPECT_EQ(windows[2].rows, 1);
}

// The fold through a real prediction log and SQLite store.
class MonitorFoldLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Open();
    blob::LocalBlobStore::Options blobs;
    blobs.root = dir_.path() / "predictions";
    blobs_ = blob::LocalBlobStore::Create(blobs);
    serving::PredictionLog::Options log;
    log.store = blobs_.get();
    log_ = std::make_unique<serving::PredictionLog>(log);
  }
  void Open() {
    stores_.reset();
    stores_ = store::OpenMetadataStore("sqlite:///" + (dir_.path() / "slipway.db").string());
  }
  int64_t Now() const {
    return std::chrono::duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  // Appends `requests` requests of `rows` rows each and publishes them
  // (one segment).
  void Send(int requests, int rows, const std::string& prefix) {
    for (int i = 0; i < requests; ++i) {
      std::vector<double> x(rows, 1.0 + i);
      std::vector<std::string> color(rows, "red");
      log_->Append(Record(Now(), x, color, false, prefix + std::to_string(i)));
    }
    log_->Flush();
  }
  int64_t StoredRows() {
    int64_t rows = 0;
    for (const MonitorWindow& w : stores_->monitors->Windows(
             "d", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max())) {
      rows += w.rows;
      EXPECT_EQ(w.inputs.row_count, w.rows);
    }
    return rows;
  }

  slipway::testing::TempDir dir_{"slipway-monitor-fold"};
  std::unique_ptr<store::MetadataStores> stores_;
  std::unique_ptr<blob::BlobStore> blobs_;
  std::unique_ptr<serving::PredictionLog> log_;
};

TEST_F(MonitorFoldLogTest, EveryPublishedRecordIsFoldedOnceAcrossRestarts) {
  stores_->monitors->Put(Config("1h"), "{}");
  Send(10, 3, "a");
  serving::PredictionLogReader reader = log_->Reader();
  EXPECT_EQ(FoldLog(*stores_->monitors, reader, "d", 100), 30);
  EXPECT_EQ(FoldLog(*stores_->monitors, reader, "d", 100), 0);  // nothing new
  EXPECT_EQ(StoredRows(), 30);

  Send(5, 2, "b");
  // A fold that read from a stale position (a second folder, or one that
  // began before a crash) is refused whole.
  FoldCommit stale;
  stale.deployment = "d";
  stale.generation = 1;
  stale.previous_key = "";
  stale.folded_key = "zzz";
  MonitorWindow extra;
  extra.rows = 1000;
  stale.windows.push_back(extra);
  EXPECT_FALSE(stores_->monitors->CommitFold(stale));
  EXPECT_EQ(StoredRows(), 30);

  // A restart: the store opened again continues after the last segment
  // committed.
  Open();
  EXPECT_EQ(FoldLog(*stores_->monitors, reader, "d", 100), 10);
  EXPECT_EQ(StoredRows(), 40);
  EXPECT_EQ(stores_->monitors->KnownRequests("d", {"a0", "b4", "c0"}),
            (std::vector<std::string>{"a0", "b4"}));
}

TEST_F(MonitorFoldLogTest, ANewConfigFoldsTheLogAgainWithoutCountingTwice) {
  stores_->monitors->Put(Config("1h"), "{}");
  Send(4, 1, "a");
  Send(4, 1, "b");
  serving::PredictionLogReader reader = log_->Reader();
  EXPECT_EQ(FoldLog(*stores_->monitors, reader, "d", 1), 4);  // one segment per run
  EXPECT_EQ(StoredRows(), 4);
  MonitorConfig rows = Config("3rows");
  rows.generation = 2;
  stores_->monitors->Put(rows, "{}");
  EXPECT_EQ(StoredRows(), 0);
  EXPECT_EQ(FoldLog(*stores_->monitors, reader, "d", 100), 8);
  EXPECT_EQ(StoredRows(), 8);
  std::vector<MonitorWindow> last = stores_->monitors->LastWindows("d", 5);
  ASSERT_EQ(last.size(), 3u);  // 3 + 3 + 2 rows
  EXPECT_EQ(last[0].rows, 2);
  EXPECT_EQ(last[1].rows, 3);
}

TEST_F(MonitorFoldLogTest, FeedbackJoinsLoggedPredictionsByRequestId) {
  stores_->monitors->Put(Config("1h"), "{}");
  Send(3, 1, "r");
  FoldLog(*stores_->monitors, log_->Reader(), "d", 100);
  int64_t now = Now();
  stores_->monitors->AddFeedback("d", {{"r0", "[1]", now}, {"r2", "[0]", now}});
  std::vector<JoinedRecord> joined = stores_->monitors->Joined("d", 0, now + 3600 * 1000);
  ASSERT_EQ(joined.size(), 2u);
  EXPECT_EQ(joined[0].prediction.request_id, "r0");
  EXPECT_EQ(joined[0].feedback.labels, "[1]");
  // Both predicted 1 (x > 0): r0 right, r2 wrong.
  LiveAccuracy accuracy = ComputeAccuracy(joined, "");
  EXPECT_EQ(accuracy.task, "classification");
  EXPECT_EQ(accuracy.rows, 2);
  EXPECT_DOUBLE_EQ(*accuracy.accuracy, 0.5);
  // Pruning goes by prediction time, and takes the feedback along.
  EXPECT_EQ(stores_->monitors->PruneKept("d", joined[0].prediction.time_ms), 0);
  EXPECT_EQ(stores_->monitors->PruneKept("d", now + 1), 3);
  EXPECT_TRUE(stores_->monitors->Joined("d", 0, now + 3600 * 1000).empty());
  EXPECT_TRUE(stores_->monitors->KnownRequests("d", {"r0", "r1"}).empty());
}

JoinedRecord Joined(const std::string& predictions, const std::string& labels, int64_t delay_ms) {
  JoinedRecord record;
  record.prediction = {"id", 1000, predictions, ""};
  record.feedback = {"id", labels, 1000 + delay_ms};
  return record;
}

TEST(MonitorLiveAccuracy, ClassifiesLabelsAndScoresProbabilities) {
  // Labels: 3 of 4 right; F1 of class "yes": precision 1, recall 2/3.
  LiveAccuracy labels = ComputeAccuracy({Joined(R"(["yes", "no"])", R"(["yes", "no"])", 1000),
                                         Joined(R"(["yes", "no"])", R"(["yes", "yes"])", 3000)},
                                        "");
  EXPECT_EQ(labels.task, "classification");
  EXPECT_DOUBLE_EQ(*labels.accuracy, 0.75);
  EXPECT_NEAR(*labels.f1, 0.8, 1e-12);
  EXPECT_FALSE(labels.roc_auc);
  EXPECT_DOUBLE_EQ(*labels.label_delay_p50_seconds, 1.0);
  EXPECT_DOUBLE_EQ(*labels.label_delay_p90_seconds, 3.0);
  // Two-class probabilities: argmax for accuracy, p1 for ROC AUC.
  LiveAccuracy proba = ComputeAccuracy(
      {Joined("[[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]]", "[0, 1, 1, 0]", 0)}, "");
  EXPECT_DOUBLE_EQ(*proba.accuracy, 0.5);
  EXPECT_DOUBLE_EQ(*proba.roc_auc, 0.75);  // pairs (1 vs 0): 0.8>0.1, 0.8>0.7, 0.4>0.1, 0.4<0.7
}

TEST(MonitorLiveAccuracy, RegressionGivesRmseAndMae) {
  LiveAccuracy r = ComputeAccuracy({Joined("[1.5, 2.5]", "[1.0, 3.5]", 0)}, "");
  EXPECT_EQ(r.task, "regression");
  EXPECT_DOUBLE_EQ(*r.mae, 0.75);
  EXPECT_DOUBLE_EQ(*r.rmse, std::sqrt((0.25 + 1.0) / 2));
  EXPECT_FALSE(r.accuracy);
}

}  // namespace
}  // namespace slipway::monitoring::live
