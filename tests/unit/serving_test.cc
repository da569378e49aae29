#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "blob/local_blob_store.h"
#include "core/error.h"
#include "monitoring/metric_registry.h"
#include "serving/batcher.h"
#include "serving/deployment.h"
#include "serving/prediction_log.h"
#include "serving/servable.h"
#include "serving/serving_service.h"

namespace slipway::serving {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Doubles column 0; records the size of every call; can hold calls until
// released, and refuses a row whose value is negative.
class DoublingModel : public ml::Model {
 public:
  ml::Predictions Predict(const ml::Frame& input, std::string_view) const override {
    {
      std::unique_lock lock(mu_);
      calls_.push_back(input.rows);
      ++entered_;
      entered_cv_.notify_all();
      release_cv_.wait(lock, [&] { return !hold_; });
    }
    ml::Predictions out;
    out.frame.rows = input.rows;
    ml::Column column;
    column.name = "y";
    for (double v : input.columns.at(0).numbers) {
      if (v < 0) ThrowInvalid("negative input");
      column.numbers.push_back(v * 2);
    }
    out.frame.columns.push_back(std::move(column));
    return out;
  }
  const ml::MlModel& mlmodel() const override { return mlmodel_; }
  std::string_view flavor() const override { return "test"; }
  bool native() const override { return true; }

  void Hold() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  void Release() {
    std::lock_guard lock(mu_);
    hold_ = false;
    release_cv_.notify_all();
  }
  void WaitEntered(size_t n) {
    std::unique_lock lock(mu_);
    entered_cv_.wait(lock, [&] { return entered_ >= n; });
  }
  std::vector<size_t> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  ml::MlModel mlmodel_;
  mutable std::mutex mu_;
  mutable std::condition_variable entered_cv_;
  mutable std::condition_variable release_cv_;
  mutable std::vector<size_t> calls_;
  mutable size_t entered_ = 0;
  bool hold_ = false;
};

ml::Frame Rows(std::vector<double> values, std::string name = "x") {
  ml::Frame frame;
  frame.rows = values.size();
  ml::Column column;
  column.name = std::move(name);
  column.numbers = std::move(values);
  frame.columns.push_back(std::move(column));
  return frame;
}

std::shared_ptr<Servable> MakeServable(std::shared_ptr<DoublingModel> model, std::string version,
                                       size_t batch_rows = 0, int delay_us = 0) {
  auto servable = std::make_shared<Servable>();
  servable->model_name = "m";
  servable->version = std::move(version);
  servable->model = std::move(model);
  if (batch_rows > 0) {
    servable->batcher = std::make_shared<Batcher>(
        Batcher::Options{batch_rows, std::chrono::microseconds(delay_us)});
  }
  return servable;
}

TEST(BatcherTest, ConcurrentRequestsShareOneModelCallAndGetTheirOwnRows) {
  auto model = std::make_shared<DoublingModel>();
  auto servable = MakeServable(model, "1", /*batch_rows=*/6, /*delay_us=*/2'000'000);
  std::vector<std::thread> threads;
  std::vector<std::vector<double>> answers(3);
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      ml::Predictions p =
          servable->batcher->Predict(*servable, Rows({double(i * 10), double(i * 10 + 1)}), "");
      answers[i] = p.frame.columns.at(0).numbers;
    });
  }
  for (auto& t : threads) t.join();
  // Three requests of two rows fill the batch of six: one call, no 2 s wait.
  EXPECT_EQ(model->calls(), (std::vector<size_t>{6}));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(answers[i], (std::vector<double>{i * 20.0, i * 20.0 + 2})) << i;
  }
}

TEST(BatcherTest, ABadRequestFailsAloneAndOtherColumnsAreNotJoined) {
  auto model = std::make_shared<DoublingModel>();
  auto servable = MakeServable(model, "1", 100, 200'000);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      try {
        ml::Frame frame = i == 3 ? Rows({1}, "other") : Rows({i == 0 ? -1.0 : double(i)});
        ml::Predictions p = servable->batcher->Predict(*servable, std::move(frame), "");
        EXPECT_EQ(p.frame.rows, 1u);
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 1);
}

