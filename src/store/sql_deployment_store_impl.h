// The definitions of SqlDeploymentStore (sql_deployment_store.h), included by the one file of each
// engine that instantiates it.
#pragma once

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "store/sql_deployment_store.h"

namespace slipway::store {

using serving::DeploymentSpec;

namespace sql_deployment_store {

inline std::string ToJson(const DeploymentSpec& spec) {
  return nlohmann::json{{"model_uri", spec.model_uri},
                        {"canary_uri", spec.canary_uri},
                        {"canary_weight", spec.canary_weight},
                        {"shadow_uri", spec.shadow_uri},
                        {"pinned_version", spec.pinned_version},
                        {"previous_version", spec.previous_version},
                        {"previous_model", spec.previous_model},
                        {"max_queued", spec.max_queued},
                        {"max_batch_rows", spec.max_batch_rows},
                        {"max_queue_delay_us", spec.max_queue_delay_us},
                        {"log_sample_rate", spec.log_sample_rate},
                        {"created_by", spec.created_by}}
      .dump();
}

template <class Row>
DeploymentSpec FromRow(const Row& row) {
  DeploymentSpec spec;
  spec.name = row.Text(0);
  nlohmann::json j = nlohmann::json::parse(row.Text(1));
  spec.model_uri = j.value("model_uri", "");
  spec.canary_uri = j.value("canary_uri", "");
  spec.canary_weight = j.value("canary_weight", 0);
  spec.shadow_uri = j.value("shadow_uri", "");
  spec.pinned_version = j.value("pinned_version", "");
  spec.previous_version = j.value("previous_version", "");
  spec.previous_model = j.value("previous_model", "");
  spec.max_queued = j.value("max_queued", int64_t{256});
  spec.max_batch_rows = j.value("max_batch_rows", int64_t{0});
  spec.max_queue_delay_us = j.value("max_queue_delay_us", int64_t{0});
  spec.log_sample_rate = j.value("log_sample_rate", 1.0);
  spec.created_by = j.value("created_by", "");
  spec.creation_time = row.Int(2);
  spec.last_updated_time = row.Int(3);
  return spec;
}

constexpr const char* kSelect =
    "SELECT name, spec, creation_time, last_updated_time FROM deployments";

}  // namespace sql_deployment_store

template <class Engine>
void SqlDeploymentStore<Engine>::Create(const DeploymentSpec& spec) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    typename Engine::Row exists = db.Prepare("SELECT 1 FROM deployments WHERE name = ?");
    exists.Bind(1, spec.name);
    if (exists.Step()) {
      throw Error(ErrorCode::kResourceAlreadyExists,
                  "Deployment '" + spec.name + "' already exists.");
    }
    db.Prepare(
          "INSERT INTO deployments (name, spec, creation_time, last_updated_time) "
          "VALUES (?, ?, ?, ?)")
        .Bind(1, spec.name)
        .Bind(2, sql_deployment_store::ToJson(spec))
        .Bind(3, spec.creation_time)
        .Bind(4, spec.last_updated_time)
        .Run();
  });
}

template <class Engine>
std::optional<DeploymentSpec> SqlDeploymentStore<Engine>::Get(const std::string& name) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) -> std::optional<DeploymentSpec> {
    typename Engine::Row row =
        db.Prepare(std::string(sql_deployment_store::kSelect) + " WHERE name = ?");
    row.Bind(1, name);
    if (!row.Step()) return std::nullopt;
    return sql_deployment_store::FromRow(row);
  });
}

template <class Engine>
std::vector<DeploymentSpec> SqlDeploymentStore<Engine>::List() {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    std::vector<DeploymentSpec> specs;
    typename Engine::Row row =
        db.Prepare(std::string(sql_deployment_store::kSelect) + " ORDER BY name");
    while (row.Step()) specs.push_back(sql_deployment_store::FromRow(row));
    return specs;
  });
}

template <class Engine>
void SqlDeploymentStore<Engine>::Update(const DeploymentSpec& spec) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    typename Engine::Row exists = db.Prepare("SELECT 1 FROM deployments WHERE name = ?");
    exists.Bind(1, spec.name);
    if (!exists.Step()) ThrowNotFound("Deployment '" + spec.name + "' does not exist.");
    db.Prepare("UPDATE deployments SET spec = ?, last_updated_time = ? WHERE name = ?")
        .Bind(1, sql_deployment_store::ToJson(spec))
        .Bind(2, spec.last_updated_time)
        .Bind(3, spec.name)
        .Run();
  });
}

template <class Engine>
bool SqlDeploymentStore<Engine>::Delete(const std::string& name) {
  bool deleted = false;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    typename Engine::Row exists = db.Prepare("SELECT 1 FROM deployments WHERE name = ?");
    exists.Bind(1, name);
    if (!exists.Step()) return;
    db.Prepare("DELETE FROM deployments WHERE name = ?").Bind(1, name).Run();
    deleted = true;
  });
  return deleted;
}

}  // namespace slipway::store
