// The prediction log behind a BlobStore: segments published by size, by age
// and at Flush; retention; the reader monitoring uses; a full queue drops
// without waiting; what a killed writer left is swept.
#include "serving/prediction_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <cmath>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "blob/local_blob_store.h"
#include "core/error.h"
#include "test_util/temp_dir.h"

namespace slipway::serving {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::system_clock;
using namespace std::chrono_literals;

PredictionRecord Record(const std::string& deployment, const std::string& id,
                        system_clock::time_point time = system_clock::now()) {
  PredictionRecord record;
  record.deployment = deployment;
  record.request_id = id;
  record.model_name = "churn-model";
  record.version = "3";
  record.time = time;
  record.latency_seconds = 0.0025;
  ml::Frame inputs;
  inputs.rows = 2;
  ml::Column x;
  x.name = "x";
  x.numbers = {1.5, 2};
  inputs.columns.push_back(x);
  record.inputs = std::make_shared<const ml::Frame>(std::move(inputs));
  ml::Predictions out;
  out.frame.rows = 2;
  ml::Column y;
  y.name = "y";
  y.numbers = {3, 4};
  out.frame.columns.push_back(y);
  record.outputs = std::make_shared<const ml::Predictions>(std::move(out));
  return record;
}

// Polls `done` for up to five seconds.
template <typename F>
bool Eventually(F done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

class BlobPredictionLogTest : public ::testing::Test {
 protected:
  BlobPredictionLogTest()
      : dir_("predlog"),
        store_(blob::LocalBlobStore::Create({.root = dir_.path(), .sync = false})) {}

  // Published segments of `deployment` (under "predictions/"), any time.
  std::vector<PredictionSegment> Segments(const std::string& deployment) {
    return PredictionLogReader(*store_, "predictions/")
        .Segments(deployment, system_clock::time_point{}, system_clock::now() + 24h);
  }

  testing::TempDir dir_;
  std::unique_ptr<blob::LocalBlobStore> store_;
};

TEST_F(BlobPredictionLogTest, KeysAreTimeOrderedUnderThePrefix) {
  PredictionLog log({.store = store_.get(), .prefix = "predictions/"});
  log.Append(Record("churn", "a"));
  log.Flush();
  log.Append(Record("churn", "b"));
  log.Flush();
  std::vector<PredictionSegment> segments = Segments("churn");
  ASSERT_EQ(segments.size(), 2u);
  const std::regex shape(R"(predictions/churn/\d{8}T\d{6}\.\d{3}Z-\d{6}\.jsonl)");
  for (const PredictionSegment& segment : segments) {
    EXPECT_TRUE(std::regex_match(segment.key, shape)) << segment.key;
    EXPECT_EQ(segment.deployment, "churn");
  }
  EXPECT_LT(segments[0].key, segments[1].key);
  EXPECT_LE(segments[0].start_ms, segments[1].start_ms);
  EXPECT_EQ(log.written(), 2u);
  EXPECT_THROW(PredictionLog({.store = store_.get(), .prefix = "no-slash"}), Error);
}

TEST_F(BlobPredictionLogTest, PublishesASegmentWhenItReachesItsSize) {
  const uint64_t line = FormatPredictionLine(Record("churn", "r0")).size() + 1;
  PredictionLog log({.store = store_.get(),
                     .prefix = "predictions/",
                     .segment_bytes = 2 * line,
                     .flush_interval = std::chrono::minutes(10)});
  for (int i = 0; i < 5; ++i) log.Append(Record("churn", "r" + std::to_string(i)));
  ASSERT_TRUE(Eventually([&] { return Segments("churn").size() == 2; }))
      << "two full segments are published without a flush";
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(Segments("churn").size(), 2u) << "the fifth record's segment is not full nor old";
  EXPECT_EQ(log.written(), 4u);
  for (const PredictionSegment& segment : Segments("churn")) EXPECT_EQ(segment.size, 2 * line);
  log.Flush();
  EXPECT_EQ(Segments("churn").size(), 3u);
  EXPECT_EQ(log.written(), 5u);
}

TEST_F(BlobPredictionLogTest, PublishesASegmentOnceItIsOlderThanTheFlushInterval) {
  PredictionLog log({.store = store_.get(), .prefix = "predictions/", .flush_interval = 300ms});
  const auto appended = std::chrono::steady_clock::now();
  log.Append(Record("churn", "only"));
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(Segments("churn").empty()) << "published before its flush interval";
  ASSERT_TRUE(Eventually([&] { return Segments("churn").size() == 1; }))
      << "a segment older than the flush interval is published without a flush";
  EXPECT_GE(std::chrono::steady_clock::now() - appended, 300ms);
  EXPECT_EQ(log.written(), 1u);
  // The deadline comes again for the next segment, with no new record after it.
  log.Append(Record("churn", "second"));
  ASSERT_TRUE(Eventually([&] { return Segments("churn").size() == 2; }));
}

TEST_F(BlobPredictionLogTest, ARecordLaterThanItsSegmentMaySpanBeginsANewOne) {
  const auto t0 = system_clock::now() - 1h;
  PredictionLog log({.store = store_.get(), .prefix = "predictions/", .flush_interval = 1s});
  for (int i = 0; i < 4; ++i) log.Append(Record("churn", std::to_string(i), t0 + i * 600ms));
  log.Flush();
  // 0 ms and 600 ms, then 1200 ms and 1800 ms: a segment spans one second.
  std::vector<PredictionSegment> segments = Segments("churn");
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments[0].start_ms,
            std::chrono::duration_cast<milliseconds>(t0.time_since_epoch()).count());
}

TEST_F(BlobPredictionLogTest, RetentionDeletesTheOldestSegmentsFirst) {
  // Segments an earlier run left: one older than the age limit (in the
  // naming of logs written before segments were blobs), one recent.
  const std::string old_key = "predictions/churn/20200101T000000-7.jsonl";
  store_->Put(old_key, FormatPredictionLine(Record("churn", "old")) + "\n");
  {
    PredictionLog log({.store = store_.get(), .prefix = "predictions/", .max_age = 24h});
    log.Append(Record("churn", "new"));
    log.Flush();
    EXPECT_FALSE(store_->Stat(old_key)) << "older than max_age";
    EXPECT_EQ(Segments("churn").size(), 1u);
  }
  // By size: the oldest go first, across deployments, until the log fits.
  const uint64_t line = FormatPredictionLine(Record("small", "s00")).size() + 1;
  PredictionLog log({.store = store_.get(),
                     .prefix = "predictions/",
                     .segment_bytes = line,
                     .max_bytes = 3 * line});
  for (int i = 10; i < 20; ++i) log.Append(Record("small", "s" + std::to_string(i)));
  log.Flush();
  EXPECT_TRUE(Segments("churn").empty()) << "the other deployment's older segment went first";
  std::vector<PredictionSegment> kept = Segments("small");
  ASSERT_EQ(kept.size(), 3u);
  std::vector<PredictionRecord> last =
      PredictionLogReader(*store_, "predictions/").ReadSegment(kept.back().key);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].request_id, "s19") << "the newest stay";
  uint64_t total = 0;
  blob::ListOptions everything;
  everything.prefix = "predictions/";
  everything.recursive = true;
  for (const blob::ListEntry& entry : store_->ListAll(everything)) total += entry.size;
  EXPECT_LE(total, 3 * line);
}

