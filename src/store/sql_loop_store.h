// The closed loop's policies and runs, on either engine (store/sql_engine.h):
// a row per policy and per run, each as JSON text beside the columns the
// loop looks them up by (a few rows a day per deployment; nothing searches
// inside them). SqliteLoopStore (sqlite_loop_store.h) and PgLoopStore
// (postgres/pg_loop_store.h) are its two instances; the definitions are in
// sql_loop_store_impl.h, compiled once per engine.
#pragma once

#include <memory>

#include "loop/loop_service.h"

namespace slipway::store {

template <class Engine>
class SqlLoopStore : public loop::LoopStore {
 public:
  explicit SqlLoopStore(std::shared_ptr<typename Engine::Db> db) : db_(std::move(db)) {}

  void PutPolicy(const loop::LoopPolicy& policy) override;
  std::optional<loop::LoopPolicy> GetPolicy(const std::string& deployment) override;
  bool DeletePolicy(const std::string& deployment) override;
  int64_t AddRun(const loop::LoopRun& run) override;
  void UpdateRun(const loop::LoopRun& run) override;
  std::optional<loop::LoopRun> GetRun(int64_t id) override;
  std::vector<loop::LoopRun> Runs(const std::string& deployment, int64_t limit) override;
  std::vector<loop::LoopRun> RunsIn(loop::LoopRunState state) override;

 private:
  std::shared_ptr<typename Engine::Db> db_;
};

}  // namespace slipway::store
