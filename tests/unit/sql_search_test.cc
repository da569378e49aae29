#include "store/sql_search.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "store/sqlite_schema.h"
#include "tracking/search_filter.h"

namespace slipway::store {
namespace {

using Ids = std::vector<std::string>;
using tracking::ParseExperimentFilter;
using tracking::ParseExperimentOrderBy;
using tracking::ParseLoggedModelFilter;
using tracking::ParseLoggedModelOrderBy;
using tracking::ParseModelVersionFilter;
using tracking::ParseModelVersionOrderBy;
using tracking::ParseRegisteredModelFilter;
using tracking::ParseRegisteredModelOrderBy;
using tracking::ParseRunFilter;
using tracking::ParseRunOrderBy;

// An in-memory database with Slipway's schema and a small fixed data set:
//
// experiment 1 runs (start_time, status, name, user):
//   r1 1000 FINISHED "alpha"     alice  end 2000  rmse 0.3  acc 0.9  model=xgb lr=0.1
//   r2 2000 RUNNING  "Alpha"     bob    end NULL  rmse 0.7           model=XGB
//   r3 3000 FINISHED "beta*[x]"  alice  end 4000  rmse NaN           model=lgbm
//   r4 3000 FINISHED "gamma_1"   carol  end 3500            acc 0.5
//   r5 5000 deleted run                           rmse 0.2
// experiment 2: r6 6000                           rmse 0.1
// tags `my key`: r1 "Hello World", r2 "hello world", r3 "a*b[c]?"; r4 other=x
// inputs: r1 train_ds/abc (context training) and eval/def (context evaluation),
//         r2 eval/def (context evaluation), r3 train_ds/abc (no context)
class SqlSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    for (const Migration& m : SqliteMigrations()) Exec(m.sql);
    Exec(R"sql(
      INSERT INTO experiments VALUES
        (1, 'Default', 'a/1', 'active', 100, 100),
        (2, 'exp-two', 'a/2', 'active', 300, 350),
        (3, 'Exp_three', 'a/3', 'active', 300, 300),
        (4, 'gone', 'a/4', 'deleted', 400, 400);
      INSERT INTO experiment_tags VALUES (2, 'team', 'ml'), (3, 'team', 'ML');
      INSERT INTO runs (run_pk, run_uuid, experiment_id, name, user_id, status, start_time,
                        end_time, artifact_uri, lifecycle_stage) VALUES
        (1, 'r1', 1, 'alpha', 'alice', 'FINISHED', 1000, 2000, 's3://b/r1', 'active'),
        (2, 'r2', 1, 'Alpha', 'bob', 'RUNNING', 2000, NULL, 's3://b/r2', 'active'),
        (3, 'r3', 1, 'beta*[x]', 'alice', 'FINISHED', 3000, 4000, 's3://b/r3', 'active'),
        (4, 'r4', 1, 'gamma_1', 'carol', 'FINISHED', 3000, 3500, 's3://b/r4', 'active'),
        (5, 'r5', 1, 'deleted', 'alice', 'FINISHED', 5000, 5500, 's3://b/r5', 'deleted'),
        (6, 'r6', 2, 'other', 'alice', 'FINISHED', 6000, 6500, 's3://b/r6', 'active');
      INSERT INTO latest_metrics (run_pk, key, value, timestamp, step, is_nan) VALUES
        (1, 'rmse', 0.3, 1, 0, 0), (1, 'acc', 0.9, 1, 0, 0),
        (2, 'rmse', 0.7, 1, 0, 0),
        (3, 'rmse', 0, 1, 0, 1),
        (4, 'acc', 0.5, 1, 0, 0),
        (5, 'rmse', 0.2, 1, 0, 0),
        (6, 'rmse', 0.1, 1, 0, 0);
      INSERT INTO params VALUES (1, 'model', 'xgb'), (1, 'lr', '0.1'), (2, 'model', 'XGB'),
                                (3, 'model', 'lgbm');
      INSERT INTO tags VALUES (1, 'my key', 'Hello World'), (2, 'my key', 'hello world'),
                              (3, 'my key', 'a*b[c]?'), (4, 'other', 'x');
      INSERT INTO datasets (dataset_pk, experiment_id, name, digest, source_type, source) VALUES
        (1, 1, 'train_ds', 'abc', 'local', 'x'), (2, 1, 'eval', 'def', 'local', 'y');
      INSERT INTO run_inputs VALUES (1, 1), (1, 2), (2, 2), (3, 1);
      INSERT INTO run_input_tags VALUES (1, 1, 'mlflow.data.context', 'training'),
                                        (1, 2, 'mlflow.data.context', 'evaluation'),
                                        (2, 2, 'mlflow.data.context', 'evaluation');
    )sql");
  }

  void TearDown() override { sqlite3_close(db_); }

  void Exec(const std::string& sql) {
    char* error = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << (error ? error : "") << "\n"
        << sql;
  }

  // `query` prepared with its values bound, or null after a test failure.
  sqlite3_stmt* Prepare(const SqlQuery& query) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, query.sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sqlite3_errmsg(db_) << "\n" << query.sql;
      return nullptr;
    }
    EXPECT_EQ(sqlite3_bind_parameter_count(stmt), static_cast<int>(query.binds.size()))
        << query.sql;
    for (size_t i = 0; i < query.binds.size(); ++i) {
      const int index = static_cast<int>(i) + 1;
      const SqlValue& v = query.binds[i];
      if (const auto* n = std::get_if<int64_t>(&v)) sqlite3_bind_int64(stmt, index, *n);
      if (const auto* d = std::get_if<double>(&v)) sqlite3_bind_double(stmt, index, *d);
      if (const auto* s = std::get_if<std::string>(&v)) {
        sqlite3_bind_text(stmt, index, s->c_str(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
      }
    }
    return stmt;
  }

  // Runs `query` and returns the first column of every row.
  Ids Query(const SqlQuery& query) {
    sqlite3_stmt* stmt = Prepare(query);
    if (!stmt) return {};
    Ids out;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
    }
    EXPECT_EQ(rc, SQLITE_DONE) << sqlite3_errmsg(db_) << "\n" << query.sql;
    sqlite3_finalize(stmt);
    return out;
  }

  Ids Runs(const std::string& filter, const std::vector<std::string>& order_by = {},
           int64_t offset = 0, int64_t limit = 100, ViewType view = ViewType::kActiveOnly,
           const std::vector<int64_t>& experiments = {1}) {
    return Query(BuildRunSearch(SqlDialect::Sqlite(), experiments, view, ParseRunFilter(filter),
                                ParseRunOrderBy(order_by), offset, limit));
  }

  Ids Experiments(const std::string& filter, const std::vector<std::string>& order_by = {},
                  ViewType view = ViewType::kActiveOnly, int64_t offset = 0, int64_t limit = 100) {
    return Query(BuildExperimentSearch(SqlDialect::Sqlite(), view, ParseExperimentFilter(filter),
                                       ParseExperimentOrderBy(order_by), offset, limit));
  }

  // EXPLAIN QUERY PLAN details of `query`, one step a line.
  std::string Plan(const SqlQuery& query) {
    SqlQuery explain{"EXPLAIN QUERY PLAN " + query.sql, query.binds};
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, explain.sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sqlite3_errmsg(db_);
      return "";
    }
    std::string plan;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
      plan += "\n";
    }
    sqlite3_finalize(stmt);
    return plan;
  }

  sqlite3* db_ = nullptr;
};

TEST_F(SqlSearchTest, DefaultOrderIsStartTimeDescThenRunId) {
  EXPECT_EQ(Runs(""), (Ids{"r3", "r4", "r2", "r1"}));
}

TEST_F(SqlSearchTest, ViewTypeAndExperimentScope) {
  EXPECT_EQ(Runs("", {}, 0, 100, ViewType::kDeletedOnly), (Ids{"r5"}));
  EXPECT_EQ(Runs("", {}, 0, 100, ViewType::kAll), (Ids{"r5", "r3", "r4", "r2", "r1"}));
  EXPECT_EQ(Runs("", {}, 0, 100, ViewType::kActiveOnly, {1, 2}),
            (Ids{"r6", "r3", "r4", "r2", "r1"}));
  EXPECT_EQ(Runs("", {}, 0, 100, ViewType::kActiveOnly, {2}), (Ids{"r6"}));
  EXPECT_EQ(Runs("", {}, 0, 100, ViewType::kActiveOnly, {}), (Ids{}));
}

TEST_F(SqlSearchTest, PagesWithLimitAndOffset) {
  EXPECT_EQ(Runs("", {}, 0, 2), (Ids{"r3", "r4"}));
  EXPECT_EQ(Runs("", {}, 2, 2), (Ids{"r2", "r1"}));
  EXPECT_EQ(Runs("", {}, 1, 1), (Ids{"r4"}));
  EXPECT_EQ(Runs("", {}, 4, 2), (Ids{}));
  EXPECT_EQ(Runs("", {}, 1, -1), (Ids{"r4", "r2", "r1"}));
  EXPECT_EQ(Runs("", {"metrics.rmse"}, 1, 2), (Ids{"r2", "r3"}));
}

TEST_F(SqlSearchTest, MetricComparisonsNeverMatchNanExceptNotEqual) {
  EXPECT_EQ(Runs("metrics.rmse < 0.5"), (Ids{"r1"}));
  EXPECT_EQ(Runs("metrics.rmse <= 0.3"), (Ids{"r1"}));
  EXPECT_EQ(Runs("metrics.rmse > 0.3"), (Ids{"r2"}));
  EXPECT_EQ(Runs("metrics.rmse >= 0.3"), (Ids{"r2", "r1"}));
  EXPECT_EQ(Runs("metrics.rmse = 0.7"), (Ids{"r2"}));
  // NaN is stored as 0 with is_nan = 1: it must not equal 0 or be below 1.
  EXPECT_EQ(Runs("metrics.rmse = 0"), (Ids{}));
  EXPECT_EQ(Runs("metrics.rmse < 1"), (Ids{"r2", "r1"}));
  EXPECT_EQ(Runs("metrics.rmse != 0.3"), (Ids{"r3", "r2"}));
  // NaN differs from everything, its placeholder 0 included.
  EXPECT_EQ(Runs("metrics.rmse != 0"), (Ids{"r3", "r2", "r1"}));
  // Runs without the metric match nothing, `!=` included.
  EXPECT_EQ(Runs("metrics.acc != 0.9"), (Ids{"r4"}));
  EXPECT_EQ(Runs("metrics.rmse > 0 AND metrics.acc > 0"), (Ids{"r1"}));
  EXPECT_EQ(Runs("metrics.missing > -1e300"), (Ids{}));
}