TEST_F(BlobPredictionLogTest, ALogThatNeverWroteDeletesNothingUntilRetentionStarts) {
  const std::string old_key = "predictions/churn/20200101T000000.000Z-000000.jsonl";
  store_->Put(old_key, FormatPredictionLine(Record("churn", "old")) + "\n");
  PredictionLog log({.store = store_.get(), .prefix = "predictions/", .max_age = 24h});
  log.Flush();
  EXPECT_TRUE(store_->Stat(old_key)) << "a log opened by another process's command keeps out";
  log.StartRetention();
  log.Flush();
  EXPECT_FALSE(store_->Stat(old_key)) << "the log's owner ages it out without any new record";
}

TEST_F(BlobPredictionLogTest, TheReaderReturnsTheRecordsOfATimeWindow) {
  const auto t0 = std::chrono::time_point_cast<milliseconds>(system_clock::now() - 2h);
  {
    PredictionLog log({.store = store_.get(), .prefix = "predictions/", .flush_interval = 1s});
    for (int i = 0; i < 10; ++i) {
      PredictionRecord record = Record("churn", "c" + std::to_string(i), t0 + i * 700ms);
      record.shadow = i % 2 == 1;
      log.Append(std::move(record));
      log.Append(Record("other", "o" + std::to_string(i), t0 + i * 700ms));
    }
  }  // the destructor publishes
  PredictionLogReader reader(*store_, "predictions/");
  EXPECT_EQ(reader.Deployments(), (std::vector<std::string>{"churn", "other"}));
  EXPECT_GT(reader.Segments("churn", t0, t0 + 10s).size(), 3u) << "one second per segment";

  // [2.1 s, 4.9 s): records 3 to 6.
  std::vector<PredictionRecord> window = reader.Read("churn", t0 + 2100ms, t0 + 4900ms);
  ASSERT_EQ(window.size(), 4u);
  for (size_t i = 0; i < window.size(); ++i) {
    const PredictionRecord& record = window[i];
    EXPECT_EQ(record.request_id, "c" + std::to_string(i + 3));
    EXPECT_EQ(record.deployment, "churn");
    EXPECT_EQ(record.model_name, "churn-model");
    EXPECT_EQ(record.version, "3");
    EXPECT_EQ(record.shadow, (i + 3) % 2 == 1);
    EXPECT_EQ(record.time, t0 + static_cast<int>(i + 3) * 700ms);
    EXPECT_NEAR(record.latency_seconds, 0.0025, 1e-9);
    ASSERT_TRUE(record.inputs && record.outputs);
    ASSERT_EQ(record.inputs->rows, 2u);
    const ml::Column* x = record.inputs->Find("x");
    ASSERT_NE(x, nullptr);
    EXPECT_EQ(x->type, ml::DataType::kDouble);
    EXPECT_EQ(x->numbers, (std::vector<double>{1.5, 2}));
    EXPECT_EQ(record.outputs->layout, ml::OutputLayout::kVector);
    ASSERT_EQ(record.outputs->frame.columns.size(), 1u);
    EXPECT_EQ(record.outputs->frame.columns[0].numbers, (std::vector<double>{3, 4}));
  }
  // A narrow window reads few segments, not the whole deployment: those
  // that began at 2.8 s and 4.2 s.
  std::vector<PredictionSegment> narrow = reader.Segments("churn", t0 + 4300ms, t0 + 4400ms);
  ASSERT_EQ(narrow.size(), 2u);
  EXPECT_EQ(narrow[0].start_ms, (t0 + 2800ms).time_since_epoch().count());
  EXPECT_TRUE(reader.Read("churn", t0 + 1h, t0 + 2h).empty());
  EXPECT_TRUE(reader.Read("nobody", t0, t0 + 1h).empty());
  EXPECT_EQ(reader.Read("other", t0, t0 + 1h).size(), 10u);
}

