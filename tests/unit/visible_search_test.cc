// Searches and listings that leave out, in the store's query, what the caller
// may not see (core/visibility.h): through the services and a real SQLite
// database, every page but the last is full and the page tokens walk the
// visible items exactly once, whichever way the visibility is given and
// however many ids it names.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/visibility.h"
#include "data/content_store.h"
#include "data/dataset_service.h"
#include "postgres_test_cluster.h"
#include "registry/registry_service.h"
#include "store/postgres/pg_dataset_store.h"
#include "store/postgres/pg_registry_store.h"
#include "store/postgres/pg_schema.h"
#include "store/postgres/pg_tracking_store.h"
#include "store/sqlite_dataset_store.h"
#include "store/sqlite_db.h"
#include "store/sqlite_registry_store.h"
#include "store/sqlite_tracking_store.h"
#include "test_util/temp_dir.h"

namespace slipway {
namespace {

using Names = std::vector<std::string>;

// Grants everything, and answers every search with the visibility a test
// gives it: what the services must then filter in the store's query.
class GivenVisibility : public governance::Authorizer {
 public:
  Visibility visible;
  bool enforcing() const override { return true; }
  governance::Permission PermissionOf(const governance::Actor&, governance::ResourceType,
                                      const std::string&) const override {
    return governance::Permission::kManage;
  }
  bool IsAdmin(const governance::Actor&) const override { return false; }
  Visibility Readable(const governance::Actor&, governance::ResourceType) const override {
    return visible;
  }
  void Created(const governance::Actor&, governance::ResourceType, const std::string&) override {}
  void Renamed(governance::ResourceType, const std::string&, const std::string&) override {}
  void Deleted(governance::ResourceType, const std::string&) override {}
};

// Names of the form "<prefix>-<i>" that no test creates, to make a long list.
Names Absent(const std::string& prefix, int count) {
  Names out;
  out.reserve(count);
  for (int i = 0; i < count; ++i) out.push_back(prefix + "-absent-" + std::to_string(i));
  return out;
}

// Every page of a search, fetched through its page tokens. `search(token)`
// returns one page; checks that each page but the last holds `page_size`
// items and that the last one ends the walk.
template <typename Search, typename Key>
Names AllPages(int64_t page_size, Search search, Key key) {
  Names seen;
  std::string token;
  for (int pages = 0; pages < 1000; ++pages) {
    auto page = search(token);
    for (const auto& item : page.items) seen.push_back(key(item));
    if (page.next_page_token.empty()) {
      EXPECT_LE(static_cast<int64_t>(page.items.size()), page_size);
      return seen;
    }
    EXPECT_EQ(static_cast<int64_t>(page.items.size()), page_size)
        << "a page before the last is short, after " << seen.size() << " items";
    token = page.next_page_token;
  }
  ADD_FAILURE() << "the page tokens never end";
  return seen;
}

// On SQLite and on PostgreSQL (a database of its own from
// postgres_test_cluster.h; the PostgreSQL runs skip, saying why, without one).
enum class Engine { kSqlite, kPostgres };

class VisibleSearchTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    if (GetParam() == Engine::kPostgres) {
      std::string why_not;
      std::string uri = testing::FreshPostgresDatabase(&why_not);
      if (uri.empty()) GTEST_SKIP() << "no PostgreSQL for this test: " << why_not;
      auto pg = std::shared_ptr<store::postgres::PgDb>(store::postgres::PgDb::Open({.uri = uri}));
      store::postgres::MigratePostgres(*pg, store::SqliteMigrations());
      tracking_store_ = std::make_unique<store::postgres::PgTrackingStore>(pg);
      registry_store_ = std::make_unique<store::postgres::PgRegistryStore>(pg);
    } else {
      db_ = store::OpenMetadataDatabase((dir_.path() / "slipway.db").string());
      tracking_store_ = std::make_unique<store::SqliteTrackingStore>(db_);
      registry_store_ = std::make_unique<store::SqliteRegistryStore>(db_);
    }
    tracking_ = std::make_unique<tracking::TrackingService>(
        *tracking_store_, tracking::TrackingService::Options{}, authorizer_);
    registry_ =
        std::make_unique<registry::RegistryService>(*registry_store_, *tracking_, authorizer_);
  }

