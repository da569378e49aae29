// What several servers on one metadata store use to act as one service.
//
// Replicas share the metadata store (PostgreSQL) and nothing else: each
// keeps its own in-memory view of what it serves, its own metrics and its
// own background executor. Two things keep them one service:
//
//   changes     every replica hears, within a poll interval, of the changes
//               any replica committed to what it keeps a view of (the
//               registry's models, versions and aliases; deployments; alert
//               rules; loop runs), named "KIND:NAME" (see migration 17 in
//               sqlite_schema.cc). A replica that may have missed some (its
//               session to the store was lost) is told so, and re-reads
//               everything.
//   leadership  background work that must happen once (alert evaluation
//               and delivery, the monitors' fold, the loop's retrains) runs
//               on one replica, the leader, at a time; when the leader dies
//               another takes over.
//
// On PostgreSQL both ride on one session per replica: LISTEN on the channel
// the triggers NOTIFY (delivered in commit order, only for commits), and a
// session-level advisory lock held by the leader, which PostgreSQL releases
// when that session ends (a killed replica's connection closes; a replica
// whose session is lost stops leading at its next poll). On SQLite there is
// one process: nothing is ever announced (the in-process RegistryEvents do
// that job) and the process always leads.
//
// Poll() does the work and never blocks on other replicas; the owner calls
// it periodically from one thread at a time (a scheduler task).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace slipway::store {

struct StoreChange {
  std::string kind;  // "model", "deployment", "alerts", "loop"
  std::string name;  // the registered model's or the deployment's name
};

class ReplicaCoordination {
 public:
  struct PollResult {
    std::vector<StoreChange> changes;  // in commit order, duplicates removed
    // Changes may have been missed (the first poll, a session lost and
    // opened again): the caller re-reads everything it keeps a view of.
    bool missed = false;
    bool leader = false;  // whether this process leads, as of this poll
  };

  virtual ~ReplicaCoordination() = default;
  // Whether other processes may share the store (PostgreSQL).
  virtual bool Shared() const = 0;
  virtual PollResult Poll() = 0;
  // For logs: which session this replica holds, or why none.
  virtual std::string Describe() const = 0;
};

// A ReplicaCoordination for the metadata store `uri`: PostgreSQL's
// (connects at the first Poll, not here), or the single process's for
// SQLite.
std::unique_ptr<ReplicaCoordination> OpenReplicaCoordination(const std::string& uri);

}  // namespace slipway::store
