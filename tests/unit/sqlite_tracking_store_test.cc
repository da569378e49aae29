#include "store/sqlite_tracking_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <thread>
#include <tuple>

#include "core/error.h"
#include "postgres_test_cluster.h"
#include "store/postgres/pg_schema.h"
#include "store/postgres/pg_tracking_store.h"
#include "test_util/metric_points.h"
#include "tracking/search_filter.h"

namespace slipway::store {
namespace {

using tracking::MetricPoint;
using tracking::RunInfo;
using tracking::RunWrites;

using slipway::testing::Point;

// Every test runs on SQLite and on PostgreSQL (a database of its own from
// postgres_test_cluster.h; the PostgreSQL runs skip, saying why, when there
// is no PostgreSQL).
enum class Engine { kSqlite, kPostgres };

class SqliteTrackingStoreTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    if (GetParam() == Engine::kPostgres) {
      std::string why_not;
      uri_ = slipway::testing::FreshPostgresDatabase(&why_not);
      if (uri_.empty()) GTEST_SKIP() << "no PostgreSQL for this test: " << why_not;
      auto db = std::shared_ptr<postgres::PgDb>(postgres::PgDb::Open({.uri = uri_}));
      postgres::MigratePostgres(*db, SqliteMigrations());
    } else {
      std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::replace(name.begin(), name.end(), '/', '-');  // "Test/Sqlite"
      dir_ = std::filesystem::temp_directory_path() /
             ("slipway-store-test-" + std::to_string(::getpid()) + "-" + name);
      std::filesystem::remove_all(dir_);
      std::filesystem::create_directories(dir_);
    }
    Open();
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // (Re)opens the store on the test's database.
  void Open() {
    store_.reset();
    if (GetParam() == Engine::kPostgres) {
      store_ = std::make_unique<postgres::PgTrackingStore>(
          std::shared_ptr<postgres::PgDb>(postgres::PgDb::Open({.uri = uri_})));
    } else {
      store_ = SqliteTrackingStore::Open((dir_ / "slipway.db").string());
    }
  }

  std::string NewExperiment(const std::string& name) {
    tracking::Experiment experiment;
    experiment.name = name;
    return store_->CreateExperiment(experiment, "mlflow-artifacts:");
  }

  std::string NewRun(const std::string& experiment_id, const std::string& run_id) {
    RunInfo info;
    info.run_id = run_id;
    info.experiment_id = experiment_id;
    info.run_name = "run-" + run_id;
    info.start_time = 1000;
    store_->CreateRun(info, {});
    return run_id;
  }

