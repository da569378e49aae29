// store/postgres/pg_db.h against a real PostgreSQL (postgres_test_cluster.h).
#include <gtest/gtest.h>

#include <cmath>
#include <future>
#include <limits>
#include <thread>

#include "postgres_test_cluster.h"
#include "store/postgres/pg_db.h"

namespace slipway::store::postgres {
namespace {

std::unique_ptr<PgDb> OpenDb(const std::string& uri, int connections = 4) {
  PgDb::Options options;
  options.uri = uri;
  options.max_connections = connections;
  return PgDb::Open(options);
}

TEST(PostgresSqlstate, MapsToTheDomainsCodes) {
  EXPECT_EQ(CodeForSqlstate("23505"), ErrorCode::kResourceAlreadyExists);
  EXPECT_EQ(CodeForSqlstate("23502"), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(CodeForSqlstate("22001"), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(CodeForSqlstate("40001"), ErrorCode::kTemporarilyUnavailable);
  EXPECT_EQ(CodeForSqlstate("40P01"), ErrorCode::kTemporarilyUnavailable);
  EXPECT_EQ(CodeForSqlstate("08006"), ErrorCode::kTemporarilyUnavailable);
  EXPECT_EQ(CodeForSqlstate("57P01"), ErrorCode::kTemporarilyUnavailable);
  EXPECT_EQ(CodeForSqlstate(""), ErrorCode::kTemporarilyUnavailable);
  EXPECT_EQ(CodeForSqlstate("42601"), ErrorCode::kInternalError);
}

TEST(PostgresUri, DescriptionLeavesThePasswordOut) {
  EXPECT_EQ(DescribePostgresUri("postgresql://ml:sekrit@db.example:5433/slipway"),
            "postgresql ml@db.example:5433/slipway");
  EXPECT_TRUE(IsPostgresUri("postgres://x@y/z"));
  EXPECT_FALSE(IsPostgresUri("sqlite:///tmp/x.db"));
  try {
    DescribePostgresUri("postgresql://ml:sekrit@db.example:notaport/slipway?nonsense=1");
    FAIL() << "an invalid URI was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
    EXPECT_EQ(std::string(e.what()).find("sekrit"), std::string::npos) << e.what();
  }
}

TEST(PostgresDb, RefusedConnectionSaysWhereWithoutThePassword) {
  PgDb::Options options;
  // A port nobody listens on: bound and closed again by the kernel's choice
  // is not guaranteed free, so use a reserved one (1, tcpmux).
  options.uri = "postgresql://ml:sekrit@127.0.0.1:1/slipway";
  options.connect_timeout_s = 2;
  try {
    PgDb::Open(options);
    FAIL() << "connected to port 1";
  } catch (const PgError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTemporarilyUnavailable);
    std::string message = e.what();
    EXPECT_NE(message.find("cannot connect to PostgreSQL (postgresql ml@127.0.0.1:1/slipway)"),
              std::string::npos)
        << message;
    EXPECT_EQ(message.find("sekrit"), std::string::npos) << message;
  }
}

TEST(PostgresDb, ParametersRoundTripWithTheirTypes) {
  SLIPWAY_POSTGRES_DATABASE_OR_SKIP(uri);
  auto db = OpenDb(uri);
  const std::string text = "it's \"quoted\"; DROP TABLE x; -- \xc3\xa9\xe2\x82\xac";
  const std::string bytes("\x00\xff\x01'\\x", 6);
  PgParams params;
  params.Add(std::numeric_limits<int64_t>::max())
      .Add(std::numeric_limits<int64_t>::min())
      .Add(0.1)
      .Add(std::numeric_limits<double>::quiet_NaN())
      .Add(-std::numeric_limits<double>::infinity())
      .Add(true)
      .Add(text)
      .AddBytes(bytes)
      .AddNull(PgType::kText)
      .Add(1e308);
  db->Read([&](PgConnection& c) {
    PgResult r = c.Exec("SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10", params);
    ASSERT_EQ(r.Rows(), 1);
    EXPECT_EQ(r.Int(0, 0), std::numeric_limits<int64_t>::max());
    EXPECT_EQ(r.Int(0, 1), std::numeric_limits<int64_t>::min());
    EXPECT_EQ(r.Double(0, 2), 0.1);
    EXPECT_TRUE(std::isnan(r.Double(0, 3)));
    EXPECT_EQ(r.Double(0, 4), -std::numeric_limits<double>::infinity());
    EXPECT_TRUE(r.Bool(0, 5));
    EXPECT_EQ(r.Text(0, 6), text);
    EXPECT_EQ(r.Bytes(0, 7), bytes);
    EXPECT_TRUE(r.IsNull(0, 8));
    EXPECT_FALSE(r.IsNull(0, 6));
    EXPECT_EQ(r.Double(0, 9), 1e308);
  });
  // The types travel with the values: PostgreSQL sees int8, float8, bytea.
  db->Read([&](PgConnection& c) {
    PgResult r = c.Exec("SELECT pg_typeof($1)::text, pg_typeof($2)::text, pg_typeof($3)::text",
                        PgParams().Add(int64_t{1}).Add(2.5).AddBytes("x"));
    EXPECT_EQ(r.Text(0, 0), "bigint");
    EXPECT_EQ(r.Text(0, 1), "double precision");
    EXPECT_EQ(r.Text(0, 2), "bytea");
  });
}

TEST(PostgresDb, ConstraintViolationsBecomeTheDomainsErrors) {
  SLIPWAY_POSTGRES_DATABASE_OR_SKIP(uri);
  auto db = OpenDb(uri);
  db->Write([](PgConnection& c) {
    c.ExecScript("CREATE TABLE things (name TEXT PRIMARY KEY, size BIGINT NOT NULL)");
    c.Exec("INSERT INTO things VALUES ($1, $2)", PgParams().Add("a").Add(int64_t{1}));
  });
  try {
    db->Write([](PgConnection& c) {
      c.Exec("INSERT INTO things VALUES ($1, $2)", PgParams().Add("a").Add(int64_t{2}));
    });
    FAIL() << "a duplicate key was inserted";
  } catch (const PgError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kResourceAlreadyExists);
    EXPECT_TRUE(e.IsUniqueViolation());
    EXPECT_NE(std::string(e.what()).find("things_pkey"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("SQLSTATE 23505"), std::string::npos) << e.what();
  }
  try {
    db->Write([](PgConnection& c) {
      c.Exec("INSERT INTO things VALUES ($1, $2)", PgParams().Add("b").AddNull(PgType::kInt8));
    });
    FAIL() << "a NULL went into a NOT NULL column";
  } catch (const PgError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
    EXPECT_NE(std::string(e.what()).find("size"), std::string::npos) << e.what();
  }
  try {
    db->Read([](PgConnection& c) { c.Exec("SELEC 1"); });
    FAIL() << "bad SQL ran";
  } catch (const PgError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternalError);
    EXPECT_NE(std::string(e.what()).find("SELEC 1"), std::string::npos) << e.what();
  }
  // The pool's connections still work after the failures.
  int64_t count =
      db->Read([](PgConnection& c) { return c.Exec("SELECT count(*) FROM things").Int(0, 0); });
  EXPECT_EQ(count, 1);
}

TEST(PostgresDb, AnErrorInTheBodyRollsBackItsWrites) {
  SLIPWAY_POSTGRES_DATABASE_OR_SKIP(uri);
  auto db = OpenDb(uri);
  db->Write([](PgConnection& c) { c.ExecScript("CREATE TABLE t (v BIGINT)"); });
  try {
    db->Write([](PgConnection& c) {
      c.Exec("INSERT INTO t VALUES ($1)", PgParams().Add(int64_t{7}));
      ThrowNotFound("no such thing");
    });
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kResourceDoesNotExist);
  }
  EXPECT_EQ(db->Read([](PgConnection& c) { return c.Exec("SELECT count(*) FROM t").Int(0, 0); }),
            0);
}

TEST(PostgresDb, ReadsCannotWrite) {
  SLIPWAY_POSTGRES_DATABASE_OR_SKIP(uri);
  auto db = OpenDb(uri);
  db->Write([](PgConnection& c) { c.ExecScript("CREATE TABLE t (v BIGINT)"); });
  EXPECT_THROW(db->Read([](PgConnection& c) { c.Exec("INSERT INTO t VALUES (1)"); }), PgError);
}

// A transaction whose row another transaction changed after its snapshot
// fails with 40001; Write runs it again, and the second run sees the change.
TEST(PostgresDb, SerializationFailureRunsTheTransactionAgain) {
  SLIPWAY_POSTGRES_DATABASE_OR_SKIP(uri);
  auto db = OpenDb(uri);
  db->Write([](PgConnection& c) {
    c.ExecScript("CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)");
    c.ExecScript("INSERT INTO counter VALUES (1, 0)");
  });
  PgConnection other(uri, 10);
  int runs = 0;
  db->Write([&](PgConnection& c) {
    ++runs;
    int64_t n = c.Exec("SELECT n FROM counter WHERE id = 1").Int(0, 0);
    if (runs == 1) other.ExecScript("UPDATE counter SET n = n + 100 WHERE id = 1");
    c.Exec("UPDATE counter SET n = $1 WHERE id = 1", PgParams().Add(n + 1));
  });
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(db->Read([](PgConnection& c) { return c.Exec("SELECT n FROM counter").Int(0, 0); }),
            101);
}

TEST(PostgresDb, EndlessConflictsEndAsTemporarilyUnavailable) {
  SLIPWAY_POSTGRES_DATABASE_OR_SKIP(uri);
  PgDb::Options options;
  options.uri = uri;
  options.max_attempts = 3;
  auto db = PgDb::Open(options);
  db->Write([](PgConnection& c) {
    c.ExecScript("CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)");
    c.ExecScript("INSERT INTO counter VALUES (1, 0)");
  });
  PgConnection other(uri, 10);
  int runs = 0;
  try {
    db->Write([&](PgConnection& c) {
      ++runs;
      c.Exec("SELECT n FROM counter WHERE id = 1");
      other.ExecScript("UPDATE counter SET n = n + 1 WHERE id = 1");
      c.ExecScript("UPDATE counter SET n = 0 WHERE id = 1");
    });
    FAIL() << "a conflicting write committed";
  } catch (const PgError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTemporarilyUnavailable);
    EXPECT_EQ(e.sqlstate(), "40001");
  }
  EXPECT_EQ(runs, 3);
  // Only the other connection's updates are there.
  EXPECT_EQ(db->Read([](PgConnection& c) { return c.Exec("SELECT n FROM counter").Int(0, 0); }), 3);
}

