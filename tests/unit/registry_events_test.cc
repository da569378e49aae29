// The registry announces its committed changes, and the event bus delivers
// them as its contract says.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/error.h"
#include "core/event_bus.h"
#include "registry/registry_service.h"
#include "store/sqlite_registry_store.h"
#include "store/sqlite_tracking_store.h"
#include "test_util/temp_dir.h"

namespace slipway::registry {
namespace {

using Kind = RegistryEvent::Kind;

TEST(EventBusTest, DeliversToEverySubscriberUntilItUnsubscribes) {
  core::EventBus<int> bus;
  std::vector<int> a, b;
  auto sub_a = bus.Subscribe([&](const int& e) { a.push_back(e); });
  {
    auto sub_b = bus.Subscribe([&](const int& e) { b.push_back(e); });
    bus.Publish(1);
  }
  bus.Publish(2);
  sub_a.Reset();
  bus.Publish(3);
  EXPECT_EQ(a, (std::vector<int>{1, 2}));
  EXPECT_EQ(b, (std::vector<int>{1}));
}

TEST(EventBusTest, AThrowingSubscriberDoesNotStopTheOthers) {
  core::EventBus<int> bus;
  int seen = 0;
  auto bad = bus.Subscribe([](const int&) { throw std::runtime_error("subscriber bug"); });
  auto good = bus.Subscribe([&](const int& e) { seen += e; });
  EXPECT_NO_THROW(bus.Publish(5));
  EXPECT_EQ(seen, 5);
}

TEST(EventBusTest, NoDeliveryStartsAfterUnsubscribeReturns) {
  core::EventBus<int> bus;
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    while (!stop) bus.Publish(1);
  });
  for (int i = 0; i < 200; ++i) {
    auto alive = std::make_unique<std::atomic<int>>(0);
    auto sub = bus.Subscribe([counter = alive.get()](const int&) { ++*counter; });
    std::this_thread::yield();
    sub.Reset();
    int after = alive->load();
    std::this_thread::yield();
    EXPECT_EQ(alive->load(), after);
    alive.reset();  // a late delivery would now touch freed memory (ASan, TSan see it)
  }
  stop = true;
  publisher.join();
}

class RegistryEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = store::OpenMetadataDatabase((dir_.path() / "slipway.db").string());
    tracking_store_ = std::make_unique<store::SqliteTrackingStore>(db_);
    registry_store_ = std::make_unique<store::SqliteRegistryStore>(db_);
    tracking_ = std::make_unique<tracking::TrackingService>(*tracking_store_,
                                                            tracking::TrackingService::Options{});
    registry_ = std::make_unique<RegistryService>(*registry_store_, *tracking_);
    subscription_ = registry_->events().Subscribe([this](const RegistryEvent& e) {
      // Published after the commit: what the event says is already readable.
      if (e.kind == Kind::kAliasSet) {
        EXPECT_EQ(registry_->GetVersionByAlias(e.model, e.alias).version, e.version);
      }
      seen_.push_back(e);
    });
  }

  slipway::testing::TempDir dir_{"slipway-registry-events"};
  std::shared_ptr<store::SqliteDb> db_;
  std::unique_ptr<store::SqliteTrackingStore> tracking_store_;
  std::unique_ptr<store::SqliteRegistryStore> registry_store_;
  std::unique_ptr<tracking::TrackingService> tracking_;
  std::unique_ptr<RegistryService> registry_;
  std::vector<RegistryEvent> seen_;
  RegistryEventBus::Subscription subscription_;
};

TEST_F(RegistryEventsTest, EveryCommittedChangeIsAnnouncedOnce) {
  registry_->CreateRegisteredModel("m", {}, "");
  tracking::Run run = tracking_->CreateRun({"0", "alice", 1, "", {}});
  RegistryService::NewVersion request;
  request.name = "m";
  request.run_id = run.info.run_id;
  request.source = run.info.artifact_uri + "/model";
  registry_->CreateModelVersion(request);
  registry_->CreateModelVersion(request);
  registry_->SetAlias("m", "production", "1");
  registry_->SetAlias("m", "production", "2");  // moved
  registry_->TransitionStage("m", "2", "production", true);
  registry_->DeleteAlias("m", "production");
  registry_->DeleteModelVersion("m", "1");
  registry_->RenameRegisteredModel("m", "n");
  registry_->DeleteRegisteredModel("n");

  std::vector<std::tuple<Kind, std::string, int64_t, std::string, std::string>> got;
  for (const auto& e : seen_) {
    got.emplace_back(e.kind, e.model, e.version, e.alias + e.stage, e.new_name);
  }
  decltype(got) want = {
      {Kind::kModelCreated, "m", 0, "", ""},
      {Kind::kVersionCreated, "m", 1, "", ""},
      {Kind::kVersionCreated, "m", 2, "", ""},
      {Kind::kAliasSet, "m", 1, "production", ""},
      {Kind::kAliasSet, "m", 2, "production", ""},
      {Kind::kStageChanged, "m", 2, "Production", ""},
      {Kind::kAliasDeleted, "m", 0, "production", ""},
      {Kind::kVersionDeleted, "m", 1, "", ""},
      {Kind::kModelRenamed, "m", 0, "", "n"},
      {Kind::kModelDeleted, "n", 0, "", ""},
  };
  EXPECT_EQ(got, want);
}

TEST_F(RegistryEventsTest, ARefusedChangeAnnouncesNothing) {
  registry_->CreateRegisteredModel("m", {}, "");
  seen_.clear();
  EXPECT_THROW(registry_->SetAlias("m", "production", "7"), Error);
  EXPECT_THROW(registry_->CreateRegisteredModel("m", {}, ""), Error);
  EXPECT_THROW(registry_->DeleteModelVersion("m", "1"), Error);
  EXPECT_TRUE(seen_.empty());
}

}  // namespace
}  // namespace slipway::registry
