// The closed loop training on labelled live traffic (loop/loop_service.h,
// a policy's `data: windows:DURATION`): the fold keeps each request's
// inputs, the table built from the kept predictions that have feedback
// (monitoring/live/labelled_rows.h), the dataset version a run pushes and
// trains on, the minimum of labelled rows, the grant it needs on the
// dataset, and the window the cause was seen in. The retrain is a fake;
// the stores and services are the real ones over SQLite (an App in a
// temporary folder, with access control on).
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app/app.h"
#include "core/error.h"
#include "loop/loop_service.h"
#include "monitoring/live/labelled_rows.h"
#include "monitoring/live/monitor_service.h"
#include "monitoring/live/window_fold.h"
#include "store/metadata_store.h"
#include "test_util/temp_dir.h"

namespace slipway::loop {
namespace {

using governance::Actor;
using governance::Operation;
using governance::Permission;
using governance::ResourceType;
using monitoring::live::BuildLabelledRows;
using monitoring::live::JoinedRecord;
using monitoring::live::LabelledRows;
using monitoring::live::MonitorConfig;
using monitoring::live::WindowFold;
using monitoring::live::WindowSpec;
using nlohmann::json;

constexpr int64_t kMinute = 60 * 1000;

const char kSpec[] = R"(data: churn@1
target: churned
task: binary
model: {type: xgboost}
register: {model: churn, alias: production}
)";

// A request of rows (x, color) as the prediction log holds it.
serving::PredictionRecord Record(const std::string& request_id, int64_t time_ms,
                                 std::vector<double> x, std::vector<std::string> color) {
  auto frame = std::make_shared<ml::Frame>();
  frame->rows = x.size();
  frame->columns.push_back({"x", ml::DataType::kDouble, 1, x, {}, {}});
  frame->columns.push_back({"color", ml::DataType::kString, 1, {}, color, {}});
  auto outputs = std::make_shared<ml::Predictions>();
  outputs->layout = ml::OutputLayout::kVector;
  outputs->frame.rows = x.size();
  ml::Column prediction{"", ml::DataType::kLong, 1, {}, {}, {}};
  for (double v : x) prediction.numbers.push_back(v > 0 ? 1 : 0);
  outputs->frame.columns.push_back(prediction);
  serving::PredictionRecord record;
  record.deployment = "churn-dep";
  record.request_id = request_id;
  record.model_name = "churn";
  record.version = "1";
  record.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(time_ms));
  record.inputs = frame;
  record.outputs = outputs;
  return record;
}

MonitorConfig Config() {
  MonitorConfig config;
  config.deployment = "churn-dep";
  config.features = {"x", "color"};
  config.window = WindowSpec::Parse("5m");
  config.generation = 1;
  return config;
}

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(LabelledRows, TheFoldKeepsEachRequestsInputs) {
  WindowFold fold(
      Config(), [](int64_t) { return std::optional<monitoring::live::MonitorWindow>(); },
      [] { return std::optional<monitoring::live::MonitorWindow>(); });
  fold.Add(Record("r0", 1000, {1.5, -2}, {"red", "blue"}));
  std::vector<monitoring::live::LoggedPrediction> kept = fold.TakePredictions();
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(json::parse(kept[0].inputs), json::parse(R"({"x": [1.5, -2.0], "color": ["red",
                                                        "blue"]})"));
}

JoinedRecord Joined(const std::string& id, int64_t time_ms, const std::string& inputs,
                    const std::string& labels) {
  JoinedRecord record;
  record.prediction = {id, time_ms, "[]", inputs};
  record.feedback = {id, labels, time_ms + 10};
  return record;
}

TEST(LabelledRows, RowsWithLabelsBecomeACsvTable) {
  const LabelledRows rows = BuildLabelledRows(
      {Joined("a", 100, R"({"x": [1.5, -2.0], "color": ["red", "blue, \"dark\""]})", "[1, 0]"),
       Joined("b", 200, R"({"x": [0.25], "color": ["green"]})", "[null]"),
       Joined("c", 300, "", "[1]"), Joined("d", 400, R"({"x": [3.0, 4.0]})", "[1]"),
       Joined("e", 500, R"({"x": [7.0], "flag": [true]})", "[true]")},
      "churned");
  EXPECT_EQ(rows.csv,
            "x,color,flag,churned\n"
            "1.5,red,,1\n"
            "-2,\"blue, \"\"dark\"\"\",,0\n"
            "7,,true,true\n");
  EXPECT_EQ(rows.columns, (std::vector<std::string>{"x", "color", "flag", "churned"}));
  EXPECT_EQ(rows.rows, 3);
  EXPECT_EQ(rows.requests, 2);
  EXPECT_EQ(rows.unlabelled_rows, 1);
  EXPECT_EQ(rows.requests_without_inputs, 1);
  EXPECT_EQ(rows.requests_mismatched, 1);
  EXPECT_EQ(rows.first_ms, 100);
  EXPECT_EQ(rows.last_ms, 500);
}

