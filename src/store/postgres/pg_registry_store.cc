#include "store/postgres/pg_registry_store.h"

#include "core/clock.h"
#include "core/error.h"
#include "store/postgres/pg_paging.h"
#include "store/sql_search.h"

namespace slipway::store::postgres {

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

void RequireModel(PgConnection& db, const std::string& name) {
  if (db.Exec("SELECT 1 FROM registered_models WHERE name = $1", PgParams().Add(name)).Rows() ==
      0) {
    ThrowNotFound("Registered Model with name=" + name + " not found");
  }
}

void RequireVersion(PgConnection& db, const std::string& name, int64_t version) {
  if (db.Exec("SELECT 1 FROM model_versions WHERE name = $1 AND version = $2 "
              "AND current_stage != 'Deleted_Internal'",
              PgParams().Add(name).Add(version))
          .Rows() == 0) {
    ThrowNotFound(VersionNotFound(name, version));
  }
}

void TouchModel(PgConnection& db, const std::string& name, int64_t now) {
  db.Exec("UPDATE registered_models SET last_updated_timestamp = $1 WHERE name = $2",
          PgParams().Add(now).Add(name));
}

std::optional<ModelVersion> LoadVersion(PgConnection& db, const std::string& name,
                                        int64_t version) {
  PgResult row = db.Exec(
      "SELECT creation_timestamp, last_updated_timestamp, user_id, current_stage, description, "
      "source, run_id, run_link, status, status_message, model_id FROM model_versions "
      "WHERE name = $1 AND version = $2 AND current_stage != 'Deleted_Internal'",
      PgParams().Add(name).Add(version));
  if (row.Rows() == 0) return std::nullopt;
  ModelVersion out;
  out.name = name;
  out.version = version;
  out.creation_timestamp = row.Int(0, 0);
  out.last_updated_timestamp = row.Int(0, 1);
  out.user_id = row.Text(0, 2);
  out.current_stage = row.Text(0, 3);
  out.description = row.Text(0, 4);
  out.source = row.Text(0, 5);
  out.run_id = row.Text(0, 6);
  out.run_link = row.Text(0, 7);
  out.status = row.Text(0, 8);
  out.status_message = row.Text(0, 9);
  out.model_id = row.Text(0, 10);
  PgResult tags = db.Exec(
      "SELECT key, value FROM model_version_tags WHERE name = $1 AND version = $2 "
      "ORDER BY key COLLATE \"C\"",
      PgParams().Add(name).Add(version));
  for (int r = 0; r < tags.Rows(); ++r) {
    out.tags.push_back({std::string(tags.Text(r, 0)), std::string(tags.Text(r, 1))});
  }
  PgResult aliases = db.Exec(
      "SELECT alias FROM registered_model_aliases WHERE name = $1 AND version = $2 "
      "ORDER BY alias COLLATE \"C\"",
      PgParams().Add(name).Add(version));
  for (int r = 0; r < aliases.Rows(); ++r) out.aliases.emplace_back(aliases.Text(r, 0));
  return out;
}

std::optional<RegisteredModel> LoadModel(PgConnection& db, const std::string& name) {
  PgResult row = db.Exec(
      "SELECT creation_timestamp, last_updated_timestamp, description, user_id "
      "FROM registered_models WHERE name = $1",
      PgParams().Add(name));
  if (row.Rows() == 0) return std::nullopt;
  RegisteredModel out;
  out.name = name;
  out.creation_timestamp = row.Int(0, 0);
  out.last_updated_timestamp = row.Int(0, 1);
  out.description = row.Text(0, 2);
  out.user_id = row.Text(0, 3);
  PgResult tags = db.Exec(
      "SELECT key, value FROM registered_model_tags WHERE name = $1 ORDER BY key COLLATE \"C\"",
      PgParams().Add(name));
  for (int r = 0; r < tags.Rows(); ++r) {
    out.tags.push_back({std::string(tags.Text(r, 0)), std::string(tags.Text(r, 1))});
  }
  PgResult aliases = db.Exec(
      "SELECT alias, version FROM registered_model_aliases WHERE name = $1 "
      "ORDER BY alias COLLATE \"C\"",
      PgParams().Add(name));
  for (int r = 0; r < aliases.Rows(); ++r) {
    out.aliases.push_back({std::string(aliases.Text(r, 0)), aliases.Int(r, 1)});
  }
  // The newest version of each stage, as MLflow's latest_versions.
  PgResult latest = db.Exec(
      "SELECT MAX(version) FROM model_versions WHERE name = $1 "
      "AND current_stage != 'Deleted_Internal' GROUP BY current_stage ORDER BY MAX(version)",
      PgParams().Add(name));
  for (int r = 0; r < latest.Rows(); ++r) {
    if (auto loaded = LoadVersion(db, name, latest.Int(r, 0))) {
      out.latest_versions.push_back(std::move(*loaded));
    }
  }
  return out;
}

// SQLite's INSERT OR REPLACE of a tag: the last write wins.
void UpsertModelTag(PgConnection& db, const std::string& name, const Tag& tag) {
  db.Exec(
      "INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3) "
      "ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
      PgParams().Add(name).Add(tag.key).Add(tag.value));
}

void UpsertVersionTag(PgConnection& db, const std::string& name, int64_t version, const Tag& tag) {
  db.Exec(
      "INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
      PgParams().Add(name).Add(version).Add(tag.key).Add(tag.value));
}

[[noreturn]] void ThrowModelExists(const std::string& name) {
  throw Error(ErrorCode::kResourceAlreadyExists,
              "Registered Model (name=" + name + ") already exists.");
}

}  // namespace

