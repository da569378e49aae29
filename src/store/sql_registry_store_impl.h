// The definitions of SqlRegistryStore (sql_registry_store.h), included by
// the one file of each engine that instantiates it.
#pragma once

#include "core/clock.h"
#include "core/error.h"
#include "store/sql_registry_store.h"
#include "store/sql_search.h"
#include "store/sqlite_paging.h"

namespace slipway::store {

using registry::ModelAlias;
using registry::ModelVersion;
using registry::RegisteredModel;
using registry::Tag;
using tracking::Page;
using tracking::PageOf;

namespace sql_registry_store {

// `select` ORDER BY `column`, text compared byte by byte on every engine
// (SqlDialect::TextOrder); the loaders build each engine's text once.
template <class Engine>
std::string OrderedByText(const char* select, const char* column) {
  return select + (" ORDER BY " + Engine::Dialect().TextOrder(column));
}

// A tag of a registered model or of a version: the last write wins.
template <class Session>
void UpsertModelTag(Session& db, const std::string& name, const Tag& tag) {
  db.Prepare(
        "INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) "
        "ON CONFLICT (name, key) DO UPDATE SET value = excluded.value")
      .Bind(1, name)
      .Bind(2, tag.key)
      .Bind(3, tag.value)
      .Run();
}

template <class Session>
void UpsertVersionTag(Session& db, const std::string& name, int64_t version, const Tag& tag) {
  db.Prepare(
        "INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value")
      .Bind(1, name)
      .Bind(2, version)
      .Bind(3, tag.key)
      .Bind(4, tag.value)
      .Run();
}

[[noreturn]] inline void ThrowModelExists(const std::string& name) {
  throw Error(ErrorCode::kResourceAlreadyExists,
              "Registered Model (name=" + name + ") already exists.");
}

inline std::string VersionNotFound(const std::string& name, int64_t version) {
  return "Model Version (name=" + name + ", version=" + std::to_string(version) + ") not found";
}

template <class Session>
void RequireModel(Session& db, const std::string& name) {
  auto row = db.Prepare("SELECT 1 FROM registered_models WHERE name = ?");
  row.Bind(1, name);
  if (!row.Step()) ThrowNotFound("Registered Model with name=" + name + " not found");
}

template <class Session>
void RequireVersion(Session& db, const std::string& name, int64_t version) {
  auto row = db.Prepare(
      "SELECT 1 FROM model_versions WHERE name = ? AND version = ? "
      "AND current_stage != 'Deleted_Internal'");
  row.Bind(1, name).Bind(2, version);
  if (!row.Step()) ThrowNotFound(VersionNotFound(name, version));
}

template <class Session>
void TouchModel(Session& db, const std::string& name, int64_t now) {
  db.Prepare("UPDATE registered_models SET last_updated_timestamp = ? WHERE name = ?")
      .Bind(1, now)
      .Bind(2, name)
      .Run();
}

template <class Engine>
std::optional<ModelVersion> LoadVersion(typename Engine::Session& db, const std::string& name,
                                        int64_t version) {
  static const std::string tags_sql = OrderedByText<Engine>(
      "SELECT key, value FROM model_version_tags WHERE name = ? AND version = ?", "key");
  static const std::string aliases_sql = OrderedByText<Engine>(
      "SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ?", "alias");
  auto row = db.Prepare(
      "SELECT creation_timestamp, last_updated_timestamp, user_id, current_stage, description, "
      "source, run_id, run_link, status, status_message, model_id FROM model_versions "
      "WHERE name = ? AND version = ? AND current_stage != 'Deleted_Internal'");
  row.Bind(1, name).Bind(2, version);
  if (!row.Step()) return std::nullopt;
  ModelVersion out;
  out.name = name;
  out.version = version;
  out.creation_timestamp = row.Int(0);
  out.last_updated_timestamp = row.Int(1);
  out.user_id = row.Text(2);
  out.current_stage = row.Text(3);
  out.description = row.Text(4);
  out.source = row.Text(5);
  out.run_id = row.Text(6);
  out.run_link = row.Text(7);
  out.status = row.Text(8);
  out.status_message = row.Text(9);
  out.model_id = row.Text(10);
  auto tags = db.Prepare(tags_sql);
  tags.Bind(1, name).Bind(2, version);
  while (tags.Step()) out.tags.push_back({tags.Text(0), tags.Text(1)});
  auto aliases = db.Prepare(aliases_sql);
  aliases.Bind(1, name).Bind(2, version);
  while (aliases.Step()) out.aliases.push_back(aliases.Text(0));
  return out;
}

template <class Engine>
std::optional<RegisteredModel> LoadModel(typename Engine::Session& db, const std::string& name) {
  static const std::string tags_sql =
      OrderedByText<Engine>("SELECT key, value FROM registered_model_tags WHERE name = ?", "key");
  static const std::string aliases_sql = OrderedByText<Engine>(
      "SELECT alias, version FROM registered_model_aliases WHERE name = ?", "alias");
  auto row = db.Prepare(
      "SELECT creation_timestamp, last_updated_timestamp, description, user_id "
      "FROM registered_models WHERE name = ?");
  row.Bind(1, name);
  if (!row.Step()) return std::nullopt;
  RegisteredModel out;
  out.name = name;
  out.creation_timestamp = row.Int(0);
  out.last_updated_timestamp = row.Int(1);
  out.description = row.Text(2);
  out.user_id = row.Text(3);
  auto tags = db.Prepare(tags_sql);
  tags.Bind(1, name);
  while (tags.Step()) out.tags.push_back({tags.Text(0), tags.Text(1)});
  auto aliases = db.Prepare(aliases_sql);
  aliases.Bind(1, name);
  while (aliases.Step()) out.aliases.push_back({aliases.Text(0), aliases.Int(1)});
  // The newest version of each stage, as MLflow's latest_versions.
  auto latest = db.Prepare(
      "SELECT MAX(version) FROM model_versions WHERE name = ? "
      "AND current_stage != 'Deleted_Internal' GROUP BY current_stage ORDER BY MAX(version)");
  latest.Bind(1, name);
  std::vector<int64_t> versions;
  while (latest.Step()) versions.push_back(latest.Int(0));
  for (int64_t version : versions) {
    if (auto loaded = LoadVersion<Engine>(db, name, version)) {
      out.latest_versions.push_back(std::move(*loaded));
    }
  }
  return out;
}

}  // namespace sql_registry_store

template <class Engine>
void SqlRegistryStore<Engine>::CreateRegisteredModel(const RegisteredModel& model) {
  try {
    Engine::Write(*db_, [&](typename Engine::Session& db) {
      auto existing = db.Prepare("SELECT 1 FROM registered_models WHERE name = ?");
      existing.Bind(1, model.name);
      if (existing.Step()) {
        sql_registry_store::ThrowModelExists(model.name);
      }
      int64_t now = NowMillis();
      db.Prepare(
            "INSERT INTO registered_models (name, creation_timestamp, last_updated_timestamp, "
            "description, user_id) VALUES (?, ?, ?, ?, ?)")
          .Bind(1, model.name)
          .Bind(2, now)
          .Bind(3, now)
          .Bind(4, model.description)
          .Bind(5, model.user_id)
          .Run();
      for (const Tag& tag : model.tags) {
        sql_registry_store::UpsertModelTag(db, model.name, tag);
      }
    });
  } catch (const std::exception& e) {
    // Two creates of one name at once on an engine with concurrent writers:
    // the second meets the first's row.
    if (!Engine::IsUniqueViolation(e)) throw;
    sql_registry_store::ThrowModelExists(model.name);
  }
}

template <class Engine>
std::optional<RegisteredModel> SqlRegistryStore<Engine>::GetRegisteredModel(
    const std::string& name) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    return sql_registry_store::LoadModel<Engine>(db, name);
  });
}

