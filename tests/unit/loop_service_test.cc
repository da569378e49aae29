// The closed loop's decisions (loop/loop_service.h): which alerts start a
// retrain, the cool-down and the day's budget, what each outcome of a
// retrain leaves, and what a restart does with runs left behind. The
// retrain is a fake that answers what the test tells it; the stores and
// services are the real ones over SQLite (an App in a temporary folder).
#include "loop/loop_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "app/app.h"
#include "core/error.h"
#include "store/metadata_store.h"
#include "test_util/temp_dir.h"

namespace slipway::loop {
namespace {

constexpr int64_t kHour = 3600 * 1000;

const char kSpec[] = R"(data: churn@1
target: churned
task: binary
model: {type: xgboost}
register: {model: churn, alias: production}
)";

class FakeRetrainer : public Retrainer {
 public:
  RetrainResult Retrain(const RetrainRequest& request) override {
    std::lock_guard lock(mu_);
    requests.push_back(request);
    return next;
  }
  std::mutex mu_;
  std::vector<RetrainRequest> requests;
  RetrainResult next;
};

// Operations outside HTTP act as the operator (no access control here).
template <typename F>
auto AsOperator(F&& work) {
  governance::Operation operation(governance::Actor::Operator("local:test"), "test");
  return work();
}

class LoopServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    app::App::Options options;
    options.data_dir = dir_.path().string();
    app_ = app::App::Create(std::move(options));
    stores_ = store::OpenMetadataStore(app_->options().store);
    // A version at @production for the deployment to follow (never loaded:
    // the App is not started).
    AsOperator([&] {
      app_->registry().CreateRegisteredModel("churn", {}, "");
      tracking::Run run = app_->tracking().CreateRun({"0", "alice", 1, "", {}});
      registry::RegistryService::NewVersion version;
      version.name = "churn";
      version.run_id = run.info.run_id;
      version.source = run.info.artifact_uri + "/model";
      app_->registry().CreateModelVersion(version);
      app_->registry().SetAlias("churn", "production", "1");
      return 0;
    });
    serving::DeploymentSpec spec;
    spec.name = "churn-dep";
    spec.model_uri = "models:/churn@production";
    AsOperator([&] { return app_->serving().Create(spec); });
    retrainer_.next.outcome = RetrainResult::Outcome::kPassed;
    retrainer_.next.model = "churn";
    retrainer_.next.version = "7";
    retrainer_.next.summary = "gates passed";
    service_ = Make();
  }

  std::unique_ptr<LoopService> Make() {
    LoopService::Options options;
    options.now_ms = [this] { return now_.load(); };
    return std::make_unique<LoopService>(options, *stores_->loops, app_->serving(),
                                         app_->registry(), app_->authorizer(), app_->audit(),
                                         retrainer_);
  }

  LoopPolicy Policy() {
    LoopPolicy policy;
    policy.deployment = "churn-dep";
    policy.triggers = {"drift_high"};
    policy.spec = kSpec;
    policy.spec_name = "churn.yaml";
    policy.cooldown_seconds = 3600;
    policy.max_per_day = 3;
    return policy;
  }

  AlertEvent Alert(const std::string& name = "drift_high") {
    AlertEvent event;
    event.deployment = "churn-dep";
    event.alert = name;
    event.labels = {{"feature", "age"}};
    event.value = 0.4;
    event.since_ms = now_.load();
    return event;
  }

  slipway::testing::TempDir dir_{"loop"};
  std::unique_ptr<app::App> app_;
  std::unique_ptr<store::MetadataStores> stores_;
  FakeRetrainer retrainer_;
  std::atomic<int64_t> now_{1'800'000'000'000};
  std::unique_ptr<LoopService> service_;
};

TEST_F(LoopServiceTest, OnlyTheNamedAlertsOfAPolicyStartARetrain) {
  service_->Start();
  EXPECT_FALSE(service_->OnAlert(Alert()));  // no policy yet
  AsOperator([&] { return service_->SetPolicy(Policy()); });
  EXPECT_FALSE(service_->OnAlert(Alert("latency_high")));
  std::optional<LoopRun> run = service_->OnAlert(Alert());
  ASSERT_TRUE(run);
  EXPECT_EQ(run->state, LoopRunState::kQueued);
  service_->WaitIdle();
  const LoopRun done = AsOperator([&] { return service_->GetRun("churn-dep", run->id); });
  EXPECT_EQ(done.state, LoopRunState::kPromoted);
  EXPECT_EQ(done.version, "7");
  EXPECT_EQ(done.alias, "production");
  EXPECT_EQ(done.data, "churn@latest");
  ASSERT_EQ(retrainer_.requests.size(), 1u);
  const RetrainRequest& asked = retrainer_.requests[0];
  EXPECT_EQ(asked.alias, "production");
  EXPECT_EQ(asked.tags.at("slipway.loop.trigger"), "drift_high");
  EXPECT_EQ(asked.tags.at("slipway.loop.run"), "churn-dep/" + std::to_string(run->id));
  EXPECT_NE(asked.tags.at("slipway.loop.cause").find("\"feature\":\"age\""), std::string::npos);
}

