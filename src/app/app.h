// The composition root: options in, the whole object graph out.
//
// App is the one place that chooses backends and wires Slipway's services
// together: the metadata stores (by URI, through store::OpenMetadataStore),
// the artifact root's blob store, the dataset content store, the prediction
// log's blob store, and the services over them
// (tracking, registry, datasets, the audit trail, access control). The
// server command builds its HTTP routes from an App; CLI commands that work
// on a store directly open one the same way, so a new backend is wired here
// and nowhere else. (TF Serving's server_core.cc and LevelDB's DB::Open have
// this role.)
//
// Every default path derives from one data folder; an explicit option wins.
// Create() opens (and creates, if missing) what the options name and throws
// slipway::Error when it cannot. The services are thread-safe; App owns them
// and must outlive every user of them.
//
// Background work starts only with Start(): a small executor, the scheduler
// on it, and the periodic tasks the backends and services need (the metadata
// store's upkeep such as SQLite's WAL checkpoint, the audit trail's refusal
// summaries). On a store other servers may share (PostgreSQL), Start() also
// follows their changes and takes part in choosing the one server that runs
// the work that must happen once (replica_sync.h). A CLI command that never calls Start() gets no
// background thread; what those tasks do then happens at close (a TRUNCATE checkpoint, the last
// summaries). Stop() cancels the tasks and waits for runs under way, before any store closes; the
// destructor calls it. The data pipeline's executor is the exception: Create() makes it, because
// the dataset commands of the CLI add and profile without Start(), and it goes with the App, after
// the services that use it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "app/replica_sync.h"
#include "blob/blob_store.h"
#include "core/executor.h"
#include "core/scheduler.h"
#include "data/content_store.h"
#include "data/dataset_service.h"
#include "genai/evaluation_dataset_service.h"
#include "genai/issue_service.h"
#include "genai/scorer_service.h"
#include "governance/access_control.h"
#include "governance/audit_log.h"
#include "loop/loop_service.h"
#include "monitoring/alerts.h"
#include "monitoring/live/monitor_service.h"
#include "registry/registry_service.h"
#include "serving/prediction_log.h"
#include "serving/serving_service.h"
#include "store/metadata_store.h"
#include "tracing/trace_service.h"
#include "tracking/artifact_store.h"
#include "tracking/tracking_service.h"

namespace slipway::app {

// The one spelling of a resource id that grants and checks use ("2", not
// "02", for an experiment); INVALID_PARAMETER_VALUE for an id that is not
// valid for its type. AccessControl::Options::canonical_id of every App.
std::string CanonicalResourceId(governance::ResourceType type, const std::string& id);

// The data pipeline's executor as every App makes it: `threads` threads
// (0: one per core) named "data", and a short queue, since each add or
// profile queues at most a few helpers there (data::TaskGroup) and runs
// its work itself when the queue is full. Only for a command that profiles
// a file without opening a store (`slipway data profile`); the rest use
// App::data_executor().
std::unique_ptr<core::Executor> NewDataExecutor(int threads = 0);

class App {
 public:
  struct Options {
    // Where everything lives unless named below. Empty: the folder of
    // `store` when that is a SQLite path, else "slipway-data".
    std::string data_dir;
    std::string store;  // metadata store URI; default sqlite:///<data_dir>/slipway.db
    // Artifact root: PATH, file://PATH or s3://BUCKET/PREFIX; default
    // <data_dir>/artifacts.
    std::string artifacts;
    // With an s3:// artifact root: the S3-compatible server's URL
    // (http://host:port); empty: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS.
    std::string s3_endpoint;
    std::string datasets;                   // dataset content store; default <data_dir>/datasets
    store::Sync sync = store::Sync::kFull;  // when a metadata commit waits for the disk
    governance::AuditLog::Options audit;
    // With a value, access control is enforced (the server's --auth, and
    // the CLI's commands on users and grants): the services check every
    // operation's actor with it. Without, they allow everything.
    std::optional<governance::AccessControl::Options> access;
    // Threads of the background executor that Start() creates.
    int background_threads = 4;
    // Threads of the data pipeline's executor (dataset adds and profiles,
    // see data_executor()); 0: one per core.
    int data_threads = 0;
    // Deployments: where model files are copied to be loaded (default
    // <data_dir>/serving/models), how models are loaded, and where serving
    // reports its metrics (the server's /metrics; may be null).
    std::string serving_cache;
    // The prediction log's folder (default <data_dir>/serving/predictions,
    // a LocalBlobStore's root), how soon a record is readable there, and
    // its retention.
    std::string prediction_log;
    std::chrono::milliseconds prediction_log_flush{std::chrono::seconds(2)};
    uint64_t prediction_log_bytes = uint64_t{1} << 30;
    std::chrono::seconds prediction_log_age{7 * 24 * 3600};
    ml::LoadOptions models;
    monitoring::MetricRegistry* metrics = nullptr;
    // The closed loop's retrains (loop/process_retrainer.h): the slipway
    // executable and the server's own address, which a server sets; without
    // them, a queued retrain fails saying it runs only in a server.
    std::string loop_binary;
    std::string loop_tracking_uri;
    // Alerting: how often rules are evaluated and deliveries sent, and the
    // rest of AlertService::Options (`metrics` and `deployment_exists` are
    // filled in from the above).
    monitoring::AlertService::Options alerts;
  };

