#include "store/sqlite_registry_store.h"

#include "core/clock.h"
#include "core/error.h"
#include "store/sql_search.h"
#include "store/sqlite_paging.h"

namespace slipway::store {

using registry::ModelAlias;
using registry::ModelVersion;
using registry::RegisteredModel;
using registry::Tag;
using tracking::Page;
using tracking::PageOf;

namespace {

std::string VersionNotFound(const std::string& name, int64_t version) {
  return "Model Version (name=" + name + ", version=" + std::to_string(version) + ") not found";
}

void RequireModel(Connection& db, const std::string& name) {
  Statement row = db.Prepare("SELECT 1 FROM registered_models WHERE name = ?");
  row.Bind(1, name);
  if (!row.Step()) ThrowNotFound("Registered Model with name=" + name + " not found");
}

void RequireVersion(Connection& db, const std::string& name, int64_t version) {
  Statement row = db.Prepare(
      "SELECT 1 FROM model_versions WHERE name = ? AND version = ? "
      "AND current_stage != 'Deleted_Internal'");
  row.Bind(1, name).Bind(2, version);
  if (!row.Step()) ThrowNotFound(VersionNotFound(name, version));
}

void TouchModel(Connection& db, const std::string& name, int64_t now) {
  db.Prepare("UPDATE registered_models SET last_updated_timestamp = ? WHERE name = ?")
      .Bind(1, now)
      .Bind(2, name)
      .Run();
}

std::optional<ModelVersion> LoadVersion(Connection& db, const std::string& name, int64_t version) {
  Statement row = db.Prepare(
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
  Statement tags = db.Prepare(
      "SELECT key, value FROM model_version_tags WHERE name = ? AND version = ? ORDER BY key");
  tags.Bind(1, name).Bind(2, version);
  while (tags.Step()) out.tags.push_back({tags.Text(0), tags.Text(1)});
  Statement aliases = db.Prepare(
      "SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ? ORDER BY alias");
  aliases.Bind(1, name).Bind(2, version);
  while (aliases.Step()) out.aliases.push_back(aliases.Text(0));
  return out;
}

std::optional<RegisteredModel> LoadModel(Connection& db, const std::string& name) {
  Statement row = db.Prepare(
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
  Statement tags =
      db.Prepare("SELECT key, value FROM registered_model_tags WHERE name = ? ORDER BY key");
  tags.Bind(1, name);
  while (tags.Step()) out.tags.push_back({tags.Text(0), tags.Text(1)});
  Statement aliases = db.Prepare(
      "SELECT alias, version FROM registered_model_aliases WHERE name = ? ORDER BY alias");
  aliases.Bind(1, name);
  while (aliases.Step()) out.aliases.push_back({aliases.Text(0), aliases.Int(1)});
  // The newest version of each stage, as MLflow's latest_versions.
  Statement latest = db.Prepare(
      "SELECT MAX(version) FROM model_versions WHERE name = ? "
      "AND current_stage != 'Deleted_Internal' GROUP BY current_stage ORDER BY MAX(version)");
  latest.Bind(1, name);
  std::vector<int64_t> versions;
  while (latest.Step()) versions.push_back(latest.Int(0));
  for (int64_t version : versions) {
    if (auto loaded = LoadVersion(db, name, version)) {
      out.latest_versions.push_back(std::move(*loaded));
    }
  }
  return out;
}

}  // namespace

void SqliteRegistryStore::CreateRegisteredModel(const RegisteredModel& model) {
  db_->Write([&](Connection& db) {
    Statement existing = db.Prepare("SELECT 1 FROM registered_models WHERE name = ?");
    existing.Bind(1, model.name);
    if (existing.Step()) {
      throw Error(ErrorCode::kResourceAlreadyExists,
                  "Registered Model (name=" + model.name + ") already exists.");
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
      db.Prepare("INSERT OR REPLACE INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)")
          .Bind(1, model.name)
          .Bind(2, tag.key)
          .Bind(3, tag.value)
          .Run();
    }
  });
}

std::optional<RegisteredModel> SqliteRegistryStore::GetRegisteredModel(const std::string& name) {
  return db_->Read([&](Connection& db) { return LoadModel(db, name); });
}

void SqliteRegistryStore::RenameRegisteredModel(const std::string& name,
                                                const std::string& new_name) {
  db_->Write([&](Connection& db) {
    RequireModel(db, name);
    Statement clash = db.Prepare("SELECT 1 FROM registered_models WHERE name = ?");
    clash.Bind(1, new_name);
    if (clash.Step()) {
      throw Error(ErrorCode::kResourceAlreadyExists,
                  "Registered Model (name=" + new_name + ") already exists.");
    }
    for (const char* table : {"registered_models", "registered_model_tags", "model_versions",
                              "model_version_tags", "registered_model_aliases"}) {
      db.Prepare(std::string("UPDATE ") + table + " SET name = ? WHERE name = ?")
          .Bind(1, new_name)
          .Bind(2, name)
          .Run();
    }
    TouchModel(db, new_name, NowMillis());
  });
}

void SqliteRegistryStore::UpdateRegisteredModel(const std::string& name,
                                                const std::string& description) {
  db_->Write([&](Connection& db) {
    RequireModel(db, name);
    db.Prepare(
          "UPDATE registered_models SET description = ?, last_updated_timestamp = ? "
          "WHERE name = ?")
        .Bind(1, description)
        .Bind(2, NowMillis())
        .Bind(3, name)
        .Run();
  });
}

void SqliteRegistryStore::DeleteRegisteredModel(const std::string& name) {
  db_->Write([&](Connection& db) {
    RequireModel(db, name);
    for (const char* table : {"registered_model_aliases", "model_version_tags", "model_versions",
                              "registered_model_tags", "registered_models"}) {
      db.Prepare(std::string("DELETE FROM ") + table + " WHERE name = ?").Bind(1, name).Run();
    }
  });
}

PageOf<RegisteredModel> SqliteRegistryStore::SearchRegisteredModels(
    const tracking::Filter& filter, const std::vector<tracking::OrderTerm>& order_by, Page page,
    const Visibility& visible) {
  SqlQuery query = BuildRegisteredModelSearch(SqlDialect::Sqlite(), filter, order_by, page.offset,
                                              page.limit + 1, visible);
  return db_->Read([&](Connection& db) {
    return LoadPage<RegisteredModel>(
        db, query, page, [](const Statement& row) { return row.Text(0); }, LoadModel);
  });
}

void SqliteRegistryStore::SetRegisteredModelTag(const std::string& name, const Tag& tag) {
  db_->Write([&](Connection& db) {
    RequireModel(db, name);
    db.Prepare("INSERT OR REPLACE INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)")
        .Bind(1, name)
        .Bind(2, tag.key)
        .Bind(3, tag.value)
        .Run();
    TouchModel(db, name, NowMillis());
  });
}

void SqliteRegistryStore::DeleteRegisteredModelTag(const std::string& name,
                                                   const std::string& key) {
  db_->Write([&](Connection& db) {
    RequireModel(db, name);
    db.Prepare("DELETE FROM registered_model_tags WHERE name = ? AND key = ?")
        .Bind(1, name)
        .Bind(2, key)
        .Run();
    if (db.Changes() == 0) {
      ThrowNotFound("No tag with name: " + key + " in registered model " + name);
    }
  });
}

ModelVersion SqliteRegistryStore::CreateModelVersion(const ModelVersion& version) {
  int64_t number = 0;
  db_->Write([&](Connection& db) {
    RequireModel(db, version.name);
    Statement next =
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
      db.Prepare(
            "INSERT OR REPLACE INTO model_version_tags (name, version, key, value) "
            "VALUES (?, ?, ?, ?)")
          .Bind(1, version.name)
          .Bind(2, number)
          .Bind(3, tag.key)
          .Bind(4, tag.value)
          .Run();
    }
    TouchModel(db, version.name, now);
  });
  return *GetModelVersion(version.name, number);
}

std::optional<ModelVersion> SqliteRegistryStore::GetModelVersion(const std::string& name,
                                                                 int64_t version) {
  return db_->Read([&](Connection& db) { return LoadVersion(db, name, version); });
}

void SqliteRegistryStore::UpdateModelVersion(const std::string& name, int64_t version,
                                             const std::string& description) {
  db_->Write([&](Connection& db) {
    RequireVersion(db, name, version);
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

void SqliteRegistryStore::TransitionModelVersionStage(const std::string& name, int64_t version,
                                                      const std::string& stage,
                                                      bool archive_existing) {
  db_->Write([&](Connection& db) {
    RequireVersion(db, name, version);
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
    TouchModel(db, name, now);
  });
}

void SqliteRegistryStore::DeleteModelVersion(const std::string& name, int64_t version) {
  db_->Write([&](Connection& db) {
    RequireVersion(db, name, version);
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
    TouchModel(db, name, now);
  });
}

PageOf<ModelVersion> SqliteRegistryStore::SearchModelVersions(
    const tracking::Filter& filter, const std::vector<tracking::OrderTerm>& order_by, Page page,
    const Visibility& visible) {
  SqlQuery query = BuildModelVersionSearch(SqlDialect::Sqlite(), filter, order_by, page.offset,
                                           page.limit + 1, visible);
  return db_->Read([&](Connection& db) {
    return LoadPage<ModelVersion>(
        db, query, page,
        [](const Statement& row) { return std::make_pair(row.Text(0), row.Int(1)); },
        [](Connection& db, const std::pair<std::string, int64_t>& key) {
          return LoadVersion(db, key.first, key.second);
        });
  });
}

void SqliteRegistryStore::SetModelVersionTag(const std::string& name, int64_t version,
                                             const Tag& tag) {
  db_->Write([&](Connection& db) {
    RequireVersion(db, name, version);
    db.Prepare(
          "INSERT OR REPLACE INTO model_version_tags (name, version, key, value) "
          "VALUES (?, ?, ?, ?)")
        .Bind(1, name)
        .Bind(2, version)
        .Bind(3, tag.key)
        .Bind(4, tag.value)
        .Run();
  });
}

void SqliteRegistryStore::DeleteModelVersionTag(const std::string& name, int64_t version,
                                                const std::string& key) {
  db_->Write([&](Connection& db) {
    RequireVersion(db, name, version);
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

void SqliteRegistryStore::SetAlias(const std::string& name, const std::string& alias,
                                   int64_t version) {
  db_->Write([&](Connection& db) {
    RequireVersion(db, name, version);
    db.Prepare(
          "INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?) "
          "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version")
        .Bind(1, name)
        .Bind(2, alias)
        .Bind(3, version)
        .Run();
    TouchModel(db, name, NowMillis());
  });
}

void SqliteRegistryStore::DeleteAlias(const std::string& name, const std::string& alias) {
  db_->Write([&](Connection& db) {
    RequireModel(db, name);
    db.Prepare("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?")
        .Bind(1, name)
        .Bind(2, alias)
        .Run();
  });
}

std::optional<int64_t> SqliteRegistryStore::ResolveAlias(const std::string& name,
                                                         const std::string& alias) {
  return db_->Read([&](Connection& db) -> std::optional<int64_t> {
    Statement row =
        db.Prepare("SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?");
    row.Bind(1, name).Bind(2, alias);
    if (!row.Step()) return std::nullopt;
    return row.Int(0);
  });
}

}  // namespace slipway::store
