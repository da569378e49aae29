// The dataset store's contract (data/dataset_store.h) on both engines:
// versions numbered in order, content never replaced, and on PostgreSQL
// writers in several threads and two pools (two servers) that add versions
// of one dataset at once get distinct, consecutive numbers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>

#include "core/error.h"
#include "postgres_test_cluster.h"
#include "store/postgres/pg_dataset_store.h"
#include "store/postgres/pg_schema.h"
#include "store/sqlite_dataset_store.h"

namespace slipway::store {
namespace {

enum class Engine { kSqlite, kPostgres };

class DatasetStoreTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    if (GetParam() == Engine::kPostgres) {
      std::string why_not;
      uri_ = slipway::testing::FreshPostgresDatabase(&why_not);
      if (uri_.empty()) GTEST_SKIP() << "no PostgreSQL for this test: " << why_not;
      auto db = std::shared_ptr<postgres::PgDb>(postgres::PgDb::Open({.uri = uri_}));
      postgres::MigratePostgres(*db, SqliteMigrations());
      store_ = std::make_unique<postgres::PgDatasetStore>(db);
    } else {
      std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::replace(name.begin(), name.end(), '/', '-');
      path_ = std::filesystem::temp_directory_path() /
              ("slipway-dataset-store-" + std::to_string(::getpid()) + "-" + name + ".db");
      Remove();
      store_ = std::make_unique<SqliteDatasetStore>(OpenMetadataDatabase(path_.string()));
    }
  }
  void TearDown() override {
    store_.reset();
    if (!path_.empty()) Remove();
  }
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(path_.string() + suffix);
  }

  static data::DatasetVersion Version(const std::string& name, char digest, int64_t number = 0) {
    data::DatasetVersion version;
    version.name = name;
    version.version = number;
    version.manifest_digest = std::string(64, 'a');
    version.content_digest = std::string(64, digest);
    version.kind = "file";
    version.created_ms = 7;
    version.profile_json = "{\"rows\": 3}";
    return version;
  }

  std::filesystem::path path_;
  std::string uri_;
  std::unique_ptr<data::DatasetStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Engines, DatasetStoreTest,
                         ::testing::Values(Engine::kSqlite, Engine::kPostgres),
                         [](const ::testing::TestParamInfo<Engine>& info) {
                           return info.param == Engine::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST_P(DatasetStoreTest, VersionsAreNumberedInOrderAndContentIsNeverReplaced) {
  bool created = false;
  EXPECT_EQ(store_->AddVersion(Version("churn", '1'), &created).version, 1);
  EXPECT_TRUE(created);
  // The same content as the latest: that version, nothing added.
  EXPECT_EQ(store_->AddVersion(Version("churn", '1'), &created).version, 1);
  EXPECT_FALSE(created);
  EXPECT_EQ(store_->AddVersion(Version("churn", '2'), &created).version, 2);
  EXPECT_TRUE(created);
  // A pushed version: the next number is stored, an existing one must match.
  EXPECT_EQ(store_->AddVersion(Version("churn", '3', 3), &created).version, 3);
  EXPECT_TRUE(created);
  EXPECT_EQ(store_->AddVersion(Version("churn", '2', 2), &created).version, 2);
  EXPECT_FALSE(created);
  try {
    store_->AddVersion(Version("churn", '9', 2), &created);
    FAIL() << "churn@2 was replaced";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kResourceConflict);
    EXPECT_NE(std::string(e.what()).find("churn@2 already holds different content"),
              std::string::npos)
        << e.what();
  }
  try {
    store_->AddVersion(Version("churn", '5', 5), &created);
    FAIL() << "churn@5 was stored after churn@3";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kResourceConflict);
    EXPECT_NE(std::string(e.what()).find("the latest version is 3"), std::string::npos) << e.what();
  }
  data::DatasetVersion got = store_->GetVersion("churn", 2);
  EXPECT_EQ(got.content_digest, std::string(64, '2'));
  EXPECT_EQ(got.profile_json, "{\"rows\": 3}");
  EXPECT_EQ(store_->LatestVersion("churn").version, 3);
  auto versions = store_->ListVersions("churn");
  ASSERT_EQ(versions.size(), 3u);
  EXPECT_EQ(versions[2].version, 3);
  EXPECT_EQ(versions[2].profile_json, "");  // listings leave the profile out
  EXPECT_THROW(store_->GetVersion("churn", 4), Error);
  try {
    store_->LatestVersion("nothing");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kResourceDoesNotExist);
  }
}

TEST_P(DatasetStoreTest, ConcurrentAddsGetDistinctConsecutiveNumbers) {
  std::unique_ptr<data::DatasetStore> second;
  data::DatasetStore* other = store_.get();
  if (GetParam() == Engine::kPostgres) {
    second = std::make_unique<postgres::PgDatasetStore>(
        std::shared_ptr<postgres::PgDb>(postgres::PgDb::Open({.uri = uri_})));
    other = second.get();
  }
  constexpr int kThreads = 4, kEach = 10;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      data::DatasetStore& store = t % 2 == 0 ? *store_ : *other;
      for (int i = 0; i < kEach; ++i) {
        bool created = false;
        data::DatasetVersion version = Version("busy", 'a');
        version.content_digest = std::to_string(t) + "-" + std::to_string(i);
        store.AddVersion(version, &created);
        EXPECT_TRUE(created);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  auto versions = store_->ListVersions("busy");
  ASSERT_EQ(versions.size(), static_cast<size_t>(kThreads * kEach));
  std::set<std::string> contents;
  for (size_t i = 0; i < versions.size(); ++i) {
    EXPECT_EQ(versions[i].version, static_cast<int64_t>(i + 1));
    contents.insert(versions[i].content_digest);
  }
  EXPECT_EQ(contents.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(store_->LatestVersion("busy").version, kThreads * kEach);
}

}  // namespace
}  // namespace slipway::store
