// ReplicaCoordination on PostgreSQL: one session per replica that LISTENs on
// `slipway_changes` (what migration 17's triggers NOTIFY) and, on the
// replica that leads, holds the session-level advisory lock kLeaderLock.
//
// Poll() (one thread at a time) connects when it has no session, reads what
// arrived without waiting (PQconsumeInput, PQnotifies), and makes one round
// trip: pg_try_advisory_lock while it does not lead, SELECT 1 while it does,
// so a session that died is noticed at the next poll and the replica stops
// leading then. PostgreSQL releases the lock when the session ends, which is
// how another replica takes over from a killed one: at its next poll after
// the leader's connection closed. A new session reports `missed` (what was
// committed between the two sessions was not heard). describe() never shows
// a password.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <string>

#include "store/replica_coordination.h"

namespace slipway::store::postgres {

class PgReplicaCoordination : public ReplicaCoordination {
 public:
  // The advisory lock of the leader (its key is in no other use).
  static constexpr int64_t kLeaderLock = 0x736c6970'6c656164;  // "sliplead"

  explicit PgReplicaCoordination(std::string uri);
  ~PgReplicaCoordination() override;

  bool Shared() const override { return true; }
  PollResult Poll() override;
  std::string Describe() const override;

 private:
  // Opens a session and LISTENs; false (and logged once per outage) when
  // the server cannot be reached.
  bool Connect();
  void Disconnect();
  // One statement without parameters; its single value, or nullopt when
  // the session failed (then disconnected).
  bool QueryBool(const char* sql, bool& value);

  std::string uri_;
  std::string description_;
  PGconn* conn_ = nullptr;
  bool leader_ = false;
  bool outage_logged_ = false;
};

}  // namespace slipway::store::postgres
