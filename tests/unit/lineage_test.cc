#include "registry/lineage.h"

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <set>

#include "core/error.h"
#include "registry/model_card.h"
#include "store/sqlite_registry_store.h"
#include "store/sqlite_tracking_store.h"
#include "test_util/temp_dir.h"

namespace slipway::registry {
namespace {

using governance::Permission;
using governance::ResourceType;

// Grants everything but the experiments and registered models it is told
// to hide (where it grants nothing).
class HidingAuthorizer : public governance::Authorizer {
 public:
  std::set<std::string> experiments;
  std::set<std::string> models;
  bool enforcing() const override { return true; }
  Permission PermissionOf(const governance::Actor&, ResourceType type,
                          const std::string& id) const override {
    bool hidden =
        type == ResourceType::kExperiment ? experiments.contains(id) : models.contains(id);
    return hidden ? Permission::kNoPermissions : Permission::kManage;
  }
  bool IsAdmin(const governance::Actor&) const override { return false; }
  Visibility Readable(const governance::Actor&, ResourceType) const override { return {}; }
  void Created(const governance::Actor&, ResourceType, const std::string&) override {}
  void Renamed(ResourceType, const std::string&, const std::string&) override {}
  void Deleted(ResourceType, const std::string&) override {}
};

class LineageAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::OpenMetadataDatabase((dir_.path() / "slipway.db").string());
    tracking_store_ = std::make_unique<store::SqliteTrackingStore>(db);
    registry_store_ = std::make_unique<store::SqliteRegistryStore>(db);
    tracking_ = std::make_unique<tracking::TrackingService>(
        *tracking_store_, tracking::TrackingService::Options{}, hiding_);
    registry_ = std::make_unique<RegistryService>(*registry_store_, *tracking_, hiding_);

    hidden_experiment_ = tracking_->CreateExperiment("hidden", "", {});
    run_id_ = tracking_->CreateRun({hidden_experiment_, "alice", 1, "r", {}}).info.run_id;
    tracking_->LogParam(run_id_, {"lr", "secret-lr"});
    tracking::TrackingService::NewLoggedModel model;
    model.experiment_id = hidden_experiment_;
    model.source_run_id = run_id_;
    model_id_ = tracking_->CreateLoggedModel(model).model_id;
    registry_->CreateRegisteredModel("shared", {}, "");
    registry_->CreateModelVersion({"shared", "models:/" + model_id_, "", "", "", model_id_, {}});
  }

  // The code of the error `f` throws; nullopt if it succeeds.
  std::optional<ErrorCode> CodeOf(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& error) {
      return error.code();
    }
    return std::nullopt;
  }

  // Everything here is done by one user, whom hiding_ denies what it hides.
  governance::Operation operation_{governance::Actor::ForUser({1, "bob", false}), "test"};
  HidingAuthorizer hiding_;
  slipway::testing::TempDir dir_{"slipway-lineage"};
  std::unique_ptr<store::SqliteTrackingStore> tracking_store_;
  std::unique_ptr<store::SqliteRegistryStore> registry_store_;
  std::unique_ptr<tracking::TrackingService> tracking_;
  std::unique_ptr<RegistryService> registry_;
  std::string hidden_experiment_;
  std::string run_id_;
  std::string model_id_;
};

TEST_F(LineageAccessTest, WithheldRunsAndModelsAreLeftOutAndNamed) {
  ModelLineage full = BuildLineage(*registry_, *tracking_, "shared", "1");
  ASSERT_TRUE(full.run && full.logged_model);
  EXPECT_TRUE(full.withheld.empty());

  hiding_.experiments = {hidden_experiment_};
  ModelLineage partial = BuildLineage(*registry_, *tracking_, "shared", "1");
  EXPECT_FALSE(partial.run);
  EXPECT_FALSE(partial.logged_model);
  ASSERT_EQ(partial.withheld.size(), 2u);
  EXPECT_NE(partial.withheld[0].find(model_id_), std::string::npos);
  EXPECT_NE(partial.withheld[1].find(run_id_), std::string::npos);
  EXPECT_EQ(partial.version.run_id, run_id_);  // the version's own record stays

  ModelCard card = BuildModelCard(partial);
  EXPECT_TRUE(card.parameters.empty());
  EXPECT_EQ(card.withheld, partial.withheld);
  std::string markdown = RenderMarkdown(card);
  EXPECT_EQ(markdown.find("secret-lr"), std::string::npos);
  EXPECT_NE(markdown.find("## Withheld"), std::string::npos);
  EXPECT_NE(RenderMarkdown(BuildModelCard(full)).find("secret-lr"), std::string::npos);
}

TEST_F(LineageAccessTest, ModelVersionsNeedReadOnEverythingTheirSourceReaches) {
  registry_->CreateRegisteredModel("mine", {}, "");
  // Hides what `hidden` names while the version is created.
  auto create = [&](RegistryService::NewVersion version, const HidingAuthorizer& hidden) {
    hiding_.experiments = hidden.experiments;
    hiding_.models = hidden.models;
    auto code = CodeOf([&] { registry_->CreateModelVersion(std::move(version)); });
    hiding_.experiments.clear();
    hiding_.models.clear();
    return code;
  };
  HidingAuthorizer experiment_hidden;
  experiment_hidden.experiments = {hidden_experiment_};
  std::string artifacts =
      "mlflow-artifacts:/" + hidden_experiment_ + "/models/" + model_id_ + "/artifacts";
  for (const RegistryService::NewVersion& version : std::vector<RegistryService::NewVersion>{
           {"mine", "models:/" + model_id_, "", "", "", model_id_, {}},
           {"mine", artifacts, "", "", "", model_id_, {}},
           {"mine", "runs:/" + run_id_ + "/model", run_id_, "", "", "", {}}}) {
    EXPECT_EQ(create(version, experiment_hidden), ErrorCode::kPermissionDenied) << version.source;
  }
  // A registered model's version as the source needs READ on that model ...
  HidingAuthorizer models_hidden;
  models_hidden.models = {"shared"};
  EXPECT_EQ(create({"mine", "models:/shared/1", "", "", "", "", {}}, models_hidden),
            ErrorCode::kPermissionDenied);
  EXPECT_TRUE(registry_->GetLatestVersions("mine", {}).empty());
  // ... and only that, as in MLflow: the run and logged model it copies are
  // recorded, and the lineage withholds them from whoever may not read them.
  EXPECT_EQ(create({"mine", "models:/shared/1", "", "", "", "", {}}, experiment_hidden),
            std::nullopt);
  EXPECT_EQ(registry_->GetModelVersion("mine", "1").run_id, run_id_);
  hiding_.experiments = {hidden_experiment_};
  ModelLineage lineage = BuildLineage(*registry_, *tracking_, "mine", "1");
  EXPECT_FALSE(lineage.run);
  EXPECT_EQ(lineage.withheld.size(), 2u);
}

}  // namespace
}  // namespace slipway::registry