ml::Column Numbers(std::string name, ml::DataType type, std::vector<double> values) {
  ml::Column column;
  column.name = std::move(name);
  column.type = type;
  column.numbers = std::move(values);
  return column;
}

ml::Column Strings(std::string name, std::vector<std::string> values) {
  ml::Column column;
  column.name = std::move(name);
  column.type = ml::DataType::kString;
  column.strings = std::move(values);
  return column;
}

TEST_F(BlobPredictionLogTest, ALineParsesBackToTheRecordItWasWrittenFrom) {
  PredictionRecord record = Record("churn", "r1");
  ml::Frame inputs;
  inputs.rows = 2;
  ml::Column count = Numbers("count", ml::DataType::kLong, {3, NAN});
  ml::Column flag = Numbers("flag", ml::DataType::kBoolean, {1, 0});
  ml::Column city = Strings("city", {"Oslo", ""});
  city.missing = {0, 1};
  ml::Column pixels = Numbers("pixels", ml::DataType::kFloat, {0.5, 1, 1.5, 2, 2.5, 3});
  pixels.width = 3;
  inputs.columns = {count, flag, city, pixels};
  record.inputs = std::make_shared<const ml::Frame>(inputs);
  ml::Predictions records;
  records.layout = ml::OutputLayout::kRecords;
  records.frame.rows = 2;
  records.frame.columns = {Strings("label", {"yes", "no"}),
                           Numbers("score", ml::DataType::kDouble, {0.9, 0.1})};
  record.outputs = std::make_shared<const ml::Predictions>(records);

  PredictionRecord back = ParsePredictionLine(FormatPredictionLine(record));
  ASSERT_EQ(back.inputs->rows, 2u);
  const ml::Column* c = back.inputs->Find("count");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->type, ml::DataType::kLong);
  EXPECT_EQ(c->numbers[0], 3);
  EXPECT_TRUE(std::isnan(c->numbers[1]));
  EXPECT_EQ(back.inputs->Find("flag")->type, ml::DataType::kBoolean);
  EXPECT_EQ(back.inputs->Find("flag")->numbers, (std::vector<double>{1, 0}));
  const ml::Column* s = back.inputs->Find("city");
  EXPECT_EQ(s->type, ml::DataType::kString);
  EXPECT_EQ(s->strings[0], "Oslo");
  EXPECT_EQ(s->missing, (std::vector<uint8_t>{0, 1}));
  const ml::Column* p = back.inputs->Find("pixels");
  EXPECT_EQ(p->width, 3u);
  EXPECT_EQ(p->numbers, (std::vector<double>{0.5, 1, 1.5, 2, 2.5, 3}));
  EXPECT_EQ(back.outputs->layout, ml::OutputLayout::kRecords);
  ASSERT_EQ(back.outputs->frame.columns.size(), 2u);
  EXPECT_EQ(back.outputs->frame.Find("label")->strings, (std::vector<std::string>{"yes", "no"}));
  EXPECT_EQ(back.outputs->frame.Find("score")->numbers, (std::vector<double>{0.9, 0.1}));

  ml::Predictions matrix;
  matrix.layout = ml::OutputLayout::kMatrix;
  matrix.frame.rows = 1;
  matrix.frame.columns = {Numbers("p", ml::DataType::kDouble, {0.25, 0.75})};
  matrix.frame.columns[0].width = 2;
  record.outputs = std::make_shared<const ml::Predictions>(matrix);
  back = ParsePredictionLine(FormatPredictionLine(record));
  EXPECT_EQ(back.outputs->layout, ml::OutputLayout::kMatrix);
  EXPECT_EQ(back.outputs->frame.columns[0].numbers, (std::vector<double>{0.25, 0.75}));
  EXPECT_THROW(ParsePredictionLine("[1, 2]"), std::exception);
  EXPECT_THROW(ParsePredictionLine("{\"time\": "), std::exception);
}