// Concurrent read-modify-write transactions from many threads lose no
// increment: SERIALIZABLE plus the retries make them act one at a time.
TEST(PostgresDb, ConcurrentIncrementsAllCount) {
  SLIPWAY_POSTGRES_DATABASE_OR_SKIP(uri);
  auto db = OpenDb(uri, 4);
  db->Write([](PgConnection& c) {
    c.ExecScript("CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)");
    c.ExecScript("INSERT INTO counter VALUES (1, 0)");
  });
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        db->Write([](PgConnection& c) {
          int64_t n = c.Exec("SELECT n FROM counter WHERE id = 1").Int(0, 0);
          c.Exec("UPDATE counter SET n = $1 WHERE id = 1", PgParams().Add(n + 1));
        });
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(db->Read([](PgConnection& c) { return c.Exec("SELECT n FROM counter").Int(0, 0); }),
            kThreads * kEach);
}

TEST(PostgresDb, ABusyPoolRefusesAfterItsTimeout) {
  SLIPWAY_POSTGRES_DATABASE_OR_SKIP(uri);
  PgDb::Options options;
  options.uri = uri;
  options.max_connections = 1;
  options.acquire_timeout = std::chrono::milliseconds(50);
  auto db = PgDb::Open(options);
  std::promise<void> entered, leave;
  std::thread holder([&] {
    db->Read([&](PgConnection&) {
      entered.set_value();
      leave.get_future().wait();
    });
  });
  entered.get_future().wait();
  try {
    db->Read([](PgConnection&) {});
    FAIL() << "a second connection was lent out of a pool of one";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTemporarilyUnavailable);
    EXPECT_NE(std::string(e.what()).find("all 1 connections"), std::string::npos) << e.what();
  }
  leave.set_value();
  holder.join();
  EXPECT_NO_THROW(db->Read([](PgConnection&) {}));
}

// A pooled connection the server closed (a restart, an idle timeout) is
// replaced, and the transaction runs on the new one.
TEST(PostgresDb, ABrokenPooledConnectionIsReplaced) {
  SLIPWAY_POSTGRES_DATABASE_OR_SKIP(uri);
  auto db = OpenDb(uri, 1);
  int64_t first =
      db->Read([](PgConnection& c) { return c.Exec("SELECT pg_backend_pid()").Int(0, 0); });
  PgConnection other(uri, 10);
  other.Exec("SELECT pg_terminate_backend($1::int)", PgParams().Add(first));
  int64_t second =
      db->Read([](PgConnection& c) { return c.Exec("SELECT pg_backend_pid()").Int(0, 0); });
  EXPECT_NE(second, first);
}

}  // namespace
}  // namespace slipway::store::postgres