template <class Engine>
void SqlRegistryStore<Engine>::RenameRegisteredModel(const std::string& name,
                                                     const std::string& new_name) {
  try {
    Engine::Write(*db_, [&](typename Engine::Session& db) {
      sql_registry_store::RequireModel(db, name);
      auto clash = db.Prepare("SELECT 1 FROM registered_models WHERE name = ?");
      clash.Bind(1, new_name);
      if (clash.Step()) {
        sql_registry_store::ThrowModelExists(new_name);
      }
      for (const char* table : {"registered_models", "registered_model_tags", "model_versions",
                                "model_version_tags", "registered_model_aliases"}) {
        db.Prepare(std::string("UPDATE ") + table + " SET name = ? WHERE name = ?")
            .Bind(1, new_name)
            .Bind(2, name)
            .Run();
      }
      sql_registry_store::TouchModel(db, new_name, NowMillis());
    });
  } catch (const std::exception& e) {
    if (!Engine::IsUniqueViolation(e)) throw;
    sql_registry_store::ThrowModelExists(new_name);
  }
}

template <class Engine>
void SqlRegistryStore<Engine>::UpdateRegisteredModel(const std::string& name,
                                                     const std::string& description) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_registry_store::RequireModel(db, name);
    db.Prepare(
          "UPDATE registered_models SET description = ?, last_updated_timestamp = ? "
          "WHERE name = ?")
        .Bind(1, description)
        .Bind(2, NowMillis())
        .Bind(3, name)
        .Run();
  });
}

