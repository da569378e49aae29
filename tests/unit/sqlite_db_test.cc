#include "store/sqlite_db.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/error.h"

namespace slipway::store {
namespace {

class SqliteDbSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("slipway-sqlite-db-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db");
    Remove();
  }
  void TearDown() override { Remove(); }
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path_.string() + suffix);
    }
  }

  // PRAGMA synchronous as the writer and a reader see it (0 OFF, 1 NORMAL, 2 FULL).
  static std::pair<int64_t, int64_t> Synchronous(SqliteDb& db) {
    int64_t writer = -1;
    db.Write([&](Connection& connection) {
      Statement pragma = connection.Prepare("PRAGMA synchronous");
      ASSERT_TRUE(pragma.Step());
      writer = pragma.Int(0);
    });
    int64_t reader = db.Read([](Connection& connection) {
      Statement pragma = connection.Prepare("PRAGMA synchronous");
      return pragma.Step() ? pragma.Int(0) : -1;
    });
    return {writer, reader};
  }

  std::filesystem::path path_;
};

TEST_F(SqliteDbSyncTest, FullIsTheDefault) {
  auto db = OpenMetadataDatabase(path_.string());
  EXPECT_EQ(Synchronous(*db), std::make_pair(int64_t{2}, int64_t{2}));
}

TEST_F(SqliteDbSyncTest, TheOptionReachesEveryConnection) {
  {
    auto db = OpenMetadataDatabase(path_.string(), Sync::kNormal);
    EXPECT_EQ(Synchronous(*db), std::make_pair(int64_t{1}, int64_t{1}));
  }
  {
    auto db = OpenMetadataDatabase(path_.string(), Sync::kFull);
    EXPECT_EQ(Synchronous(*db), std::make_pair(int64_t{2}, int64_t{2}));
  }
  SqliteDb::Options options;
  options.path = path_.string();
  options.sync = Sync::kNormal;
  auto db = SqliteDb::Open(options, SqliteMigrations());
  EXPECT_EQ(Synchronous(*db), std::make_pair(int64_t{1}, int64_t{1}));
}

TEST_F(SqliteDbSyncTest, ParsesTheOptionText) {
  EXPECT_EQ(ParseSync("full"), Sync::kFull);
  EXPECT_EQ(ParseSync("normal"), Sync::kNormal);
  EXPECT_THROW(ParseSync("off"), Error);
  EXPECT_THROW(ParseSync("FULL "), Error);
}

}  // namespace
}  // namespace slipway::store
