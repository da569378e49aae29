// The live monitor's fold: windows from prediction records, the log folded
// exactly once through the store, and live accuracy.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

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

// A record of a table of named columns (kept as given) and predictions.
serving::PredictionRecord TableRecord(int64_t time_ms, std::vector<ml::Column> columns, size_t rows,
                                      ml::Predictions outputs, std::string request_id) {
  auto frame = std::make_shared<ml::Frame>();
  frame->rows = rows;
  frame->columns = std::move(columns);
  serving::PredictionRecord record;
  record.deployment = "d";
  record.request_id = std::move(request_id);
  record.model_name = "m";
  record.version = "1";
  record.time = system_clock::time_point(milliseconds(time_ms));
  record.inputs = frame;
  record.outputs = std::make_shared<ml::Predictions>(std::move(outputs));
  return record;
}

ml::Predictions Vector(std::vector<double> values, ml::DataType type = ml::DataType::kDouble) {
  ml::Predictions p;
  p.layout = ml::OutputLayout::kVector;
  p.frame.rows = values.size();
  p.frame.columns.push_back(ml::Column{"", type, 1, std::move(values), {}, {}});
  return p;
}

// The typed reading of log lines profiles a window exactly as a CSV of the
// same values profiles (ProfileCsv: the reference's way), across blocks of
// 256 rows, and takes no general-path detour for the common shape.
TEST(MonitorWindowFold, LogLinesProfileLikeACsvOfTheSameValues) {
  MonitorConfig config = Config("1h");
  config.features = {"x", "n", "flag", "color", "absent"};
  WindowFold fold = NewFold(config);
  slipway::testing::TempDir dir("slipway-fold-csv");
  std::string csv = "x,n,flag,color,absent\n";
  std::mt19937_64 rng(11);
  const size_t kRecords = 600;
  for (size_t i = 0; i < kRecords; ++i) {
    // Edges of the number texts among them: JSON's and fmt's texts differ
    // for some (3.0 against 3, exponents, more than 15 digits).
    const std::vector<double> edges = {0.0001,   0.00012,           1e-05, 123456789012345.0,
                                       -0.0,     12345678901234.5,  0.1,   5e15,
                                       1e16 + 2, -987654321.123456, 3.0,   2.5e-7};
    const double x = i % 17 == 0   ? std::nan("")
                     : i % 10 == 3 ? edges[(i / 10) % edges.size()]
                                   : double(int64_t(rng() % 2000000) - 1000000) / 1000;
    const double n = double(rng() % 50);
    const bool flag = rng() % 2 == 0;
    const std::string color =
        i % 13 == 0 ? "" : std::vector<std::string>{"red", "blue", "7"}[i % 3];
    std::vector<ml::Column> columns = {
        {"x", ml::DataType::kDouble, 1, {x}, {}, {}},
        {"n", ml::DataType::kLong, 1, {n}, {}, {}},
        {"flag", ml::DataType::kBoolean, 1, {flag ? 1.0 : 0.0}, {}, {}},
        {"color", ml::DataType::kString, 1, {}, {color}, {}}};
    if (color.empty()) columns.back().missing = {1};
    fold.AddLine(serving::FormatPredictionLine(TableRecord(
        int64_t(i), std::move(columns), 1, Vector({double(i % 5) / 4}), "r" + std::to_string(i))));
    csv += (std::isnan(x) ? "" : fmt::format("{}", x)) + "," + std::to_string(int64_t(n)) + "," +
           (flag ? "true" : "false") + "," + color + ",\n";
  }
  EXPECT_EQ(fold.typed_lines(), int64_t(kRecords));
  std::vector<MonitorWindow> windows = fold.Windows();
  ASSERT_EQ(windows.size(), 1u);
  data::ProfileOptions options = WindowProfileOptions();
  const data::DatasetProfile expected =
      data::ProfileCsv(dir.Write("window.csv", csv), data::CsvOptions{}, options);
  EXPECT_EQ(windows[0].inputs.ToJson().dump(), expected.ToJson().dump());
  EXPECT_EQ(windows[0].inputs.Find("x")->m2, expected.Find("x")->m2);
  EXPECT_EQ(windows[0].outputs.Find("prediction")->count, int64_t(kRecords));
  EXPECT_EQ(windows[0].outputs.Find("prediction")->type, data::ColumnType::kFloat64);
  std::vector<LoggedPrediction> kept = fold.TakePredictions();
  ASSERT_EQ(kept.size(), kRecords);
  EXPECT_EQ(kept[5].predictions, "[0.0]");
  EXPECT_EQ(nlohmann::json::parse(kept[1].inputs).size(), 4u);
  EXPECT_TRUE(nlohmann::json::parse(kept[1].inputs)["flag"][0].is_boolean());
}

