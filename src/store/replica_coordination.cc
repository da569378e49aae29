#include "store/replica_coordination.h"

#include "store/postgres/pg_db.h"
#include "store/postgres/pg_replica_coordination.h"

namespace slipway::store {
namespace {

// SQLite: one process, which always leads and hears every change through
// the in-process events.
class SingleProcess : public ReplicaCoordination {
 public:
  bool Shared() const override { return false; }
  PollResult Poll() override {
    PollResult out;
    out.leader = true;
    return out;
  }
  std::string Describe() const override { return "a single process"; }
};

}  // namespace

std::unique_ptr<ReplicaCoordination> OpenReplicaCoordination(const std::string& uri) {
  if (postgres::IsPostgresUri(uri)) return std::make_unique<postgres::PgReplicaCoordination>(uri);
  return std::make_unique<SingleProcess>();
}

}  // namespace slipway::store