TEST(BatcherTest, SliceAndStackAreInverse) {
  ml::Frame a = Rows({1, 2, 3});
  ml::Frame b = Rows({4, 5});
  ml::Frame both = StackRows({&a, &b});
  EXPECT_EQ(both.rows, 5u);
  EXPECT_EQ(SliceRows(both, 3, 2).columns[0].numbers, b.columns[0].numbers);
  EXPECT_FALSE(SameColumns(a, Rows({1}, "y")));
}

TEST(DeploymentTest, RefusesBeyondItsQueueAndWithNothingLoaded) {
  Deployment deployment("d", Deployment::Options{.max_queued = 2, .batching = {}}, nullptr, nullptr,
                        nullptr);
  try {
    deployment.Predict(Rows({1}), "", "", "r0");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTemporarilyUnavailable);
  }
  auto model = std::make_shared<DoublingModel>();
  auto routing = std::make_shared<Routing>();
  routing->primary = MakeServable(model, "1");
  deployment.Swap(routing);
  model->Hold();
  std::vector<std::thread> held;
  for (int i = 0; i < 2; ++i) {
    held.emplace_back([&] { deployment.Predict(Rows({1}), "", "", "r"); });
  }
  model->WaitEntered(2);
  try {
    deployment.Predict(Rows({1}), "", "", "r3");
    FAIL() << "a third request was taken beyond max_queued = 2";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTemporarilyUnavailable);
  }
  model->Release();
  for (auto& t : held) t.join();
  EXPECT_EQ(deployment.in_flight(), 0u);
  EXPECT_EQ(deployment.Predict(Rows({4}), "", "", "r4").predictions.frame.columns[0].numbers[0], 8);
}

TEST(DeploymentTest, ASwapLeavesRequestsInFlightOnTheirVersion) {
  Deployment deployment("d", Deployment::Options{}, nullptr, nullptr, nullptr);
  auto old_model = std::make_shared<DoublingModel>();
  auto first = std::make_shared<Routing>();
  first->primary = MakeServable(old_model, "1");
  deployment.Swap(first);
  std::weak_ptr<const Servable> old_servable = first->primary;
  first.reset();
  old_model->Hold();
  std::string answered_by;
  std::thread request(
      [&] { answered_by = deployment.Predict(Rows({1}), "", "", "r").servable->version; });
  old_model->WaitEntered(1);
  auto second = std::make_shared<Routing>();
  second->primary = MakeServable(std::make_shared<DoublingModel>(), "2");
  deployment.Swap(second);
  EXPECT_FALSE(old_servable.expired()) << "the request in flight keeps its version alive";
  EXPECT_EQ(deployment.Predict(Rows({1}), "", "", "r2").servable->version, "2");
  old_model->Release();
  request.join();
  EXPECT_EQ(answered_by, "1");
  EXPECT_TRUE(old_servable.expired()) << "the old version is freed once its last request ends";
}

TEST(DeploymentTest, CanaryIsStickyByKeyAndAVersionCanBeAskedFor) {
  Deployment deployment("d", Deployment::Options{}, nullptr, nullptr, nullptr);
  auto routing = std::make_shared<Routing>();
  routing->primary = MakeServable(std::make_shared<DoublingModel>(), "1");
  routing->canary = MakeServable(std::make_shared<DoublingModel>(), "2");
  routing->canary_weight = 30;
  deployment.Swap(routing);
  std::map<std::string, int> counts;
  for (int i = 0; i < 400; ++i) {
    std::string key = "user" + std::to_string(i);
    std::string first = deployment.Predict(Rows({1}), "", key, "r").servable->version;
    EXPECT_EQ(deployment.Predict(Rows({1}), "", key, "r").servable->version, first);
    ++counts[first];
  }
  // 30% of 400 keys, give or take what a hash does (binomial sd ~9).
  EXPECT_GT(counts["2"], 70);
  EXPECT_LT(counts["2"], 170);
  EXPECT_EQ(deployment.Predict(Rows({1}), "", "", "r", "2").servable->version, "2");
  EXPECT_EQ(deployment.Predict(Rows({1}), "", "", "r", "1").servable->version, "1");
  EXPECT_THROW(deployment.Predict(Rows({1}), "", "", "r", "3"), Error);
}

