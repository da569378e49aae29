#include "store/postgres/pg_dataset_store.h"

#include "core/error.h"
#include "store/postgres/pg_paging.h"
#include "store/sql_search.h"

namespace slipway::store::postgres {

using data::DatasetVersion;

namespace {

constexpr const char* kColumns =
    "SELECT name, version, manifest_digest, content_digest, kind, format, size_bytes, "
    "row_count, column_count, source, description, created_by, created_ms, ";

DatasetVersion ReadVersion(const PgResult& rows, int r, bool with_profile) {
  DatasetVersion v;
  v.name = rows.Text(r, 0);
  v.version = rows.Int(r, 1);
  v.manifest_digest = rows.Text(r, 2);
  v.content_digest = rows.Text(r, 3);
  v.kind = rows.Text(r, 4);
  v.format = rows.Text(r, 5);
  v.size_bytes = static_cast<uint64_t>(rows.Int(r, 6));
  v.row_count = rows.Int(r, 7);
  v.column_count = rows.Int(r, 8);
  v.source = rows.Text(r, 9);
  v.description = rows.Text(r, 10);
  v.created_by = rows.Text(r, 11);
  v.created_ms = rows.Int(r, 12);
  if (with_profile) v.profile_json = rows.Text(r, 13);
  return v;
}

std::optional<DatasetVersion> FindVersion(PgConnection& db, const std::string& name,
                                          int64_t version) {
  PgResult row =
      db.Exec(std::string(kColumns) + "profile FROM data_versions WHERE name = $1 AND version = $2",
              PgParams().Add(name).Add(version));
  if (row.Rows() == 0) return std::nullopt;
  return ReadVersion(row, 0, true);
}

std::optional<int64_t> Latest(PgConnection& db, const std::string& name) {
  PgResult row =
      db.Exec("SELECT latest_version FROM data_datasets WHERE name = $1", PgParams().Add(name));
  if (row.Rows() == 0) return std::nullopt;
  return row.Int(0, 0);
}

[[noreturn]] void ThrowNoDataset(const std::string& name) {
  ThrowNotFound("Dataset '" + name + "' does not exist.");
}

}  // namespace

// As SqliteDatasetStore::AddVersion. The body may run again (a conflict
// with another server adding a version of the same dataset), so each run
// starts from the caller's `version`.
DatasetVersion PgDatasetStore::AddVersion(DatasetVersion wanted, bool* created) {
  auto [version, added] = db_->Write([&](PgConnection& db) -> std::pair<DatasetVersion, bool> {
    DatasetVersion version = wanted;
    std::optional<int64_t> latest = Latest(db, version.name);
    std::optional<DatasetVersion> latest_record;
    if (latest) latest_record = FindVersion(db, version.name, *latest);
    if (version.version == 0) {
      if (latest_record && latest_record->content_digest == version.content_digest) {
        return {*latest_record, false};
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
        return {*existing, false};
      }
      if (version.version != latest.value_or(0) + 1) {
        throw Error(ErrorCode::kResourceConflict,
                    "cannot store " + version.name + "@" + std::to_string(version.version) +
                        ": the latest version is " + std::to_string(latest.value_or(0)) +
                        "; versions are stored in order.");
      }
    }
    db.Exec(
        "INSERT INTO data_versions (name, version, manifest_digest, content_digest, kind, "
        "format, size_bytes, row_count, column_count, source, description, created_by, "
        "created_ms, profile) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
        "$14)",
        PgParams()
            .Add(version.name)
            .Add(version.version)
            .Add(version.manifest_digest)
            .Add(version.content_digest)
            .Add(version.kind)
            .Add(version.format)
            .Add(static_cast<int64_t>(version.size_bytes))
            .Add(version.row_count)
            .Add(version.column_count)
            .Add(version.source)
            .Add(version.description)
            .Add(version.created_by)
            .Add(version.created_ms)
            .Add(version.profile_json));
    db.Exec(
        "INSERT INTO data_datasets (name, latest_version, created_ms, updated_ms) VALUES ($1, $2, "
        "$3, $4) ON CONFLICT (name) DO UPDATE SET latest_version = excluded.latest_version, "
        "updated_ms = excluded.updated_ms",
        PgParams()
            .Add(version.name)
            .Add(version.version)
            .Add(version.created_ms)
            .Add(version.created_ms));
    return {version, true};
  });
  *created = added;
  return version;
}

DatasetVersion PgDatasetStore::GetVersion(const std::string& name, int64_t version) {
  return db_->Read([&](PgConnection& db) {
    std::optional<DatasetVersion> found = FindVersion(db, name, version);
    if (!found) {
      if (!Latest(db, name)) ThrowNoDataset(name);
      ThrowNotFound("Dataset version " + name + "@" + std::to_string(version) + " does not exist.");
    }
    return *found;
  });
}

DatasetVersion PgDatasetStore::LatestVersion(const std::string& name) {
  return db_->Read([&](PgConnection& db) {
    std::optional<int64_t> latest = Latest(db, name);
    if (!latest) ThrowNoDataset(name);
    return *FindVersion(db, name, *latest);
  });
}

std::vector<DatasetVersion> PgDatasetStore::ListVersions(const std::string& name) {
  return db_->Read([&](PgConnection& db) {
    if (!Latest(db, name)) ThrowNoDataset(name);
    PgResult rows =
        db.Exec(std::string(kColumns) + "'' FROM data_versions WHERE name = $1 ORDER BY version",
                PgParams().Add(name));
    std::vector<DatasetVersion> out;
    for (int r = 0; r < rows.Rows(); ++r) out.push_back(ReadVersion(rows, r, false));
    return out;
  });
}

std::vector<data::DatasetSummary> PgDatasetStore::ListDatasets(const Visibility& visible) {
  const SqlQuery query = BuildDatasetList(SqlDialect::Postgres(), visible);
  return db_->Read([&](PgConnection& db) {
    PgResult rows = db.Exec(query.sql, ParamsOf(query.binds));
    std::vector<data::DatasetSummary> out;
    for (int r = 0; r < rows.Rows(); ++r) {
      out.push_back({std::string(rows.Text(r, 0)), rows.Int(r, 1), rows.Int(r, 2), rows.Int(r, 3),
                     rows.Int(r, 4)});
    }
    return out;
  });
}

}  // namespace slipway::store::postgres
