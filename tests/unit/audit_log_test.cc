#include "governance/audit_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "core/executor.h"
#include "core/scheduler.h"
#include "core/sha256.h"
#include "postgres_test_cluster.h"
#include "store/postgres/pg_audit_store.h"
#include "store/postgres/pg_schema.h"
#include "store/sqlite_audit_store.h"

namespace slipway::governance {
namespace {

// A real store on each engine: SQLite, and PostgreSQL when one is there
// (postgres_test_cluster.h; else those runs skip, saying why). Tampering is
// done with SQL on a second connection, as someone with access to the
// database would.
enum class Engine { kSqlite, kPostgres };

class AuditLogTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    if (GetParam() == Engine::kPostgres) {
      std::string why_not;
      uri_ = slipway::testing::FreshPostgresDatabase(&why_not);
      if (uri_.empty()) GTEST_SKIP() << "no PostgreSQL for this test: " << why_not;
      auto db = std::shared_ptr<store::postgres::PgDb>(store::postgres::PgDb::Open({.uri = uri_}));
      store::postgres::MigratePostgres(*db, store::SqliteMigrations());
      store_ = std::make_unique<store::postgres::PgAuditStore>(db);
    } else {
      std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::replace(name.begin(), name.end(), '/', '-');  // "Test/Sqlite"
      path_ = std::filesystem::temp_directory_path() /
              ("slipway-audit-test-" + std::to_string(::getpid()) + "-" + name + ".db");
      Remove();
      db_ = store::OpenMetadataDatabase(path_.string());
      store_ = std::make_unique<store::SqliteAuditStore>(db_);
    }
    log_ = std::make_unique<AuditLog>(*store_);
    for (int i = 1; i <= 5; ++i) {
      AuditEntry entry;
      entry.principal = "alice";
      entry.action = "runs/log-metric";
      entry.target = "run:r" + std::to_string(i);
      entry.outcome = 200;
      entry.request_digest = Sha256::Hex("request " + std::to_string(i));
      log_->Append(entry);
    }
  }
  void TearDown() override {
    log_.reset();
    store_.reset();
    db_.reset();
    if (!path_.empty()) Remove();
  }
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(path_.string() + suffix);
  }
  void Tamper(const std::string& sql) {
    if (GetParam() == Engine::kPostgres) {
      store::postgres::PgConnection connection(uri_, 10);
      connection.ExecScript(sql);
      return;
    }
    store::Connection connection(path_.string(), false);
    connection.Exec(sql.c_str());
  }

  std::filesystem::path path_;  // SQLite's file
  std::string uri_;             // PostgreSQL's database
  std::shared_ptr<store::SqliteDb> db_;
  std::unique_ptr<AuditStore> store_;
  std::unique_ptr<AuditLog> log_;
};