  Names Experiments(const Visibility& visible, int64_t page_size) {
    authorizer_.visible = visible;
    return AllPages(
        page_size,
        [&](const std::string& token) {
          return tracking_->SearchExperiments(tracking::ViewType::kActiveOnly, "", {"name ASC"},
                                              page_size, token);
        },
        [](const tracking::Experiment& e) { return e.name; });
  }

  Names Models(const Visibility& visible, int64_t page_size) {
    authorizer_.visible = visible;
    return AllPages(
        page_size,
        [&](const std::string& token) {
          return registry_->SearchRegisteredModels("", {}, page_size, token);
        },
        [](const registry::RegisteredModel& m) { return m.name; });
  }

  Names Versions(const Visibility& visible, int64_t page_size) {
    authorizer_.visible = visible;
    return AllPages(
        page_size,
        [&](const std::string& token) {
          return registry_->SearchModelVersions("", {"name ASC", "version_number ASC"}, page_size,
                                                token);
        },
        [](const registry::ModelVersion& v) { return v.name + "/" + std::to_string(v.version); });
  }

  GivenVisibility authorizer_;
  governance::Operation operation_{governance::Actor::ForUser({1, "reader", false}), "test"};
  testing::TempDir dir_{"slipway-visible-search"};
  std::shared_ptr<store::SqliteDb> db_;
  std::unique_ptr<tracking::TrackingStore> tracking_store_;
  std::unique_ptr<registry::RegistryStore> registry_store_;
  std::unique_ptr<tracking::TrackingService> tracking_;
  std::unique_ptr<registry::RegistryService> registry_;
};

INSTANTIATE_TEST_SUITE_P(Engines, VisibleSearchTest,
                         ::testing::Values(Engine::kSqlite, Engine::kPostgres),
                         [](const ::testing::TestParamInfo<Engine>& info) {
                           return info.param == Engine::kSqlite ? "Sqlite" : "Postgres";
                         });

// Experiments e00..e29 (ids 1..30, "Default" is 0); the caller may not see
// every third one.
TEST_P(VisibleSearchTest, ExperimentPagesAreFullAndTokensWalkTheVisibleOnes) {
  Names all = {"Default"};
  std::map<std::string, std::string> id_of = {{"Default", "0"}};
  for (int i = 0; i < 30; ++i) {
    const std::string name = (i < 10 ? "e0" : "e") + std::to_string(i);
    id_of[name] = tracking_->CreateExperiment(name, "", {});
    all.push_back(name);
  }
  Names hidden_ids, shown_ids, visible;
  for (size_t i = 0; i < all.size(); ++i) {
    if (i % 3 == 1) {
      hidden_ids.push_back(id_of[all[i]]);
    } else {
      shown_ids.push_back(id_of[all[i]]);
      visible.push_back(all[i]);
    }
  }
  ASSERT_EQ(visible.size(), 21u);

  EXPECT_EQ(Experiments({}, 4), all);
  for (const int64_t page_size : {1, 4, 7, 21, 50}) {
    SCOPED_TRACE("page size " + std::to_string(page_size));
    EXPECT_EQ(Experiments(Visibility::AllExcept(hidden_ids), page_size), visible);
    EXPECT_EQ(Experiments(Visibility::Only(shown_ids), page_size), visible);
  }
  // A full last page still says whether more follow: 21 visible in pages of 7.
  authorizer_.visible = Visibility::AllExcept(hidden_ids);
  auto first =
      tracking_->SearchExperiments(tracking::ViewType::kActiveOnly, "", {"name ASC"}, 21, "");
  EXPECT_EQ(first.items.size(), 21u);
  EXPECT_TRUE(first.next_page_token.empty());

  // 40,000 ids: beyond SQLite's 32,766 bound parameters, as one bound list.
  Names many_hidden = Absent("9", 40000);
  many_hidden.insert(many_hidden.end(), hidden_ids.begin(), hidden_ids.end());
  Names many_shown = Absent("8", 40000);
  many_shown.insert(many_shown.begin() + 20000, shown_ids.begin(), shown_ids.end());
  EXPECT_EQ(Experiments(Visibility::AllExcept(many_hidden), 5), visible);
  EXPECT_EQ(Experiments(Visibility::Only(many_shown), 5), visible);

  // Nothing visible: one empty page, no token.
  EXPECT_EQ(Experiments(Visibility::Only({}), 5), Names{});
  EXPECT_EQ(Experiments(Visibility::AllExcept(Names(all.size(), "")), 5), all)
      << "ids that name no experiment hide nothing";
}