TEST_F(SqlSearchTest, OrderByMetricPutsNanThenMissingLast) {
  EXPECT_EQ(Runs("", {"metrics.rmse"}), (Ids{"r1", "r2", "r3", "r4"}));
  EXPECT_EQ(Runs("", {"metrics.rmse ASC"}), (Ids{"r1", "r2", "r3", "r4"}));
  EXPECT_EQ(Runs("", {"metrics.rmse DESC"}), (Ids{"r2", "r1", "r3", "r4"}));
  EXPECT_EQ(Runs("", {"metrics.acc DESC"}), (Ids{"r1", "r4", "r3", "r2"}));
  // Filter and order on the same metric share one join.
  EXPECT_EQ(Runs("metrics.rmse < 1", {"metrics.rmse DESC"}), (Ids{"r2", "r1"}));
  EXPECT_EQ(Runs("metrics.rmse < 1", {"metrics.rmse"}), (Ids{"r1", "r2"}));
  // `!=` lets NaN through, which must still sort after the values.
  EXPECT_EQ(Runs("metrics.rmse != 5", {"metrics.rmse DESC"}), (Ids{"r2", "r1", "r3"}));
}

TEST_F(SqlSearchTest, OrderByParamsTagsAndAttributes) {
  // BINARY collation: 'XGB' < 'lgbm' < 'xgb'; runs without the param last.
  EXPECT_EQ(Runs("", {"params.model"}), (Ids{"r2", "r3", "r1", "r4"}));
  EXPECT_EQ(Runs("", {"params.model DESC"}), (Ids{"r1", "r3", "r2", "r4"}));
  EXPECT_EQ(Runs("params.model != 'none'", {"params.model DESC"}), (Ids{"r1", "r3", "r2"}));
  EXPECT_EQ(Runs("", {"tags.`my key` ASC"}), (Ids{"r1", "r3", "r2", "r4"}));
  EXPECT_EQ(Runs("", {"start_time ASC"}), (Ids{"r1", "r2", "r3", "r4"}));
  EXPECT_EQ(Runs("", {"attributes.created DESC"}), (Ids{"r3", "r4", "r2", "r1"}));
  EXPECT_EQ(Runs("", {"end_time"}), (Ids{"r1", "r4", "r3", "r2"}));
  EXPECT_EQ(Runs("", {"end_time DESC"}), (Ids{"r3", "r4", "r1", "r2"}));
  EXPECT_EQ(Runs("", {"run_name"}), (Ids{"r2", "r1", "r3", "r4"}));
  EXPECT_EQ(Runs("", {"attributes.run_id DESC"}), (Ids{"r4", "r3", "r2", "r1"}));
  EXPECT_EQ(Runs("", {"status", "metrics.acc DESC"}), (Ids{"r1", "r4", "r3", "r2"}));
  EXPECT_EQ(Runs("", {"user_id DESC", "start_time"}), (Ids{"r4", "r2", "r1", "r3"}));
}

TEST_F(SqlSearchTest, ParamAndTagEqualityIsCaseSensitive) {
  EXPECT_EQ(Runs("params.model = 'xgb'"), (Ids{"r1"}));
  EXPECT_EQ(Runs("params.model = 'XGB'"), (Ids{"r2"}));
  EXPECT_EQ(Runs("params.model != 'xgb'"), (Ids{"r3", "r2"}));
  EXPECT_EQ(Runs("tags.`my key` = 'hello world'"), (Ids{"r2"}));
  EXPECT_EQ(Runs("params.lr = '0.1' AND params.model = 'xgb'"), (Ids{"r1"}));
}

TEST_F(SqlSearchTest, LikeIsCaseSensitiveAndIlikeIsNot) {
  EXPECT_EQ(Runs("params.model LIKE 'x%'"), (Ids{"r1"}));
  EXPECT_EQ(Runs("params.model LIKE 'X%'"), (Ids{"r2"}));
  EXPECT_EQ(Runs("params.model ILIKE 'x%'"), (Ids{"r2", "r1"}));
  EXPECT_EQ(Runs("params.model ILIKE 'XgB'"), (Ids{"r2", "r1"}));
  EXPECT_EQ(Runs("tags.`my key` LIKE '%World'"), (Ids{"r1"}));
  EXPECT_EQ(Runs("tags.`my key` ILIKE '%WORLD'"), (Ids{"r2", "r1"}));
  EXPECT_EQ(Runs("attributes.run_name LIKE 'a%'"), (Ids{"r1"}));
  EXPECT_EQ(Runs("run_name ILIKE 'a%'"), (Ids{"r2", "r1"}));
  EXPECT_EQ(Runs("user_id ILIKE 'ALICE'"), (Ids{"r3", "r1"}));
  EXPECT_EQ(Runs("status LIKE 'FIN%'"), (Ids{"r3", "r4", "r1"}));
  EXPECT_EQ(Runs("status LIKE 'fin%'"), (Ids{}));
  EXPECT_EQ(Runs("artifact_uri LIKE 's3://b/r_'"), (Ids{"r3", "r4", "r2", "r1"}));
}

TEST_F(SqlSearchTest, LikeWildcardsAndLiteralGlobCharacters) {
  EXPECT_EQ(Runs("run_name LIKE '%'"), (Ids{"r3", "r4", "r2", "r1"}));
  EXPECT_EQ(Runs("run_name LIKE 'gamma_1'"), (Ids{"r4"}));
  EXPECT_EQ(Runs("run_name LIKE 'gamma__'"), (Ids{"r4"}));
  EXPECT_EQ(Runs("run_name LIKE 'gamma_'"), (Ids{}));
  EXPECT_EQ(Runs("run_name LIKE '_lpha'"), (Ids{"r2", "r1"}));
  // `*`, `?` and `[` are ordinary characters in a LIKE pattern.
  EXPECT_EQ(Runs("run_name LIKE 'beta*[x]'"), (Ids{"r3"}));
  EXPECT_EQ(Runs("run_name LIKE 'beta*%'"), (Ids{"r3"}));
  EXPECT_EQ(Runs("run_name LIKE 'beta_[x]'"), (Ids{"r3"}));
  EXPECT_EQ(Runs("run_name LIKE 'b*'"), (Ids{}));
  EXPECT_EQ(Runs("run_name LIKE 'gamma?1'"), (Ids{}));
  EXPECT_EQ(Runs("run_name LIKE '[a-z]%'"), (Ids{}));
  EXPECT_EQ(Runs("tags.`my key` LIKE 'a*b[c]?'"), (Ids{"r3"}));
  EXPECT_EQ(Runs("tags.`my key` LIKE 'a_b[c]_'"), (Ids{"r3"}));
  EXPECT_EQ(Runs("tags.`my key` ILIKE 'A*B[C]?'"), (Ids{"r3"}));
  EXPECT_EQ(Runs("tags.`my key` ILIKE 'a%?'"), (Ids{"r3"}));
}

TEST_F(SqlSearchTest, LikeStaysCaseSensitiveWhateverThePragma) {
  for (const char* pragma :
       {"PRAGMA case_sensitive_like = ON", "PRAGMA case_sensitive_like = OFF"}) {
    SCOPED_TRACE(pragma);
    Exec(pragma);
    EXPECT_EQ(Runs("params.model LIKE 'x%'"), (Ids{"r1"}));
    EXPECT_EQ(Runs("params.model ILIKE 'x%'"), (Ids{"r2", "r1"}));
  }
}

TEST_F(SqlSearchTest, IsNullAndIsNotNull) {
  EXPECT_EQ(Runs("tags.other IS NULL"), (Ids{"r3", "r2", "r1"}));
  EXPECT_EQ(Runs("tags.other IS NOT NULL"), (Ids{"r4"}));
  EXPECT_EQ(Runs("params.lr IS NOT NULL"), (Ids{"r1"}));
  EXPECT_EQ(Runs("params.model IS NULL"), (Ids{"r4"}));
  EXPECT_EQ(Runs("params.model IS NOT NULL AND tags.`my key` LIKE 'h%'"), (Ids{"r2"}));
}

TEST_F(SqlSearchTest, StringAttributesAndRunIdLists) {
  EXPECT_EQ(Runs("attributes.status = 'FINISHED'"), (Ids{"r3", "r4", "r1"}));
  EXPECT_EQ(Runs("status != 'FINISHED'"), (Ids{"r2"}));
  EXPECT_EQ(Runs("run_name = 'Alpha'"), (Ids{"r2"}));
  EXPECT_EQ(Runs("`Run Name` = 'alpha'"), (Ids{"r1"}));
  EXPECT_EQ(Runs("attributes.artifact_uri = 's3://b/r4'"), (Ids{"r4"}));
  EXPECT_EQ(Runs("run_id = 'r2'"), (Ids{"r2"}));
  EXPECT_EQ(Runs("run_id IN ('r1', 'r4', 'r5', 'nope')"), (Ids{"r4", "r1"}));
  EXPECT_EQ(Runs("run_id NOT IN ('r1', 'r4')"), (Ids{"r3", "r2"}));
}

TEST_F(SqlSearchTest, NumericAttributes) {
  EXPECT_EQ(Runs("attributes.start_time >= 2000"), (Ids{"r3", "r4", "r2"}));
  EXPECT_EQ(Runs("created < 2000"), (Ids{"r1"}));
  EXPECT_EQ(Runs("start_time = 3000"), (Ids{"r3", "r4"}));
  EXPECT_EQ(Runs("start_time > 2999.5"), (Ids{"r3", "r4"}));
  // A run without end_time matches no comparison on it.
  EXPECT_EQ(Runs("end_time > 0"), (Ids{"r3", "r4", "r1"}));
  EXPECT_EQ(Runs("end_time != 2000"), (Ids{"r3", "r4"}));
}

TEST_F(SqlSearchTest, Datasets) {
  EXPECT_EQ(Runs("datasets.name = 'train_ds'"), (Ids{"r3", "r1"}));
  EXPECT_EQ(Runs("datasets.digest = 'def'"), (Ids{"r2", "r1"}));
  EXPECT_EQ(Runs("datasets.context = 'training'"), (Ids{"r1"}));
  EXPECT_EQ(Runs("datasets.context IN ('evaluation', 'x')"), (Ids{"r2", "r1"}));
  // Some input of the run is not named train_ds.
  EXPECT_EQ(Runs("datasets.name NOT IN ('train_ds')"), (Ids{"r2", "r1"}));
  EXPECT_EQ(Runs("datasets.name != 'eval'"), (Ids{"r3", "r1"}));
  EXPECT_EQ(Runs("datasets.name LIKE 'TRAIN%'"), (Ids{}));
  EXPECT_EQ(Runs("datasets.name ILIKE 'TRAIN%'"), (Ids{"r3", "r1"}));
  EXPECT_EQ(Runs("datasets.name = 'train_ds' AND datasets.context = 'evaluation'"), (Ids{"r1"}));
}

