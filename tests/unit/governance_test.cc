// Authorization and audit in the domain (governance/authorization.h), with
// real services over a real SQLite store: actors that are not HTTP requests
// (a background component, the operator) are checked and audited exactly as
// requests are; and a route added with one declaration (http::RouteSpec) gets
// its permission check and its audit entry without anything else written.
#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <thread>

#include "core/base64.h"
#include "core/error.h"
#include "governance/access_control.h"
#include "governance/audit_log.h"
#include "governance/authorization.h"
#include "http/audit_hook.h"
#include "http/auth_routes.h"
#include "http/http_server.h"
#include "http/json_codec.h"
#include "http/route_helpers.h"
#include "store/metadata_store.h"
#include "test_util/temp_dir.h"
#include "tracking/tracking_service.h"

namespace slipway {
namespace {

using governance::Actor;
using governance::AuditedOperation;
using governance::AuditEntry;
using governance::Operation;
using governance::Permission;
using governance::ResourceType;

constexpr int kFastIterations = 1000;

// The stores, access control (default permission READ), the audit log and
// the tracking service, as the composition root wires them; alice owns
// experiment `experiment_`, bob is another user.
class GovernanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stores_ = store::OpenMetadataStore("sqlite:///" + (dir_.path() / "slipway.db").string(),
                                       store::Sync::kNormal);
    governance::AccessControl::Options options;
    options.password_iterations = kFastIterations;
    access_ = std::make_unique<governance::AccessControl>(*stores_->auth, options);
    log_ = std::make_unique<governance::AuditLog>(*stores_->audit);
    tracking_ = std::make_unique<tracking::TrackingService>(
        *stores_->tracking, tracking::TrackingService::Options{}, *access_);
    {
      Operation setup(Actor::Operator("local:test"), "setup");
      alice_ = Principal(access_->CreateUser("alice", "alice-password", false));
      bob_ = Principal(access_->CreateUser("bob", "bob-password", false));
    }
    Operation as_alice(Actor::ForUser(alice_), "experiments/create");
    experiment_ = tracking_->CreateExperiment("alices", "", {});
  }

  static governance::Principal Principal(const governance::User& user) {
    return {user.id, user.username, user.is_admin};
  }

  // The newest entries of the trail, oldest first.
  std::vector<AuditEntry> Trail() {
    bool has_more = false;
    return log_->Query({}, &has_more);
  }

  slipway::testing::TempDir dir_{"slipway-governance"};
  std::unique_ptr<store::MetadataStores> stores_;
  std::unique_ptr<governance::AccessControl> access_;
  std::unique_ptr<governance::AuditLog> log_;
  std::unique_ptr<tracking::TrackingService> tracking_;
  governance::Principal alice_;
  governance::Principal bob_;
  std::string experiment_;
};

TEST_F(GovernanceTest, ChecksWithoutAnOperationFailClosed) {
  EXPECT_EQ(Operation::Current(), nullptr);
  try {
    tracking_->GetExperiment(experiment_);
    FAIL() << "a check with no actor passed";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInternalError);
  }
  // With no access control, no actor is needed.
  tracking::TrackingService open(*stores_->tracking, tracking::TrackingService::Options{});
  EXPECT_EQ(open.GetExperiment(experiment_).name, "alices");
}