  static std::unique_ptr<App> Create(Options options);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // The options with every default filled in.
  const Options& options() const { return options_; }
  const std::string& store_description() const { return stores_->description; }

  tracking::TrackingService& tracking() { return *tracking_; }
  tracing::TraceService& traces() { return *traces_; }
  genai::EvaluationDatasetService& evaluation_datasets() { return *evaluation_datasets_; }
  genai::IssueService& issues() { return *issues_; }
  genai::ScorerService& scorers() { return *scorers_; }
  // The blobs of the artifact root (runs' and logged models' files), which
  // `artifacts()` reads and writes.
  blob::BlobStore& artifact_blobs() { return *artifact_blobs_; }
  tracking::ArtifactStore& artifacts() { return *artifacts_; }
  registry::RegistryService& registry() { return *registry_; }
  data::DatasetService& datasets() { return *datasets_; }
  governance::AuditLog& audit() { return *audit_; }
  serving::ServingService& serving() { return *serving_; }
  loop::LoopService& loops() { return *loops_; }
  monitoring::AlertService& alerts() { return *alerts_; }
  serving::PredictionLog& predictions() { return *predictions_; }
  // Live monitoring of deployments; its fold runs from Start() to Stop().
  monitoring::live::MonitorService& monitors() { return *monitors_; }
  // The blobs of the prediction log (its segments), which
  // `predictions().Reader()` reads.
  blob::BlobStore& prediction_blobs() { return *prediction_blobs_; }
  // Null unless Options::access was given.
  governance::AccessControl* access() { return access_.get(); }
  // What the services check with: access() when given, else AllowAll.
  governance::Authorizer& authorizer() { return *authorizer_; }

  // Starts the background executor, its scheduler and the periodic tasks.
  // Idempotent. Call from one thread, as Stop().
  void Start();
  // Cancels the periodic tasks, waits for their runs under way, and stops
  // the executor (running what is queued). Idempotent; Start() may follow.
  void Stop();
  // The data pipeline's executor: the content store's adds hash there and
  // the dataset service's profiles parse there, beside the threads that
  // asked (data/task_group.h). Made by Create(), since the CLI's dataset
  // commands never call Start(); lives as long as the App.
  core::Executor& data_executor() { return *data_executor_; }
  // From Start() to Stop(), for background work; null otherwise.
  core::Executor* background_executor() { return background_.get(); }
  core::Scheduler* scheduler() { return scheduler_.get(); }
  // From Start() to Stop(): this server's place among the servers sharing
  // its metadata store (replica_sync.h); null otherwise.
  ReplicaSync* replicas() { return replicas_.get(); }

 private:
  explicit App(Options options) : options_(std::move(options)) {}

  Options options_;
  // Declared in the order they are built; destroyed in reverse.
  // Before every service: the ones using it are destroyed first.
  std::unique_ptr<core::Executor> data_executor_;
  std::unique_ptr<store::MetadataStores> stores_;
  std::unique_ptr<governance::AccessControl> access_;
  governance::Authorizer* authorizer_ = nullptr;
  std::unique_ptr<blob::BlobStore> artifact_blobs_;
  std::unique_ptr<tracking::ArtifactStore> artifacts_;
  std::unique_ptr<tracking::TrackingService> tracking_;
  std::unique_ptr<tracing::TraceService> traces_;
  std::unique_ptr<genai::EvaluationDatasetService> evaluation_datasets_;
  std::unique_ptr<genai::IssueService> issues_;
  std::unique_ptr<genai::ScorerService> scorers_;
  std::unique_ptr<registry::RegistryService> registry_;
  std::unique_ptr<data::ContentStore> content_;
  std::unique_ptr<data::DatasetService> datasets_;
  std::unique_ptr<governance::AuditLog> audit_;
  std::unique_ptr<blob::BlobStore> prediction_blobs_;
  std::unique_ptr<serving::PredictionLog> predictions_;
  std::unique_ptr<serving::ServingService> serving_;
  std::unique_ptr<loop::Retrainer> retrainer_;
  std::unique_ptr<loop::LoopService> loops_;
  std::unique_ptr<monitoring::AlertService> alerts_;
  std::unique_ptr<monitoring::live::MonitorService> monitors_;
  // Background work, from Start() to Stop().
  std::unique_ptr<core::Executor> background_;
  std::unique_ptr<core::Scheduler> scheduler_;
  std::unique_ptr<ReplicaSync> replicas_;
  std::vector<core::Scheduler::Handle> tasks_;
};

}  // namespace slipway::app