TEST_F(LoopServiceTest, TheCoolDownHoldsAlertsButNotAPersonAndTheBudgetHoldsBoth) {
  service_->Start();
  AsOperator([&] { return service_->SetPolicy(Policy()); });
  service_->OnAlert(Alert());
  service_->WaitIdle();
  now_ += kHour / 2;
  std::optional<LoopRun> cooled = service_->OnAlert(Alert());
  ASSERT_TRUE(cooled);
  EXPECT_EQ(cooled->state, LoopRunState::kSkipped);
  EXPECT_NE(cooled->reason.find("cool-down"), std::string::npos) << cooled->reason;
  // A person is not held by the cool-down.
  LoopRun manual = AsOperator([&] { return service_->Trigger("churn-dep", "now"); });
  EXPECT_EQ(manual.state, LoopRunState::kQueued);
  service_->WaitIdle();
  now_ += 2 * kHour;  // past the cool-down of the manual run too
  EXPECT_EQ(service_->OnAlert(Alert())->state, LoopRunState::kQueued);
  service_->WaitIdle();
  // Three retrains in 24 hours: a fourth is refused, also by hand.
  now_ += 2 * kHour;
  std::optional<LoopRun> over = service_->OnAlert(Alert());
  EXPECT_EQ(over->state, LoopRunState::kSkipped);
  EXPECT_NE(over->reason.find("budget: 3 retrains"), std::string::npos) << over->reason;
  EXPECT_EQ(AsOperator([&] { return service_->Trigger("churn-dep", ""); }).state,
            LoopRunState::kSkipped);
  // A day after the first, one may start again.
  now_ += 20 * kHour;
  EXPECT_EQ(service_->OnAlert(Alert())->state, LoopRunState::kQueued);
  service_->WaitIdle();
  EXPECT_EQ(retrainer_.requests.size(), 4u);
}

TEST_F(LoopServiceTest, OutcomesAndApproval) {
  service_->Start();
  LoopPolicy policy = Policy();
  policy.manual_approval = true;
  policy.promote = "champion";
  AsOperator([&] { return service_->SetPolicy(policy); });
  LoopRun run = AsOperator([&] { return service_->Trigger("churn-dep", ""); });
  service_->WaitIdle();
  run = AsOperator([&] { return service_->GetRun("churn-dep", run.id); });
  EXPECT_EQ(run.state, LoopRunState::kPendingApproval);
  EXPECT_EQ(run.alias, "champion");
  // Registered without the alias: the retrain was asked for none.
  EXPECT_EQ(retrainer_.requests.back().alias, "");
  const LoopRun rejected =
      AsOperator([&] { return service_->Reject("churn-dep", run.id, "not today"); });
  EXPECT_EQ(rejected.state, LoopRunState::kRejected);
  EXPECT_EQ(rejected.decided_by, "local:test");
  EXPECT_THROW(AsOperator([&] { return service_->Approve("churn-dep", run.id); }), Error);

  retrainer_.next.outcome = RetrainResult::Outcome::kGateFailed;
  retrainer_.next.summary = "gates failed: champion";
  now_ += kHour;
  LoopRun failed = AsOperator([&] { return service_->Trigger("churn-dep", ""); });
  service_->WaitIdle();
  failed = AsOperator([&] { return service_->GetRun("churn-dep", failed.id); });
  EXPECT_EQ(failed.state, LoopRunState::kGateFailed);
  EXPECT_EQ(failed.reason, "gates failed: champion");

  retrainer_.next.outcome = RetrainResult::Outcome::kFailed;
  retrainer_.next.summary = "slipway train exited 1";
  now_ += kHour;
  LoopRun broken = AsOperator([&] { return service_->Trigger("churn-dep", ""); });
  service_->WaitIdle();
  broken = AsOperator([&] { return service_->GetRun("churn-dep", broken.id); });
  EXPECT_EQ(broken.state, LoopRunState::kFailed);
  EXPECT_NE(broken.reason.find("slipway train exited 1"), std::string::npos) << broken.reason;
}

TEST_F(LoopServiceTest, ARestartFailsTheRunItInterruptedAndRunsTheQueued) {
  AsOperator([&] { return service_->SetPolicy(Policy()); });
  // Not started: the alert's run stays queued.
  std::optional<LoopRun> queued = service_->OnAlert(Alert());
  ASSERT_TRUE(queued);
  EXPECT_EQ(queued->state, LoopRunState::kQueued);
  LoopRun interrupted = *queued;
  interrupted.id = 0;
  interrupted.state = LoopRunState::kRunning;
  interrupted.id = stores_->loops->AddRun(interrupted);
  service_ = Make();
  service_->Start();
  service_->WaitIdle();
  const LoopRun after = *stores_->loops->GetRun(interrupted.id);
  EXPECT_EQ(after.state, LoopRunState::kFailed);
  EXPECT_EQ(after.reason, "the server stopped during the retrain");
  EXPECT_EQ(stores_->loops->GetRun(queued->id)->state, LoopRunState::kPromoted);
  EXPECT_EQ(retrainer_.requests.size(), 1u);
}

TEST_F(LoopServiceTest, PoliciesAreChecked) {
  LoopPolicy policy = Policy();
  policy.spec = "data: churn@1\ntarget: churned\n";
  EXPECT_THROW(AsOperator([&] { return service_->SetPolicy(policy); }), Error);
  policy = Policy();
  policy.deployment = "nope";
  EXPECT_THROW(AsOperator([&] { return service_->SetPolicy(policy); }), Error);
  policy = Policy();
  policy.triggers = {"drift high"};
  EXPECT_THROW(AsOperator([&] { return service_->SetPolicy(policy); }), Error);
  policy = Policy();
  policy.max_per_day = 0;
  EXPECT_THROW(AsOperator([&] { return service_->SetPolicy(policy); }), Error);
  const LoopPolicy stored = AsOperator([&] { return service_->SetPolicy(Policy()); });
  EXPECT_EQ(stored.owner, "local:test");
  EXPECT_EQ(stored.owner_id, 0);
}

}  // namespace
}  // namespace slipway::loop
