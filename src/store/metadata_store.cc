#include "store/metadata_store.h"

#include <filesystem>

#include "core/error.h"
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

std::string SqlitePathOf(const std::string& uri) {
  const std::string scheme = "sqlite:///";
  if (uri.rfind(scheme, 0) == 0) return uri.substr(scheme.size());
  if (uri.find("://") != std::string::npos) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "unsupported store URI '" + uri + "': use sqlite:///PATH (PostgreSQL comes later)");
  }
  return uri;
}

std::unique_ptr<MetadataStores> OpenMetadataStore(const std::string& uri, Sync sync) {
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
