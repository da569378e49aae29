#include "store/sqlite_dataset_store.h"

#include "core/error.h"
#include "store/sql_search.h"
#include "store/sqlite_paging.h"

namespace slipway::store {

using data::DatasetVersion;

namespace {

constexpr const char* kColumns =
    "SELECT name, version, manifest_digest, content_digest, kind, format, size_bytes, "
    "row_count, column_count, source, description, created_by, created_ms, ";

DatasetVersion ReadVersion(const Statement& row, bool with_profile) {
  DatasetVersion v;
  v.name = row.Text(0);
  v.version = row.Int(1);
  v.manifest_digest = row.Text(2);
  v.content_digest = row.Text(3);
  v.kind = row.Text(4);
  v.format = row.Text(5);
  v.size_bytes = static_cast<uint64_t>(row.Int(6));
  v.row_count = row.Int(7);
  v.column_count = row.Int(8);
  v.source = row.Text(9);
  v.description = row.Text(10);
  v.created_by = row.Text(11);
  v.created_ms = row.Int(12);
  if (with_profile) v.profile_json = row.Text(13);
  return v;
}

std::optional<DatasetVersion> FindVersion(Connection& db, const std::string& name,
                                          int64_t version) {
  Statement row = db.Prepare(std::string(kColumns) +
                             "profile FROM data_versions WHERE name = ? AND version = ?");
  row.Bind(1, name).Bind(2, version);
  if (!row.Step()) return std::nullopt;
  return ReadVersion(row, true);
}

std::optional<int64_t> Latest(Connection& db, const std::string& name) {
  Statement row = db.Prepare("SELECT latest_version FROM data_datasets WHERE name = ?");
  row.Bind(1, name);
  if (!row.Step()) return std::nullopt;
  return row.Int(0);
}

[[noreturn]] void ThrowNoDataset(const std::string& name) {
  ThrowNotFound("Dataset '" + name + "' does not exist.");
}

}  // namespace

DatasetVersion SqliteDatasetStore::AddVersion(DatasetVersion version, bool* created) {
  *created = false;
  db_->Write([&](Connection& db) {
    std::optional<int64_t> latest = Latest(db, version.name);
    std::optional<DatasetVersion> latest_record;
    if (latest) latest_record = FindVersion(db, version.name, *latest);
    if (version.version == 0) {
      if (latest_record && latest_record->content_digest == version.content_digest) {
        version = *latest_record;
        return;
      }
      version.version = latest.value_or(0) + 1;
    } else {
      if (std::optional<DatasetVersion> existing = FindVersion(db, version.name, version.version)) {
        if (existing->content_digest != version.content_digest) {
          throw Error(ErrorCode::kResourceConflict,
                      version.name + "@" + std::to_string(version.version) +
                          " already holds different content (sha256 " + existing->content_digest +
                          ", not " + version.content_digest +
                          "); pull it first or add the data as a new version.");
        }
        version = *existing;
        return;
      }
      if (version.version != latest.value_or(0) + 1) {
        throw Error(ErrorCode::kResourceConflict,
                    "cannot store " + version.name + "@" + std::to_string(version.version) +
                        ": the latest version is " + std::to_string(latest.value_or(0)) +
                        "; versions are stored in order.");
      }
    }
    db.Prepare(
          "INSERT INTO data_versions (name, version, manifest_digest, content_digest, kind, "
          "format, size_bytes, row_count, column_count, source, description, created_by, "
          "created_ms, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .Bind(1, version.name)
        .Bind(2, version.version)
        .Bind(3, version.manifest_digest)
        .Bind(4, version.content_digest)
        .Bind(5, version.kind)
        .Bind(6, version.format)
        .Bind(7, static_cast<int64_t>(version.size_bytes))
        .Bind(8, version.row_count)
        .Bind(9, version.column_count)
        .Bind(10, version.source)
        .Bind(11, version.description)
        .Bind(12, version.created_by)
        .Bind(13, version.created_ms)
        .Bind(14, version.profile_json)
        .Run();
    db.Prepare(
          "INSERT INTO data_datasets (name, latest_version, created_ms, updated_ms) VALUES (?, ?, "
          "?, ?) "
          "ON CONFLICT (name) DO UPDATE SET latest_version = excluded.latest_version, "
          "updated_ms = excluded.updated_ms")
        .Bind(1, version.name)
        .Bind(2, version.version)
        .Bind(3, version.created_ms)
        .Bind(4, version.created_ms)
        .Run();
    *created = true;
  });
  return version;
}

DatasetVersion SqliteDatasetStore::GetVersion(const std::string& name, int64_t version) {
  return db_->Read([&](Connection& db) {
    std::optional<DatasetVersion> found = FindVersion(db, name, version);
    if (!found) {
      if (!Latest(db, name)) ThrowNoDataset(name);
      ThrowNotFound("Dataset version " + name + "@" + std::to_string(version) + " does not exist.");
    }
    return *found;
  });
}

DatasetVersion SqliteDatasetStore::LatestVersion(const std::string& name) {
  return db_->Read([&](Connection& db) {
    std::optional<int64_t> latest = Latest(db, name);
    if (!latest) ThrowNoDataset(name);
    return *FindVersion(db, name, *latest);
  });
}

std::vector<DatasetVersion> SqliteDatasetStore::ListVersions(const std::string& name) {
  return db_->Read([&](Connection& db) {
    if (!Latest(db, name)) ThrowNoDataset(name);
    Statement rows =
        db.Prepare(std::string(kColumns) + "'' FROM data_versions WHERE name = ? ORDER BY version");
    rows.Bind(1, name);
    std::vector<DatasetVersion> out;
    while (rows.Step()) out.push_back(ReadVersion(rows, false));
    return out;
  });
}

std::vector<data::DatasetSummary> SqliteDatasetStore::ListDatasets(const Visibility& visible) {
  const SqlQuery query = BuildDatasetList(SqlDialect::Sqlite(), visible);
  return db_->Read([&](Connection& db) {
    Statement rows = db.Prepare(query.sql);
    BindAll(rows, query.binds);
    std::vector<data::DatasetSummary> out;
    while (rows.Step()) {
      out.push_back({rows.Text(0), rows.Int(1), rows.Int(2), rows.Int(3), rows.Int(4)});
    }
    return out;
  });
}

}  // namespace slipway::store