void PgRegistryStore::CreateRegisteredModel(const RegisteredModel& model) {
  try {
    db_->Write([&](PgConnection& db) {
      if (db.Exec("SELECT 1 FROM registered_models WHERE name = $1", PgParams().Add(model.name))
              .Rows() > 0) {
        ThrowModelExists(model.name);
      }
      int64_t now = NowMillis();
      db.Exec(
          "INSERT INTO registered_models (name, creation_timestamp, last_updated_timestamp, "
          "description, user_id) VALUES ($1, $2, $3, $4, $5)",
          PgParams().Add(model.name).Add(now).Add(now).Add(model.description).Add(model.user_id));
      for (const Tag& tag : model.tags) UpsertModelTag(db, model.name, tag);
    });
  } catch (const PgError& e) {
    // Two creates of one name at once: the second meets the first's row.
    if (!e.IsUniqueViolation()) throw;
    ThrowModelExists(model.name);
  }
}

std::optional<RegisteredModel> PgRegistryStore::GetRegisteredModel(const std::string& name) {
  return db_->Read([&](PgConnection& db) { return LoadModel(db, name); });
}

void PgRegistryStore::RenameRegisteredModel(const std::string& name, const std::string& new_name) {
  try {
    db_->Write([&](PgConnection& db) {
      RequireModel(db, name);
      if (db.Exec("SELECT 1 FROM registered_models WHERE name = $1", PgParams().Add(new_name))
              .Rows() > 0) {
        ThrowModelExists(new_name);
      }
      for (const char* table : {"registered_models", "registered_model_tags", "model_versions",
                                "model_version_tags", "registered_model_aliases"}) {
        db.Exec(std::string("UPDATE ") + table + " SET name = $1 WHERE name = $2",
                PgParams().Add(new_name).Add(name));
      }
      TouchModel(db, new_name, NowMillis());
    });
  } catch (const PgError& e) {
    if (!e.IsUniqueViolation()) throw;
    ThrowModelExists(new_name);
  }
}

void PgRegistryStore::UpdateRegisteredModel(const std::string& name,
                                            const std::string& description) {
  db_->Write([&](PgConnection& db) {
    RequireModel(db, name);
    db.Exec(
        "UPDATE registered_models SET description = $1, last_updated_timestamp = $2 "
        "WHERE name = $3",
        PgParams().Add(description).Add(NowMillis()).Add(name));
  });
}

