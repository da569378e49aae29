// The closed loop's policies and runs in SQLite: a row per policy and per
// run, each as JSON text beside the columns the loop looks them up by (a
// few rows a day per deployment; nothing searches inside them).
#pragma once

#include <memory>

#include "loop/loop_service.h"
#include "store/sqlite_db.h"

namespace slipway::store {

class SqliteLoopStore : public loop::LoopStore {
 public:
  explicit SqliteLoopStore(std::shared_ptr<SqliteDb> db) : db_(std::move(db)) {}

  void PutPolicy(const loop::LoopPolicy& policy) override;
  std::optional<loop::LoopPolicy> GetPolicy(const std::string& deployment) override;
  bool DeletePolicy(const std::string& deployment) override;
  int64_t AddRun(const loop::LoopRun& run) override;
  void UpdateRun(const loop::LoopRun& run) override;
  std::optional<loop::LoopRun> GetRun(int64_t id) override;
  std::vector<loop::LoopRun> Runs(const std::string& deployment, int64_t limit) override;
  std::vector<loop::LoopRun> RunsIn(loop::LoopRunState state) override;

 private:
  std::shared_ptr<SqliteDb> db_;
};

}  // namespace slipway::store
