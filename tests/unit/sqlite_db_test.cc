#include "store/sqlite_db.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
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

// ---- Checkpoints: run by MaybeCheckpoint (the owner's periodic task), never
// by a commit.

using SqliteDbCheckpointTest = SqliteDbSyncTest;

constexpr Migration kBlobTable[] = {
    {1, "blobs", "CREATE TABLE blobs (id INTEGER PRIMARY KEY, data TEXT NOT NULL)"}};

void InsertBytes(SqliteDb& db, size_t size) {
  std::string data(size, 'x');
  db.Write([&](Connection& connection) {
    connection.Prepare("INSERT INTO blobs (data) VALUES (?)").Bind(1, std::string_view(data)).Run();
  });
}

TEST_F(SqliteDbCheckpointTest, CheckpointsOncePastTheThresholdAndNeverOnCommit) {
  SqliteDb::Options options;
  options.path = path_.string();
  options.checkpoint_pages = 100;  // 400 KB of 4 KB pages
  auto db = SqliteDb::Open(options, kBlobTable);
  auto file_size = [&](const char* suffix) {
    std::error_code error;
    auto size = std::filesystem::file_size(path_.string() + suffix, error);
    return error ? uintmax_t{0} : size;
  };

  InsertBytes(*db, 40 << 10);
  EXPECT_FALSE(db->MaybeCheckpoint());  // about 10 pages: under the threshold

  InsertBytes(*db, 1 << 20);
  // The commits left the database file alone: the bytes are in the WAL.
  EXPECT_LT(file_size(""), uintmax_t{1} << 20);
  EXPECT_GT(file_size("-wal"), uintmax_t{1} << 20);
  EXPECT_TRUE(db->MaybeCheckpoint());
  EXPECT_GT(file_size(""), uintmax_t{1} << 20);
  EXPECT_FALSE(db->MaybeCheckpoint());  // nothing new since

  // The next writes start the WAL over from its beginning.
  InsertBytes(*db, 4 << 10);
  EXPECT_FALSE(db->MaybeCheckpoint());
  db.reset();
  EXPECT_EQ(file_size("-wal"), 0u);  // TRUNCATE at close
  auto reopened = SqliteDb::Open(options, kBlobTable);
  int64_t rows = reopened->Read([](Connection& connection) {
    Statement count = connection.Prepare("SELECT COUNT(*) FROM blobs");
    return count.Step() ? count.Int(0) : -1;
  });
  EXPECT_EQ(rows, 3);
}

TEST_F(SqliteDbCheckpointTest, CommitsPastTheThresholdCallTheWakeup) {
  SqliteDb::Options options;
  options.path = path_.string();
  options.checkpoint_pages = 100;
  auto db = SqliteDb::Open(options, kBlobTable);
  std::atomic<int> wakeups{0};  // called on the writer thread
  db->SetCheckpointWakeup([&] { ++wakeups; });
  InsertBytes(*db, 40 << 10);
  EXPECT_EQ(wakeups, 0);
  InsertBytes(*db, 1 << 20);
  EXPECT_EQ(wakeups, 1);
  InsertBytes(*db, 4 << 10);  // still past it: no checkpoint ran
  EXPECT_EQ(wakeups, 2);
  EXPECT_TRUE(db->MaybeCheckpoint());
  db->SetCheckpointWakeup(nullptr);
  InsertBytes(*db, 1 << 20);
  EXPECT_EQ(wakeups, 2);
}

}  // namespace
}  // namespace slipway::store