TEST_F(SqlSearchTest, EverythingTogether) {
  EXPECT_EQ(Runs("metrics.rmse < 1 AND params.model ILIKE 'xgb' AND datasets.context = "
                 "'evaluation' AND status != 'FAILED'",
                 {"metrics.rmse DESC"}),
            (Ids{"r2", "r1"}));
}

TEST_F(SqlSearchTest, UserTextIsBoundNeverSpliced) {
  const SqlQuery q = BuildRunSearch(
      SqlDialect::Sqlite(), {1}, ViewType::kActiveOnly,
      ParseRunFilter("params.`k'); DROP TABLE runs; --` = 'x'' OR 1=1 --' AND tags.t LIKE "
                     "'%evil%'"),
      ParseRunOrderBy({"tags.`o'rder`"}), 0, 10);
  EXPECT_EQ(q.sql.find("DROP"), std::string::npos) << q.sql;
  EXPECT_EQ(q.sql.find("OR 1=1"), std::string::npos) << q.sql;
  EXPECT_EQ(q.sql.find("evil"), std::string::npos) << q.sql;
  EXPECT_EQ(q.sql.find("o'rder"), std::string::npos) << q.sql;
  EXPECT_EQ(Query(q), (Ids{}));
  EXPECT_EQ(Runs(""), (Ids{"r3", "r4", "r2", "r1"}));
}

TEST_F(SqlSearchTest, RejectsOrderByDataset) {
  tracking::OrderTerm term{tracking::EntityKind::kDataset, "name", true};
  EXPECT_THROW(BuildRunSearch(SqlDialect::Sqlite(), {1}, ViewType::kActiveOnly, {}, {term}, 0, 10),
               Error);
}

// The query plans that keep a search over 100k runs fast (see AddRunFilter).
TEST_F(SqlSearchTest, MetricFilterPlans) {
  // Ordered by the filtered metric: walk the (key, value) index in order.
  std::string plan = Plan(BuildRunSearch(SqlDialect::Sqlite(), {1}, ViewType::kActiveOnly,
                                         ParseRunFilter("metrics.rmse < 0.5"),
                                         ParseRunOrderBy({"metrics.rmse"}), 0, 10));
  EXPECT_NE(plan.find("latest_metrics_by_key (key=? AND value<?)"), std::string::npos) << plan;
  EXPECT_NE(plan.find("RIGHT PART OF ORDER BY"), std::string::npos) << plan;
  // Default order: walk runs in start_time order, probe each run's metric,
  // and sort nothing, so LIMIT stops the walk.
  plan = Plan(BuildRunSearch(SqlDialect::Sqlite(), {1}, ViewType::kActiveOnly,
                             ParseRunFilter("metrics.rmse < 0.5"), {}, 0, 10));
  EXPECT_NE(plan.find("runs_by_experiment"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("latest_metrics_by_key"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
}

TEST_F(SqlSearchTest, ExperimentsDefaultOrderAndFilters) {
  EXPECT_EQ(Experiments(""), (Ids{"2", "3", "1"}));
  EXPECT_EQ(Experiments("", {}, ViewType::kAll), (Ids{"4", "2", "3", "1"}));
  EXPECT_EQ(Experiments("", {}, ViewType::kDeletedOnly), (Ids{"4"}));
  EXPECT_EQ(Experiments("name = 'Default'"), (Ids{"1"}));
  EXPECT_EQ(Experiments("name != 'Default'"), (Ids{"2", "3"}));
  EXPECT_EQ(Experiments("name LIKE 'exp%'"), (Ids{"2"}));
  EXPECT_EQ(Experiments("name ILIKE 'exp%'"), (Ids{"2", "3"}));
  EXPECT_EQ(Experiments("name LIKE 'Exp_three'"), (Ids{"3"}));
  EXPECT_EQ(Experiments("creation_time > 100"), (Ids{"2", "3"}));
  EXPECT_EQ(Experiments("last_update_time >= 350"), (Ids{"2"}));
  EXPECT_EQ(Experiments("experiment_id IN ('1', '3')"), (Ids{"3", "1"}));
  EXPECT_EQ(Experiments("experiment_id NOT IN ('1', '3')"), (Ids{"2"}));
  EXPECT_EQ(Experiments("experiment_id = '2'"), (Ids{"2"}));
  EXPECT_EQ(Experiments("experiment_id != '2'"), (Ids{"3", "1"}));
  EXPECT_EQ(Experiments("tags.team = 'ml'"), (Ids{"2"}));
  EXPECT_EQ(Experiments("tags.team ILIKE 'ML'"), (Ids{"2", "3"}));
  EXPECT_EQ(Experiments("tags.team LIKE 'M%'"), (Ids{"3"}));
  EXPECT_EQ(Experiments("tags.team IS NULL"), (Ids{"1"}));
  EXPECT_EQ(Experiments("tags.team IS NOT NULL AND creation_time = 300"), (Ids{"2", "3"}));
}

TEST_F(SqlSearchTest, ExperimentsOrderAndPaging) {
  EXPECT_EQ(Experiments("", {"name"}), (Ids{"1", "3", "2"}));
  EXPECT_EQ(Experiments("", {"name DESC"}), (Ids{"2", "3", "1"}));
  // Ties broken by experiment_id DESC unless it is ordered by.
  EXPECT_EQ(Experiments("", {"creation_time"}), (Ids{"1", "3", "2"}));
  EXPECT_EQ(Experiments("", {"creation_time", "experiment_id"}), (Ids{"1", "2", "3"}));
  EXPECT_EQ(Experiments("", {"last_update_time DESC"}), (Ids{"2", "3", "1"}));
  EXPECT_EQ(Experiments("", {}, ViewType::kActiveOnly, 1, 1), (Ids{"3"}));
  EXPECT_EQ(Experiments("", {}, ViewType::kActiveOnly, 2, 5), (Ids{"1"}));
}

// Logged models in experiment 1 (created, status, type, metrics' points as
// (timestamp, step, value)):
//   m1 100 READY   sklearn  acc (10,0,0.5) (20,1,0.9)         params lr=0.1
//   m2 200 PENDING NULL     acc (10,0,0.95) (30,0,NaN)
//   m3 300 READY   pytorch  acc (5,0,0.7), loss (5,0,0.2)     tags stage=prod
//   m4 deleted, m5 in experiment 2.
class LoggedModelSearchTest : public SqlSearchTest {
 protected:
  void SetUp() override {
    SqlSearchTest::SetUp();
    Exec(R"sql(
      INSERT INTO logged_models (model_id, experiment_id, name, artifact_location,
          creation_timestamp_ms, last_updated_timestamp_ms, status, model_type, source_run_id,
          lifecycle_stage) VALUES
        ('m1', 1, 'clf', 'a', 100, 150, 'READY', 'sklearn', 'r1', 'active'),
        ('m2', 1, 'reg', 'a', 200, 250, 'PENDING', NULL, NULL, 'active'),
        ('m3', 1, 'clf2', 'a', 300, 300, 'READY', 'pytorch', 'r2', 'active'),
        ('m4', 1, 'old', 'a', 400, 400, 'READY', NULL, NULL, 'deleted'),
        ('m5', 2, 'elsewhere', 'a', 500, 500, 'READY', NULL, NULL, 'active');
      INSERT INTO metrics (run_pk, key, step, timestamp, value, is_nan, model_id) VALUES
        (1, 'acc', 0, 10, 0.5, 0, 'm1'), (1, 'acc', 1, 20, 0.9, 0, 'm1'),
        (2, 'acc', 0, 10, 0.95, 0, 'm2'), (2, 'acc', 0, 30, 0, 1, 'm2'),
        (2, 'acc', 0, 5, 0.7, 0, 'm3'), (2, 'loss', 0, 5, 0.2, 0, 'm3'),
        (1, 'acc', 0, 99, 0.99, 0, NULL),
        (6, 'acc', 0, 10, 0.99, 0, 'm5');
      INSERT INTO logged_model_params VALUES ('m1', 'lr', '0.1');
      INSERT INTO logged_model_tags VALUES ('m3', 'stage', 'prod');
    )sql");
  }

  Ids Models(const std::string& filter, const std::vector<tracking::OrderTerm>& order_by = {},
             int64_t offset = 0, int64_t limit = 100) {
    return Query(BuildLoggedModelSearch(SqlDialect::Sqlite(), {1}, ParseLoggedModelFilter(filter),
                                        order_by, offset, limit));
  }
};

TEST_F(LoggedModelSearchTest, DefaultOrderAndPaging) {
  EXPECT_EQ(Models(""), (Ids{"m3", "m2", "m1"}));
  EXPECT_EQ(Models("", {}, 1, 1), (Ids{"m2"}));
  EXPECT_EQ(Query(BuildLoggedModelSearch(SqlDialect::Sqlite(), {1, 2}, {}, {}, 0, 100)),
            (Ids{"m5", "m3", "m2", "m1"}));
}

TEST_F(LoggedModelSearchTest, MetricFiltersReadTheLatestPoint) {
  // m2's 0.95 is older than its NaN; m1's latest is 0.9, not 0.5.
  EXPECT_EQ(Models("metrics.acc > 0.8"), (Ids{"m1"}));
  EXPECT_EQ(Models("metrics.acc < 0.6"), (Ids{}));
  EXPECT_EQ(Models("metrics.acc != 0.9"), (Ids{"m3", "m2"}));
  EXPECT_EQ(Models("metrics.acc != 0"), (Ids{"m3", "m2", "m1"}));
  EXPECT_EQ(Models("metrics.acc = 0"), (Ids{}));
  EXPECT_EQ(Models("metrics.loss <= 0.2 AND metrics.acc >= 0.7"), (Ids{"m3"}));
  EXPECT_EQ(Models("metrics.nothing > 0"), (Ids{}));
}

TEST_F(LoggedModelSearchTest, OrderByMetricPutsNanAndMissingLast) {
  using tracking::ParseLoggedModelOrderBy;
  EXPECT_EQ(Models("", {ParseLoggedModelOrderBy("metrics.acc", true)}), (Ids{"m3", "m1", "m2"}));
  EXPECT_EQ(Models("", {ParseLoggedModelOrderBy("metrics.acc", false)}), (Ids{"m1", "m3", "m2"}));
  EXPECT_EQ(Models("", {ParseLoggedModelOrderBy("metrics.loss", false)}), (Ids{"m3", "m2", "m1"}));
  EXPECT_EQ(Models("metrics.acc < 1", {ParseLoggedModelOrderBy("metrics.acc", false)}),
            (Ids{"m1", "m3"}));
}

TEST_F(LoggedModelSearchTest, AttributeParamAndTagFilters) {
  EXPECT_EQ(Models("name LIKE 'clf%'"), (Ids{"m3", "m1"}));
  EXPECT_EQ(Models("name LIKE 'CLF%'"), (Ids{}));
  EXPECT_EQ(Models("name ILIKE 'CLF%'"), (Ids{"m3", "m1"}));
  EXPECT_EQ(Models("name IN ('clf', 'reg')"), (Ids{"m2", "m1"}));
  EXPECT_EQ(Models("name NOT IN ('clf', 'reg')"), (Ids{"m3"}));
  EXPECT_EQ(Models("model_type = 'sklearn'"), (Ids{"m1"}));
  EXPECT_EQ(Models("status = 'READY'"), (Ids{"m3", "m1"}));
  EXPECT_EQ(Models("source_run_id = 'r2'"), (Ids{"m3"}));
  EXPECT_EQ(Models("model_id = 'm2'"), (Ids{"m2"}));
  EXPECT_EQ(Models("creation_timestamp >= 200"), (Ids{"m3", "m2"}));
  EXPECT_EQ(Models("creation_time < 200"), (Ids{"m1"}));
  EXPECT_EQ(Models("last_updated_timestamp = 250"), (Ids{"m2"}));
  EXPECT_EQ(Models("params.lr = '0.1'"), (Ids{"m1"}));
  EXPECT_EQ(Models("tags.stage LIKE 'PROD'"), (Ids{}));
  EXPECT_EQ(Models("tags.stage ILIKE 'PROD'"), (Ids{"m3"}));
}

TEST_F(LoggedModelSearchTest, OrderByAttributes) {
  using tracking::ParseLoggedModelOrderBy;
  EXPECT_EQ(Models("", {ParseLoggedModelOrderBy("name", true)}), (Ids{"m1", "m3", "m2"}));
  EXPECT_EQ(Models("", {ParseLoggedModelOrderBy("creation_time", true)}), (Ids{"m1", "m2", "m3"}));
  // NULL model_type last either way.
  EXPECT_EQ(Models("", {ParseLoggedModelOrderBy("model_type", true)}), (Ids{"m3", "m1", "m2"}));
  EXPECT_EQ(Models("", {ParseLoggedModelOrderBy("model_type", false)}), (Ids{"m1", "m3", "m2"}));
  EXPECT_EQ(Models("", {ParseLoggedModelOrderBy("status", true),
                        ParseLoggedModelOrderBy("model_id", false)}),
            (Ids{"m2", "m3", "m1"}));
}

// The model registry, with the data of a reference run of MLflow 3.17.2's
// SqlAlchemyStore (sqlite), which gave the expected results below.
//
// registered models (created, last updated, tags):
//   alpha      100 500  team=ml stage=Prod
//   Alpha2     200 400  team=ML
//   beta*[x]   300 300  team=data
//   gamma_1    400 500
//   prompt1    500 600  mlflow.prompt.is_prompt=true
//   notprompt  600 100  mlflow.prompt.is_prompt=false
// model versions (created, last updated, stage, run_id, source, tags):
//   alpha/1    1000 1000 None             r1 s3://b/alpha/1  env=prod
//   alpha/2    2000 3000 Staging          r2 s3://b/alpha/2  env=Staging owner=bob
//   alpha/3    3000 3000 Deleted_Internal r1 S3://B/alpha/3  env=prod
//   Alpha2/1   1500 3000 None             r3 runs:/r3/model  env=prod
//   Alpha2/2   2500 2500 Production       '' models:/m-1
//   gamma_1/2   500  600 None             r2 a*b[c]?
//   gamma_1/10  700  700 Archived         r4 file:///tmp/x
//   prompt1/1   800  800 None             '' p               mlflow.prompt.is_prompt=true
class RegistrySearchTest : public SqlSearchTest {
 protected:
  void SetUp() override {
    SqlSearchTest::SetUp();
    Exec(R"sql(
      INSERT INTO registered_models (name, creation_timestamp, last_updated_timestamp) VALUES
        ('alpha', 100, 500), ('Alpha2', 200, 400), ('beta*[x]', 300, 300),
        ('gamma_1', 400, 500), ('prompt1', 500, 600), ('notprompt', 600, 100);
      INSERT INTO registered_model_tags VALUES
        ('alpha', 'team', 'ml'), ('alpha', 'stage', 'Prod'), ('Alpha2', 'team', 'ML'),
        ('beta*[x]', 'team', 'data'), ('prompt1', 'mlflow.prompt.is_prompt', 'true'),
        ('notprompt', 'mlflow.prompt.is_prompt', 'false');
      INSERT INTO model_versions (name, version, creation_timestamp, last_updated_timestamp,
                                  current_stage, run_id, source) VALUES
        ('alpha', 1, 1000, 1000, 'None', 'r1', 's3://b/alpha/1'),
        ('alpha', 2, 2000, 3000, 'Staging', 'r2', 's3://b/alpha/2'),
        ('alpha', 3, 3000, 3000, 'Deleted_Internal', 'r1', 'S3://B/alpha/3'),
        ('Alpha2', 1, 1500, 3000, 'None', 'r3', 'runs:/r3/model'),
        ('Alpha2', 2, 2500, 2500, 'Production', '', 'models:/m-1'),
        ('gamma_1', 2, 500, 600, 'None', 'r2', 'a*b[c]?'),
        ('gamma_1', 10, 700, 700, 'Archived', 'r4', 'file:///tmp/x'),
        ('prompt1', 1, 800, 800, 'None', '', 'p');
      INSERT INTO model_version_tags VALUES
        ('alpha', 1, 'env', 'prod'), ('alpha', 2, 'env', 'Staging'), ('alpha', 2, 'owner', 'bob'),
        ('alpha', 3, 'env', 'prod'), ('Alpha2', 1, 'env', 'prod'),
        ('prompt1', 1, 'mlflow.prompt.is_prompt', 'true');
    )sql");
  }

  Ids Models(const std::string& filter, const std::vector<std::string>& order_by = {},
             int64_t offset = 0, int64_t limit = 100) {
    return Query(BuildRegisteredModelSearch(SqlDialect::Sqlite(),
                                            ParseRegisteredModelFilter(filter),
                                            ParseRegisteredModelOrderBy(order_by), offset, limit));
  }

  // "name/version" for each row; the version must come back as an integer.
  Ids Versions(const std::string& filter, const std::vector<std::string>& order_by = {},
               int64_t offset = 0, int64_t limit = 100) {
    const SqlQuery query =
        BuildModelVersionSearch(SqlDialect::Sqlite(), ParseModelVersionFilter(filter),
                                ParseModelVersionOrderBy(order_by), offset, limit);
    sqlite3_stmt* stmt = Prepare(query);
    if (!stmt) return {};
    Ids out;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      EXPECT_EQ(sqlite3_column_count(stmt), 2);
      EXPECT_EQ(sqlite3_column_type(stmt, 1), SQLITE_INTEGER);
      out.push_back(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))) + "/" +
                    std::to_string(sqlite3_column_int64(stmt, 1)));
    }
    EXPECT_EQ(rc, SQLITE_DONE) << sqlite3_errmsg(db_) << "\n" << query.sql;
    sqlite3_finalize(stmt);
    return out;
  }
};