template <class Engine>
void SqlRegistryStore<Engine>::DeleteRegisteredModel(const std::string& name) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_registry_store::RequireModel(db, name);
    for (const char* table : {"registered_model_aliases", "model_version_tags", "model_versions",
                              "registered_model_tags", "registered_models"}) {
      db.Prepare(std::string("DELETE FROM ") + table + " WHERE name = ?").Bind(1, name).Run();
    }
  });
}

template <class Engine>
PageOf<RegisteredModel> SqlRegistryStore<Engine>::SearchRegisteredModels(
    const tracking::Filter& filter, const std::vector<tracking::OrderTerm>& order_by, Page page,
    const Visibility& visible) {
  SqlQuery query = BuildRegisteredModelSearch(Engine::Dialect(), filter, order_by, page.offset,
                                              page.limit + 1, visible);
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    return LoadPage<RegisteredModel>(
        db, query, page, [](const typename Engine::Row& row) { return row.Text(0); },
        sql_registry_store::LoadModel<Engine>);
  });
}

template <class Engine>
void SqlRegistryStore<Engine>::SetRegisteredModelTag(const std::string& name, const Tag& tag) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_registry_store::RequireModel(db, name);
    sql_registry_store::UpsertModelTag(db, name, tag);
    sql_registry_store::TouchModel(db, name, NowMillis());
  });
}

template <class Engine>
void SqlRegistryStore<Engine>::DeleteRegisteredModelTag(const std::string& name,
                                                        const std::string& key) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_registry_store::RequireModel(db, name);
    db.Prepare("DELETE FROM registered_model_tags WHERE name = ? AND key = ?")
        .Bind(1, name)
        .Bind(2, key)
        .Run();
    if (db.Changes() == 0) {
      ThrowNotFound("No tag with name: " + key + " in registered model " + name);
    }
  });
}

template <class Engine>
ModelVersion SqlRegistryStore<Engine>::CreateModelVersion(const ModelVersion& version) {
  int64_t number = 0;
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_registry_store::RequireModel(db, version.name);
    auto next =
        db.Prepare("SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = ?");
    next.Bind(1, version.name);
    next.Step();
    number = next.Int(0);
    int64_t now = NowMillis();
    db.Prepare(
          "INSERT INTO model_versions (name, version, creation_timestamp, last_updated_timestamp, "
          "user_id, current_stage, description, source, run_id, run_link, status, "
          "status_message, model_id) VALUES (?, ?, ?, ?, ?, 'None', ?, ?, ?, ?, 'READY', '', ?)")
        .Bind(1, version.name)
        .Bind(2, number)
        .Bind(3, now)
        .Bind(4, now)
        .Bind(5, version.user_id)
        .Bind(6, version.description)
        .Bind(7, version.source)
        .Bind(8, version.run_id)
        .Bind(9, version.run_link)
        .Bind(10, version.model_id)
        .Run();
    for (const Tag& tag : version.tags) {
      sql_registry_store::UpsertVersionTag(db, version.name, number, tag);
    }
    sql_registry_store::TouchModel(db, version.name, now);
  });
  return *GetModelVersion(version.name, number);
}

template <class Engine>
std::optional<ModelVersion> SqlRegistryStore<Engine>::GetModelVersion(const std::string& name,
                                                                      int64_t version) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    return sql_registry_store::LoadVersion<Engine>(db, name, version);
  });
}

template <class Engine>
void SqlRegistryStore<Engine>::UpdateModelVersion(const std::string& name, int64_t version,
                                                  const std::string& description) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_registry_store::RequireVersion(db, name, version);
    db.Prepare(
          "UPDATE model_versions SET description = ?, last_updated_timestamp = ? "
          "WHERE name = ? AND version = ?")
        .Bind(1, description)
        .Bind(2, NowMillis())
        .Bind(3, name)
        .Bind(4, version)
        .Run();
  });
}

