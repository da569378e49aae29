// The data pipeline's executor that App owns: dataset adds (profile, chunk
// hashing, whole-file hash) share it, and concurrent adds all finish with
// the right content, even when it has no thread to give.
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "app/app.h"
#include "core/sha256.h"
#include "test_util/executor_blocker.h"
#include "test_util/temp_dir.h"

namespace slipway::app {
namespace {

constexpr int kAdds = 4;
constexpr int kRows = 140000;  // about 9.5 MB: more than one 8 MiB read buffer

class AppDataTest : public ::testing::Test {
 protected:
  std::unique_ptr<App> Create() {
    App::Options options;
    options.data_dir = (dir_.path() / "data").string();
    options.data_threads = 2;
    return App::Create(std::move(options));
  }

  // A table of its own for add `index`; returns its bytes.
  std::string WriteTable(int index) {
    std::mt19937_64 random(static_cast<uint64_t>(index) + 1);
    std::string csv = "id,amount,category,flag\n";
    for (int row = 0; row < kRows; ++row) {
      csv += std::to_string(row) + "," + std::to_string(random() % 1000000) + ".25,cat" +
             std::to_string(random() % 7) + "," + (random() % 2 ? "true" : "false") + "\n";
    }
    dir_.Write("table" + std::to_string(index) + ".csv", csv);
    return csv;
  }

  // Adds every table at once, each from a thread of its own as HTTP workers
  // would; each must finish within the timeout.
  std::vector<data::AddOutcome> AddConcurrently(App& app, test_util::ExecutorBlocker* blocker) {
    std::vector<std::future<data::AddOutcome>> adds;
    for (int i = 0; i < kAdds; ++i) {
      adds.push_back(std::async(std::launch::async, [&app, this, i] {
        return app.datasets().Add("table" + std::to_string(i),
                                  dir_.path() / ("table" + std::to_string(i) + ".csv"), {});
      }));
    }
    for (auto& add : adds) EXPECT_TRUE(test_util::ReadyWithin(add, 180)) << "deadlock";
    if (blocker != nullptr) blocker->Release();
    std::vector<data::AddOutcome> outcomes;
    for (auto& add : adds) outcomes.push_back(add.get());
    return outcomes;
  }

  void ExpectStored(App& app, const std::vector<data::AddOutcome>& outcomes,
                    const std::vector<std::string>& tables) {
    for (int i = 0; i < kAdds; ++i) {
      const data::DatasetVersion& version = outcomes[i].version;
      EXPECT_TRUE(outcomes[i].created);
      EXPECT_EQ(version.content_digest, Sha256::Hex(tables[i]));
      EXPECT_EQ(version.row_count, kRows);
      EXPECT_EQ(version.column_count, 4);
      EXPECT_EQ(app.datasets().ProfileOf(version).row_count, kRows);
      const std::filesystem::path copy = dir_.path() / ("copy" + std::to_string(i) + ".csv");
      app.datasets().Materialize(version, copy);
      std::ifstream in(copy, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      EXPECT_EQ(bytes, tables[i]);
    }
  }

  testing::TempDir dir_{"slipway-app-data"};
};

TEST_F(AppDataTest, ConcurrentAddsShareTheDataExecutor) {
  std::vector<std::string> tables;
  for (int i = 0; i < kAdds; ++i) tables.push_back(WriteTable(i));
  std::unique_ptr<App> app = Create();
  EXPECT_EQ(app->data_executor().threads(), 2);
  ExpectStored(*app, AddConcurrently(*app, nullptr), tables);
}

// Every thread of the data executor is taken (by long work of some other
// kind): the adds, their profiles and the profiles' ranges all wait in its
// queue, and each add must finish on its own thread.
TEST_F(AppDataTest, ConcurrentAddsFinishWhenTheDataExecutorHasNoThreadToGive) {
  std::vector<std::string> tables;
  for (int i = 0; i < kAdds; ++i) tables.push_back(WriteTable(i));
  std::unique_ptr<App> app = Create();
  test_util::ExecutorBlocker blocker(app->data_executor());
  ExpectStored(*app, AddConcurrently(*app, &blocker), tables);
}

}  // namespace
}  // namespace slipway::app
