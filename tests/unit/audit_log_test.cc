#include "governance/audit_log.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "store/sqlite_audit_store.h"

namespace slipway::governance {
namespace {

// A real SQLite store; tampering is done with SQL on a second connection, as
// someone with access to the database file would.
class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("slipway-audit-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db");
    Remove();
    db_ = store::OpenMetadataDatabase(path_.string());
    store_ = std::make_unique<store::SqliteAuditStore>(db_);
    log_ = std::make_unique<AuditLog>(*store_);
    for (int i = 1; i <= 5; ++i) {
      AuditEntry entry;
      entry.principal = "alice";
      entry.action = "runs/log-metric";
      entry.target = "run:r" + std::to_string(i);
      entry.outcome = 200;
      entry.request_digest = AuditLog::Sha256Hex("request " + std::to_string(i));
      log_->Append(entry);
    }
  }
  void TearDown() override {
    log_.reset();
    store_.reset();
    db_.reset();
    Remove();
  }
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(path_.string() + suffix);
  }
  void Tamper(const std::string& sql) {
    store::Connection connection(path_.string(), false);
    connection.Exec(sql.c_str());
  }

  std::filesystem::path path_;
  std::shared_ptr<store::SqliteDb> db_;
  std::unique_ptr<store::SqliteAuditStore> store_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditLogTest, IntactChainVerifies) {
  AuditReport report = log_->Verify();
  EXPECT_TRUE(report.ok);
  EXPECT_EQ(report.entries, 5);
  bool has_more = true;
  AuditQuery query;
  query.target = "run:r3";
  auto found = log_->Query(query, &has_more);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].seq, 3);
  EXPECT_FALSE(has_more);
  auto all = log_->Query({}, &has_more);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_EQ(all[i].prev_hash, all[i - 1].hash);
}

TEST_F(AuditLogTest, EditedEntryIsNamed) {
  Tamper("UPDATE audit_log SET target = 'run:other' WHERE seq = 3");
  AuditReport report = log_->Verify();
  EXPECT_FALSE(report.ok);
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_EQ(report.problems[0].seq, 3);
  EXPECT_EQ(report.problems[0].kind, "edited");
}

TEST_F(AuditLogTest, RehashedEditIsCaughtByTheNextLink) {
  AuditEntry forged;
  forged.seq = 2;
  forged.time_ms = 1;
  forged.principal = "mallory";
  forged.action = "runs/log-metric";
  forged.target = "run:r2";
  forged.outcome = 200;
  forged.request_digest = "x";
  bool has_more = false;
  forged.prev_hash = log_->Query({}, &has_more)[0].hash;
  std::string hash = AuditLog::HashOf(forged);
  Tamper("UPDATE audit_log SET time_ms = 1, principal = 'mallory', request_digest = 'x', hash = '" +
         hash + "' WHERE seq = 2");
  AuditReport report = log_->Verify();
  EXPECT_FALSE(report.ok);
  ASSERT_FALSE(report.problems.empty());
  EXPECT_EQ(report.problems[0].seq, 2);
}

TEST_F(AuditLogTest, DeletedMiddleAndLastEntriesAreNamed) {
  Tamper("DELETE FROM audit_log WHERE seq = 2");
  AuditReport middle = log_->Verify();
  ASSERT_FALSE(middle.ok);
  EXPECT_EQ(middle.problems[0].seq, 2);
  EXPECT_EQ(middle.problems[0].kind, "deleted");

  Tamper("DELETE FROM audit_log WHERE seq = 5");
  AuditReport tail = log_->Verify();
  ASSERT_FALSE(tail.ok);
  EXPECT_EQ(tail.problems.back().seq, 5);
  EXPECT_EQ(tail.problems.back().kind, "deleted");
}

TEST_F(AuditLogTest, SourceAndCountAreStoredAndSealed) {
  AuditEntry entry;
  entry.principal = "alice";
  entry.action = "runs/log-metric";
  entry.target = "run:r6";
  entry.outcome = 200;
  entry.request_digest = AuditLog::Sha256Hex("request 6");
  entry.source = "10.0.0.1";
  entry.count = 3;
  log_->Append(entry);
  bool has_more = false;
  AuditEntry stored = log_->Query({}, &has_more).back();
  EXPECT_EQ(stored.source, "10.0.0.1");
  EXPECT_EQ(stored.count, 3);
  ASSERT_TRUE(log_->Verify().ok);
  Tamper("UPDATE audit_log SET count = 1 WHERE seq = 6");
  AuditReport report = log_->Verify();
  ASSERT_FALSE(report.ok);
  EXPECT_EQ(report.problems[0].seq, 6);
  EXPECT_EQ(report.problems[0].kind, "edited");
  Tamper("UPDATE audit_log SET count = 3, source = '' WHERE seq = 6");
  EXPECT_FALSE(log_->Verify().ok);
}

TEST_F(AuditLogTest, EntriesWithoutSourceHashAsBeforeTheColumnsExisted) {
  // The five entries of the fixture have no source and a count of 1: their
  // hash is the one older Slipways sealed, over the first eight fields only.
  bool has_more = false;
  AuditEntry entry = log_->Query({}, &has_more)[0];
  ASSERT_TRUE(entry.source.empty());
  ASSERT_EQ(entry.count, 1);
  auto field = [](const std::string& text) {
    return std::to_string(text.size()) + ":" + text + ";";
  };
  std::string legacy = field(std::to_string(entry.seq)) + field(std::to_string(entry.time_ms)) +
                       field(entry.principal) + field(entry.action) + field(entry.target) +
                       field(std::to_string(entry.outcome)) + field(entry.request_digest) +
                       field(entry.prev_hash);
  EXPECT_EQ(entry.hash, AuditLog::Sha256Hex(legacy));
}

}  // namespace
}  // namespace slipway::governance