// Every shape the log holds reads the same through AddLine as through
// ParsePredictionLine and Add: the typed path for the common shapes, the
// general path for the rest (tensors, records, escaped strings, ...).
TEST(MonitorWindowFold, LinesOfEveryShapeFoldAsParsedRecords) {
  MonitorConfig config = Config("1h");
  config.features = {"x", "t", "s", "j"};
  std::vector<std::string> lines;
  auto add = [&](std::vector<ml::Column> columns, size_t rows, ml::Predictions outputs) {
    lines.push_back(serving::FormatPredictionLine(
        TableRecord(int64_t(lines.size()), std::move(columns), rows, std::move(outputs),
                    "q" + std::to_string(lines.size()))));
  };
  ml::Predictions matrix;
  matrix.layout = ml::OutputLayout::kMatrix;
  matrix.frame.rows = 2;
  matrix.frame.columns.push_back(
      ml::Column{"", ml::DataType::kDouble, 2, {0.25, 0.75, 1, 0}, {}, {}});
  ml::Predictions records;
  records.layout = ml::OutputLayout::kRecords;
  records.frame.rows = 2;
  records.frame.columns.push_back(
      ml::Column{"label", ml::DataType::kString, 1, {}, {"a", "b"}, {}});
  records.frame.columns.push_back(ml::Column{"score", ml::DataType::kDouble, 1, {0.5, 2}, {}, {}});
  // Common shapes.
  add({{"x", ml::DataType::kDouble, 1, {1.5, -2}, {}, {}},
       {"s", ml::DataType::kString, 1, {}, {"red", "12"}, {}}},
      2, matrix);
  add({{"x", ml::DataType::kLong, 1, {3, 4}, {}, {}}}, 2, Vector({1, 0}, ml::DataType::kLong));
  add({{"x", ml::DataType::kDouble, 1, {1e-7, 1e20}, {}, {}}}, 2, Vector({0.5}));  // fewer outputs
  // General-path shapes: a tensor column, records, an escaped and a
  // non-ASCII string, a JSON column.
  add({{"t", ml::DataType::kDouble, 2, {1, 2, 3, 4}, {}, {}},
       {"x", ml::DataType::kDouble, 1, {7, 8}, {}, {}}},
      2, records);
  add({{"s", ml::DataType::kString, 1, {}, {"a\"b", "caf\xc3\xa9"}, {}},
       {"j", ml::DataType::kJson, 1, {}, {"{\"k\": 1}", "[1, 2]"}, {}}},
      2, Vector({1, 2}));
  WindowFold typed = NewFold(config);
  WindowFold general = NewFold(config);
  for (const std::string& line : lines) {
    typed.AddLine(line);
    general.Add(serving::ParsePredictionLine(line));
  }
  EXPECT_EQ(typed.typed_lines(), 3);
  std::vector<MonitorWindow> a = typed.Windows();
  std::vector<MonitorWindow> b = general.Windows();
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].rows, 10);
  EXPECT_EQ(a[0].rows, b[0].rows);
  EXPECT_EQ(a[0].inputs.ToJson().dump(), b[0].inputs.ToJson().dump());
  EXPECT_EQ(a[0].outputs.ToJson().dump(), b[0].outputs.ToJson().dump());
  std::vector<LoggedPrediction> pa = typed.TakePredictions();
  std::vector<LoggedPrediction> pb = general.TakePredictions();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].request_id, pb[i].request_id);
    EXPECT_EQ(pa[i].time_ms, pb[i].time_ms);
    EXPECT_EQ(nlohmann::json::parse(pa[i].predictions), nlohmann::json::parse(pb[i].predictions))
        << pa[i].predictions << " vs " << pb[i].predictions;
    EXPECT_EQ(nlohmann::json::parse(pa[i].inputs), nlohmann::json::parse(pb[i].inputs))
        << pa[i].inputs << " vs " << pb[i].inputs;
  }
  EXPECT_EQ(pa[2].predictions, "[0.5,null]");
}