template <class Engine>
void SqlRegistryStore<Engine>::TransitionModelVersionStage(const std::string& name, int64_t version,
                                                           const std::string& stage,
                                                           bool archive_existing) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_registry_store::RequireVersion(db, name, version);
    int64_t now = NowMillis();
    if (archive_existing &&
        (stage == registry::kStageStaging || stage == registry::kStageProduction)) {
      db.Prepare(
            "UPDATE model_versions SET current_stage = 'Archived', last_updated_timestamp = ? "
            "WHERE name = ? AND version != ? AND current_stage = ?")
          .Bind(1, now)
          .Bind(2, name)
          .Bind(3, version)
          .Bind(4, stage)
          .Run();
    }
    db.Prepare(
          "UPDATE model_versions SET current_stage = ?, last_updated_timestamp = ? "
          "WHERE name = ? AND version = ?")
        .Bind(1, stage)
        .Bind(2, now)
        .Bind(3, name)
        .Bind(4, version)
        .Run();
    sql_registry_store::TouchModel(db, name, now);
  });
}

template <class Engine>
void SqlRegistryStore<Engine>::DeleteModelVersion(const std::string& name, int64_t version) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_registry_store::RequireVersion(db, name, version);
    int64_t now = NowMillis();
    db.Prepare(
          "UPDATE model_versions SET current_stage = 'Deleted_Internal', description = '', "
          "source = 'REDACTED-SOURCE-PATH', run_id = '', run_link = '', status_message = '', "
          "last_updated_timestamp = ? WHERE name = ? AND version = ?")
        .Bind(1, now)
        .Bind(2, name)
        .Bind(3, version)
        .Run();
    db.Prepare("DELETE FROM model_version_tags WHERE name = ? AND version = ?")
        .Bind(1, name)
        .Bind(2, version)
        .Run();
    db.Prepare("DELETE FROM registered_model_aliases WHERE name = ? AND version = ?")
        .Bind(1, name)
        .Bind(2, version)
        .Run();
    sql_registry_store::TouchModel(db, name, now);
  });
}

template <class Engine>
PageOf<ModelVersion> SqlRegistryStore<Engine>::SearchModelVersions(
    const tracking::Filter& filter, const std::vector<tracking::OrderTerm>& order_by, Page page,
    const Visibility& visible) {
  SqlQuery query = BuildModelVersionSearch(Engine::Dialect(), filter, order_by, page.offset,
                                           page.limit + 1, visible);
  return Engine::Read(*db_, [&](typename Engine::Session& db) {
    return LoadPage<ModelVersion>(
        db, query, page,
        [](const typename Engine::Row& row) { return std::make_pair(row.Text(0), row.Int(1)); },
        [](typename Engine::Session& db, const std::pair<std::string, int64_t>& key) {
          return sql_registry_store::LoadVersion<Engine>(db, key.first, key.second);
        });
  });
}

template <class Engine>
void SqlRegistryStore<Engine>::SetModelVersionTag(const std::string& name, int64_t version,
                                                  const Tag& tag) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_registry_store::RequireVersion(db, name, version);
    sql_registry_store::UpsertVersionTag(db, name, version, tag);
  });
}

template <class Engine>
void SqlRegistryStore<Engine>::DeleteModelVersionTag(const std::string& name, int64_t version,
                                                     const std::string& key) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_registry_store::RequireVersion(db, name, version);
    db.Prepare("DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?")
        .Bind(1, name)
        .Bind(2, version)
        .Bind(3, key)
        .Run();
    if (db.Changes() == 0) {
      ThrowNotFound("No tag with name: " + key + " in model version (name=" + name +
                    ", version=" + std::to_string(version) + ")");
    }
  });
}

template <class Engine>
void SqlRegistryStore<Engine>::SetAlias(const std::string& name, const std::string& alias,
                                        int64_t version) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_registry_store::RequireVersion(db, name, version);
    db.Prepare(
          "INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?) "
          "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version")
        .Bind(1, name)
        .Bind(2, alias)
        .Bind(3, version)
        .Run();
    sql_registry_store::TouchModel(db, name, NowMillis());
  });
}

template <class Engine>
void SqlRegistryStore<Engine>::DeleteAlias(const std::string& name, const std::string& alias) {
  Engine::Write(*db_, [&](typename Engine::Session& db) {
    sql_registry_store::RequireModel(db, name);
    db.Prepare("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?")
        .Bind(1, name)
        .Bind(2, alias)
        .Run();
  });
}

template <class Engine>
std::optional<int64_t> SqlRegistryStore<Engine>::ResolveAlias(const std::string& name,
                                                              const std::string& alias) {
  return Engine::Read(*db_, [&](typename Engine::Session& db) -> std::optional<int64_t> {
    auto row =
        db.Prepare("SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?");
    row.Bind(1, name).Bind(2, alias);
    if (!row.Step()) return std::nullopt;
    return row.Int(0);
  });
}

}  // namespace slipway::store
