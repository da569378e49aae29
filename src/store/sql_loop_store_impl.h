// The definitions of SqlLoopStore (sql_loop_store.h), included by the one
// file of each engine that instantiates it.
#pragma once

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "store/sql_loop_store.h"

namespace slipway::store {

using loop::LoopPolicy;
using loop::LoopRun;
using loop::LoopRunState;
using nlohmann::json;

namespace sql_loop_store {

inline std::string PolicyJson(const LoopPolicy& p) {
  return json{{"triggers", p.triggers},
              {"spec", p.spec},
              {"spec_name", p.spec_name},
              {"data", p.data},
              {"promote", p.promote},
              {"manual_approval", p.manual_approval},
              {"cooldown_seconds", p.cooldown_seconds},
              {"max_per_day", p.max_per_day},
              {"min_rows", p.min_rows},
              {"owner", p.owner},
              {"owner_id", p.owner_id},
              {"owner_is_admin", p.owner_is_admin}}
      .dump();
}

template <class Row>
LoopPolicy PolicyOf(const Row& row) {
  LoopPolicy p;
  p.deployment = row.Text(0);
  const json j = json::parse(row.Text(1));
  p.triggers = j.value("triggers", std::vector<std::string>{});
  p.spec = j.value("spec", "");
  p.spec_name = j.value("spec_name", "");
  p.data = j.value("data", "");
  p.promote = j.value("promote", "");
  p.manual_approval = j.value("manual_approval", false);
  p.cooldown_seconds = j.value("cooldown_seconds", int64_t{3600});
  p.max_per_day = j.value("max_per_day", int64_t{3});
  p.min_rows = j.value("min_rows", int64_t{100});
  p.owner = j.value("owner", "");
  p.owner_id = j.value("owner_id", int64_t{0});
  p.owner_is_admin = j.value("owner_is_admin", false);
  p.created_ms = row.Int(2);
  p.updated_ms = row.Int(3);
  return p;
}

inline std::string RunJson(const LoopRun& r) {
  return json{
      {"trigger", r.trigger}, {"cause", r.cause},           {"requested_by", r.requested_by},
      {"reason", r.reason},   {"started_ms", r.started_ms}, {"finished_ms", r.finished_ms},
      {"data", r.data},       {"run_id", r.run_id},         {"model", r.model},
      {"version", r.version}, {"alias", r.alias},           {"decided_by", r.decided_by},
      {"window", r.window},   {"windows", r.windows}}
      .dump();
}

template <class Row>
LoopRun RunOf(const Row& row) {
  LoopRun r;
  r.id = row.Int(0);
  r.deployment = row.Text(1);
  r.state = loop::ParseLoopRunState(row.Text(2));
  r.created_ms = row.Int(3);
  const json j = json::parse(row.Text(4));
  r.trigger = j.value("trigger", "");
  r.cause = j.value("cause", "");
  r.requested_by = j.value("requested_by", "");
  r.reason = j.value("reason", "");
  r.started_ms = j.value("started_ms", int64_t{0});
  r.finished_ms = j.value("finished_ms", int64_t{0});
  r.data = j.value("data", "");
  r.run_id = j.value("run_id", "");
  r.model = j.value("model", "");
  r.version = j.value("version", "");
  r.alias = j.value("alias", "");
  r.decided_by = j.value("decided_by", "");
  r.window = j.value("window", "");
  r.windows = j.value("windows", "");
  return r;
}

constexpr const char* kSelectPolicy =
    "SELECT deployment, policy, creation_time, last_updated_time FROM loop_policies";
constexpr const char* kSelectRun =
    "SELECT id, deployment, state, creation_time, run FROM loop_runs";

}  // namespace sql_loop_store

template <class Engine>
void SqlLoopStore<Engine>::PutPolicy(const LoopPolicy& policy) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    db.Prepare(
          "INSERT INTO loop_policies (deployment, policy, creation_time, last_updated_time) "
          "VALUES (?, ?, ?, ?) ON CONFLICT (deployment) DO UPDATE SET policy = excluded.policy, "
          "last_updated_time = excluded.last_updated_time")
        .Bind(1, policy.deployment)
        .Bind(2, sql_loop_store::PolicyJson(policy))
        .Bind(3, policy.created_ms)
        .Bind(4, policy.updated_ms)
        .Run();
  });
}

template <class Engine>
std::optional<LoopPolicy> SqlLoopStore<Engine>::GetPolicy(const std::string& deployment) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) -> std::optional<LoopPolicy> {
    typename Engine::Row row =
        db.Prepare(std::string(sql_loop_store::kSelectPolicy) + " WHERE deployment = ?");
    row.Bind(1, deployment);
    if (!row.Step()) return std::nullopt;
    return sql_loop_store::PolicyOf(row);
  });
}

template <class Engine>
bool SqlLoopStore<Engine>::DeletePolicy(const std::string& deployment) {
  bool deleted = false;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    db.Prepare("DELETE FROM loop_policies WHERE deployment = ?").Bind(1, deployment).Run();
    deleted = db.Changes() > 0;
  });
  return deleted;
}

template <class Engine>
int64_t SqlLoopStore<Engine>::AddRun(const LoopRun& run) {
  int64_t id = 0;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    typename Engine::Row insert = db.Prepare(
        "INSERT INTO loop_runs (deployment, state, creation_time, run) VALUES (?, ?, ?, ?) "
        "RETURNING id");
    insert.Bind(1, run.deployment)
        .Bind(2, loop::LoopRunStateName(run.state))
        .Bind(3, run.created_ms)
        .Bind(4, sql_loop_store::RunJson(run));
    insert.Step();
    id = insert.Int(0);
  });
  return id;
}

template <class Engine>
void SqlLoopStore<Engine>::UpdateRun(const LoopRun& run) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    db.Prepare("UPDATE loop_runs SET state = ?, run = ? WHERE id = ?")
        .Bind(1, loop::LoopRunStateName(run.state))
        .Bind(2, sql_loop_store::RunJson(run))
        .Bind(3, run.id)
        .Run();
    if (db.Changes() == 0)
      throw Error(ErrorCode::kResourceDoesNotExist, "no loop run " + std::to_string(run.id));
  });
}

template <class Engine>
std::optional<LoopRun> SqlLoopStore<Engine>::GetRun(int64_t id) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) -> std::optional<LoopRun> {
    typename Engine::Row row =
        db.Prepare(std::string(sql_loop_store::kSelectRun) + " WHERE id = ?");
    row.Bind(1, id);
    if (!row.Step()) return std::nullopt;
    return sql_loop_store::RunOf(row);
  });
}

template <class Engine>
std::vector<LoopRun> SqlLoopStore<Engine>::Runs(const std::string& deployment, int64_t limit) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    typename Engine::Row row = db.Prepare(std::string(sql_loop_store::kSelectRun) +
                                          " WHERE deployment = ? ORDER BY id DESC LIMIT ?");
    row.Bind(1, deployment).Bind(2, limit);
    std::vector<LoopRun> runs;
    while (row.Step()) runs.push_back(sql_loop_store::RunOf(row));
    return runs;
  });
}

template <class Engine>
std::vector<LoopRun> SqlLoopStore<Engine>::RunsIn(LoopRunState state) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    typename Engine::Row row =
        db.Prepare(std::string(sql_loop_store::kSelectRun) + " WHERE state = ? ORDER BY id");
    row.Bind(1, loop::LoopRunStateName(state));
    std::vector<LoopRun> runs;
    while (row.Step()) runs.push_back(sql_loop_store::RunOf(row));
    return runs;
  });
}

}  // namespace slipway::store