INSTANTIATE_TEST_SUITE_P(Engines, AuditLogTest,
                         ::testing::Values(Engine::kSqlite, Engine::kPostgres),
                         [](const ::testing::TestParamInfo<Engine>& info) {
                           return info.param == Engine::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST_P(AuditLogTest, IntactChainVerifies) {
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

// Appenders in several threads and, on PostgreSQL, in two "servers" (two
// pools on the database) extend one chain: every entry links to the one
// before it and the trail verifies.
TEST_P(AuditLogTest, ConcurrentAppendersKeepOneValidChain) {
  std::unique_ptr<AuditStore> replica_store;
  AuditStore* replica = store_.get();
  if (GetParam() == Engine::kPostgres) {
    auto db = std::shared_ptr<store::postgres::PgDb>(store::postgres::PgDb::Open({.uri = uri_}));
    replica_store = std::make_unique<store::postgres::PgAuditStore>(db);
    replica = replica_store.get();
  }
  AuditLog replica_log(*replica);
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      AuditLog& log = t % 2 == 0 ? *log_ : replica_log;
      for (int i = 0; i < kEach; ++i) {
        AuditEntry entry;
        entry.principal = "writer" + std::to_string(t);
        entry.action = "runs/log-metric";
        entry.target = "run:t" + std::to_string(t) + "-" + std::to_string(i);
        entry.outcome = 200;
        entry.request_digest = Sha256::Hex(entry.target);
        log.Append(entry);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  AuditReport report = log_->Verify();
  EXPECT_TRUE(report.ok);
  EXPECT_EQ(report.entries, 5 + kThreads * kEach);
  bool has_more = false;
  auto all = log_->Query({}, &has_more);
  ASSERT_EQ(all.size(), static_cast<size_t>(5 + kThreads * kEach));
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].seq, static_cast<int64_t>(i + 1));
    if (i > 0) {
      EXPECT_EQ(all[i].prev_hash, all[i - 1].hash) << "seq " << all[i].seq;
    }
  }
}

TEST_P(AuditLogTest, EditedEntryIsNamed) {
  Tamper("UPDATE audit_log SET target = 'run:other' WHERE seq = 3");
  AuditReport report = log_->Verify();
  EXPECT_FALSE(report.ok);
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_EQ(report.problems[0].seq, 3);
  EXPECT_EQ(report.problems[0].kind, "edited");
}

TEST_P(AuditLogTest, RehashedEditIsCaughtByTheNextLink) {
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

TEST_P(AuditLogTest, DeletedMiddleAndLastEntriesAreNamed) {
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

TEST_P(AuditLogTest, SourceAndCountAreStoredAndSealed) {
  AuditEntry entry;
  entry.principal = "alice";
  entry.action = "runs/log-metric";
  entry.target = "run:r6";
  entry.outcome = 200;
  entry.request_digest = Sha256::Hex("request 6");
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

// ---- Refusals (401, 403, 429): rate-limited per (source, principal, outcome, action,
// target).

AuditEntry Refusal(const std::string& source, const std::string& principal, int outcome,
                   const std::string& target = "path:/x") {
  AuditEntry entry;
  entry.source = source;
  entry.principal = principal;
  entry.action = "experiments/search";
  entry.target = target;
  entry.outcome = outcome;
  entry.request_digest = Sha256::Hex("GET /x");
  return entry;
}

// Entries after the five of the fixture.
std::vector<AuditEntry> NewEntries(AuditLog& log) {
  bool has_more = false;
  AuditQuery query;
  query.offset = 5;
  query.limit = 50000;
  return log.Query(query, &has_more);
}

int64_t CountSum(const std::vector<AuditEntry>& entries) {
  int64_t sum = 0;
  for (const AuditEntry& entry : entries) sum += entry.count;
  return sum;
}

AuditLog::Options SlowTimer(int burst) {
  AuditLog::Options options;
  options.refusal_interval = std::chrono::hours(1);  // the test flushes by hand
  options.refusal_burst = burst;
  return options;
}

TEST_P(AuditLogTest, RefusalsBeyondTheBurstBecomeOneSummaryPerInterval) {
  AuditLog log(*store_, SlowTimer(3));
  for (int i = 0; i < 3000; ++i) {
    AuditEntry appended = log.Append(Refusal("10.0.0.1", "anonymous", 401));
    EXPECT_EQ(appended.seq == 0, i >= 3) << i;
  }
  EXPECT_EQ(NewEntries(log).size(), 3u);
  log.FlushRefusals();
  std::vector<AuditEntry> entries = NewEntries(log);
  ASSERT_EQ(entries.size(), 4u);
  const AuditEntry& summary = entries.back();
  EXPECT_EQ(summary.count, 2997);
  EXPECT_EQ(summary.source, "10.0.0.1");
  EXPECT_EQ(summary.principal, "anonymous");
  EXPECT_EQ(summary.outcome, 401);
  EXPECT_EQ(summary.action, "experiments/search");
  EXPECT_EQ(summary.target, "path:/x");
  EXPECT_EQ(summary.request_digest.size(), 64u);
  EXPECT_EQ(CountSum(entries), 3000);
  // Nothing more to summarise; the next interval starts with a burst again.
  log.FlushRefusals();
  EXPECT_EQ(NewEntries(log).size(), 4u);
  log.Append(Refusal("10.0.0.1", "anonymous", 401));
  EXPECT_EQ(NewEntries(log).size(), 5u);
  AuditReport report = log.Verify();
  EXPECT_TRUE(report.ok);
  EXPECT_EQ(report.entries, 10);
}

TEST_P(AuditLogTest, RefusalsAreCountedPerSourcePrincipalOutcomeAndTarget) {
  AuditLog log(*store_, SlowTimer(1));
  for (int i = 0; i < 10; ++i) {
    log.Append(Refusal("10.0.0.1", "anonymous", 401));
    log.Append(Refusal("10.0.0.2", "anonymous", 401));
    log.Append(Refusal("10.0.0.1", "anonymous", 401, "user:bob"));
    log.Append(Refusal("10.0.0.1", "bob", 403));
    log.Append(Refusal("10.0.0.1", "anonymous", 429));
  }
  EXPECT_EQ(NewEntries(log).size(), 5u);  // the first of each key
  log.FlushRefusals();
  std::vector<AuditEntry> entries = NewEntries(log);
  ASSERT_EQ(entries.size(), 10u);
  EXPECT_EQ(CountSum(entries), 50);
  for (size_t i = 5; i < 10; ++i) {
    EXPECT_EQ(entries[i].count, 9);
    // A summary names its key.
    const AuditEntry& first = *std::find_if(entries.begin(), entries.end(), [&](const auto& e) {
      return e.source == entries[i].source && e.principal == entries[i].principal &&
             e.outcome == entries[i].outcome && e.target == entries[i].target;
    });
    EXPECT_EQ(first.count, 1);
    EXPECT_EQ(first.action, entries[i].action);
  }
  EXPECT_TRUE(log.Verify().ok);
}

TEST_P(AuditLogTest, DistinctRefusalsStayVisibleOneByOne) {
  AuditLog log(*store_, SlowTimer(1));
  for (int i = 0; i < 20; ++i) {
    log.Append(Refusal("10.0.0.1", "bob", 403, "experiment:" + std::to_string(i)));
  }
  EXPECT_EQ(NewEntries(log).size(), 20u);
  log.FlushRefusals();
  EXPECT_EQ(NewEntries(log).size(), 20u);
}

TEST_P(AuditLogTest, OtherOutcomesAreNeverAggregated) {
  AuditLog log(*store_, SlowTimer(1));
  for (int outcome : {200, 200, 400, 400, 404, 404, 500, 500}) {
    AuditEntry entry = Refusal("10.0.0.1", "alice", outcome);
    EXPECT_GT(log.Append(entry).seq, 0);
  }
  EXPECT_EQ(NewEntries(log).size(), 8u);
}

TEST_P(AuditLogTest, ManySourcesShareOneOverflowKey) {
  AuditLog::Options options = SlowTimer(1);
  options.max_refusal_keys = 4;
  AuditLog log(*store_, options);
  for (int i = 0; i < 1000; ++i) log.Append(Refusal("10.0." + std::to_string(i), "anonymous", 401));
  // Four keys, then all others under "*": one entry each, the rest summarised.
  EXPECT_EQ(NewEntries(log).size(), 5u);
  log.FlushRefusals();
  std::vector<AuditEntry> entries = NewEntries(log);
  ASSERT_EQ(entries.size(), 6u);
  EXPECT_EQ(entries.back().source, "*");
  EXPECT_EQ(entries.back().principal, "*");
  EXPECT_EQ(entries.back().target, "*");
  EXPECT_EQ(entries.back().count, 995);
  EXPECT_EQ(CountSum(entries), 1000);
}

TEST_P(AuditLogTest, SummariesAreWrittenOnTheIntervalAndAtDestruction) {
  {
    AuditLog::Options options;
    options.refusal_interval = std::chrono::milliseconds(500);
    options.refusal_burst = 1;
    AuditLog log(*store_, options);
    // The owner ends each interval from a periodic task, as App::Start does;
    // the handle cancels it before the log goes.
    core::Executor executor({"audit-test", 1, 16});
    core::Scheduler scheduler(executor);
    core::Scheduler::Handle flush = scheduler.Every(options.refusal_interval, "refusal summaries",
                                                    [&log] { log.FlushRefusals(); });
    for (int i = 0; i < 50; ++i) log.Append(Refusal("10.0.0.1", "anonymous", 401));
    // The timer writes the summary without being asked.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (NewEntries(log).size() < 2 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(NewEntries(log).size(), 2u);
    EXPECT_EQ(NewEntries(log).back().count, 49);
  }
  {
    AuditLog log(*store_, SlowTimer(1));
    for (int i = 0; i < 7; ++i) log.Append(Refusal("10.0.0.9", "anonymous", 403));
    EXPECT_EQ(NewEntries(log).size(), 3u);
  }  // destroyed: writes the summary of the interval under way
  std::vector<AuditEntry> entries = NewEntries(*log_);
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries.back().count, 6);
  EXPECT_EQ(entries.back().source, "10.0.0.9");
  EXPECT_TRUE(log_->Verify().ok);
}

TEST_P(AuditLogTest, RefusalSummariesAreSealed) {
  AuditLog log(*store_, SlowTimer(1));
  for (int i = 0; i < 5; ++i) log.Append(Refusal("10.0.0.1", "anonymous", 401));
  log.FlushRefusals();
  ASSERT_TRUE(log.Verify().ok);
  Tamper("UPDATE audit_log SET count = 1 WHERE seq = 7");
  AuditReport report = log.Verify();
  ASSERT_FALSE(report.ok);
  EXPECT_EQ(report.problems[0].seq, 7);
  EXPECT_EQ(report.problems[0].kind, "edited");
  Tamper("UPDATE audit_log SET count = 4 WHERE seq = 7");
  ASSERT_TRUE(log.Verify().ok);
  Tamper("UPDATE audit_log SET source = '10.9.9.9' WHERE seq = 6");
  report = log.Verify();
  ASSERT_FALSE(report.ok);
  EXPECT_EQ(report.problems[0].seq, 6);
}

TEST_P(AuditLogTest, EntriesWithoutSourceHashAsBeforeTheColumnsExisted) {
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
  EXPECT_EQ(entry.hash, Sha256::Hex(legacy));
}

}  // namespace
}  // namespace slipway::governance