TEST_F(RegistrySearchTest, RegisteredModelsDefaultOrderIsNameAndLeavesOutPrompts) {
  EXPECT_EQ(Models(""), (Ids{"Alpha2", "alpha", "beta*[x]", "gamma_1", "notprompt"}));
}

TEST_F(RegistrySearchTest, RegisteredModelNames) {
  EXPECT_EQ(Models("name = 'alpha'"), (Ids{"alpha"}));
  EXPECT_EQ(Models("attribute.name = \"alpha\""), (Ids{"alpha"}));
  EXPECT_EQ(Models("name != 'alpha'"), (Ids{"Alpha2", "beta*[x]", "gamma_1", "notprompt"}));
  EXPECT_EQ(Models("name IN ('alpha', 'gamma_1', 'nope')"), (Ids{"alpha", "gamma_1"}));
  EXPECT_EQ(Models("name IN ('alpha')"), (Ids{"alpha"}));
  EXPECT_EQ(Models("name NOT IN ('alpha')"), (Ids{"Alpha2", "beta*[x]", "gamma_1", "notprompt"}));
  // A prompt stays out even when named.
  EXPECT_EQ(Models("name = 'prompt1'"), (Ids{}));
}

TEST_F(RegistrySearchTest, LikeIsCaseSensitiveAndIlikeIsNot) {
  EXPECT_EQ(Models("name LIKE 'a%'"), (Ids{"alpha"}));
  EXPECT_EQ(Models("name LIKE 'A%'"), (Ids{"Alpha2"}));
  EXPECT_EQ(Models("name ILIKE 'a%'"), (Ids{"Alpha2", "alpha"}));
  EXPECT_EQ(Models("name ilike 'ALPHA_'"), (Ids{"Alpha2"}));
  EXPECT_EQ(Models("name LIKE '%'"), (Ids{"Alpha2", "alpha", "beta*[x]", "gamma_1", "notprompt"}));
  EXPECT_EQ(Models("name LIKE 'gamma_1'"), (Ids{"gamma_1"}));
  EXPECT_EQ(Models("name LIKE 'gamma__'"), (Ids{"gamma_1"}));
  EXPECT_EQ(Models("name LIKE '_lpha'"), (Ids{"alpha"}));
  // `*`, `?` and `[` are ordinary characters in a LIKE pattern.
  EXPECT_EQ(Models("name LIKE 'beta*[x]'"), (Ids{"beta*[x]"}));
  EXPECT_EQ(Models("name LIKE 'beta*%'"), (Ids{"beta*[x]"}));
  EXPECT_EQ(Models("name LIKE 'b*'"), (Ids{}));
  for (const char* pragma :
       {"PRAGMA case_sensitive_like = ON", "PRAGMA case_sensitive_like = OFF"}) {
    SCOPED_TRACE(pragma);
    Exec(pragma);
    EXPECT_EQ(Models("name LIKE 'a%'"), (Ids{"alpha"}));
    EXPECT_EQ(Models("name ILIKE 'a%'"), (Ids{"Alpha2", "alpha"}));
    EXPECT_EQ(Models("tags.team LIKE 'M%'"), (Ids{"Alpha2"}));
    EXPECT_EQ(Versions("source_path LIKE 'S3://%'"), (Ids{}));
    EXPECT_EQ(Versions("tags.env LIKE 's%'"), (Ids{}));
  }
}