TEST(DeploymentTest, EachRoleCountsItsOwnRequestsAndShadowCopiesAreNotAnswers) {
  monitoring::MetricRegistry registry;
  core::Executor shadows(core::Executor::Options{.threads = 1});
  Deployment deployment("d", Deployment::Options{}, &shadows, &registry, nullptr);
  // The primary and the shadow serve the same version of the same model;
  // the canary the same version number of another model.
  auto servable = [&](const std::string& role, const std::string& model, const std::string& v) {
    auto s = MakeServable(std::make_shared<DoublingModel>(), v);
    s->model_name = model;
    s->metrics = ServableMetrics::For(&registry, "d", role, model, v);
    return s;
  };
  auto routing = std::make_shared<Routing>();
  routing->primary = servable("primary", "m", "3");
  routing->canary = servable("canary", "other", "3");
  routing->canary_weight = 0;
  routing->shadow = servable("shadow", "m", "3");
  deployment.Swap(routing);
  for (int i = 0; i < 10; ++i) deployment.Predict(Rows({1, 2}), "", "", "r");
  shadows.Stop();  // every shadow copy has run
  EXPECT_EQ(routing->primary->metrics.ok->Value(), 10) << "shadow copies counted as answers";
  EXPECT_EQ(routing->primary->metrics.rows->Value(), 20);
  EXPECT_EQ(routing->shadow->metrics.ok->Value(), 10);
  EXPECT_EQ(routing->canary->metrics.ok->Value(), 0);
  EXPECT_NE(routing->primary->metrics.latency, routing->shadow->metrics.latency);

  // The rates of each servable are its own.
  const auto t0 = RateWindow::Clock::now();
  routing->primary->rates->Sample(routing->primary->metrics, t0);
  routing->canary->rates->Sample(routing->canary->metrics, t0);
  routing->canary->metrics.ok->Increment(5);
  auto primary = routing->primary->rates->Sample(routing->primary->metrics, t0 + 5s);
  auto canary = routing->canary->rates->Sample(routing->canary->metrics, t0 + 5s);
  ASSERT_TRUE(primary && canary);
  EXPECT_EQ(primary->requests, 0u);
  EXPECT_EQ(canary->requests, 5u);

  // On /metrics: the labels that were there, and the role and the model.
  const std::string text = registry.Render();
  EXPECT_NE(text.find(R"(slipway_serving_requests_total{deployment="d",model="m",version="3",)"
                      R"(role="primary",status="ok"} 10)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(slipway_serving_requests_total{deployment="d",model="m",version="3",)"
                      R"(role="shadow",status="ok"} 10)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(slipway_serving_rows_total{deployment="d",model="other",version="3",)"
                      R"(role="canary"} 0)"),
            std::string::npos)
      << text;
}