void PgRegistryStore::DeleteRegisteredModel(const std::string& name) {
  db_->Write([&](PgConnection& db) {
    RequireModel(db, name);
    for (const char* table : {"registered_model_aliases", "model_version_tags", "model_versions",
                              "registered_model_tags", "registered_models"}) {
      db.Exec(std::string("DELETE FROM ") + table + " WHERE name = $1", PgParams().Add(name));
    }
  });
}

PageOf<RegisteredModel> PgRegistryStore::SearchRegisteredModels(
    const tracking::Filter& filter, const std::vector<tracking::OrderTerm>& order_by, Page page,
    const Visibility& visible) {
  SqlQuery query = BuildRegisteredModelSearch(SqlDialect::Postgres(), filter, order_by, page.offset,
                                              page.limit + 1, visible);
  return db_->Read([&](PgConnection& db) {
    return LoadPage<RegisteredModel>(
        db, query, page,
        [](const PgResult& rows, int row) { return std::string(rows.Text(row, 0)); }, LoadModel);
  });
}

void PgRegistryStore::SetRegisteredModelTag(const std::string& name, const Tag& tag) {
  db_->Write([&](PgConnection& db) {
    RequireModel(db, name);
    UpsertModelTag(db, name, tag);
    TouchModel(db, name, NowMillis());
  });
}

void PgRegistryStore::DeleteRegisteredModelTag(const std::string& name, const std::string& key) {
  db_->Write([&](PgConnection& db) {
    RequireModel(db, name);
    if (db.Exec("DELETE FROM registered_model_tags WHERE name = $1 AND key = $2",
                PgParams().Add(name).Add(key))
            .Affected() == 0) {
      ThrowNotFound("No tag with name: " + key + " in registered model " + name);
    }
  });
}

ModelVersion PgRegistryStore::CreateModelVersion(const ModelVersion& version) {
  int64_t number = db_->Write([&](PgConnection& db) {
    RequireModel(db, version.name);
    int64_t next = db.Exec(
                         "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions "
                         "WHERE name = $1",
                         PgParams().Add(version.name))
                       .Int(0, 0);
    int64_t now = NowMillis();
    db.Exec(
        "INSERT INTO model_versions (name, version, creation_timestamp, last_updated_timestamp, "
        "user_id, current_stage, description, source, run_id, run_link, status, "
        "status_message, model_id) VALUES ($1, $2, $3, $4, $5, 'None', $6, $7, $8, $9, 'READY', "
        "'', $10)",
        PgParams()
            .Add(version.name)
            .Add(next)
            .Add(now)
            .Add(now)
            .Add(version.user_id)
            .Add(version.description)
            .Add(version.source)
            .Add(version.run_id)
            .Add(version.run_link)
            .Add(version.model_id));
    for (const Tag& tag : version.tags) UpsertVersionTag(db, version.name, next, tag);
    TouchModel(db, version.name, now);
    return next;
  });
  return *GetModelVersion(version.name, number);
}

std::optional<ModelVersion> PgRegistryStore::GetModelVersion(const std::string& name,
                                                             int64_t version) {
  return db_->Read([&](PgConnection& db) { return LoadVersion(db, name, version); });
}

void PgRegistryStore::UpdateModelVersion(const std::string& name, int64_t version,
                                         const std::string& description) {
  db_->Write([&](PgConnection& db) {
    RequireVersion(db, name, version);
    db.Exec(
        "UPDATE model_versions SET description = $1, last_updated_timestamp = $2 "
        "WHERE name = $3 AND version = $4",
        PgParams().Add(description).Add(NowMillis()).Add(name).Add(version));
  });
}

void PgRegistryStore::TransitionModelVersionStage(const std::string& name, int64_t version,
                                                  const std::string& stage, bool archive_existing) {
  db_->Write([&](PgConnection& db) {
    RequireVersion(db, name, version);
    int64_t now = NowMillis();
    if (archive_existing &&
        (stage == registry::kStageStaging || stage == registry::kStageProduction)) {
      db.Exec(
          "UPDATE model_versions SET current_stage = 'Archived', last_updated_timestamp = $1 "
          "WHERE name = $2 AND version != $3 AND current_stage = $4",
          PgParams().Add(now).Add(name).Add(version).Add(stage));
    }
    db.Exec(
        "UPDATE model_versions SET current_stage = $1, last_updated_timestamp = $2 "
        "WHERE name = $3 AND version = $4",
        PgParams().Add(stage).Add(now).Add(name).Add(version));
    TouchModel(db, name, now);
  });
}