TEST_F(RegistrySearchTest, RegisteredModelTags) {
  EXPECT_EQ(Models("tags.team = 'ml'"), (Ids{"alpha"}));
  EXPECT_EQ(Models("tag.team = 'ml'"), (Ids{"alpha"}));
  EXPECT_EQ(Models("tags.team ILIKE 'ML'"), (Ids{"Alpha2", "alpha"}));
  EXPECT_EQ(Models("tags.team LIKE 'M%'"), (Ids{"Alpha2"}));
  // Models without the tag match no comparison on it, `!=` included.
  EXPECT_EQ(Models("tags.team != 'ml'"), (Ids{"Alpha2", "beta*[x]"}));
  EXPECT_EQ(Models("tags.team = 'ml' AND tags.stage = 'Prod'"), (Ids{"alpha"}));
  EXPECT_EQ(Models("tags.team = 'ml' AND tags.team != 'x'"), (Ids{"alpha"}));
  EXPECT_EQ(Models("tags.team LIKE '%' AND name ILIKE 'alpha%'"), (Ids{"Alpha2", "alpha"}));
  EXPECT_EQ(Models("tags.`my key` = 'x'"), (Ids{}));
}

TEST_F(RegistrySearchTest, PromptsOnlyWhenTheFilterAsksForThem) {
  EXPECT_EQ(Models("tags.`mlflow.prompt.is_prompt` = 'true'"), (Ids{"prompt1"}));
  EXPECT_EQ(Models("tags.`mlflow.prompt.is_prompt` != 'false'"), (Ids{"prompt1"}));
  EXPECT_EQ(Models("tags.`mlflow.prompt.is_prompt` = 'true' AND name LIKE 'p%'"), (Ids{"prompt1"}));
  // 'TRUE' asks for prompts, but the tag's value is then compared as written.
  EXPECT_EQ(Models("tags.`mlflow.prompt.is_prompt` = 'TRUE'"), (Ids{}));
  EXPECT_EQ(Models("tags.`mlflow.prompt.is_prompt` = 'true' AND tags.`mlflow.prompt.is_prompt` "
                   "= 'x'"),
            (Ids{}));
  // Otherwise every clause on the tag is dropped and prompts stay out.
  const Ids not_prompts = {"Alpha2", "alpha", "beta*[x]", "gamma_1", "notprompt"};
  EXPECT_EQ(Models("tags.`mlflow.prompt.is_prompt` = 'false'"), not_prompts);
  EXPECT_EQ(Models("tags.`mlflow.prompt.is_prompt` != 'true'"), not_prompts);
  EXPECT_EQ(Models("tags.`mlflow.prompt.is_prompt` LIKE 't%'"), not_prompts);
  EXPECT_EQ(Models("tags.`mlflow.prompt.is_prompt` = 'x' AND tags.`mlflow.prompt.is_prompt` = "
                   "'true'"),
            not_prompts);
  EXPECT_EQ(Models("tags.`mlflow.prompt.is_prompt` = 'false' AND tags.team = 'ml'"),
            (Ids{"alpha"}));
  // Versions: a name is a prompt when one of its versions carries the tag.
  EXPECT_EQ(Versions("tags.`mlflow.prompt.is_prompt` = 'true'"), (Ids{"prompt1/1"}));
  EXPECT_EQ(Versions("tags.`mlflow.prompt.is_prompt` != 'false'"), (Ids{"prompt1/1"}));
  EXPECT_EQ(Versions("tags.`mlflow.prompt.is_prompt` = 'false'"),
            (Ids{"Alpha2/1", "alpha/2", "Alpha2/2", "alpha/1", "gamma_1/10", "gamma_1/2"}));
  EXPECT_EQ(Versions("name = 'prompt1'"), (Ids{}));
}

TEST_F(RegistrySearchTest, RegisteredModelOrder) {
  const Ids by_name_desc = {"notprompt", "gamma_1", "beta*[x]", "alpha", "Alpha2"};
  EXPECT_EQ(Models("", {"name DESC"}), by_name_desc);
  EXPECT_EQ(Models("", {"`name` DESC"}), by_name_desc);
  // Ties on the last update time are broken by name ASC.
  const Ids by_update = {"notprompt", "beta*[x]", "Alpha2", "alpha", "gamma_1"};
  EXPECT_EQ(Models("", {"last_updated_timestamp"}), by_update);
  EXPECT_EQ(Models("", {"timestamp"}), by_update);
  EXPECT_EQ(Models("", {"timestamp asc"}), by_update);
  const Ids by_update_desc = {"alpha", "gamma_1", "Alpha2", "beta*[x]", "notprompt"};
  EXPECT_EQ(Models("", {"last_updated_timestamp DESC"}), by_update_desc);
  EXPECT_EQ(Models("", {"timestamp DESC"}), by_update_desc);
  EXPECT_EQ(Models("", {"name", "timestamp"}),
            (Ids{"Alpha2", "alpha", "beta*[x]", "gamma_1", "notprompt"}));
  EXPECT_EQ(
      Models("name IN ('alpha', 'Alpha2') AND tags.team != 'ml'", {"last_updated_timestamp DESC"}),
      (Ids{"Alpha2"}));
}

TEST_F(RegistrySearchTest, RegisteredModelPaging) {
  EXPECT_EQ(Models("", {}, 0, 2), (Ids{"Alpha2", "alpha"}));
  EXPECT_EQ(Models("", {}, 2, 2), (Ids{"beta*[x]", "gamma_1"}));
  EXPECT_EQ(Models("", {}, 4, 2), (Ids{"notprompt"}));
  EXPECT_EQ(Models("", {}, 5, 2), (Ids{}));
  EXPECT_EQ(Models("", {}, 1, -1), (Ids{"alpha", "beta*[x]", "gamma_1", "notprompt"}));
  EXPECT_EQ(Models("", {"timestamp DESC"}, 1, 2), (Ids{"gamma_1", "Alpha2"}));
}

TEST_F(RegistrySearchTest, ModelVersionsDefaultOrderLeavesOutDeletedVersions) {
  // last_updated_timestamp DESC, name ASC, version DESC; alpha/3 is deleted.
  EXPECT_EQ(Versions(""),
            (Ids{"Alpha2/1", "alpha/2", "Alpha2/2", "alpha/1", "gamma_1/10", "gamma_1/2"}));
  EXPECT_EQ(Versions("source_path = 'S3://B/alpha/3'"), (Ids{}));
  EXPECT_EQ(Versions("version_number = 3"), (Ids{}));
  EXPECT_EQ(Versions("run_id = 'r1'"), (Ids{"alpha/1"}));
  EXPECT_EQ(Versions("tags.env = 'prod'"), (Ids{"Alpha2/1", "alpha/1"}));
}

TEST_F(RegistrySearchTest, ModelVersionNames) {
  EXPECT_EQ(Versions("name = 'alpha'"), (Ids{"alpha/2", "alpha/1"}));
  EXPECT_EQ(Versions("attribute.name = 'alpha'"), (Ids{"alpha/2", "alpha/1"}));
  EXPECT_EQ(Versions("name != 'alpha'"), (Ids{"Alpha2/1", "Alpha2/2", "gamma_1/10", "gamma_1/2"}));
  EXPECT_EQ(Versions("name LIKE 'al%'"), (Ids{"alpha/2", "alpha/1"}));
  EXPECT_EQ(Versions("name LIKE 'Al%'"), (Ids{"Alpha2/1", "Alpha2/2"}));
  EXPECT_EQ(Versions("name ILIKE 'AL%'"), (Ids{"Alpha2/1", "alpha/2", "Alpha2/2", "alpha/1"}));
  EXPECT_EQ(Versions("name IN ('alpha', 'gamma_1')"),
            (Ids{"alpha/2", "alpha/1", "gamma_1/10", "gamma_1/2"}));
  EXPECT_EQ(Versions("name NOT IN ('alpha', 'gamma_1')"), (Ids{"Alpha2/1", "Alpha2/2"}));
}

TEST_F(RegistrySearchTest, ModelVersionNumbers) {
  const Ids twos = {"alpha/2", "Alpha2/2", "gamma_1/2"};
  EXPECT_EQ(Versions("version_number = 2"), twos);
  EXPECT_EQ(Versions("version_number = '2'"), twos);
  EXPECT_EQ(Versions("version_number = ' 2 '"), twos);
  EXPECT_EQ(Versions("version_number = '+2'"), twos);
  // Compared as numbers: 10 > 2.
  EXPECT_EQ(Versions("version_number > 2"), (Ids{"gamma_1/10"}));
  EXPECT_EQ(Versions("version_number >= 2 AND name = 'gamma_1'"), (Ids{"gamma_1/10", "gamma_1/2"}));
  EXPECT_EQ(Versions("version_number != 1"),
            (Ids{"alpha/2", "Alpha2/2", "gamma_1/10", "gamma_1/2"}));
  EXPECT_EQ(Versions("version_number < 10"),
            (Ids{"Alpha2/1", "alpha/2", "Alpha2/2", "alpha/1", "gamma_1/2"}));
  EXPECT_EQ(Versions("version_number <= 1"), (Ids{"Alpha2/1", "alpha/1"}));
  EXPECT_EQ(Versions("version_number > -1"),
            (Ids{"Alpha2/1", "alpha/2", "Alpha2/2", "alpha/1", "gamma_1/10", "gamma_1/2"}));
  EXPECT_EQ(Versions("version_number = -0"), (Ids{}));
}

TEST_F(RegistrySearchTest, ModelVersionRunIds) {
  EXPECT_EQ(Versions("run_id IN ('r1', 'r3')"), (Ids{"Alpha2/1", "alpha/1"}));
  EXPECT_EQ(Versions("run_id IN ('r1')"), (Ids{"alpha/1"}));
  EXPECT_EQ(Versions("run_id NOT IN ('r1')"),
            (Ids{"Alpha2/1", "alpha/2", "Alpha2/2", "gamma_1/10", "gamma_1/2"}));
  EXPECT_EQ(Versions("run_id NOT IN ('r1', 'r2', 'r3', 'r4')"), (Ids{"Alpha2/2"}));
  EXPECT_EQ(Versions("run_id != 'r2'"), (Ids{"Alpha2/1", "Alpha2/2", "alpha/1", "gamma_1/10"}));
  EXPECT_EQ(Versions("run_id = ''"), (Ids{"Alpha2/2"}));
  const Ids with_run = {"Alpha2/1", "alpha/2", "alpha/1", "gamma_1/10", "gamma_1/2"};
  EXPECT_EQ(Versions("run_id LIKE 'r%'"), with_run);
  EXPECT_EQ(Versions("run_id ILIKE 'R%'"), with_run);
  EXPECT_EQ(Versions("run_id LIKE 'R%'"), (Ids{}));
}