TEST_F(GovernanceTest, BackgroundActorIsDeniedWithoutPermissionAndAuditedWhenAllowed) {
  // A retraining job acting for bob, who holds nothing on alice's experiment.
  {
    Operation as_alice(Actor::ForUser(alice_), "grant");
    access_->SetPermission("bob", ResourceType::kExperiment, experiment_,
                           Permission::kNoPermissions);
  }
  Actor retrain = Actor::System("retrain", bob_);
  EXPECT_EQ(retrain.name, "system:retrain(bob)");
  auto start_run = [&] {
    AuditedOperation(*log_, retrain, "runs/create", "scheduler", "retrain churn-model").Run([&] {
      tracking_->CreateRun({experiment_, "", std::nullopt, "retrain", {}});
    });
  };
  try {
    start_run();
    FAIL() << "bob's job ran in an experiment bob may not use";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kPermissionDenied);
    EXPECT_NE(std::string(error.what()).find("system:retrain(bob)"), std::string::npos);
  }
  std::vector<AuditEntry> trail = Trail();
  ASSERT_FALSE(trail.empty());
  EXPECT_EQ(trail.back().principal, "system:retrain(bob)");
  EXPECT_EQ(trail.back().action, "runs/create");
  EXPECT_EQ(trail.back().target, "experiment:" + experiment_);
  EXPECT_EQ(trail.back().outcome, 403);
  EXPECT_EQ(trail.back().source, "scheduler");
  // Nothing was made.
  {
    Operation as_alice(Actor::ForUser(alice_), "runs/search");
    EXPECT_TRUE(tracking_->SearchRuns({experiment_}, "", tracking::ViewType::kAll, 10, {}, "")
                    .items.empty());
  }

  // Once bob may edit the experiment, his job may too, and the trail says
  // which run it made.
  {
    Operation as_alice(Actor::ForUser(alice_), "grant");
    access_->SetPermission("bob", ResourceType::kExperiment, experiment_, Permission::kEdit);
  }
  start_run();
  trail = Trail();
  EXPECT_EQ(trail.back().principal, "system:retrain(bob)");
  EXPECT_EQ(trail.back().outcome, 200);
  ASSERT_EQ(trail.back().target.rfind("run:", 0), 0u) << trail.back().target;
  {
    Operation as_alice(Actor::ForUser(alice_), "runs/get");
    EXPECT_EQ(tracking_->GetRun(trail.back().target.substr(4)).info.experiment_id, experiment_);
  }

  // A component acting for no one holds no permission of its own.
  try {
    AuditedOperation(*log_, Actor::System("cleanup"), "runs/delete", "scheduler", "cleanup")
        .Run([&] { tracking_->DeleteRun(trail.back().target.substr(4)); });
    FAIL() << "a component acting for no one deleted a run";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kPermissionDenied);
  }
  EXPECT_EQ(Trail().back().principal, "system:cleanup");
  EXPECT_EQ(Trail().back().outcome, 403);
  EXPECT_TRUE(log_->Verify().ok);
}

TEST_F(GovernanceTest, OtherSpellingsOfAnIdAreCheckedAsTheCanonicalOne) {
  {
    Operation as_alice(Actor::ForUser(alice_), "grant");
    access_->SetPermission("bob", ResourceType::kExperiment, experiment_,
                           Permission::kNoPermissions);
  }
  Operation as_bob(Actor::ForUser(bob_), "experiments/get");
  for (const std::string& spelling : {experiment_, "0" + experiment_, "+" + experiment_}) {
    try {
      tracking_->GetExperiment(spelling);
      FAIL() << spelling << " read a hidden experiment";
    } catch (const Error& error) {
      // The canonical id is refused; another spelling names no experiment
      // at all (whether or not one exists).
      EXPECT_EQ(error.code(), spelling == experiment_ ? ErrorCode::kPermissionDenied
                                                      : ErrorCode::kResourceDoesNotExist)
          << spelling << ": " << error.what();
    }
  }
}

// ---- A route added with one declaration -----------------------------------

class DeclaredRouteTest : public GovernanceTest {
 protected:
  void SetUp() override {
    GovernanceTest::SetUp();
    http::HttpServer::Options options;
    options.port = 0;
    options.worker_threads = 2;
    options.access_log = false;
    server_ = std::make_unique<http::HttpServer>(options);
    // The endpoint under test: one registration, no rule anywhere else.
    server_->Post("/api/2.0/mlflow/experiments/pin",
                  http::RouteSpec("experiments/pin").Needs(http::kExperiment, http::kEdit),
                  [this](const http::Request& req, http::Response& res) {
                    http::Json body = http::RequestJson(req);
                    tracking_->SetExperimentTag(body.at("experiment_id").get<std::string>(),
                                                {"pinned", "true"});
                    http::Reply(res, http::Json::object());
                  });
    // One whose handler forgets the check it declares.
    server_->Post(
        "/api/2.0/mlflow/experiments/forgetful",
        http::RouteSpec("experiments/forgetful").Needs(http::kExperiment, http::kEdit),
        [](const http::Request&, http::Response& res) { http::Reply(res, http::Json::object()); });
    http::EnableAuditTrail(*server_, *log_);
    http::EnableGovernance(*server_, *access_, access_.get());
    thread_ = std::thread([this] { server_->Listen(); });
    for (int i = 0; i < 200 && server_->bound_port() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->bound_port());
  }
  void TearDown() override {
    server_->Stop();
    thread_.join();
  }