TEST(LabelledRows, TheModelsOrderComesFirst) {
  const LabelledRows rows = BuildLabelledRows(
      {Joined("a", 1, R"({"a": [1], "b": [2], "c": [3]})", "[0]")}, "y", {"c", "missing", "a"});
  EXPECT_EQ(rows.csv, "c,a,b,y\n3,1,2,0\n");
}

TEST(LabelledRows, TheLabelMustNotBeAnInput) {
  EXPECT_THROW(BuildLabelledRows({Joined("a", 1, R"({"x": [1.0]})", "[1]")}, "x"), Error);
  EXPECT_THROW(BuildLabelledRows({}, ""), Error);
}

TEST(LoopWindowsData, TheDurationIsParsedAndChecked) {
  EXPECT_EQ(WindowsDataRange("churn@latest"), std::nullopt);
  EXPECT_EQ(WindowsDataRange(""), std::nullopt);
  EXPECT_EQ(*WindowsDataRange("windows:24h"), 24 * 60 * kMinute);
  EXPECT_EQ(*WindowsDataRange("windows:90m"), 90 * kMinute);
  EXPECT_EQ(*WindowsDataRange("windows:2d"), 48 * 60 * kMinute);
  for (const char* bad : {"windows:", "windows:24", "windows:0h", "windows:30s", "windows:40d",
                          "windows:h", "windows:24h+latest"}) {
    EXPECT_THROW(WindowsDataRange(bad), Error) << bad;
  }
}

class FakeRetrainer : public Retrainer {
 public:
  RetrainResult Retrain(const RetrainRequest& request) override {
    std::lock_guard lock(mu_);
    requests.push_back(request);
    RetrainResult result;
    result.outcome = RetrainResult::Outcome::kPassed;
    result.model = "churn";
    result.version = std::to_string(requests.size() + 1);
    result.summary = "gates passed";
    return result;
  }
  std::mutex mu_;
  std::vector<RetrainRequest> requests;
};

class LoopWindowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    app::App::Options options;
    options.data_dir = dir_.path().string();
    governance::AccessControl::Options access;
    access.password_iterations = 1000;
    options.access = access;
    app_ = app::App::Create(std::move(options));
    stores_ = store::OpenMetadataStore(app_->options().store);
    Operation setup(Actor::Operator("local:test"), "setup");
    const governance::User alice = app_->access()->CreateUser("alice", "alice-password", false);
    alice_ = {alice.id, alice.username, alice.is_admin};
    app_->registry().CreateRegisteredModel("churn", {}, "");
    tracking::Run run = app_->tracking().CreateRun({"0", "local:test", 1, "", {}});
    registry::RegistryService::NewVersion version;
    version.name = "churn";
    version.run_id = run.info.run_id;
    version.source = run.info.artifact_uri + "/model";
    app_->registry().CreateModelVersion(version);
    app_->registry().SetAlias("churn", "production", "1");
    serving::DeploymentSpec spec;
    spec.name = "churn-dep";
    spec.model_uri = "models:/churn@production";
    app_->serving().Create(spec);
    app_->access()->SetPermission("alice", ResourceType::kDeployment, "churn-dep",
                                  Permission::kManage);
    Keep();
    LoopService::Options loop;
    loop.now_ms = [this] { return now_.load(); };
    loop.monitors = &app_->monitors();
    loop.datasets = &app_->datasets();
    loop.work_dir = (dir_.path() / "loop").string();
    service_ =
        std::make_unique<LoopService>(loop, *stores_->loops, app_->serving(), app_->registry(),
                                      app_->authorizer(), app_->audit(), retrainer_);
    service_->Start();
  }

  // A monitor whose fold kept four requests half an hour ago, three with
  // feedback: r0 (two rows, both labelled), r1 (its one row labelled null),
  // r3 (two rows, one label: not a row count); r2 has none. One window,
  // closed by now.
  void Keep() {
    const int64_t at = now_.load() - 30 * kMinute;
    stores_->monitors->Put(Config(), "{}");
    WindowFold fold(
        Config(), [&](int64_t seq) { return stores_->monitors->GetWindow("churn-dep", seq); },
        [] { return std::optional<monitoring::live::MonitorWindow>(); });
    fold.Add(Record("r0", at, {1.5, -2}, {"red", "blue"}));
    fold.Add(Record("r1", at + 1, {0.25}, {"green"}));
    fold.Add(Record("r2", at + 2, {3}, {"red"}));
    fold.Add(Record("r3", at + 3, {4, 5}, {"red", "red"}));
    monitoring::live::FoldCommit commit;
    commit.deployment = "churn-dep";
    commit.generation = 1;
    commit.folded_key = "segment-1";
    commit.windows = fold.Windows();
    commit.predictions = fold.TakePredictions();
    ASSERT_EQ(commit.windows.size(), 1u);
    window_seq_ = commit.windows[0].seq;
    ASSERT_TRUE(stores_->monitors->CommitFold(commit));
    stores_->monitors->AddFeedback(
        "churn-dep", {{"r0", "[1, 0]", at + 100}, {"r1", "[null]", at + 100}, {"r3", "[1]", at}});
  }

  LoopPolicy Policy(int64_t min_rows) {
    LoopPolicy policy;
    policy.deployment = "churn-dep";
    policy.spec = kSpec;
    policy.spec_name = "churn.yaml";
    policy.data = "windows:24h";
    policy.min_rows = min_rows;
    return policy;
  }

  template <typename F>
  auto AsAlice(F&& work) {
    Operation operation(Actor::ForUser(alice_), "test");
    return work();
  }

  LoopRun TriggerAndWait() {
    LoopRun run = AsAlice([&] { return service_->Trigger("churn-dep", "test"); });
    service_->WaitIdle();
    return *stores_->loops->GetRun(run.id);
  }

  slipway::testing::TempDir dir_{"loop-windows"};
  std::unique_ptr<app::App> app_;
  std::unique_ptr<store::MetadataStores> stores_;
  governance::Principal alice_;
  FakeRetrainer retrainer_;
  std::atomic<int64_t> now_{std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count()};
  int64_t window_seq_ = -1;
  std::unique_ptr<LoopService> service_;
};