TEST(RateWindowTest, TotalsCountFromTheFirstSample) {
  monitoring::MetricRegistry registry;
  const ServableMetrics m = ServableMetrics::For(&registry, "churn", "primary", "churn", "3");
  // What an earlier servable of the same series counted: not this one's.
  m.ok->Increment(100);
  m.latency->Observe(2.0);
  RateWindow window;
  EXPECT_FALSE(window.SinceFirst(m).has_value());
  window.Sample(m, RateWindow::Clock::now());  // at load
  for (int i = 0; i < 9; ++i) {
    m.ok->Increment();
    m.latency->Observe(0.0004);
  }
  m.client_errors->Increment();
  m.rows->Increment(30);
  std::optional<RateWindow::Totals> totals = window.SinceFirst(m);
  ASSERT_TRUE(totals.has_value());
  EXPECT_EQ(totals->requests, 10u);
  EXPECT_EQ(totals->errors, 1u);
  EXPECT_EQ(totals->rows, 30u);
  EXPECT_LT(totals->latency_p99_ms, 1.0);  // the 2 s request was before
  // Later samples leave the start where it was.
  window.Sample(m, RateWindow::Clock::now() + 5s);
  EXPECT_EQ(window.SinceFirst(m)->requests, 10u);
}

TEST(RateWindowTest, ASampleStampedBeforeTheNewestIsNotTaken) {
  monitoring::MetricRegistry registry;
  const ServableMetrics m = ServableMetrics::For(&registry, "churn", "primary", "churn", "3");
  RateWindow window;
  const auto t0 = RateWindow::Clock::now();
  window.Sample(m, t0);
  m.ok->Increment(4);
  ASSERT_TRUE(window.Sample(m, t0 + 5s).has_value());  // a swap's sample
  m.ok->Increment(6);
  // The periodic sample, stamped before the swap's but reading later
  // counters: not taken, so the 6 are not lost to a reversed interval.
  EXPECT_FALSE(window.Sample(m, t0 + 4s).has_value());
  auto next = window.Sample(m, t0 + 10s);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->requests, 6u);
  EXPECT_DOUBLE_EQ(next->seconds, 5);
}

TEST(ModelRefTest, ParsesTheFormsAndRefusesOthers) {
  EXPECT_EQ(ModelRef::Parse("models:/churn@production").alias, "production");
  EXPECT_EQ(ModelRef::Parse("models:/churn/3").version, "3");
  EXPECT_EQ(ModelRef::Parse("models:/churn/Production").stage, "Production");
  EXPECT_EQ(ModelRef::Parse("models:/churn/LATEST").stage, "latest");
  EXPECT_EQ(ModelRef::Parse("models:/a/b@x").name, "a/b");
  for (const char* bad :
       {"churn", "models:/", "models:/churn", "models:/churn@", "runs:/x/model"}) {
    EXPECT_THROW(ModelRef::Parse(bad), Error) << bad;
  }
  EXPECT_NO_THROW(ValidateDeploymentName("churn-v2.prod_1"));
  for (const char* bad : {"", "../x", "a/b", "-x", "a b", "é"}) {
    EXPECT_THROW(ValidateDeploymentName(bad), Error) << bad;
  }
  EXPECT_THROW(ValidateDeploymentName(std::string(65, 'a')), Error);
}

PredictionRecord Record(const std::string& deployment, const std::string& id) {
  PredictionRecord record;
  record.deployment = deployment;
  record.request_id = id;
  record.version = "1";
  record.time = std::chrono::system_clock::now();
  record.inputs = std::make_shared<const ml::Frame>(Rows({1.5, 2}));
  ml::Predictions out;
  out.frame = Rows({3, 4}, "y");
  record.outputs = std::make_shared<const ml::Predictions>(out);
  return record;
}

// The lines of every published segment of `deployment`, through the reader.
std::vector<std::string> Lines(blob::BlobStore& store, const std::string& deployment) {
  std::vector<std::string> lines;
  PredictionLogReader reader(store);
  for (const PredictionSegment& segment : reader.Segments(
           deployment, std::chrono::system_clock::time_point{}, std::chrono::system_clock::now())) {
    std::string text = store.Get(segment.key).value_or("");
    for (size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos;
         start = end + 1) {
      lines.push_back(text.substr(start, end - start));
    }
  }
  return lines;
}