TEST_F(RegistrySearchTest, ModelVersionSourcePaths) {
  EXPECT_EQ(Versions("source_path = 's3://b/alpha/1'"), (Ids{"alpha/1"}));
  EXPECT_EQ(Versions("source_path LIKE 's3://%'"), (Ids{"alpha/2", "alpha/1"}));
  EXPECT_EQ(Versions("source_path LIKE 'S3://%'"), (Ids{}));
  EXPECT_EQ(Versions("source_path ILIKE 'S3://%'"), (Ids{"alpha/2", "alpha/1"}));
  EXPECT_EQ(Versions("source_path LIKE 'a*b[c]?'"), (Ids{"gamma_1/2"}));
  EXPECT_EQ(Versions("source_path LIKE 'a_b[c]_'"), (Ids{"gamma_1/2"}));
  EXPECT_EQ(Versions("source_path LIKE 'a%?'"), (Ids{"gamma_1/2"}));
  EXPECT_EQ(Versions("source_path != 'p'"),
            (Ids{"Alpha2/1", "alpha/2", "Alpha2/2", "alpha/1", "gamma_1/10", "gamma_1/2"}));
}

TEST_F(RegistrySearchTest, ModelVersionTags) {
  EXPECT_EQ(Versions("tags.env ILIKE 'PROD'"), (Ids{"Alpha2/1", "alpha/1"}));
  EXPECT_EQ(Versions("tags.env ILIKE 's%'"), (Ids{"alpha/2"}));
  EXPECT_EQ(Versions("tags.env LIKE 's%'"), (Ids{}));
  EXPECT_EQ(Versions("tags.env != 'prod'"), (Ids{"alpha/2"}));
  EXPECT_EQ(Versions("tag.owner = 'bob'"), (Ids{"alpha/2"}));
  EXPECT_EQ(Versions("tags.env = 'prod' AND tags.owner = 'bob'"), (Ids{}));
  EXPECT_EQ(Versions("tags.env = 'Staging' AND tags.owner = 'bob'"), (Ids{"alpha/2"}));
  EXPECT_EQ(Versions("tags.env LIKE '%' AND run_id = 'r1'"), (Ids{"alpha/1"}));
  EXPECT_EQ(Versions("tags.env = 'prod' AND name = 'alpha'"), (Ids{"alpha/1"}));
  EXPECT_EQ(Versions("name = 'alpha' AND version_number != 2 AND run_id = 'r1' AND source_path "
                     "LIKE 's3://%' AND tags.env = 'prod'"),
            (Ids{"alpha/1"}));
}

TEST_F(RegistrySearchTest, ModelVersionOrder) {
  const Ids by_name = {"Alpha2/2", "Alpha2/1", "alpha/2", "alpha/1", "gamma_1/10", "gamma_1/2"};
  EXPECT_EQ(Versions("", {"name"}), by_name);
  EXPECT_EQ(Versions("", {"tags.name"}), by_name);
  EXPECT_EQ(Versions("", {"name DESC"}),
            (Ids{"gamma_1/10", "gamma_1/2", "alpha/2", "alpha/1", "Alpha2/2", "Alpha2/1"}));
  EXPECT_EQ(Versions("", {"version_number"}),
            (Ids{"Alpha2/1", "alpha/1", "Alpha2/2", "alpha/2", "gamma_1/2", "gamma_1/10"}));
  const Ids by_version_desc = {"gamma_1/10", "Alpha2/2", "alpha/2",
                               "gamma_1/2",  "Alpha2/1", "alpha/1"};
  EXPECT_EQ(Versions("", {"version_number DESC"}), by_version_desc);
  EXPECT_EQ(Versions("", {"attribute.version_number DESC"}), by_version_desc);
  EXPECT_EQ(Versions("", {"`version_number` DESC"}), by_version_desc);
  EXPECT_EQ(Versions("", {"tags.version_number desc"}), by_version_desc);
  EXPECT_EQ(Versions("", {"creation_timestamp"}),
            (Ids{"gamma_1/2", "gamma_1/10", "alpha/1", "Alpha2/1", "alpha/2", "Alpha2/2"}));
  EXPECT_EQ(Versions("", {"creation_timestamp DESC"}),
            (Ids{"Alpha2/2", "alpha/2", "Alpha2/1", "alpha/1", "gamma_1/10", "gamma_1/2"}));
  EXPECT_EQ(Versions("", {"last_updated_timestamp"}),
            (Ids{"gamma_1/2", "gamma_1/10", "alpha/1", "Alpha2/2", "Alpha2/1", "alpha/2"}));
  EXPECT_EQ(Versions("", {"last_updated_timestamp DESC"}),
            (Ids{"Alpha2/1", "alpha/2", "Alpha2/2", "alpha/1", "gamma_1/10", "gamma_1/2"}));
  EXPECT_EQ(Versions("", {"name DESC", "version_number"}),
            (Ids{"gamma_1/2", "gamma_1/10", "alpha/1", "alpha/2", "Alpha2/1", "Alpha2/2"}));
  EXPECT_EQ(Versions("", {"version_number", "name DESC"}),
            (Ids{"alpha/1", "Alpha2/1", "gamma_1/2", "alpha/2", "Alpha2/2", "gamma_1/10"}));
  EXPECT_EQ(Versions("", {"name DESC", "creation_timestamp"}),
            (Ids{"gamma_1/2", "gamma_1/10", "alpha/1", "alpha/2", "Alpha2/1", "Alpha2/2"}));
}

TEST_F(RegistrySearchTest, ModelVersionPaging) {
  EXPECT_EQ(Versions("", {}, 0, 2), (Ids{"Alpha2/1", "alpha/2"}));
  EXPECT_EQ(Versions("", {}, 2, 2), (Ids{"Alpha2/2", "alpha/1"}));
  EXPECT_EQ(Versions("", {}, 4, 2), (Ids{"gamma_1/10", "gamma_1/2"}));
  EXPECT_EQ(Versions("", {}, 6, 2), (Ids{}));
  EXPECT_EQ(Versions("", {}, 3, -1), (Ids{"alpha/1", "gamma_1/10", "gamma_1/2"}));
  EXPECT_EQ(Versions("name = 'alpha'", {"version_number"}, 1, 1), (Ids{"alpha/2"}));
}

TEST_F(RegistrySearchTest, UserTextIsBoundNeverSpliced) {
  const SqlQuery models = BuildRegisteredModelSearch(
      SqlDialect::Sqlite(),
      ParseRegisteredModelFilter("name = 'x'' OR 1=1 --' AND tags.`k'); DROP TABLE "
                                 "registered_models; --` LIKE '%evil%'"),
      {}, 0, 10);
  const SqlQuery versions = BuildModelVersionSearch(
      SqlDialect::Sqlite(),
      ParseModelVersionFilter("run_id IN ('x'' OR 1=1 --') AND tags.`k'); DROP TABLE "
                              "model_versions; --` = '%evil%' AND source_path LIKE 'evil'"),
      {}, 0, 10);
  for (const SqlQuery* q : {&models, &versions}) {
    EXPECT_EQ(q->sql.find("DROP"), std::string::npos) << q->sql;
    EXPECT_EQ(q->sql.find("OR 1=1"), std::string::npos) << q->sql;
    EXPECT_EQ(q->sql.find("evil"), std::string::npos) << q->sql;
  }
  EXPECT_EQ(Query(models), (Ids{}));
  EXPECT_EQ(Query(versions), (Ids{}));
  EXPECT_EQ(Models("name = 'x'' OR 1=1 --'"), (Ids{}));
  EXPECT_EQ(Versions("run_id IN ('x'' OR 1=1 --')"), (Ids{}));
  EXPECT_EQ(Models(""), (Ids{"Alpha2", "alpha", "beta*[x]", "gamma_1", "notprompt"}));
  EXPECT_EQ(Versions("", {}, 0, 1), (Ids{"Alpha2/1"}));
}

// The prompt checks stay cheap for a model with many versions (see NotPromptVersion).
TEST_F(RegistrySearchTest, PromptExclusionPlans) {
  const std::string versions = Plan(BuildModelVersionSearch(SqlDialect::Sqlite(), {}, {}, 0, 10));
  EXPECT_NE(versions.find("LIST SUBQUERY"), std::string::npos) << versions;
  EXPECT_EQ(versions.find("CORRELATED"), std::string::npos) << versions;
  const std::string models = Plan(BuildRegisteredModelSearch(SqlDialect::Sqlite(), {}, {}, 0, 10));
  EXPECT_NE(models.find("PRIMARY KEY (name=? AND key=?)"), std::string::npos) << models;
  EXPECT_EQ(models.find("TEMP B-TREE"), std::string::npos) << models;
}

TEST_F(RegistrySearchTest, RejectsTermsTheParsersDoNotMake) {
  using tracking::CompareOp;
  using tracking::EntityKind;
  tracking::Filter metric;
  metric.clauses.push_back({EntityKind::kMetric, "m", CompareOp::kGt, 1.0});
  EXPECT_THROW(BuildRegisteredModelSearch(SqlDialect::Sqlite(), metric, {}, 0, 10), Error);
  EXPECT_THROW(BuildModelVersionSearch(SqlDialect::Sqlite(), metric, {}, 0, 10), Error);
  const tracking::OrderTerm creation{EntityKind::kAttribute, "creation_timestamp", true};
  EXPECT_THROW(BuildRegisteredModelSearch(SqlDialect::Sqlite(), {}, {creation}, 0, 10), Error);
  const tracking::OrderTerm run_id{EntityKind::kAttribute, "run_id", true};
  EXPECT_THROW(BuildModelVersionSearch(SqlDialect::Sqlite(), {}, {run_id}, 0, 10), Error);
}

// --- visibility ----------------------------------------------------------------

