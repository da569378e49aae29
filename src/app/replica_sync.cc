#include "app/replica_sync.h"

#include <spdlog/spdlog.h>

#include "core/clock.h"

namespace slipway::app {

ReplicaSync::ReplicaSync(std::unique_ptr<store::ReplicaCoordination> coordination,
                         Services services)
    : coordination_(std::move(coordination)), services_(services) {
  if (services_.metrics) {
    leader_gauge_ = &services_.metrics->GetGauge(
        "slipway_replica_leader",
        "1 while this server leads the background work that must happen once (alerts, the "
        "monitors' fold, the loop's retrains) among the servers sharing its metadata store.",
        {});
    leader_gauge_->Set(1);
  }
}

void ReplicaSync::StartFollowing() {
  std::lock_guard lock(mu_);
  leading_.store(false, std::memory_order_release);
  if (leader_gauge_) leader_gauge_->Set(0);
  services_.alerts->Lead(false);
}

void ReplicaSync::SetLeading(bool leading) {
  if (leading == leading_.load(std::memory_order_acquire)) return;
  if (leading) {
    // As at a start: the firing alerts and the queued runs from the store;
    // runs a dead leader left running are marked failed.
    services_.alerts->Lead(true);
    services_.loops->Start();
  } else {
    services_.loops->Stop();
    services_.alerts->Lead(false);
  }
  leading_.store(leading, std::memory_order_release);
  if (leader_gauge_) leader_gauge_->Set(leading ? 1 : 0);
}

void ReplicaSync::Poll() {
  std::lock_guard lock(mu_);
  store::ReplicaCoordination::PollResult result = coordination_->Poll();
  SetLeading(result.leader);
  if (result.missed) {
    try {
      services_.serving->FollowStore("the store was re-read after a gap in its notifications");
      services_.alerts->ReloadRules(NowMillis());
      if (leading()) services_.loops->RunQueued();
    } catch (const std::exception& e) {
      spdlog::warn("replicas: re-reading the store failed: {}", e.what());
    }
    return;
  }
  bool alerts = false, loops = false;
  for (const store::StoreChange& change : result.changes) {
    try {
      if (change.kind == "model") {
        services_.serving->FollowModelChange(change.name);
      } else if (change.kind == "deployment") {
        services_.serving->FollowStoredDeployment(change.name);
      } else if (change.kind == "alerts") {
        alerts = true;
      } else if (change.kind == "loop") {
        loops = true;
      }
    } catch (const std::exception& e) {
      spdlog::warn("replicas: following the change of {} {} failed: {}", change.kind, change.name,
                   e.what());
    }
  }
  try {
    if (alerts) services_.alerts->ReloadRules(NowMillis());
    if (loops && leading()) services_.loops->RunQueued();
  } catch (const std::exception& e) {
    spdlog::warn("replicas: following a change failed: {}", e.what());
  }
}

void ReplicaSync::Resync(const std::string& why) {
  std::lock_guard lock(mu_);
  services_.serving->FollowStore(why);
  services_.alerts->ReloadRules(NowMillis());
  if (leading()) services_.loops->RunQueued();
}

void ReplicaSync::Stop() {
  std::lock_guard lock(mu_);
  if (coordination_->Shared()) SetLeading(false);
}

}  // namespace slipway::app