// The visibility holds with the search's own filter and order.
TEST_P(VisibleSearchTest, ExperimentVisibilityCombinesWithFilterAndOrder) {
  const std::string a = tracking_->CreateExperiment("team-a", "", {});
  const std::string b = tracking_->CreateExperiment("team-b", "", {});
  const std::string c = tracking_->CreateExperiment("team-c", "", {});
  tracking_->CreateExperiment("other", "", {});
  auto names = [&](const Visibility& visible) {
    authorizer_.visible = visible;
    Names out;
    for (const auto& e : tracking_
                             ->SearchExperiments(tracking::ViewType::kActiveOnly,
                                                 "name LIKE 'team-%'", {"name DESC"}, 10, "")
                             .items) {
      out.push_back(e.name);
    }
    return out;
  };
  EXPECT_EQ(names({}), (Names{"team-c", "team-b", "team-a"}));
  EXPECT_EQ(names(Visibility::AllExcept({b})), (Names{"team-c", "team-a"}));
  EXPECT_EQ(names(Visibility::Only({a, b})), (Names{"team-b", "team-a"}));
  // Another spelling of an id names no experiment, as in the store's lookups.
  EXPECT_EQ(names(Visibility::Only({"0" + a, " " + b})), Names{});
  EXPECT_EQ(names(Visibility::AllExcept({"0" + c})), (Names{"team-c", "team-b", "team-a"}));
}

// Models m00..m24, each with two versions; the caller may not see m03, m08, ...
TEST_P(VisibleSearchTest, RegistryPagesAreFullAndTokensWalkTheVisibleOnes) {
  const std::string experiment = tracking_->CreateExperiment("e", "", {});
  const std::string run = tracking_->CreateRun({experiment, "alice", 1, "r", {}}).info.run_id;
  Names all, hidden, shown, visible, visible_versions;
  for (int i = 0; i < 25; ++i) {
    const std::string name = (i < 10 ? "m0" : "m") + std::to_string(i);
    registry_->CreateRegisteredModel(name, {}, "");
    for (int v = 0; v < 2; ++v) {
      registry::RegistryService::NewVersion version;
      version.name = name;
      version.source = "runs:/" + run + "/model";
      version.run_id = run;
      registry_->CreateModelVersion(version);
    }
    all.push_back(name);
    if (i % 5 == 3) {
      hidden.push_back(name);
    } else {
      shown.push_back(name);
      visible.push_back(name);
      visible_versions.push_back(name + "/1");
      visible_versions.push_back(name + "/2");
    }
  }
  ASSERT_EQ(visible.size(), 20u);

  EXPECT_EQ(Models({}, 6), all);
  for (const int64_t page_size : {1, 6, 20, 100}) {
    SCOPED_TRACE("page size " + std::to_string(page_size));
    EXPECT_EQ(Models(Visibility::AllExcept(hidden), page_size), visible);
    EXPECT_EQ(Models(Visibility::Only(shown), page_size), visible);
    EXPECT_EQ(Versions(Visibility::AllExcept(hidden), page_size), visible_versions);
    EXPECT_EQ(Versions(Visibility::Only(shown), page_size), visible_versions);
  }

  Names many_hidden = Absent("m", 40000);
  many_hidden.insert(many_hidden.begin() + 123, hidden.begin(), hidden.end());
  Names many_shown = Absent("n", 40000);
  many_shown.insert(many_shown.end(), shown.begin(), shown.end());
  EXPECT_EQ(Models(Visibility::AllExcept(many_hidden), 7), visible);
  EXPECT_EQ(Models(Visibility::Only(many_shown), 7), visible);
  EXPECT_EQ(Versions(Visibility::AllExcept(many_hidden), 7), visible_versions);
  EXPECT_EQ(Versions(Visibility::Only(many_shown), 7), visible_versions);

  EXPECT_EQ(Models(Visibility::Only({}), 5), Names{});
  EXPECT_EQ(Versions(Visibility::Only({}), 5), Names{});
}

