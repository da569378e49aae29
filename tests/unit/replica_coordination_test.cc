// store::ReplicaCoordination: what replicas on one PostgreSQL hear of each
// other's changes, and which one leads (app/replica_sync.h uses it).
#include "store/replica_coordination.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "postgres_test_cluster.h"
#include "store/metadata_store.h"
#include "store/postgres/pg_db.h"

namespace slipway::store {
namespace {

using Clock = std::chrono::steady_clock;

// Polls until `done` says so over what the polls returned (notifications
// arrive asynchronously), or a generous deadline passes.
template <typename Done>
bool PollUntil(ReplicaCoordination& replica, std::set<std::string>& heard, Done done) {
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    ReplicaCoordination::PollResult result = replica.Poll();
    for (const StoreChange& change : result.changes) heard.insert(change.kind + ":" + change.name);
    if (done(result)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

serving::DeploymentSpec Spec(const std::string& name) {
  serving::DeploymentSpec spec;
  spec.name = name;
  spec.model_uri = "models:/m@production";
  return spec;
}

TEST(ReplicaCoordination, ASingleProcessAlwaysLeadsAndHearsNothing) {
  std::unique_ptr<ReplicaCoordination> one = OpenReplicaCoordination("sqlite:///unused.db");
  EXPECT_FALSE(one->Shared());
  ReplicaCoordination::PollResult result = one->Poll();
  EXPECT_TRUE(result.leader);
  EXPECT_FALSE(result.missed);
  EXPECT_TRUE(result.changes.empty());
}

TEST(ReplicaCoordination, ReplicasHearCommittedChangesAndOneLeadsAtATime) {
  SLIPWAY_POSTGRES_DATABASE_OR_SKIP(uri);
  std::unique_ptr<MetadataStores> stores = OpenMetadataStore(uri);  // the schema, triggers
  std::unique_ptr<ReplicaCoordination> a = OpenReplicaCoordination(uri);
  std::unique_ptr<ReplicaCoordination> b = OpenReplicaCoordination(uri);
  ASSERT_TRUE(a->Shared());

  // The first poll opens the session: everything before it may be missed.
  ReplicaCoordination::PollResult first_a = a->Poll();
  ReplicaCoordination::PollResult first_b = b->Poll();
  EXPECT_TRUE(first_a.missed);
  EXPECT_TRUE(first_b.missed);
  EXPECT_NE(first_a.leader, first_b.leader) << "exactly one of two replicas leads";
  EXPECT_FALSE(a->Poll().missed);

  // A transaction that rolls back announces nothing; one that commits does,
  // to both, named by kind and name.
  {
    postgres::PgConnection connection(uri, 5);
    connection.ExecScript(
        "BEGIN; INSERT INTO deployments (name, spec, creation_time, last_updated_time) "
        "VALUES ('rolled-back', '{}', 0, 0); ROLLBACK");
  }
  stores->deployments->Create(Spec("churn"));
  std::set<std::string> heard_a, heard_b;
  auto heard_churn = [](const std::set<std::string>& heard) {
    return [&heard](const ReplicaCoordination::PollResult&) {
      return heard.count("deployment:churn") > 0;
    };
  };
  ASSERT_TRUE(PollUntil(*a, heard_a, heard_churn(heard_a)));
  ASSERT_TRUE(PollUntil(*b, heard_b, heard_churn(heard_b)));
  EXPECT_EQ(heard_a, std::set<std::string>{"deployment:churn"});
  EXPECT_EQ(heard_b, std::set<std::string>{"deployment:churn"});

  // The registry's changes name the registered model.
  registry::RegisteredModel model;
  model.name = "fraud";
  stores->registry->CreateRegisteredModel(model);
  heard_a.clear();
  ASSERT_TRUE(PollUntil(*a, heard_a, [&](const ReplicaCoordination::PollResult&) {
    return heard_a.count("model:fraud") > 0;
  }));

  // The leader goes (its session ends): the other takes over.
  std::unique_ptr<ReplicaCoordination>& leader = first_a.leader ? a : b;
  std::unique_ptr<ReplicaCoordination>& follower = first_a.leader ? b : a;
  EXPECT_FALSE(follower->Poll().leader);
  leader.reset();
  std::set<std::string> ignored;
  EXPECT_TRUE(PollUntil(*follower, ignored,
                        [](const ReplicaCoordination::PollResult& r) { return r.leader; }));
}

}  // namespace
}  // namespace slipway::store