// A store whose writers wait at a gate: a writer thread stuck on slow
// storage.
class GatedStore : public blob::BlobStore {
 public:
  explicit GatedStore(blob::BlobStore& inner) : inner_(inner) {}
  void Release() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool entered() {
    std::lock_guard lock(mu_);
    return entered_;
  }
  std::string Describe() const override { return "gated"; }
  std::unique_ptr<blob::BlobWriter> OpenWriter(std::string_view key,
                                               const blob::WriterOptions& options) override {
    std::unique_lock lock(mu_);
    entered_ = true;
    cv_.wait(lock, [&] { return open_; });
    return inner_.OpenWriter(key, options);
  }
  std::unique_ptr<blob::BlobReader> Open(std::string_view key) override { return inner_.Open(key); }
  std::optional<blob::BlobInfo> Stat(std::string_view key) override { return inner_.Stat(key); }
  blob::ListPage List(const blob::ListOptions& options) override { return inner_.List(options); }
  bool Delete(std::string_view key) override { return inner_.Delete(key); }
  uint64_t DeletePrefix(std::string_view folder) override { return inner_.DeletePrefix(folder); }
  uint64_t SweepAbandoned(std::string_view folder, int64_t cutoff_ms) override {
    return inner_.SweepAbandoned(folder, cutoff_ms);
  }
  void MakeDurable(std::string_view folder) override { inner_.MakeDurable(folder); }

 private:
  blob::BlobStore& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  bool entered_ = false;
};

