// The closed loop's policies and runs on PostgreSQL: a row per policy and per
// run, each as JSON text beside the columns the loop looks them up by (a
// few rows a day per deployment; nothing searches inside them).
// Carried over from the SQLite store of the same name with its SQL, through
// pg_statement.h; writes are PgDb's SERIALIZABLE transactions, run again on
// a conflict.
#pragma once

#include <memory>

#include "loop/loop_service.h"
#include "store/postgres/pg_db.h"

namespace slipway::store::postgres {

class PgLoopStore : public loop::LoopStore {
 public:
  explicit PgLoopStore(std::shared_ptr<PgDb> db) : db_(std::move(db)) {}

  void PutPolicy(const loop::LoopPolicy& policy) override;
  std::optional<loop::LoopPolicy> GetPolicy(const std::string& deployment) override;
  bool DeletePolicy(const std::string& deployment) override;
  int64_t AddRun(const loop::LoopRun& run) override;
  void UpdateRun(const loop::LoopRun& run) override;
  std::optional<loop::LoopRun> GetRun(int64_t id) override;
  std::vector<loop::LoopRun> Runs(const std::string& deployment, int64_t limit) override;
  std::vector<loop::LoopRun> RunsIn(loop::LoopRunState state) override;

 private:
  std::shared_ptr<PgDb> db_;
};

}  // namespace slipway::store::postgres