void PgRegistryStore::DeleteModelVersion(const std::string& name, int64_t version) {
  db_->Write([&](PgConnection& db) {
    RequireVersion(db, name, version);
    int64_t now = NowMillis();
    db.Exec(
        "UPDATE model_versions SET current_stage = 'Deleted_Internal', description = '', "
        "source = 'REDACTED-SOURCE-PATH', run_id = '', run_link = '', status_message = '', "
        "last_updated_timestamp = $1 WHERE name = $2 AND version = $3",
        PgParams().Add(now).Add(name).Add(version));
    db.Exec("DELETE FROM model_version_tags WHERE name = $1 AND version = $2",
            PgParams().Add(name).Add(version));
    db.Exec("DELETE FROM registered_model_aliases WHERE name = $1 AND version = $2",
            PgParams().Add(name).Add(version));
    TouchModel(db, name, now);
  });
}

PageOf<ModelVersion> PgRegistryStore::SearchModelVersions(
    const tracking::Filter& filter, const std::vector<tracking::OrderTerm>& order_by, Page page,
    const Visibility& visible) {
  SqlQuery query = BuildModelVersionSearch(SqlDialect::Postgres(), filter, order_by, page.offset,
                                           page.limit + 1, visible);
  return db_->Read([&](PgConnection& db) {
    return LoadPage<ModelVersion>(
        db, query, page,
        [](const PgResult& rows, int row) {
          return std::make_pair(std::string(rows.Text(row, 0)), rows.Int(row, 1));
        },
        [](PgConnection& db, const std::pair<std::string, int64_t>& key) {
          return LoadVersion(db, key.first, key.second);
        });
  });
}

void PgRegistryStore::SetModelVersionTag(const std::string& name, int64_t version, const Tag& tag) {
  db_->Write([&](PgConnection& db) {
    RequireVersion(db, name, version);
    UpsertVersionTag(db, name, version, tag);
  });
}

void PgRegistryStore::DeleteModelVersionTag(const std::string& name, int64_t version,
                                            const std::string& key) {
  db_->Write([&](PgConnection& db) {
    RequireVersion(db, name, version);
    if (db.Exec("DELETE FROM model_version_tags WHERE name = $1 AND version = $2 AND key = $3",
                PgParams().Add(name).Add(version).Add(key))
            .Affected() == 0) {
      ThrowNotFound("No tag with name: " + key + " in model version (name=" + name +
                    ", version=" + std::to_string(version) + ")");
    }
  });
}

void PgRegistryStore::SetAlias(const std::string& name, const std::string& alias, int64_t version) {
  db_->Write([&](PgConnection& db) {
    RequireVersion(db, name, version);
    db.Exec(
        "INSERT INTO registered_model_aliases (name, alias, version) VALUES ($1, $2, $3) "
        "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
        PgParams().Add(name).Add(alias).Add(version));
    TouchModel(db, name, NowMillis());
  });
}

void PgRegistryStore::DeleteAlias(const std::string& name, const std::string& alias) {
  db_->Write([&](PgConnection& db) {
    RequireModel(db, name);
    db.Exec("DELETE FROM registered_model_aliases WHERE name = $1 AND alias = $2",
            PgParams().Add(name).Add(alias));
  });
}

std::optional<int64_t> PgRegistryStore::ResolveAlias(const std::string& name,
                                                     const std::string& alias) {
  return db_->Read([&](PgConnection& db) -> std::optional<int64_t> {
    PgResult row =
        db.Exec("SELECT version FROM registered_model_aliases WHERE name = $1 AND alias = $2",
                PgParams().Add(name).Add(alias));
    if (row.Rows() == 0) return std::nullopt;
    return row.Int(0, 0);
  });
}

}  // namespace slipway::store::postgres