TEST_F(SqlSearchTest, ExperimentsLeaveOutWhatIsNotVisibleBeforePaging) {
  const auto search = [&](const Visibility& visible, int64_t offset = 0, int64_t limit = 100,
                          const std::string& filter = "") {
    return Query(BuildExperimentSearch(SqlDialect::Sqlite(), ViewType::kActiveOnly,
                                       ParseExperimentFilter(filter), {}, offset, limit, visible));
  };
  EXPECT_EQ(search(Visibility::All()), (Ids{"2", "3", "1"}));
  EXPECT_EQ(search(Visibility::AllExcept({})), (Ids{"2", "3", "1"}));
  EXPECT_EQ(search(Visibility::AllExcept({"2"})), (Ids{"3", "1"}));
  EXPECT_EQ(search(Visibility::AllExcept({"1", "2", "3"})), (Ids{}));
  EXPECT_EQ(search(Visibility::Only({"1", "3", "4"})), (Ids{"3", "1"}));
  EXPECT_EQ(search(Visibility::Only({})), (Ids{}));
  // Only canonical ids name experiments, as in the store's lookups.
  EXPECT_EQ(search(Visibility::Only({"02", "+2", " 2", "2.0", "x", ""})), (Ids{}));
  EXPECT_EQ(search(Visibility::AllExcept({"02", "x"})), (Ids{"2", "3", "1"}));
  // Offsets count visible experiments: no page is short while more follow.
  EXPECT_EQ(search(Visibility::AllExcept({"3"}), 0, 1), (Ids{"2"}));
  EXPECT_EQ(search(Visibility::AllExcept({"3"}), 1, 1), (Ids{"1"}));
  EXPECT_EQ(search(Visibility::AllExcept({"3"}), 2, 1), (Ids{}));
  EXPECT_EQ(search(Visibility::Only({"1", "2"}), 1, -1), (Ids{"1"}));
  EXPECT_EQ(search(Visibility::AllExcept({"2"}), 0, 100, "tags.team ILIKE 'ml'"), (Ids{"3"}));
}

TEST_F(SqlSearchTest, VisibilityIsOneBoundValueWhateverItsLength) {
  std::vector<std::string> many;
  for (int i = 0; i < 40000; ++i) many.push_back(std::to_string(1000 + i));
  many.push_back("2");
  const SqlQuery hidden = BuildExperimentSearch(SqlDialect::Sqlite(), ViewType::kActiveOnly, {}, {},
                                                0, 100, Visibility::AllExcept(many));
  EXPECT_EQ(hidden.binds.size(), 3u) << hidden.sql;  // the list, LIMIT, OFFSET
  EXPECT_EQ(Query(hidden), (Ids{"3", "1"}));
  EXPECT_EQ(Query(BuildExperimentSearch(SqlDialect::Sqlite(), ViewType::kActiveOnly, {}, {}, 0, 100,
                                        Visibility::Only(many))),
            (Ids{"2"}));
  // The text is the same for every list, so one cached statement serves all callers.
  EXPECT_EQ(BuildExperimentSearch(SqlDialect::Sqlite(), ViewType::kActiveOnly, {}, {}, 0, 100,
                                  Visibility::AllExcept({"5"}))
                .sql,
            hidden.sql);
  // The list is read once, not once per row.
  const std::string plan = Plan(hidden);
  EXPECT_EQ(plan.find("CORRELATED"), std::string::npos) << plan;
}

TEST_F(RegistrySearchTest, RegisteredModelsAndVersionsLeaveOutWhatIsNotVisible) {
  const auto models = [&](const Visibility& visible, int64_t offset = 0, int64_t limit = 100) {
    return Query(BuildRegisteredModelSearch(SqlDialect::Sqlite(), {}, {}, offset, limit, visible));
  };
  const auto versions = [&](const Visibility& visible, int64_t offset = 0, int64_t limit = 100) {
    Ids out;
    for (const std::string& name : Query(BuildModelVersionSearch(
             SqlDialect::Sqlite(), {}, ParseModelVersionOrderBy({"name", "version_number"}), offset,
             limit, visible))) {
      out.push_back(name);
    }
    return out;
  };
  EXPECT_EQ(models(Visibility::AllExcept({"alpha", "gamma_1"})),
            (Ids{"Alpha2", "beta*[x]", "notprompt"}));
  // Visibility never brings a prompt back.
  EXPECT_EQ(models(Visibility::Only({"alpha", "beta*[x]", "prompt1", "nope"})),
            (Ids{"alpha", "beta*[x]"}));
  // Names are matched exactly, not as patterns or case-blind.
  EXPECT_EQ(models(Visibility::Only({"ALPHA", "alph%", "beta*", "gamma_%"})), (Ids{}));
  EXPECT_EQ(models(Visibility::AllExcept({"Alpha2"}), 1, 2), (Ids{"beta*[x]", "gamma_1"}));
  // A version is visible as its model is (names only: the query returns name, version).
  EXPECT_EQ(versions(Visibility::AllExcept({"alpha"})),
            (Ids{"Alpha2", "Alpha2", "gamma_1", "gamma_1"}));
  EXPECT_EQ(versions(Visibility::Only({"gamma_1", "prompt1"})), (Ids{"gamma_1", "gamma_1"}));
  EXPECT_EQ(versions(Visibility::Only({"alpha", "gamma_1"}), 1, 2), (Ids{"alpha", "gamma_1"}));
  EXPECT_EQ(versions(Visibility::Only({})), (Ids{}));
}

TEST_F(SqlSearchTest, DatasetListLeavesOutWhatIsNotVisible) {
  Exec(R"sql(
    INSERT INTO data_datasets VALUES ('churn', 2, 1, 2), ('Fraud', 1, 3, 3), ('sales', 1, 4, 4);
  )sql");
  EXPECT_EQ(Query(BuildDatasetList(SqlDialect::Sqlite())), (Ids{"Fraud", "churn", "sales"}));
  EXPECT_EQ(Query(BuildDatasetList(SqlDialect::Sqlite(), Visibility::AllExcept({"churn"}))),
            (Ids{"Fraud", "sales"}));
  EXPECT_EQ(Query(BuildDatasetList(SqlDialect::Sqlite(), Visibility::Only({"fraud", "sales"}))),
            (Ids{"sales"}));
  EXPECT_EQ(Query(BuildDatasetList(SqlDialect::Sqlite(), Visibility::Only({}))), (Ids{}));
}

// --- dialects ------------------------------------------------------------------
//
// There is no PostgreSQL server in the tests yet (issue 16 brings one with the
// PostgreSQL store), so the PostgreSQL dialect is held here to the text it
// writes and to the order of its values; the SQLite dialect runs above.

// The placeholder numbers of `sql` ($1, $2, ...) in the order they appear.
std::vector<int> DollarPlaceholders(const std::string& sql) {
  std::vector<int> out;
  for (size_t i = sql.find('$'); i != std::string::npos; i = sql.find('$', i + 1)) {
    out.push_back(std::stoi(sql.substr(i + 1)));
  }
  return out;
}

// Searches that between them use every part of what the builders write.
std::vector<std::pair<std::string, SqlQuery>> Representative(const SqlDialect& d) {
  return {
      {"runs", BuildRunSearch(
                   d, {1, 2}, ViewType::kActiveOnly,
                   tracking::ParseRunFilter("metrics.rmse < 0.5 AND params.model LIKE 'xg%' AND "
                                            "tags.`my key` ILIKE '%world' AND attributes.run_id IN "
                                            "('r1', 'r2') AND datasets.context = 'training'"),
                   ParseRunOrderBy({"params.lr DESC", "metrics.acc", "run_name"}), 20, -1)},
      {"runs by metric",
       BuildRunSearch(d, {1}, ViewType::kAll,
                      tracking::ParseRunFilter("metrics.rmse != 0.3 AND attributes.end_time > 1.5 "
                                               "AND tags.t IS NULL"),
                      ParseRunOrderBy({"metrics.rmse", "tags.x"}), 0, 10)},
      {"experiments",
       BuildExperimentSearch(d, ViewType::kActiveOnly,
                             ParseExperimentFilter("name ILIKE 'exp%' AND tags.team = 'ml' AND "
                                                   "experiment_id IN ('1', '2')"),
                             ParseExperimentOrderBy({"name DESC"}), 0, 101,
                             Visibility::AllExcept({"2", "x", "7"}))},
      {"logged models",
       BuildLoggedModelSearch(d, {1},
                              ParseLoggedModelFilter("metrics.acc >= 0.5 AND name LIKE 'clf%' AND "
                                                     "params.lr = '0.1'"),
                              {ParseLoggedModelOrderBy("metrics.loss", false),
                               ParseLoggedModelOrderBy("model_type", true)},
                              5, 11)},
      {"registered models",
       BuildRegisteredModelSearch(d,
                                  ParseRegisteredModelFilter("name LIKE 'a%' AND tags.team != 'x'"),
                                  ParseRegisteredModelOrderBy({"timestamp DESC"}), 100, 101,
                                  Visibility::Only({"alpha", "say \"hi\""}))},
      {"model versions",
       BuildModelVersionSearch(d,
                               ParseModelVersionFilter("run_id = 'r1' AND tags.env ILIKE 'PROD' "
                                                       "AND version_number > 1"),
                               ParseModelVersionOrderBy({"creation_timestamp DESC"}), 0, 11,
                               Visibility::AllExcept({"beta"}))},
      {"datasets", BuildDatasetList(d, Visibility::Only({"churn"}))},
  };
}

TEST(SqlDialectTest, PostgresPlaceholdersAreNumberedInBindOrder) {
  const auto sqlite = Representative(SqlDialect::Sqlite());
  const auto postgres = Representative(SqlDialect::Postgres());
  ASSERT_EQ(sqlite.size(), postgres.size());
  for (size_t i = 0; i < postgres.size(); ++i) {
    const auto& [what, pg] = postgres[i];
    const SqlQuery& lite = sqlite[i].second;
    SCOPED_TRACE(what + ": " + pg.sql);
    EXPECT_EQ(pg.sql.find('?'), std::string::npos);
    std::vector<int> expected(pg.binds.size());
    for (size_t n = 0; n < expected.size(); ++n) expected[n] = static_cast<int>(n + 1);
    EXPECT_EQ(DollarPlaceholders(pg.sql), expected);
    // The same values in the same order as SQLite's, but for LIKE patterns
    // (SQLite's are GLOB patterns) and the limit PostgreSQL spells LIMIT ALL.
    EXPECT_EQ(std::count(lite.sql.begin(), lite.sql.end(), '?'),
              static_cast<long>(lite.binds.size()));
    const bool limit_all = pg.sql.find("LIMIT ALL") != std::string::npos;
    ASSERT_EQ(pg.binds.size() + (limit_all ? 1 : 0), lite.binds.size());
    size_t globs = 0;
    for (size_t n = 0, m = 0; n < pg.binds.size(); ++n, ++m) {
      if (limit_all && n + 1 == pg.binds.size()) ++m;  // SQLite binds -1 before the offset
      if (pg.binds[n] != lite.binds[m]) {
        ++globs;
        EXPECT_NE(lite.sql.find("GLOB"), std::string::npos) << "value " << n + 1;
      }
    }
    EXPECT_LE(globs, 1u);
  }
}