TEST_F(LoopWindowsTest, ARunTrainsOnADatasetVersionOfItsLabelledRows) {
  AsAlice([&] { return service_->SetPolicy(Policy(2)); });
  const LoopRun run = TriggerAndWait();
  ASSERT_EQ(run.state, LoopRunState::kPromoted) << run.reason;
  EXPECT_EQ(run.data, "churn-dep-feedback@1");
  ASSERT_EQ(retrainer_.requests.size(), 1u);
  const RetrainRequest& asked = retrainer_.requests[0];
  EXPECT_EQ(asked.run.data, "churn-dep-feedback@1");
  EXPECT_EQ(asked.tags.at("slipway.loop.data"), "churn-dep-feedback@1");
  const json windows = json::parse(asked.tags.at("slipway.loop.windows"));
  EXPECT_EQ(windows["deployment"], "churn-dep");
  EXPECT_EQ(windows["dataset"], "churn-dep-feedback@1");
  EXPECT_EQ(windows["first_seq"], window_seq_);
  EXPECT_EQ(windows["last_seq"], window_seq_);
  EXPECT_EQ(windows["window"], "5m");
  EXPECT_EQ(windows["rows"], 2);
  EXPECT_EQ(windows["requests"], 1);
  EXPECT_EQ(json::parse(run.windows), windows);
  // The window the cause was seen in: the newest closed one at the trigger.
  const json cause = json::parse(asked.tags.at("slipway.loop.window"));
  EXPECT_EQ(cause["seq"], window_seq_);
  EXPECT_EQ(cause["rows"], 6);

  // The version holds exactly the labelled rows, the label under the
  // spec's target name; its description says where they came from.
  Operation as_operator(Actor::Operator("local:test"), "check");
  const data::DatasetVersion version = app_->datasets().Resolve({"churn-dep-feedback", 1});
  EXPECT_EQ(version.row_count, 2);
  EXPECT_EQ(version.created_by, "system:loop(alice)");
  EXPECT_NE(version.description.find("deployment churn-dep"), std::string::npos)
      << version.description;
  EXPECT_NE(version.description.find(std::to_string(window_seq_)), std::string::npos);
  const std::filesystem::path copy = dir_.path() / "copy.csv";
  app_->datasets().Materialize(version, copy);
  EXPECT_EQ(ReadText(copy), "x,color,churned\n1.5,red,1\n-2,blue,0\n");
  // Made by the loop for alice: hers to manage, as if she had pushed it.
  EXPECT_EQ(app_->access()->PermissionOf(Actor::ForUser(alice_), ResourceType::kDataset,
                                         "churn-dep-feedback"),
            Permission::kManage);
  // The scratch table is gone.
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "loop" / "churn-dep" / std::to_string(run.id) /
                                       "feedback.csv"));
}