  httplib::Result Post(const std::string& route, const std::string& user,
                       const std::string& password) {
    httplib::Headers headers = {{"Authorization", "Basic " + Base64Encode(user + ":" + password)}};
    return client_->Post("/api/2.0/mlflow/experiments/" + route, headers,
                         "{\"experiment_id\": \"" + experiment_ + "\"}", "application/json");
  }

  std::unique_ptr<http::HttpServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(DeclaredRouteTest, GetsItsPermissionCheckAndAuditEntry) {
  // bob holds the default READ: refused, and audited against the experiment.
  auto refused = Post("pin", "bob", "bob-password");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403) << refused->body;
  AuditEntry entry = Trail().back();
  EXPECT_EQ(entry.principal, "bob");
  EXPECT_EQ(entry.action, "experiments/pin");
  EXPECT_EQ(entry.target, "experiment:" + experiment_);
  EXPECT_EQ(entry.outcome, 403);

  auto allowed = Post("pin", "alice", "alice-password");
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->status, 200) << allowed->body;
  entry = Trail().back();
  EXPECT_EQ(entry.principal, "alice");
  EXPECT_EQ(entry.action, "experiments/pin");
  EXPECT_EQ(entry.target, "experiment:" + experiment_);
  EXPECT_EQ(entry.outcome, 200);
  Operation as_alice(Actor::ForUser(alice_), "experiments/get");
  bool pinned = false;
  for (const tracking::Tag& tag : tracking_->GetExperiment(experiment_).tags) {
    pinned |= tag.key == "pinned" && tag.value == "true";
  }
  EXPECT_TRUE(pinned);
}

TEST_F(DeclaredRouteTest, ADeclarationNoCheckStoodBehindFailsClosed) {
  auto res = Post("forgetful", "alice", "alice-password");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500) << res->body;
  EXPECT_EQ(http::Json::parse(res->body)["error_code"], "INTERNAL_ERROR");
}

// An entry made outside HTTP reads as the same failure would over the API.
TEST(AuditOutcomeTest, IsTheHttpStatusOfTheSameError) {
  for (ErrorCode code :
       {ErrorCode::kInternalError, ErrorCode::kInvalidParameterValue,
        ErrorCode::kResourceAlreadyExists, ErrorCode::kResourceDoesNotExist, ErrorCode::kBadRequest,
        ErrorCode::kEndpointNotFound, ErrorCode::kInvalidState, ErrorCode::kResourceConflict,
        ErrorCode::kPermissionDenied, ErrorCode::kUnauthenticated, ErrorCode::kRequestLimitExceeded,
        ErrorCode::kPayloadTooLarge, ErrorCode::kNotImplemented,
        ErrorCode::kTemporarilyUnavailable}) {
    EXPECT_EQ(governance::AuditOutcome(code), http::HttpStatusFor(code)) << ErrorCodeName(code);
  }
}

TEST(RouteSpecTest, ARouteMustDeclareWhoMayCallIt) {
  http::HttpServer::Options options;
  options.port = 0;
  http::HttpServer server(options);
  EXPECT_THROW(server.Get("/x", http::RouteSpec("x"), [](const auto&, auto&) {}), std::logic_error);
  EXPECT_NO_THROW(server.Get("/y", http::RouteSpec("y").SignedIn(), [](const auto&, auto&) {}));
}

}  // namespace
}  // namespace slipway