  // latest_metrics' (points, tail_timestamp, tail_step, in_step_order) of a
  // run's key, read from the database beside the store.
  std::tuple<int64_t, int64_t, int64_t, int64_t> Stats(const std::string& run_id,
                                                       const std::string& key) {
    const char* sql =
        "SELECT points, tail_timestamp, tail_step, in_step_order FROM latest_metrics "
        "l JOIN runs r ON r.run_pk = l.run_pk WHERE r.run_uuid = $1 AND l.key = $2";
    std::tuple<int64_t, int64_t, int64_t, int64_t> stats{-1, -1, -1, -1};
    if (GetParam() == Engine::kPostgres) {
      postgres::PgConnection db(uri_, 10);
      postgres::PgResult row = db.Exec(sql, postgres::PgParams().Add(run_id).Add(key));
      if (row.Rows() == 1) stats = {row.Int(0, 0), row.Int(0, 1), row.Int(0, 2), row.Bool(0, 3)};
      return stats;
    }
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2((dir_ / "slipway.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
    sqlite3_bind_text(stmt, 1, run_id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, key.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      stats = {sqlite3_column_int64(stmt, 0), sqlite3_column_int64(stmt, 1),
               sqlite3_column_int64(stmt, 2), sqlite3_column_int64(stmt, 3)};
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return stats;
  }

  void Log(const std::string& run_id, std::vector<MetricPoint> points) {
    RunWrites writes;
    writes.metrics = std::move(points);
    store_->LogRunWrites(run_id, writes);
  }

  std::filesystem::path dir_;  // SQLite's folder
  std::string uri_;            // PostgreSQL's database
  std::unique_ptr<tracking::TrackingStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Engines, SqliteTrackingStoreTest,
                         ::testing::Values(Engine::kSqlite, Engine::kPostgres),
                         [](const ::testing::TestParamInfo<Engine>& info) {
                           return info.param == Engine::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST_P(SqliteTrackingStoreTest, ExperimentGetsArtifactLocationFromItsId) {
  std::string id = NewExperiment("exp");
  auto experiment = store_->GetExperiment(id);
  ASSERT_TRUE(experiment.has_value());
  EXPECT_EQ(experiment->name, "exp");
  EXPECT_EQ(experiment->artifact_location, "mlflow-artifacts:/" + id);
  EXPECT_EQ(store_->GetExperimentByName("exp")->experiment_id, id);
  EXPECT_FALSE(store_->GetExperiment("999").has_value());
  EXPECT_FALSE(store_->GetExperiment("not-a-number").has_value());
}

TEST_P(SqliteTrackingStoreTest, DuplicateExperimentNameIsRejected) {
  NewExperiment("same");
  try {
    NewExperiment("same");
    FAIL() << "expected RESOURCE_ALREADY_EXISTS";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kResourceAlreadyExists);
    EXPECT_NE(std::string(error.what()).find("same"), std::string::npos);
  }
}

TEST_P(SqliteTrackingStoreTest, LatestMetricIsHighestStepThenTimestamp) {
  std::string run = NewRun(NewExperiment("e"), "r1");
  RunWrites writes;
  writes.metrics = {Point("loss", 0.5, 100, 2), Point("loss", 0.9, 200, 1),
                    Point("loss", 0.4, 50, 2)};
  store_->LogRunWrites(run, writes);
  auto loaded = store_->GetRun(run);
  ASSERT_TRUE(loaded.has_value());
  ASSERT_EQ(loaded->metrics.size(), 1u);
  EXPECT_EQ(loaded->metrics[0].step, 2);
  EXPECT_EQ(loaded->metrics[0].timestamp, 100);
  EXPECT_DOUBLE_EQ(loaded->metrics[0].value, 0.5);
}

TEST_P(SqliteTrackingStoreTest, HistoryIsOrderedAndPagedAndKeepsNaN) {
  std::string run = NewRun(NewExperiment("e"), "r1");
  RunWrites writes;
  for (int i = 0; i < 10; ++i) {
    writes.metrics.push_back(Point("acc", i == 3 ? std::nan("") : i * 0.1, 1000 + i, i));
  }
  store_->LogRunWrites(run, writes);
  store_->LogRunWrites(run, writes);  // a retried batch adds nothing twice
  auto first = store_->GetMetricHistory(run, "acc", {0, 4});
  ASSERT_EQ(first.items.size(), 4u);
  EXPECT_TRUE(first.has_more);
  EXPECT_EQ(first.items[0].step, 0);
  EXPECT_TRUE(std::isnan(first.items[3].value));
  auto all = store_->GetMetricHistory(run, "acc", {0, 100});
  EXPECT_EQ(all.items.size(), 10u);
  EXPECT_FALSE(all.has_more);
  EXPECT_DOUBLE_EQ(all.items[9].value, 0.9);
}

TEST_P(SqliteTrackingStoreTest, LatestMetricsCountPointsAndKnowStepOrder) {
  std::string run = NewRun(NewExperiment("e"), "r1");
  // A batch's order does not matter, nor do points already stored.
  std::vector<MetricPoint> batch;
  for (int i : {4, 0, 9, 2, 7, 1, 8, 3, 6, 5}) batch.push_back(Point("m", i * 0.5, 10 + i, i));
  Log(run, batch);
  EXPECT_EQ(Stats(run, "m"), std::make_tuple(10, 19, 9, 1));
  Log(run, batch);
  EXPECT_EQ(Stats(run, "m"), std::make_tuple(10, 19, 9, 1));
  // After the tail, and at the tail's (timestamp, step) with another value: in order.
  Log(run, {Point("m", 1, 25, 12), Point("m", 2, 20, 10)});
  EXPECT_EQ(Stats(run, "m"), std::make_tuple(12, 25, 12, 1));
  Log(run, {Point("m", 3, 25, 12)});
  EXPECT_EQ(Stats(run, "m"), std::make_tuple(13, 25, 12, 1));
  // A later point at a lower step: the history by time is no longer by step.
  Log(run, {Point("m", 4, 30, 5)});
  EXPECT_EQ(Stats(run, "m"), std::make_tuple(14, 30, 5, 0));
  Log(run, {Point("m", 5, 40, 50)});
  EXPECT_EQ(std::get<3>(Stats(run, "m")), 0);

  // Points older than the tail keep the order where they fit between their
  // neighbours (a batch that arrived late).
  Log(run, {Point("b", 1, 50, 5)});
  Log(run, {Point("b", 1, 40, 4), Point("b", 1, 30, 3)});
  EXPECT_EQ(Stats(run, "b"), std::make_tuple(3, 50, 5, 1));
  Log(run, {Point("b", 1, 45, 4), Point("b", 2, 45, 4)});
  EXPECT_EQ(Stats(run, "b"), std::make_tuple(5, 50, 5, 1));
  // One with a step above the point after it breaks it...
  Log(run, {Point("b", 1, 47, 6)});
  EXPECT_EQ(Stats(run, "b"), std::make_tuple(6, 50, 5, 0));
  // ...as does, conservatively, a batch around points already stored.
  Log(run, {Point("d", 1, 20, 2)});
  Log(run, {Point("d", 1, 10, 1), Point("d", 1, 15, 1)});
  EXPECT_EQ(std::get<3>(Stats(run, "d")), 1);
  Log(run, {Point("d", 1, 12, 1), Point("d", 1, 17, 2)});
  EXPECT_EQ(std::get<3>(Stats(run, "d")), 0);
  // Within one batch, steps falling with time put a new key out of order.
  Log(run, {Point("c", 1, 1, 2), Point("c", 1, 2, 1)});
  EXPECT_EQ(std::get<3>(Stats(run, "c")), 0);
}

TEST_P(SqliteTrackingStoreTest, SampledHistoryIsTheSameWhetherStepOrderIsKnownOrNot) {
  // One history (with timestamps shared by several steps, and NaNs) logged
  // in batches from its end into one run, and odd points after even ones
  // into another: the first stays known to be in step order and is sampled
  // through latest_metrics' count, the second (conservatively out of order)
  // by reading it all.
  std::string experiment = NewExperiment("e");
  std::string in_order = NewRun(experiment, "in-order");
  std::string interleaved = NewRun(experiment, "interleaved");
  std::vector<std::vector<MetricPoint>> batches(10);
  for (int i = 0; i < 10000; ++i) {
    double value = i % 97 == 0 ? std::nan("") : std::sin(i * 0.01);
    batches[i / 1000].push_back(Point("loss", value, 1000 + i / 3, i));
  }
  for (auto batch = batches.rbegin(); batch != batches.rend(); ++batch) Log(in_order, *batch);
  for (int parity : {0, 1}) {
    for (const auto& batch : batches) {
      std::vector<MetricPoint> half;
      for (const MetricPoint& point : batch) {
        if (point.step % 2 == parity) half.push_back(point);
      }
      Log(interleaved, half);
    }
  }
  ASSERT_EQ(Stats(in_order, "loss"), std::make_tuple(10000, 1000 + 9999 / 3, 9999, 1));
  ASSERT_EQ(std::get<3>(Stats(interleaved, "loss")), 0);

  auto same = [](const std::vector<MetricPoint>& a, const std::vector<MetricPoint>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].step != b[i].step || a[i].timestamp != b[i].timestamp ||
          std::isnan(a[i].value) != std::isnan(b[i].value) ||
          (!std::isnan(a[i].value) && a[i].value != b[i].value)) {
        return false;
      }
    }
    return true;
  };
  for (int64_t max_points : {1, 2, 3, 7, 320, 999, 9999, 10000, 25000}) {
    auto fast = store_->SampleMetricHistory(in_order, "loss", max_points, std::nullopt);
    auto slow = store_->SampleMetricHistory(interleaved, "loss", max_points, std::nullopt);
    ASSERT_EQ(fast.size(), std::min<int64_t>(max_points, 10000)) << max_points;
    EXPECT_TRUE(same(fast, slow)) << max_points;
    EXPECT_EQ(fast.front().step, max_points == 1 ? 9999 : 0) << max_points;
    EXPECT_EQ(fast.back().step, 9999) << max_points;
  }
}

TEST_P(SqliteTrackingStoreTest, ParamCannotChangeValue) {
  std::string run = NewRun(NewExperiment("e"), "r1");
  RunWrites writes;
  writes.params = {{"lr", "0.1"}};
  store_->LogRunWrites(run, writes);
  store_->LogRunWrites(run, writes);  // same value again is fine
  writes.params = {{"lr", "0.2"}};
  EXPECT_THROW(store_->LogRunWrites(run, writes), Error);
  EXPECT_EQ(store_->GetRun(run)->params.at(0).value, "0.1");
}

TEST_P(SqliteTrackingStoreTest, FailedWriteInAGroupCommitLeavesOthersIntact) {
  std::string experiment = NewExperiment("e");
  std::string run = NewRun(experiment, "r1");
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        RunWrites writes;
        writes.metrics.push_back(Point("m" + std::to_string(t), double(i), 1, i));
        try {
          store_->LogRunWrites(t == 7 && i % 2 == 0 ? "missing-run" : run, writes);
        } catch (const Error& error) {
          EXPECT_EQ(error.code(), ErrorCode::kResourceDoesNotExist);
          ++failures;
        }
      }
    });
  }
  for (auto& writer : writers) writer.join();
  EXPECT_EQ(failures.load(), 25);
  for (int t = 0; t < 7; ++t) {
    EXPECT_EQ(store_->GetMetricHistory(run, "m" + std::to_string(t), {0, 1000}).items.size(), 50u);
  }
  EXPECT_EQ(store_->GetMetricHistory(run, "m7", {0, 1000}).items.size(), 25u);
}