// Names with characters that need escaping in the bound JSON list, stored
// as they are (whatever the service's name rules accept).
TEST_P(VisibleSearchTest, NamesNeedingEscapesAreMatchedExactly) {
  const Names odd = {"say \"hi\"", "back\\slash", "tab\there", "naïve", "a,b]", "%", "_"};
  for (const std::string& name : odd) {
    registry::RegisteredModel model;
    model.name = name;
    registry_store_->CreateRegisteredModel(model);
  }
  registry_->CreateRegisteredModel("plain", {}, "");
  Names sorted = odd;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(Models(Visibility::Only(odd), 3), sorted);
  EXPECT_EQ(Models(Visibility::AllExcept(odd), 3), Names{"plain"});
  EXPECT_EQ(Models(Visibility::Only({"say \\\"hi\\\"", "back\\\\slash", "na"}), 3), Names{});
}

class VisibleDatasetListTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    if (GetParam() == Engine::kPostgres) {
      std::string why_not;
      std::string uri = testing::FreshPostgresDatabase(&why_not);
      if (uri.empty()) GTEST_SKIP() << "no PostgreSQL for this test: " << why_not;
      auto pg = std::shared_ptr<store::postgres::PgDb>(store::postgres::PgDb::Open({.uri = uri}));
      store::postgres::MigratePostgres(*pg, store::SqliteMigrations());
      store_ = std::make_unique<store::postgres::PgDatasetStore>(pg);
    } else {
      db_ = store::OpenMetadataDatabase((dir_.path() / "slipway.db").string());
      store_ = std::make_unique<store::SqliteDatasetStore>(db_);
    }
    content_ = data::ContentStore::Open(dir_.path() / "content");
    service_ = std::make_unique<data::DatasetService>(*content_, *store_, authorizer_);
  }

  void AddVersion(const std::string& name, const std::string& digest) {
    data::DatasetVersion version;
    version.name = name;
    version.manifest_digest = std::string(64, 'a');
    version.content_digest = digest;
    version.kind = "file";
    version.created_ms = 1;
    bool created = false;
    store_->AddVersion(version, &created);
    ASSERT_TRUE(created);
  }

  Names List(const Visibility& visible = {}) {
    authorizer_.visible = visible;
    Names out;
    for (const data::DatasetSummary& summary : service_->List()) {
      out.push_back(summary.name + "@" + std::to_string(summary.version_count));
    }
    return out;
  }

  GivenVisibility authorizer_;
  governance::Operation operation_{governance::Actor::ForUser({1, "reader", false}), "test"};
  testing::TempDir dir_{"slipway-visible-datasets"};
  std::shared_ptr<store::SqliteDb> db_;
  std::unique_ptr<data::DatasetStore> store_;
  std::unique_ptr<data::ContentStore> content_;
  std::unique_ptr<data::DatasetService> service_;
};

INSTANTIATE_TEST_SUITE_P(Engines, VisibleDatasetListTest,
                         ::testing::Values(Engine::kSqlite, Engine::kPostgres),
                         [](const ::testing::TestParamInfo<Engine>& info) {
                           return info.param == Engine::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST_P(VisibleDatasetListTest, ListsOnlyWhatIsVisible) {
  AddVersion("churn", std::string(64, '1'));
  AddVersion("churn", std::string(64, '2'));
  AddVersion("fraud", std::string(64, '3'));
  AddVersion("sales", std::string(64, '4'));
  EXPECT_EQ(List(), (Names{"churn@2", "fraud@1", "sales@1"}));
  EXPECT_EQ(List(Visibility::AllExcept({"fraud"})), (Names{"churn@2", "sales@1"}));
  EXPECT_EQ(List(Visibility::Only({"fraud", "sales", "nope"})), (Names{"fraud@1", "sales@1"}));
  EXPECT_EQ(List(Visibility::Only({})), Names{});
  Names many = Absent("d", 40000);
  many.push_back("churn");
  EXPECT_EQ(List(Visibility::AllExcept(many)), (Names{"fraud@1", "sales@1"}));
  EXPECT_EQ(List(Visibility::Only(many)), (Names{"churn@2"}));
}

}  // namespace
}  // namespace slipway
