// The one factory for metadata stores: a URI in, every store interface out.
//
// Callers (the composition root in app/, the CLI's direct-store modes, tests)
// name a store by URI and get the domain's store interfaces back; only this
// factory knows which engine serves which scheme. A new engine (PostgreSQL)
// is a new folder of implementations plus one branch here.
//
// `sqlite:///PATH` (or a bare PATH): one SQLite database shared by every
// store, created with its folder if missing and migrated to the current
// schema (see sqlite_schema.cc).
//
// `postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (or postgres://): a
// PostgreSQL database (store/postgres/), which must exist; its schema is
// created or brought forward on open, as SQLite's.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset_store.h"
#include "genai/genai_store.h"
#include "governance/access_control.h"
#include "governance/audit_log.h"
#include "loop/loop_service.h"
#include "monitoring/alert_store.h"
#include "monitoring/live/monitor_store.h"
#include "registry/registry_store.h"
#include "serving/deployment_store.h"
#include "store/sqlite_db.h"
#include "tracing/trace_store.h"
#include "tracking/tracking_store.h"

namespace slipway::store {

// Background work an engine needs run periodically (SQLite's WAL
// checkpoint). The owner schedules each `run` every `interval` on its
// background scheduler, and cancels it before it destroys the stores; `run`
// is cheap when there is nothing to do, and is never run twice at once by
// core::Scheduler. An owner that schedules nothing (a short CLI command)
// still works: the engine then does that work at close.
struct Upkeep {
  std::string name;  // in log lines
  std::chrono::milliseconds interval;
  std::function<void()> run;
  // Optional. The owner hands it a function that runs `run` early
  // (core::Scheduler::Handle::Waker), which the engine calls when the work
  // is due before the next interval; harmless once the task is cancelled.
  std::function<void(std::function<void()> wakeup)> set_wakeup;
};

// Owns the stores of one metadata database. The stores are thread-safe and
// live as long as this object.
struct MetadataStores {
  std::string uri;          // as given
  std::string description;  // for logs: the engine and where it is
  std::unique_ptr<tracking::TrackingStore> tracking;
  std::unique_ptr<registry::RegistryStore> registry;
  std::unique_ptr<governance::AuditStore> audit;
  std::unique_ptr<governance::AuthStore> auth;
  std::unique_ptr<data::DatasetStore> datasets;
  std::unique_ptr<serving::DeploymentStore> deployments;
  std::unique_ptr<loop::LoopStore> loops;
  std::unique_ptr<tracing::TraceStore> traces;
  std::unique_ptr<genai::GenaiStore> genai;
  std::unique_ptr<monitoring::AlertStore> alerts;
  std::unique_ptr<monitoring::live::MonitorStore> monitors;
  std::shared_ptr<void> engine;  // what the stores share (a connection pool); opaque
  std::vector<Upkeep> upkeep;    // for the owner to schedule
};

// Throws INVALID_PARAMETER_VALUE for a scheme no engine serves. `sync` says
// when a commit waits for the disk (see sqlite_db.h).
std::unique_ptr<MetadataStores> OpenMetadataStore(const std::string& uri, Sync sync = Sync::kFull);

// What UpgradeMetadataSchema did.
struct SchemaUpgradeReport {
  std::string description;  // the engine and where it is (no password)
  int from = 0;             // the schema version the store had (0: new)
  int to = 0;               // the version it has now
};

// Creates the store if missing and brings its schema to this Slipway's
// newest (`slipway db upgrade`); the stores are not opened. Servers and
// commands migrate on open as well; this is for an operator who wants the
// upgrade as a step of its own (before starting replicas, say).
SchemaUpgradeReport UpgradeMetadataSchema(const std::string& uri);

// The file a `sqlite:///PATH` (or bare PATH) URI names; other schemes are
// INVALID_PARAMETER_VALUE.
std::string SqlitePathOf(const std::string& uri);

// Whether `uri` names a PostgreSQL database (postgresql:// or postgres://).
bool IsPostgresStoreUri(const std::string& uri);

}  // namespace slipway::store