TEST_F(LoopWindowsTest, TooFewLabelledRowsSkipTheRunSayingHowMany) {
  AsAlice([&] { return service_->SetPolicy(Policy(3)); });
  const LoopRun run = TriggerAndWait();
  EXPECT_EQ(run.state, LoopRunState::kSkipped);
  EXPECT_NE(run.reason.find("2 labelled rows"), std::string::npos) << run.reason;
  EXPECT_NE(run.reason.find("min_rows is 3"), std::string::npos) << run.reason;
  EXPECT_NE(run.reason.find("1 with a label count unlike their rows"), std::string::npos)
      << run.reason;
  EXPECT_TRUE(retrainer_.requests.empty());
  Operation as_operator(Actor::Operator("local:test"), "check");
  EXPECT_THROW(app_->datasets().Resolve({"churn-dep-feedback", std::nullopt}), Error);
}

TEST_F(LoopWindowsTest, TheOwnerNeedsEditOnTheFeedbackDataset) {
  {
    // Someone else made the dataset first: alice may only read it.
    Operation as_operator(Actor::Operator("local:test"), "setup");
    const std::filesystem::path csv = dir_.path() / "other.csv";
    std::ofstream(csv) << "x,color,churned\n1,red,0\n";
    data::AddOptions add;
    app_->datasets().Add("churn-dep-feedback", csv, add);
  }
  AsAlice([&] { return service_->SetPolicy(Policy(2)); });
  const LoopRun refused = TriggerAndWait();
  EXPECT_EQ(refused.state, LoopRunState::kFailed);
  EXPECT_NE(refused.reason.find("churn-dep-feedback"), std::string::npos) << refused.reason;
  EXPECT_TRUE(retrainer_.requests.empty());
  {
    Operation as_operator(Actor::Operator("local:test"), "grant");
    app_->access()->SetPermission("alice", ResourceType::kDataset, "churn-dep-feedback",
                                  Permission::kEdit);
  }
  const LoopRun granted = TriggerAndWait();
  EXPECT_EQ(granted.state, LoopRunState::kPromoted) << granted.reason;
  EXPECT_EQ(granted.data, "churn-dep-feedback@2");
}

TEST_F(LoopWindowsTest, AnAlertsRunRecordsTheWindowClosedWhenTheAlertBegan) {
  LoopPolicy policy = Policy(2);
  policy.triggers = {"accuracy_low"};
  policy.cooldown_seconds = 0;
  AsAlice([&] { return service_->SetPolicy(policy); });
  AlertEvent event;
  event.deployment = "churn-dep";
  event.alert = "accuracy_low";
  event.value = 0.6;
  // Ten minutes ago the window of half an hour ago was closed: that one.
  event.since_ms = now_.load() - 10 * kMinute;
  std::optional<LoopRun> run = service_->OnAlert(event);
  ASSERT_TRUE(run);
  service_->WaitIdle();
  const LoopRun done = *stores_->loops->GetRun(run->id);
  ASSERT_EQ(done.state, LoopRunState::kPromoted) << done.reason;
  EXPECT_EQ(json::parse(done.window)["seq"], window_seq_);
  EXPECT_EQ(json::parse(retrainer_.requests.back().tags.at("slipway.loop.window"))["seq"],
            window_seq_);
  // An alert that began while that window was still open names none.
  event.since_ms = now_.load() - 30 * kMinute;
  run = service_->OnAlert(event);
  ASSERT_TRUE(run);
  service_->WaitIdle();
  const LoopRun second = *stores_->loops->GetRun(run->id);
  EXPECT_EQ(second.window, "");
  ASSERT_EQ(second.state, LoopRunState::kPromoted) << second.reason;
  EXPECT_EQ(second.data, "churn-dep-feedback@1");  // the same rows: the same version
  EXPECT_EQ(retrainer_.requests.back().tags.count("slipway.loop.window"), 0u);
}

TEST_F(LoopWindowsTest, PoliciesOnWindowsAreChecked) {
  LoopPolicy policy = Policy(0);
  EXPECT_THROW(AsAlice([&] { return service_->SetPolicy(policy); }), Error);
  policy = Policy(5);
  policy.data = "windows:soon";
  EXPECT_THROW(AsAlice([&] { return service_->SetPolicy(policy); }), Error);
  policy = Policy(5);
  const LoopPolicy stored = AsAlice([&] { return service_->SetPolicy(policy); });
  EXPECT_EQ(stored.data, "windows:24h");
  EXPECT_EQ(stores_->loops->GetPolicy("churn-dep")->min_rows, 5);
}

}  // namespace
}  // namespace slipway::loop
