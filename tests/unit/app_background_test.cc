// App's background work: what Start() schedules, and that nothing runs
// without it.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <utility>

#include "app/app.h"
#include "core/sha256.h"
#include "test_util/temp_dir.h"

namespace slipway::app {
namespace {

using std::chrono::milliseconds;

class AppBackgroundTest : public ::testing::Test {
 protected:
  std::unique_ptr<App> Create() {
    App::Options options;
    options.data_dir = dir_.path().string();
    options.audit.refusal_interval = milliseconds(1000);
    options.audit.refusal_burst = 1;
    return App::Create(std::move(options));
  }

  uintmax_t DatabaseFileSize() const {
    return std::filesystem::file_size(dir_.path() / "slipway.db");
  }

  // About 5 MB through the audit trail: past the 1000 WAL pages that make
  // the store's upkeep checkpoint.
  static void WriteFiveMegabytes(App& app) {
    for (int i = 0; i < 5; ++i) {
      governance::AuditEntry entry;
      entry.principal = "alice";
      entry.action = "runs/log-metric";
      entry.target = std::string(1 << 20, static_cast<char>('a' + i));
      entry.outcome = 200;
      entry.request_digest = Sha256::Hex("request");
      app.audit().Append(entry);
    }
  }

  static governance::AuditEntry Refusal() {
    governance::AuditEntry entry;
    entry.source = "10.0.0.1";
    entry.principal = "anonymous";
    entry.action = "experiments/search";
    entry.target = "path:/x";
    entry.outcome = 401;
    entry.request_digest = Sha256::Hex("GET /x");
    return entry;
  }

  // The refusals the trail accounts for so far (an entry of their own, or
  // counted in a summary), and the entries that took.
  static std::pair<int64_t, int> RefusalsWritten(App& app) {
    bool has_more = false;
    int64_t refusals = 0;
    int entries = 0;
    for (const auto& entry : app.audit().Query({}, &has_more)) {
      if (entry.outcome != 401) continue;
      refusals += entry.count;
      ++entries;
    }
    return {refusals, entries};
  }

  template <typename Predicate>
  static bool WaitFor(Predicate done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
  }

  testing::TempDir dir_{"slipway-app-background"};
};

TEST_F(AppBackgroundTest, WithoutStartNothingRunsInTheBackground) {
  std::unique_ptr<App> app = Create();
  EXPECT_EQ(app->scheduler(), nullptr);
  EXPECT_EQ(app->background_executor(), nullptr);
  WriteFiveMegabytes(*app);
  for (int i = 0; i < 5; ++i) app->audit().Append(Refusal());
  std::this_thread::sleep_for(milliseconds(500));
  // No checkpoint: the database file has not taken the WAL's pages in.
  EXPECT_LT(DatabaseFileSize(), uintmax_t{1} << 20);
  EXPECT_EQ(RefusalsWritten(*app).first, 1);  // the burst; the rest wait for a summary
  app.reset();                                // what the tasks would have done happens at close
  EXPECT_GT(DatabaseFileSize(), uintmax_t{5} << 20);
  app = Create();
  EXPECT_EQ(RefusalsWritten(*app), std::make_pair(int64_t{5}, 2));
}

TEST_F(AppBackgroundTest, StartSchedulesTheCheckpointAndTheRefusalSummaries) {
  std::unique_ptr<App> app = Create();
  app->Start();
  app->Start();  // idempotent
  ASSERT_NE(app->scheduler(), nullptr);
  ASSERT_NE(app->background_executor(), nullptr);
  WriteFiveMegabytes(*app);
  EXPECT_TRUE(WaitFor([&] { return DatabaseFileSize() > (uintmax_t{4} << 20); }))
      << DatabaseFileSize();
  // The summary of the refusals beyond the burst comes without being asked.
  for (int i = 0; i < 5; ++i) app->audit().Append(Refusal());
  EXPECT_TRUE(WaitFor([&] { return RefusalsWritten(*app).first == 5; }));
  EXPECT_LT(RefusalsWritten(*app).second, 5);
  EXPECT_GE(app->scheduler()->stats().runs, 2);
  EXPECT_EQ(app->scheduler()->stats().failures, 0);
  app->Stop();
  app->Stop();  // idempotent
  EXPECT_EQ(app->scheduler(), nullptr);
  EXPECT_EQ(app->background_executor(), nullptr);
  // Stopped: refusals are only counted, until close or the next Start.
  for (int i = 0; i < 5; ++i) app->audit().Append(Refusal());
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_EQ(RefusalsWritten(*app).first, 6);
  app->Start();
  EXPECT_TRUE(WaitFor([&] { return RefusalsWritten(*app).first == 10; }));
}

}  // namespace
}  // namespace slipway::app
