#include "store/metadata_store.h"

#include <sqlite3.h>

#include <filesystem>

#include "core/error.h"
#include "store/postgres/pg_alert_store.h"
#include "store/postgres/pg_audit_store.h"
#include "store/postgres/pg_auth_store.h"
#include "store/postgres/pg_dataset_store.h"
#include "store/postgres/pg_db.h"
#include "store/postgres/pg_deployment_store.h"
#include "store/postgres/pg_genai_store.h"
#include "store/postgres/pg_loop_store.h"
#include "store/postgres/pg_monitor_store.h"
#include "store/postgres/pg_registry_store.h"
#include "store/postgres/pg_schema.h"
#include "store/postgres/pg_trace_store.h"
#include "store/postgres/pg_tracking_store.h"
#include "store/sqlite_alert_store.h"
#include "store/sqlite_audit_store.h"
#include "store/sqlite_auth_store.h"
#include "store/sqlite_dataset_store.h"
#include "store/sqlite_db.h"
#include "store/sqlite_deployment_store.h"
#include "store/sqlite_genai_store.h"
#include "store/sqlite_loop_store.h"
#include "store/sqlite_monitor_store.h"
#include "store/sqlite_registry_store.h"
#include "store/sqlite_trace_store.h"
#include "store/sqlite_tracking_store.h"

namespace slipway::store {

namespace {

// The schema version of an existing SQLite file, read without migrating it;
// 0 for a file that is missing or has no schema yet.
int SqliteSchemaVersion(const std::string& path) {
  if (!std::filesystem::exists(path)) return 0;
  sqlite3* db = nullptr;
  int version = 0;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1, &stmt,
                           nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      version = sqlite3_column_int(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return version;
}

// Every store on one PostgreSQL database: its schema brought forward, one
// pool shared by the stores. Nothing to schedule: PostgreSQL does its own
// upkeep (autovacuum, checkpoints).
std::unique_ptr<MetadataStores> OpenPostgres(const std::string& uri) {
  std::shared_ptr<postgres::PgDb> db = postgres::PgDb::Open({.uri = uri});
  postgres::MigratePostgres(*db, SqliteMigrations());
  auto stores = std::make_unique<MetadataStores>();
  stores->uri = uri;
  stores->description = db->description();
  stores->tracking = std::make_unique<postgres::PgTrackingStore>(db);
  stores->registry = std::make_unique<postgres::PgRegistryStore>(db);
  stores->audit = std::make_unique<postgres::PgAuditStore>(db);
  stores->auth = std::make_unique<postgres::PgAuthStore>(db);
  stores->datasets = std::make_unique<postgres::PgDatasetStore>(db);
  stores->deployments = std::make_unique<postgres::PgDeploymentStore>(db);
  stores->loops = std::make_unique<postgres::PgLoopStore>(db);
  stores->traces = std::make_unique<postgres::PgTraceStore>(db);
  stores->genai = std::make_unique<postgres::PgGenaiStore>(db);
  stores->alerts = std::make_unique<postgres::PgAlertStore>(db);
  stores->monitors = std::make_unique<postgres::PgMonitorStore>(db);
  stores->engine = db;
  return stores;
}

}  // namespace

bool IsPostgresStoreUri(const std::string& uri) { return postgres::IsPostgresUri(uri); }

std::string SqlitePathOf(const std::string& uri) {
  if (postgres::IsPostgresUri(uri)) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "'" + postgres::DescribePostgresUri(uri) +
                    "' is a PostgreSQL store, not a SQLite file: give --data-dir for the "
                    "server's local folders");
  }
  const std::string scheme = "sqlite:///";
  if (uri.rfind(scheme, 0) == 0) return uri.substr(scheme.size());
  if (uri.find("://") != std::string::npos) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "unsupported store URI '" + uri +
                    "': use sqlite:///PATH or postgresql://USER@HOST[:PORT]/DATABASE");
  }
  return uri;
}

SchemaUpgradeReport UpgradeMetadataSchema(const std::string& uri) {
  SchemaUpgradeReport report;
  if (postgres::IsPostgresUri(uri)) {
    std::unique_ptr<postgres::PgDb> db = postgres::PgDb::Open({.uri = uri, .max_connections = 1});
    postgres::SchemaUpgrade upgrade = postgres::MigratePostgres(*db, SqliteMigrations());
    report.description = db->description();
    report.from = upgrade.from;
    report.to = upgrade.to;
    return report;
  }
  std::string path = SqlitePathOf(uri);
  std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (!folder.empty()) std::filesystem::create_directories(folder);
  report.description = "sqlite " + path;
  report.from = SqliteSchemaVersion(path);
  report.to = OpenMetadataDatabase(path)->SchemaVersion();
  return report;
}

std::unique_ptr<MetadataStores> OpenMetadataStore(const std::string& uri, Sync sync) {
  if (postgres::IsPostgresUri(uri)) return OpenPostgres(uri);
  std::string path = SqlitePathOf(uri);
  std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (!folder.empty()) std::filesystem::create_directories(folder);
  std::shared_ptr<SqliteDb> db = OpenMetadataDatabase(path, sync);
  auto stores = std::make_unique<MetadataStores>();
  stores->uri = uri;
  stores->description = "sqlite " + path;
  stores->tracking = std::make_unique<SqliteTrackingStore>(db);
  stores->registry = std::make_unique<SqliteRegistryStore>(db);
  stores->audit = std::make_unique<SqliteAuditStore>(db);
  stores->auth = std::make_unique<SqliteAuthStore>(db);
  stores->datasets = std::make_unique<SqliteDatasetStore>(db);
  stores->deployments = std::make_unique<SqliteDeploymentStore>(db);
  stores->loops = std::make_unique<SqliteLoopStore>(db);
  stores->traces = std::make_unique<SqliteTraceStore>(db);
  stores->genai = std::make_unique<SqliteGenaiStore>(db);
  stores->alerts = std::make_unique<SqliteAlertStore>(db);
  stores->monitors = std::make_unique<SqliteMonitorStore>(db);
  stores->engine = db;
  // The commit that takes the WAL past its threshold wakes the task, as it
  // woke the checkpointer thread this replaces; the interval is a backstop.
  SqliteDb* raw = db.get();
  stores->upkeep.push_back(
      {"sqlite wal checkpoint", std::chrono::seconds(1), [raw] { raw->MaybeCheckpoint(); },
       [raw](std::function<void()> wakeup) { raw->SetCheckpointWakeup(std::move(wakeup)); }});
  return stores;
}

}  // namespace slipway::store
