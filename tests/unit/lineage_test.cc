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

// Reads everything but the experiments and registered models it is told to hide.
class HidingAccess : public ReadAccess {
 public:
  std::set<std::string> experiments;
  std::set<std::string> models;
  bool CanReadExperiment(const std::string& id) const override { return !experiments.contains(id); }
  bool CanReadRegisteredModel(const std::string& name) const override {
    return !models.contains(name);
  }
};

class LineageAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::OpenMetadataDatabase((dir_.path() / "slipway.db").string());
    tracking_store_ = std::make_unique<store::SqliteTrackingStore>(db);
    registry_store_ = std::make_unique<store::SqliteRegistryStore>(db);
    tracking_ = std::make_unique<tracking::TrackingService>(*tracking_store_,
                                                            tracking::TrackingService::Options{});
    registry_ = std::make_unique<RegistryService>(*registry_store_, *tracking_);

    hidden_experiment_ = tracking_->CreateExperiment("hidden", "", {});
    run_id_ = tracking_->CreateRun({hidden_experiment_, "alice", 1, "r", {}}).info.run_id;
    tracking_->LogParam(run_id_, {"lr", "secret-lr"});
    tracking::TrackingService::NewLoggedModel model;
    model.experiment_id = hidden_experiment_;
    model.source_run_id = run_id_;
    model_id_ = tracking_->CreateLoggedModel(model).model_id;
    registry_->CreateRegisteredModel("shared", {}, "");
    registry_->CreateModelVersion({"shared", "models:/" + model_id_, "", "", "", model_id_, {}});
    hiding_.experiments = {hidden_experiment_};
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

  slipway::testing::TempDir dir_{"slipway-lineage"};
  std::unique_ptr<store::SqliteTrackingStore> tracking_store_;
  std::unique_ptr<store::SqliteRegistryStore> registry_store_;
  std::unique_ptr<tracking::TrackingService> tracking_;
  std::unique_ptr<RegistryService> registry_;
  std::string hidden_experiment_;
  std::string run_id_;
  std::string model_id_;
  HidingAccess hiding_;
};

TEST_F(LineageAccessTest, WithheldRunsAndModelsAreLeftOutAndNamed) {
  ModelLineage full = BuildLineage(*registry_, *tracking_, "shared", "1");
  ASSERT_TRUE(full.run && full.logged_model);
  EXPECT_TRUE(full.withheld.empty());

  ModelLineage partial = BuildLineage(*registry_, *tracking_, "shared", "1", hiding_);
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
  auto create = [&](RegistryService::NewVersion version, const ReadAccess& access) {
    return CodeOf([&] { registry_->CreateModelVersion(std::move(version), access); });
  };
  std::string artifacts =
      "mlflow-artifacts:/" + hidden_experiment_ + "/models/" + model_id_ + "/artifacts";
  for (const RegistryService::NewVersion& version : std::vector<RegistryService::NewVersion>{
           {"mine", "models:/" + model_id_, "", "", "", model_id_, {}},
           {"mine", artifacts, "", "", "", model_id_, {}},
           {"mine", "runs:/" + run_id_ + "/model", run_id_, "", "", "", {}}}) {
    EXPECT_EQ(create(version, hiding_), ErrorCode::kPermissionDenied) << version.source;
  }
  // A registered model's version as the source needs READ on that model ...
  HidingAccess models_hidden;
  models_hidden.models = {"shared"};
  EXPECT_EQ(create({"mine", "models:/shared/1", "", "", "", "", {}}, models_hidden),
            ErrorCode::kPermissionDenied);
  EXPECT_TRUE(registry_->GetLatestVersions("mine", {}).empty());
  // ... and only that, as in MLflow: the run and logged model it copies are
  // recorded, and the lineage withholds them from whoever may not read them.
  EXPECT_EQ(create({"mine", "models:/shared/1", "", "", "", "", {}}, hiding_), std::nullopt);
  EXPECT_EQ(registry_->GetModelVersion("mine", "1").run_id, run_id_);
  ModelLineage lineage = BuildLineage(*registry_, *tracking_, "mine", "1", hiding_);
  EXPECT_FALSE(lineage.run);
  EXPECT_EQ(lineage.withheld.size(), 2u);
}

}  // namespace
}  // namespace slipway::registry