TEST_P(SqliteTrackingStoreTest, DeletedRunRejectsWritesAndDeletingExperimentDeletesRuns) {
  std::string experiment = NewExperiment("e");
  std::string run = NewRun(experiment, "r1");
  store_->SetExperimentLifecycle(experiment, tracking::kLifecycleDeleted);
  EXPECT_EQ(store_->GetRun(run)->info.lifecycle_stage, tracking::kLifecycleDeleted);
  RunWrites writes;
  writes.tags = {{"k", "v"}};
  EXPECT_THROW(store_->LogRunWrites(run, writes), Error);
  store_->SetExperimentLifecycle(experiment, tracking::kLifecycleActive);
  store_->LogRunWrites(run, writes);
  EXPECT_EQ(store_->GetRun(run)->tags.at(0).value, "v");
}

TEST_P(SqliteTrackingStoreTest, DataSurvivesReopen) {
  std::string run = NewRun(NewExperiment("e"), "r1");
  RunWrites writes;
  writes.metrics = {Point("loss", 1.5, 10, 0)};
  store_->LogRunWrites(run, writes);
  Open();
  EXPECT_DOUBLE_EQ(store_->GetRun(run)->metrics.at(0).value, 1.5);
}

// The experiments a Visibility leaves out are left out before paging: each
// page holds `limit` visible experiments while more exist, and has_more says
// so exactly, for either shape of visibility and a list of 40,000 ids.
TEST_P(SqliteTrackingStoreTest, SearchExperimentsFiltersVisibilityBeforePaging) {
  std::vector<std::string> ids, hidden, shown;
  for (int i = 0; i < 12; ++i) {
    ids.push_back(NewExperiment("e" + std::to_string(10 + i)));
    (i % 3 == 0 ? hidden : shown).push_back(ids.back());
  }
  const std::vector<tracking::OrderTerm> by_name = {
      {tracking::EntityKind::kAttribute, "name", true}};
  const auto pages = [&](const Visibility& visible, int64_t limit) {
    std::vector<std::vector<std::string>> out;
    for (int64_t offset = 0;; offset += limit) {
      auto page = store_->SearchExperiments(tracking::ViewType::kActiveOnly, {}, by_name,
                                            {offset, limit}, visible);
      out.emplace_back();
      for (const auto& experiment : page.items) out.back().push_back(experiment.experiment_id);
      if (!page.has_more) return out;
    }
  };
  using Pages = std::vector<std::vector<std::string>>;
  const Pages expected = {
      {shown[0], shown[1], shown[2]}, {shown[3], shown[4], shown[5]}, {shown[6], shown[7]}};
  EXPECT_EQ(pages(Visibility::AllExcept(hidden), 3), expected);
  EXPECT_EQ(pages(Visibility::Only(shown), 3), expected);
  EXPECT_EQ(pages(Visibility::Only(shown), 8), Pages{shown});
  EXPECT_EQ(pages(Visibility::All(), 12), Pages{ids});

  std::vector<std::string> many_hidden, many_shown;
  for (int i = 0; i < 40000; ++i) {
    many_hidden.push_back(std::to_string(100000 + i));
    many_shown.push_back(std::to_string(200000 + i));
  }
  many_hidden.insert(many_hidden.end(), hidden.begin(), hidden.end());
  many_shown.insert(many_shown.begin(), shown.begin(), shown.end());
  EXPECT_EQ(pages(Visibility::AllExcept(many_hidden), 3), expected);
  EXPECT_EQ(pages(Visibility::Only(many_shown), 3), expected);
  EXPECT_EQ(pages(Visibility::Only({}), 3), Pages{{}});
}

// A number compared with an integer column is compared as a number, as
// SQLite compares it: 999.5 is neither read as an integer nor refused.
TEST_P(SqliteTrackingStoreTest, SearchRunsComparesIntegerColumnsWithFractions) {
  const std::string experiment = NewExperiment("fractions");
  NewRun(experiment, "r1");  // start_time 1000
  const auto found = [&](const std::string& filter) {
    std::vector<std::string> ids;
    for (const auto& run : store_
                               ->SearchRuns({experiment}, tracking::ViewType::kActiveOnly,
                                            tracking::ParseRunFilter(filter), {}, {0, 10})
                               .items) {
      ids.push_back(run.info.run_id);
    }
    return ids;
  };
  EXPECT_EQ(found("attributes.start_time > 999.5"), std::vector<std::string>{"r1"});
  EXPECT_EQ(found("attributes.start_time < 1000.5"), std::vector<std::string>{"r1"});
  EXPECT_EQ(found("attributes.start_time > 1000.5"), std::vector<std::string>{});
  EXPECT_EQ(found("attributes.start_time = 1000"), std::vector<std::string>{"r1"});
}

}  // namespace
}  // namespace slipway::store