TEST(PredictionLogTest, WritesOneLinePerRecordAndDropsWhenFull) {
  fs::path dir = fs::temp_directory_path() / ("predlog_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::unique_ptr<blob::LocalBlobStore> store = blob::LocalBlobStore::Create({.root = dir});
  {
    PredictionLog log(PredictionLog::Options{.store = store.get()});
    for (int i = 0; i < 10; ++i) log.Append(Record("churn", "id" + std::to_string(i)));
    log.Flush();
    std::vector<std::string> lines = Lines(*store, "churn");
    ASSERT_EQ(lines.size(), 10u);
    EXPECT_NE(lines[0].find(R"("request_id":"id0")"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find(R"("inputs":{"x":[1.5,2.0]})"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find(R"("outputs":[3.0,4.0])"), std::string::npos) << lines[0];
    EXPECT_EQ(log.dropped(), 0u);
  }
  {
    PredictionLog log(PredictionLog::Options{.store = store.get(), .max_queued = 0});
    log.Append(Record("churn", "lost"));
    log.Flush();
    EXPECT_EQ(log.dropped(), 1u);
  }
  {
    // Retention: a log capped at a few lines' size keeps only the newest file.
    PredictionLog log(
        PredictionLog::Options{.store = store.get(), .segment_bytes = 300, .max_bytes = 600});
    for (int i = 0; i < 40; ++i) log.Append(Record("small", "s" + std::to_string(i)));
    log.Flush();
    log.Append(Record("small", "last"));
    log.Flush();
    uint64_t total = 0;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (entry.is_regular_file()) total += entry.file_size();
    }
    EXPECT_LE(total, 600u + 1000u) << "the log outgrew its bound";
    EXPECT_EQ(Lines(*store, "churn").size(), 0u) << "the oldest files go first";
  }
  fs::remove_all(dir);
}

TEST(RateWindowTest, RatesAndLatencyCoverTheWindowOnly) {
  monitoring::MetricRegistry registry;
  const ServableMetrics m = ServableMetrics::For(&registry, "churn", "primary", "churn", "3");
  RateWindow window(std::chrono::seconds(60));
  const auto t0 = RateWindow::Clock::now();
  EXPECT_FALSE(window.Read(m, t0).has_value());  // nothing sampled yet

  // Before the window: slow requests that must not count.
  for (int i = 0; i < 100; ++i) {
    m.ok->Increment();
    m.latency->Observe(2.0);
  }
  window.Sample(m, t0);
  // In the window: 300 fast requests, 30 of them errors, 3000 rows.
  for (int i = 0; i < 270; ++i) {
    m.ok->Increment();
    m.latency->Observe(0.0004);
  }
  for (int i = 0; i < 30; ++i) m.client_errors->Increment();
  m.rows->Increment(3000);
  window.Sample(m, t0 + std::chrono::seconds(5));

  auto recent = window.Read(m, t0 + std::chrono::seconds(10));
  ASSERT_TRUE(recent.has_value());
  EXPECT_DOUBLE_EQ(recent->seconds, 10);
  EXPECT_EQ(recent->requests, 300u);
  EXPECT_DOUBLE_EQ(recent->requests_per_s, 30);
  EXPECT_DOUBLE_EQ(recent->errors_per_s, 3);
  EXPECT_DOUBLE_EQ(recent->rows_per_s, 300);
  EXPECT_LT(recent->latency_p99_ms, 1.0);  // the 2 s requests are before the window
  EXPECT_GT(recent->latency_p50_ms, 0.0);

  // At 70 s the samples of 0 s and 5 s have left the window: figures start
  // at the one of 40 s, and the requests before it no longer count.
  window.Sample(m, t0 + std::chrono::seconds(40));
  window.Sample(m, t0 + std::chrono::seconds(70));
  recent = window.Read(m, t0 + std::chrono::seconds(70));
  ASSERT_TRUE(recent.has_value());
  EXPECT_DOUBLE_EQ(recent->seconds, 30);
  EXPECT_EQ(recent->requests, 0u);
  EXPECT_EQ(recent->latency_p99_ms, 0);
}

}  // namespace
}  // namespace slipway::serving