TEST_F(BlobPredictionLogTest, AFullQueueDropsAndNeverWaitsForTheWriter) {
  GatedStore gated(*store_);
  PredictionLog log({.store = &gated, .prefix = "predictions/", .max_queued = 8});
  log.Append(Record("churn", "first"));
  ASSERT_TRUE(Eventually([&] { return gated.entered(); })) << "the writer took the first record";
  // The writer is stuck; the request path must not be.
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) log.Append(Record("churn", "r" + std::to_string(i)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(log.dropped(), 1000u - 8u);
  gated.Release();
  log.Flush();
  EXPECT_EQ(log.written(), 9u);
  EXPECT_EQ(log.written() + log.dropped(), 1001u);
}

// A store whose publications fail: the segment's records are lost and
// counted, nothing half-written becomes visible, and the log goes on.
class FailingStore : public GatedStore {
 public:
  using GatedStore::GatedStore;
  std::unique_ptr<blob::BlobWriter> OpenWriter(std::string_view key,
                                               const blob::WriterOptions& options) override {
    if (fail) throw Error(ErrorCode::kInternalError, "disk on fire");
    return GatedStore::OpenWriter(key, options);
  }
  std::atomic<bool> fail{true};
};

TEST_F(BlobPredictionLogTest, AFailedWriteLosesItsRecordsAndTheLogGoesOn) {
  FailingStore failing(*store_);
  failing.Release();
  PredictionLog log({.store = &failing, .prefix = "predictions/"});
  log.Append(Record("churn", "a"));
  log.Append(Record("churn", "b"));
  log.Flush();
  EXPECT_EQ(log.failed(), 2u);
  EXPECT_EQ(log.written(), 0u);
  EXPECT_TRUE(Segments("churn").empty());
  failing.fail = false;
  log.Append(Record("churn", "c"));
  log.Flush();
  EXPECT_EQ(log.written(), 1u);
  EXPECT_EQ(Segments("churn").size(), 1u);
}

TEST_F(BlobPredictionLogTest, WhatAKilledWriterLeftIsSweptAtOpen) {
  // Temporary files as writers leave them: one a killed server left 20
  // minutes ago, and one 5 minutes old, as a live server's segment can be
  // while another process (a CLI command) opens the log.
  fs::create_directories(dir_.path() / "predictions" / "churn");
  auto temporary = [&](const std::string& name, int age_seconds) {
    const fs::path path =
        dir_.Write("predictions/churn/." + name + std::string(blob::kTemporaryMarker) + "999-1",
                   "{\"time\": 1");
    const time_t when = ::time(nullptr) - age_seconds;
    struct utimbuf times {
      when, when
    };
    EXPECT_EQ(::utime(path.c_str(), &times), 0);
    return path;
  };
  const fs::path abandoned = temporary("20260101T000000.000Z-000000.jsonl", 20 * 60);
  const fs::path live = temporary("20260101T001500.000Z-000000.jsonl", 5 * 60);
  PredictionLog log({.store = store_.get(), .prefix = "predictions/"});
  EXPECT_FALSE(fs::exists(abandoned));
  EXPECT_TRUE(fs::exists(live)) << "a writer may still be at work on it";
}

// The record line as the log wrote it before it wrote lines directly: an
// nlohmann::json object dumped. The writer must still produce these bytes.
namespace dom {
using nlohmann::json;
json Value(const ml::Column& column, size_t index) {
  if (ml::IsNumeric(column.type)) {
    double value = column.numbers[index];
    if (std::isnan(value)) return nullptr;
    if (column.type == ml::DataType::kBoolean) return value != 0;
    if ((column.type == ml::DataType::kLong || column.type == ml::DataType::kInteger) &&
        std::abs(value) < 9.0e15) {
      return static_cast<int64_t>(value);
    }
    return value;
  }
  if (!column.missing.empty() && column.missing[index]) return nullptr;
  if (column.type == ml::DataType::kJson) {
    try {
      return json::parse(column.strings[index]);
    } catch (const std::exception&) {
      return column.strings[index];
    }
  }
  return column.strings[index];
}
json Cell(const ml::Column& column, size_t row) {
  if (column.width == 1) return Value(column, row);
  json list = json::array();
  for (size_t k = 0; k < column.width; ++k) list.push_back(Value(column, row * column.width + k));
  return list;
}
std::string Format(const PredictionRecord& record) {
  json entry = {
      {"time", std::chrono::duration_cast<milliseconds>(record.time.time_since_epoch()).count()},
      {"deployment", record.deployment},
      {"request_id", record.request_id},
      {"model", record.model_name},
      {"version", record.version},
      {"shadow", record.shadow},
      {"latency_ms", record.latency_seconds * 1000}};
  if (record.inputs) {
    json out = json::object();
    for (size_t c = 0; c < record.inputs->columns.size(); ++c) {
      const ml::Column& column = record.inputs->columns[c];
      json values = json::array();
      for (size_t row = 0; row < record.inputs->rows; ++row) values.push_back(Cell(column, row));
      out[column.name.empty() ? "column_" + std::to_string(c) : column.name] = std::move(values);
    }
    entry["inputs"] = out;
  }
  if (record.outputs) {
    const ml::Frame& frame = record.outputs->frame;
    json rows = json::array();
    if (record.outputs->layout == ml::OutputLayout::kRecords) {
      for (size_t row = 0; row < frame.rows; ++row) {
        json item = json::object();
        for (const ml::Column& column : frame.columns) item[column.name] = Cell(column, row);
        rows.push_back(std::move(item));
      }
    } else if (!frame.columns.empty()) {
      for (size_t row = 0; row < frame.rows; ++row)
        rows.push_back(Cell(frame.columns.front(), row));
    }
    entry["outputs"] = rows;
  }
  return entry.dump(-1, ' ', false, json::error_handler_t::replace);
}
}  // namespace dom

TEST(PredictionLogFormat, WritesTheBytesOfTheJsonObjectItReplaced) {
  const double nan = std::nan("");
  auto inputs = std::make_shared<ml::Frame>();
  inputs->rows = 3;
  inputs->columns = {
      {"x", ml::DataType::kDouble, 1, {0.1, -2.0, nan}, {}, {}},
      {"n", ml::DataType::kLong, 1, {3, -4e15, 1e16}, {}, {}},
      {"b", ml::DataType::kBoolean, 1, {1, 0, nan}, {}, {}},
      {"", ml::DataType::kDouble, 1, {1e-7, 1e21, 123456789.125}, {}, {}},
      {"s", ml::DataType::kString, 1, {}, {"a\"b\\c\n\x01", "caf\xc3\xa9", ""}, {0, 0, 1}},
      {"j", ml::DataType::kJson, 1, {}, {"{\"k\": [1, 2.50]}", "not json", "null"}, {}},
      {"t", ml::DataType::kDouble, 2, {1, 2, 3, 4, 5, 6}, {}, {}},
      {"x", ml::DataType::kLong, 1, {7, 8, 9}, {}, {}},  // a second "x": the later wins
      {"bad", ml::DataType::kString, 1, {}, {"\xff\xfe", "ok", "\x7f"}, {}}};
  PredictionRecord record;
  record.deployment = "d\"1";
  record.request_id = "req-1";
  record.model_name = "m";
  record.version = "3";
  record.shadow = true;
  record.time = system_clock::time_point(milliseconds(1765000000123));
  record.latency_seconds = 0.000417;
  record.inputs = inputs;
  for (ml::OutputLayout layout : {ml::OutputLayout::kVector, ml::OutputLayout::kMatrix,
                                  ml::OutputLayout::kRecords, ml::OutputLayout::kValue}) {
    auto outputs = std::make_shared<ml::Predictions>();
    outputs->layout = layout;
    outputs->frame.rows = 3;
    if (layout == ml::OutputLayout::kMatrix) {
      outputs->frame.columns = {{"", ml::DataType::kDouble, 2, {0.25, 0.75, 1, 0, nan, 1}, {}, {}}};
    } else if (layout == ml::OutputLayout::kRecords) {
      outputs->frame.columns = {{"score", ml::DataType::kDouble, 1, {0.5, 1, 2}, {}, {}},
                                {"label", ml::DataType::kString, 1, {}, {"a", "b", "c"}, {}}};
    } else {
      outputs->frame.columns = {{"", ml::DataType::kLong, 1, {1, 0, 1}, {}, {}}};
    }
    record.outputs = outputs;
    EXPECT_EQ(FormatPredictionLine(record), dom::Format(record));
  }
  // Columns in increasing name order (written without sorting), and one
  // with the names of two columns out of order.
  auto sorted = std::make_shared<ml::Frame>();
  sorted->rows = 2;
  sorted->columns = {{"a", ml::DataType::kDouble, 1, {0.5, nan}, {}, {}},
                     {"b", ml::DataType::kLong, 1, {1, 2}, {}, {}},
                     {"c", ml::DataType::kString, 1, {}, {"x", "y"}, {}}};
  record.inputs = sorted;
  EXPECT_EQ(FormatPredictionLine(record), dom::Format(record));
  std::swap(sorted->columns[0].name, sorted->columns[2].name);
  EXPECT_EQ(FormatPredictionLine(record), dom::Format(record));
  record.inputs = nullptr;
  record.outputs = nullptr;
  record.latency_seconds = nan;
  EXPECT_EQ(FormatPredictionLine(record), dom::Format(record));
}

}  // namespace
}  // namespace slipway::serving