TEST(MonitorWindowFold, MalformedLinesAreRefusedNotCounted) {
  WindowFold fold = NewFold(Config("1h"));
  const std::string good = serving::FormatPredictionLine(Record(5, {1}, {"red"}, false, "a"));
  for (const std::string& bad : {good.substr(0, good.size() - 1), good + "x", std::string("[1]"),
                                 std::string("{\"time\": 1, \"inputs\": {\"x\": [1, }}")}) {
    EXPECT_THROW(fold.AddLine(bad), std::exception) << bad;
  }
  fold.AddLine(good);
  std::vector<MonitorWindow> windows = fold.Windows();
  ASSERT_EQ(windows.size(), 1u);
  EXPECT_EQ(windows[0].rows, 1);
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

// Retention: windows and kept predictions older than the age, or beyond
// the newest counts, go; the recent ones stay.
TEST_F(MonitorFoldLogTest, RetentionPrunesOldWindowsAndPredictionsKeepsRecentOnes) {
  stores_->monitors->Put(Config("1h"), "{}");
  const int64_t day = 24 * 3600 * 1000;
  const int64_t now = Now();
  for (int i = 0; i < 3; ++i) {
    log_->Append(Record(now - 3 * day + i, {1.0}, {"red"}, false, "old" + std::to_string(i)));
  }
  log_->Flush();
  for (int i = 0; i < 2; ++i) {
    log_->Append(Record(now - 2 * day + i, {2.0}, {"red"}, false, "older" + std::to_string(i)));
  }
  log_->Flush();
  for (int i = 0; i < 3; ++i) {
    log_->Append(Record(now + i, {3.0}, {"blue"}, false, "new" + std::to_string(i)));
  }
  log_->Flush();
  serving::PredictionLogReader reader = log_->Reader();
  EXPECT_EQ(FoldLog(*stores_->monitors, reader, "d", 100), 8);
  auto windows = [&] {
    return stores_->monitors->Windows("d", std::numeric_limits<int64_t>::min(),
                                      std::numeric_limits<int64_t>::max());
  };
  ASSERT_EQ(windows().size(), 3u);

  // By age (a day): the windows and predictions of 3 and 2 days ago go.
  MonitorStore::Pruned pruned = stores_->monitors->Prune("d", now - day - 1000, 0, 0);
  EXPECT_EQ(pruned.windows, 2);
  EXPECT_EQ(pruned.predictions, 5);
  ASSERT_EQ(windows().size(), 1u);
  EXPECT_EQ(windows()[0].rows, 3);
  EXPECT_EQ(stores_->monitors->KnownRequests("d", {"old0", "older1", "new0", "new2"}),
            (std::vector<std::string>{"new0", "new2"}));

  // By count: the newest 2 predictions stay, the one window stays.
  pruned = stores_->monitors->Prune("d", 0, 1, 2);
  EXPECT_EQ(pruned.windows, 0);
  EXPECT_EQ(pruned.predictions, 1);
  EXPECT_EQ(stores_->monitors->KnownRequests("d", {"new0", "new1", "new2"}),
            (std::vector<std::string>{"new1", "new2"}));
  EXPECT_EQ(windows().size(), 1u);
}

TEST_F(MonitorFoldLogTest, RetentionByWindowCountKeepsTheNewest) {
  stores_->monitors->Put(Config("2rows"), "{}");
  Send(9, 1, "a");  // windows of 2 rows: 0..3 full, 4 holds one
  serving::PredictionLogReader reader = log_->Reader();
  EXPECT_EQ(FoldLog(*stores_->monitors, reader, "d", 100), 9);
  EXPECT_EQ(stores_->monitors->Prune("d", 0, 2, 0).windows, 3);
  std::vector<MonitorWindow> last = stores_->monitors->LastWindows("d", 10);
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[0].seq, 4);
  EXPECT_EQ(last[1].seq, 3);
  // The fold continues the newest window after pruning.
  Send(1, 1, "b");
  EXPECT_EQ(FoldLog(*stores_->monitors, reader, "d", 100), 1);
  EXPECT_EQ(stores_->monitors->LastWindows("d", 1)[0].rows, 2);
}

TEST(MonitorRetention, ParsesAgesAndRoundTripsThroughTheConfig) {
  EXPECT_EQ(Retention::ParseAge("90m"), 90 * 60 * 1000);
  EXPECT_EQ(Retention::ParseAge("30d"), int64_t(30) * 24 * 3600 * 1000);
  for (const char* bad : {"", "0m", "5s", "1w", "9999d", "d"}) {
    try {
      Retention::ParseAge(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("retention"), std::string::npos) << e.what();
    }
  }
  MonitorConfig config = Config("5m");
  EXPECT_EQ(config.retention.max_windows, Retention::kDefaultMaxWindows);
  config.retention = {Retention::ParseAge("12h"), 10, 500};
  MonitorConfig back = MonitorConfigFromJson(ToJson(config));
  EXPECT_EQ(back.retention.max_age_ms, 12 * 3600 * 1000);
  EXPECT_EQ(back.retention.max_windows, 10);
  EXPECT_EQ(back.retention.max_predictions, 500);
  EXPECT_EQ(ToJson(back)["retention"]["max_age"], "12h");
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