TEST(SqlDialectTest, PostgresSpellsWhatDiffersFromSqlite) {
  for (const auto& [what, pg] : Representative(SqlDialect::Postgres())) {
    SCOPED_TRACE(what + ": " + pg.sql);
    for (const char* sqlite_only :
         {"GLOB", "CROSS JOIN", "lower(", "json_each", "is_nan = 1", "is_nan = 0", "LIMIT -"}) {
      EXPECT_EQ(pg.sql.find(sqlite_only), std::string::npos) << sqlite_only;
    }
  }
  const auto text = [](const std::string& what) {
    for (auto& [name, query] : Representative(SqlDialect::Postgres())) {
      if (name == what) return query;
    }
    return SqlQuery{};
  };

  const SqlQuery runs = text("runs");
  EXPECT_EQ(runs.sql,
            "SELECT r.run_uuid FROM runs r "
            "JOIN latest_metrics f0 ON f0.run_pk = r.run_pk AND f0.key = $1 AND f0.value < $2 "
            "AND f0.is_nan = FALSE "
            "JOIN params f1 ON f1.run_pk = r.run_pk AND f1.key = $3 AND f1.value LIKE $4 "
            "ESCAPE '' "
            "JOIN tags f2 ON f2.run_pk = r.run_pk AND f2.key = $5 AND f2.value ILIKE $6 "
            "ESCAPE '' "
            "LEFT JOIN params o3 ON o3.run_pk = r.run_pk AND o3.key = $7 "
            "LEFT JOIN latest_metrics o4 ON o4.run_pk = r.run_pk AND o4.key = $8 "
            "WHERE r.experiment_id IN ($9, $10) AND r.lifecycle_stage = 'active' "
            "AND r.run_uuid IN ($11, $12) "
            "AND EXISTS (SELECT 1 FROM run_input_tags dt WHERE dt.run_pk = r.run_pk AND "
            "dt.key = $13 AND dt.value = $14) "
            "ORDER BY o3.run_pk IS NULL, o3.value COLLATE \"C\" DESC, "
            "CASE WHEN o4.is_nan = TRUE THEN 1 WHEN o4.run_pk IS NULL THEN 2 ELSE 0 END, "
            "o4.value, r.name COLLATE \"C\", r.start_time DESC, r.run_uuid COLLATE \"C\" "
            "LIMIT ALL OFFSET $15");
  EXPECT_EQ(runs.binds, (std::vector<SqlValue>{"rmse", 0.5, "model", "xg%", "my key", "%world",
                                               "lr", "acc", int64_t{1}, int64_t{2}, "r1", "r2",
                                               "mlflow.data.context", "training", int64_t{20}}));

  const SqlQuery by_metric = text("runs by metric");
  EXPECT_NE(by_metric.sql.find("(f0.value != $2 OR f0.is_nan = TRUE)"), std::string::npos);
  EXPECT_NE(by_metric.sql.find("r.end_time > $6"), std::string::npos);
  EXPECT_EQ(by_metric.binds.at(5), SqlValue{1.5});
  EXPECT_NE(by_metric.sql.find("ORDER BY CASE WHEN o1.is_nan = TRUE THEN 1 WHEN o1.run_pk IS "
                               "NULL THEN 2 ELSE 0 END, o1.value, o2.run_pk IS NULL, o2.value "
                               "COLLATE \"C\", r.start_time DESC"),
            std::string::npos);
  EXPECT_NE(by_metric.sql.find("LIMIT $8 OFFSET $9"), std::string::npos);

  const SqlQuery experiments = text("experiments");
  EXPECT_EQ(experiments.sql,
            "SELECT e.experiment_id FROM experiments e "
            "JOIN experiment_tags f0 ON f0.experiment_id = e.experiment_id AND f0.key = $1 AND "
            "f0.value = $2 "
            "WHERE e.lifecycle_stage = 'active' AND e.name ILIKE $3 ESCAPE '' "
            "AND e.experiment_id IN ($4, $5) "
            "AND e.experiment_id NOT IN (SELECT CAST(j.v AS BIGINT) FROM "
            "json_array_elements_text(CAST($6 AS JSON)) AS j(v)) "
            "ORDER BY e.name COLLATE \"C\" DESC, e.experiment_id DESC LIMIT $7 OFFSET $8");
  EXPECT_EQ(experiments.binds, (std::vector<SqlValue>{"team", "ml", "exp%", int64_t{1}, int64_t{2},
                                                      "[2,7]", int64_t{101}, int64_t{0}}));

  const SqlQuery models = text("logged models");
  EXPECT_NE(models.sql.find(") AS ranked WHERE rn = 1)"), std::string::npos)
      << "a subquery in FROM needs a name before PostgreSQL 16";
  EXPECT_NE(models.sql.find("m.model_type IS NULL, m.model_type COLLATE \"C\", "
                            "m.creation_timestamp_ms DESC, m.model_id COLLATE \"C\""),
            std::string::npos);

  const SqlQuery registered = text("registered models");
  EXPECT_EQ(registered.sql,
            "SELECT m.name FROM registered_models m "
            "JOIN registered_model_tags f0 ON f0.name = m.name AND f0.key = $1 AND "
            "f0.value != $2 "
            "WHERE m.name LIKE $3 ESCAPE '' "
            "AND NOT EXISTS (SELECT 1 FROM registered_model_tags p WHERE p.name = m.name AND "
            "p.key = $4 AND p.value = $5) "
            "AND m.name IN (SELECT j.v FROM json_array_elements_text(CAST($6 AS JSON)) AS j(v)) "
            "ORDER BY m.last_updated_timestamp DESC, m.name COLLATE \"C\" LIMIT $7 OFFSET $8");
  EXPECT_EQ(registered.binds,
            (std::vector<SqlValue>{"team", "x", "a%", "mlflow.prompt.is_prompt", "true",
                                   R"(["alpha","say \"hi\""])", int64_t{101}, int64_t{100}}));

  const SqlQuery versions = text("model versions");
  EXPECT_NE(versions.sql.find("f0.value ILIKE $2 ESCAPE ''"), std::string::npos);
  EXPECT_NE(versions.sql.find("AND v.name NOT IN (SELECT j.v FROM json_array_elements_text("
                              "CAST($7 AS JSON)) AS j(v)) ORDER BY v.creation_timestamp DESC, "
                              "v.name COLLATE \"C\", v.version DESC LIMIT $8 OFFSET $9"),
            std::string::npos);

  const SqlQuery datasets = text("datasets");
  EXPECT_EQ(datasets.sql,
            "SELECT d.name, d.latest_version, (SELECT COUNT(*) FROM data_versions v WHERE "
            "v.name = d.name), d.created_ms, d.updated_ms FROM data_datasets d WHERE d.name IN "
            "(SELECT j.v FROM json_array_elements_text(CAST($1 AS JSON)) AS j(v)) ORDER BY "
            "d.name COLLATE \"C\"");
  EXPECT_EQ(datasets.binds, (std::vector<SqlValue>{R"(["churn"])"}));
}

TEST(SqlDialectTest, EachDialectSpellsItsPrimitives) {
  const SqlDialect& lite = SqlDialect::Sqlite();
  const SqlDialect& pg = SqlDialect::Postgres();
  EXPECT_EQ(lite.name(), "sqlite");
  EXPECT_EQ(pg.name(), "postgresql");
  EXPECT_EQ(lite.Placeholder(3), "?");
  EXPECT_EQ(pg.Placeholder(3), "$3");

  // LIKE: no escape character in either; SQLite through GLOB.
  SqlFragment like = lite.Like("c", "a\\_%*?[");
  EXPECT_EQ(like.sql, "c GLOB ?");
  EXPECT_EQ(like.binds, (std::vector<SqlValue>{"a\\?*[*][?][[]"}));
  like = pg.Like("c", "a\\_%");
  EXPECT_EQ(like.sql, "c LIKE ? ESCAPE ''");
  EXPECT_EQ(like.binds, (std::vector<SqlValue>{"a\\_%"}));
  EXPECT_EQ(lite.ILike("c", "A%").sql, "lower(c) LIKE lower(?)");
  EXPECT_EQ(pg.ILike("c", "A%").sql, "c ILIKE ? ESCAPE ''");

  // No limit: SQLite binds a negative one, PostgreSQL writes ALL.
  SqlFragment limit = lite.LimitOffset(-1, 5);
  EXPECT_EQ(limit.sql, " LIMIT ? OFFSET ?");
  EXPECT_EQ(limit.binds, (std::vector<SqlValue>{int64_t{-1}, int64_t{5}}));
  limit = pg.LimitOffset(-1, 5);
  EXPECT_EQ(limit.sql, " LIMIT ALL OFFSET ?");
  EXPECT_EQ(limit.binds, (std::vector<SqlValue>{int64_t{5}}));
  EXPECT_EQ(pg.LimitOffset(10, 0).sql, " LIMIT ? OFFSET ?");

  EXPECT_EQ(lite.Flag(true), "1");
  EXPECT_EQ(pg.Flag(false), "FALSE");
  EXPECT_EQ(lite.InnerLoopJoin(), "CROSS JOIN");
  EXPECT_EQ(pg.InnerLoopJoin(), "JOIN");
  EXPECT_EQ(lite.TextOrder("m.name"), "m.name");
  EXPECT_EQ(pg.TextOrder("m.name"), "m.name COLLATE \"C\"");
  EXPECT_EQ(lite.JsonArrayElements("[1]", true).sql, "SELECT value FROM json_each(?)");
  EXPECT_EQ(pg.JsonArrayElements("[\"a\"]", false).sql,
            "SELECT j.v FROM json_array_elements_text(CAST(? AS JSON)) AS j(v)");

  // Finish numbers the placeholders, and refuses text whose marks and values differ.
  SqlFragment f;
  f.Add("a = ").Bind(int64_t{1}).Add(" AND b = ").Bind("x");
  EXPECT_EQ(pg.Finish(f).sql, "a = $1 AND b = $2");
  EXPECT_EQ(lite.Finish(f).sql, "a = ? AND b = ?");
  f.Add(" AND c = '?'");
  EXPECT_THROW(pg.Finish(f), Error);
}

}  // namespace
}  // namespace slipway::store
