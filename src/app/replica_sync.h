// Several `slipway server` processes on one metadata store acting as one
// service (issue 16, "stateless replicas").
//
// Each replica keeps in memory what it serves (ServingService's
// deployments and the versions they follow), the alert rules it evaluates
// and the loop's worker; the store is the truth. ReplicaSync keeps this
// replica's view in step with the store and decides which replica does the
// background work that must happen once:
//
//   - Poll(), every kPollInterval on the App's scheduler: the changes any
//     replica committed (store::ReplicaCoordination: PostgreSQL's NOTIFY
//     from triggers, in commit order) go to the services that keep a view
//     of them: a registered model's change to ServingService's
//     FollowModelChange, a deployment's to FollowStoredDeployment, alert
//     rules to AlertService::ReloadRules, loop runs to LoopService::RunQueued
//     on the leader. When changes may have been missed (a session lost, the
//     first poll) it re-reads everything (Resync).
//   - Resync(), also every kResyncInterval: the safety net. Whatever a lost
//     notification hid is picked up within that interval, never later.
//   - Leadership: one replica at a time (a session-level advisory lock)
//     leads, and only the leader evaluates and delivers alerts, folds the
//     prediction log into the monitors' windows and runs the loop's
//     retrains (leading(), checked by those tasks; the loop's worker is
//     started when leadership is won and stopped when it is lost). When the
//     leader dies its lock goes with its session and another replica takes
//     over at its next poll, taking the firing alerts and queued runs from
//     the store.
//
// With SQLite (one process) nothing is shared: the process leads from the
// start, Poll is never scheduled, and the in-process RegistryEvents keep
// serving in step as they always did.
//
// Poll and Resync run on the background executor, one at a time (the
// scheduler never runs a task twice at once, and a mutex keeps the two
// apart). leading() is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "loop/loop_service.h"
#include "monitoring/alerts.h"
#include "monitoring/metric_registry.h"
#include "serving/serving_service.h"
#include "store/replica_coordination.h"

namespace slipway::app {

class ReplicaSync {
 public:
  static constexpr std::chrono::milliseconds kPollInterval{250};
  static constexpr std::chrono::milliseconds kResyncInterval{std::chrono::seconds(30)};

  struct Services {
    serving::ServingService* serving = nullptr;
    monitoring::AlertService* alerts = nullptr;
    loop::LoopService* loops = nullptr;
    monitoring::MetricRegistry* metrics = nullptr;  // may be null
  };

  ReplicaSync(std::unique_ptr<store::ReplicaCoordination> coordination, Services services);

  // Whether other servers may share the store; when not, this one leads
  // and nothing needs polling.
  bool Shared() const { return coordination_->Shared(); }
  // Whether this server does the background work that must happen once.
  bool leading() const { return leading_.load(std::memory_order_acquire); }

  // Before the first Poll of a server whose store is shared: nobody leads
  // until a poll says so.
  void StartFollowing();
  void Poll();
  void Resync(const std::string& why);
  // Gives up what leading started (the loop's worker); the session goes
  // with this object. Before the services stop.
  void Stop();

 private:
  void SetLeading(bool leading);

  std::unique_ptr<store::ReplicaCoordination> coordination_;
  Services services_;
  std::atomic<bool> leading_{true};
  std::mutex mu_;  // one Poll or Resync at a time; guards coordination_'s session
  monitoring::Gauge* leader_gauge_ = nullptr;
};

}  // namespace slipway::app
