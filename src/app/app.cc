#include "app/app.h"

#include <algorithm>
#include <filesystem>
#include <thread>

#include "blob/local_blob_store.h"
#include "blob/s3/s3_blob_store.h"
#include "core/clock.h"
#include "core/cpus.h"
#include "core/error.h"
#include "loop/process_retrainer.h"
#include "store/replica_coordination.h"

namespace slipway::app {
namespace {

std::string ArtifactsPath(const std::string& uri) {
  const std::string scheme = "file://";
  if (uri.rfind(scheme, 0) == 0) return uri.substr(scheme.size());
  if (uri.find("://") != std::string::npos) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "unsupported --artifacts '" + uri +
                    "': use a local folder, file://PATH or s3://BUCKET/PREFIX");
  }
  return uri;
}

constexpr int64_t kAbandonedArtifactUploadMs = 24 * 3600 * 1000;

// A bucket of an S3-compatible store, for `uri` (s3://BUCKET/PREFIX),
// checked once here (one listing), so a wrong bucket, endpoint or
// credentials stop the start with S3's answer instead of failing the first
// write.
std::unique_ptr<blob::S3BlobStore> OpenBucket(const std::string& uri, const App::Options& o) {
  blob::S3BlobStore::Options s3;
  s3.location = blob::ParseS3Uri(uri);
  s3.client.endpoint = o.s3_endpoint;
  blob::s3::FillFromEnvironment(s3.client);
  std::unique_ptr<blob::S3BlobStore> store = blob::S3BlobStore::Create(std::move(s3));
  store->CheckReachable();
  return store;
}

// The artifact root's blobs: a bucket for s3://, else a local folder.
// Multipart uploads a killed server left behind are aborted here, once a
// day old (the datasets' and prediction log's, under the same root, too).
std::unique_ptr<blob::BlobStore> OpenArtifactBlobs(const App::Options& o) {
  if (blob::IsS3Uri(o.artifacts)) {
    std::unique_ptr<blob::S3BlobStore> store = OpenBucket(o.artifacts, o);
    // Uploads a killed server left: older than a day, none is still at work.
    store->SweepAbandoned("", NowMillis() - kAbandonedArtifactUploadMs);
    return store;
  }
  const bool any_s3 = blob::IsS3Uri(o.datasets) || blob::IsS3Uri(o.prediction_log);
  if (!o.s3_endpoint.empty() && !any_s3) {
    ThrowInvalid("--s3-endpoint '" + o.s3_endpoint + "' is for an s3:// artifact root, not '" +
                 o.artifacts + "'");
  }
  blob::LocalBlobStore::Options local;
  local.root = ArtifactsPath(o.artifacts);
  return blob::LocalBlobStore::Create(local);
}

// Where the server's own data goes under an s3:// artifact root:
// "s3://b/p" and "datasets" -> "s3://b/p/.slipway/datasets". The artifact
// store refuses that folder (tracking::kReservedArtifactFolder), so no
// artifact route reaches it, and one bucket prefix (one IAM policy) holds
// everything.
std::string UnderArtifactRoot(std::string artifacts, const char* name) {
  while (!artifacts.empty() && artifacts.back() == '/') artifacts.pop_back();
  return artifacts + "/" + std::string(tracking::kReservedArtifactFolder) + "/" + name;
}

// Every default derives from the data folder.
App::Options Resolve(App::Options options) {
  if (options.data_dir.empty()) {
    options.data_dir = "slipway-data";
    if (!options.store.empty()) {
      std::string folder =
          std::filesystem::path(store::SqlitePathOf(options.store)).parent_path().string();
      options.data_dir = folder.empty() ? "." : folder;
    }
  }
  const std::string& dir = options.data_dir;
  if (options.store.empty()) options.store = "sqlite:///" + dir + "/slipway.db";
  if (options.artifacts.empty()) options.artifacts = dir + "/artifacts";
  if (options.serving_cache.empty()) options.serving_cache = dir + "/serving/models";
  // With the artifacts in a bucket, so are the datasets and the prediction
  // log: whatever must outlive this machine (or be shared by replicas).
  const bool bucket = blob::IsS3Uri(options.artifacts);
  if (options.prediction_log.empty()) {
    options.prediction_log =
        bucket ? UnderArtifactRoot(options.artifacts, "predictions") : dir + "/serving/predictions";
  }
  if (options.datasets.empty()) {
    options.datasets =
        bucket ? UnderArtifactRoot(options.artifacts, "datasets") : dir + "/datasets";
  }
  return options;
}

// How often the monitors fold what the prediction log published.
constexpr std::chrono::seconds kMonitorFoldInterval{1};

}  // namespace

// One spelling per resource: what the services check is what grants name.
std::string CanonicalResourceId(governance::ResourceType type, const std::string& id) {
  if (type == governance::ResourceType::kExperiment) return tracking::CanonicalExperimentId(id);
  if (type == governance::ResourceType::kDataset) data::ValidateDatasetName(id);
  if (type == governance::ResourceType::kDeployment) serving::ValidateDeploymentName(id);
  return id;
}

std::unique_ptr<core::Executor> NewDataExecutor(int threads) {
  core::Executor::Options options;
  options.name = "data";
  options.threads = threads > 0 ? threads : core::UsableCores();
  options.max_queued = 256;
  return std::make_unique<core::Executor>(options);
}

std::unique_ptr<App> App::Create(Options options) {
  std::unique_ptr<App> app(new App(Resolve(std::move(options))));
  const Options& o = app->options_;
  app->data_executor_ = NewDataExecutor(o.data_threads);
  app->stores_ = store::OpenMetadataStore(o.store, o.sync);
  // Access control first: it is the authorizer every service checks with.
  governance::Authorizer* authorizer = &governance::Authorizer::AllowAll();
  if (o.access) {
    governance::AccessControl::Options access = *o.access;
    if (!access.canonical_id) access.canonical_id = CanonicalResourceId;
    app->access_ = std::make_unique<governance::AccessControl>(*app->stores_->auth, access);
    authorizer = app->access_.get();
  }
  app->authorizer_ = authorizer;
  app->artifact_blobs_ = OpenArtifactBlobs(o);
  app->artifacts_ = std::make_unique<tracking::ArtifactStore>(*app->artifact_blobs_);
  app->tracking_ = std::make_unique<tracking::TrackingService>(
      *app->stores_->tracking, tracking::TrackingService::Options{}, *authorizer);
  tracing::TraceService::Options trace_options;
  trace_options.issue_experiment =
      [issues = app->stores_->genai.get()](const std::string& id) -> std::optional<std::string> {
    std::optional<genai::Issue> issue = issues->GetIssue(id);
    if (!issue) return std::nullopt;
    return issue->experiment_id;
  };
  app->traces_ = std::make_unique<tracing::TraceService>(
      *app->stores_->traces, *app->stores_->tracking, trace_options, *authorizer);
  app->evaluation_datasets_ = std::make_unique<genai::EvaluationDatasetService>(
      *app->stores_->genai, *app->stores_->tracking, *authorizer);
  app->issues_ = std::make_unique<genai::IssueService>(*app->stores_->genai,
                                                       *app->stores_->tracking, *authorizer);
  app->scorers_ = std::make_unique<genai::ScorerService>(*app->stores_->genai,
                                                         *app->stores_->tracking, *authorizer);
  app->registry_ = std::make_unique<registry::RegistryService>(*app->stores_->registry,
                                                               *app->tracking_, *authorizer);
  // Dataset packs and objects are blobs too. The store's scratch space for
  // copies that must be files is local: in its folder (tmp/), or in the
  // data folder when the packs are in a bucket.
  data::ContentStore::Options content;
  content.executor = app->data_executor_.get();
  std::unique_ptr<blob::BlobStore> dataset_blobs;
  if (blob::IsS3Uri(o.datasets)) {
    dataset_blobs = OpenBucket(o.datasets, o);
    content.scratch_folder = std::filesystem::path(o.data_dir) / "tmp" / "datasets";
  } else {
    blob::LocalBlobStore::Options local;
    local.root = o.datasets;
    dataset_blobs = blob::LocalBlobStore::Create(local);
    content.scratch_folder = std::filesystem::path(o.datasets) / "tmp";
    content.own_folder = o.datasets;
  }
  app->content_ = data::ContentStore::Open(std::move(dataset_blobs), content);
  app->datasets_ = std::make_unique<data::DatasetService>(*app->content_, *app->stores_->datasets,
                                                          *authorizer, app->data_executor_.get());
  app->audit_ = std::make_unique<governance::AuditLog>(*app->stores_->audit, o.audit);
  // The prediction log's segments are blobs of a store of their own,
  // rooted at its folder; the model cache stays a local folder (a model is
  // loaded from local files), so the two are not one store.
  if (blob::IsS3Uri(o.prediction_log)) {
    app->prediction_blobs_ = OpenBucket(o.prediction_log, o);
  } else {
    blob::LocalBlobStore::Options prediction_blobs;
    prediction_blobs.root = o.prediction_log;
    app->prediction_blobs_ = blob::LocalBlobStore::Create(prediction_blobs);
  }
  serving::PredictionLog::Options log;
  log.store = app->prediction_blobs_.get();
  log.flush_interval = o.prediction_log_flush;
  log.max_bytes = o.prediction_log_bytes;
  log.max_age = o.prediction_log_age;
  log.metrics = o.metrics;
  app->predictions_ = std::make_unique<serving::PredictionLog>(log);
  serving::ServingService::Options serving;
  serving.sink = app->predictions_->Sink();
  serving.cache_dir = o.serving_cache;
  serving.load = o.models;
  serving.metrics = o.metrics;
  app->serving_ = std::make_unique<serving::ServingService>(
      serving, *app->stores_->deployments, *app->registry_, *app->tracking_, *app->artifacts_,
      *authorizer, *app->audit_);
  monitoring::live::MonitorService::Options monitor;
  monitor.metrics = o.metrics;
  // Records of a window reach the log up to a flush interval late.
  monitor.close_delay = o.prediction_log_flush + std::chrono::seconds(2);
  monitor.flush_log = [log = app->predictions_.get()] { log->Flush(); };
  monitor.keep_predictions = o.prediction_log_age;
  app->monitors_ = std::make_unique<monitoring::live::MonitorService>(
      monitor, *app->stores_->monitors, app->predictions_->Reader(), *app->serving_,
      *app->registry_, *app->tracking_, *app->datasets_, *authorizer);
  loop::ProcessRetrainer::Options retrain;
  retrain.binary = o.loop_binary;
  retrain.tracking_uri = o.loop_tracking_uri;
  retrain.data_dir = o.data_dir;
  retrain.store = o.store;
  retrain.datasets = o.datasets;
  retrain.work_dir = (std::filesystem::path(o.data_dir) / "loop").string();
  retrain.access = app->access_.get();
  app->retrainer_ = std::make_unique<loop::ProcessRetrainer>(retrain);
  // Loops read the monitors' windows and labelled traffic, and add the
  // dataset versions built from it.
  loop::LoopService::Options loops;
  loops.monitors = app->monitors_.get();
  loops.datasets = app->datasets_.get();
  loops.work_dir = retrain.work_dir;
  app->loops_ = std::make_unique<loop::LoopService>(loops, *app->stores_->loops, *app->serving_,
                                                    *app->registry_, *authorizer, *app->audit_,
                                                    *app->retrainer_);
  monitoring::AlertService::Options alerts = o.alerts;
  alerts.metrics = o.metrics;
  alerts.deployment_exists = [deployments =
                                  app->stores_->deployments.get()](const std::string& name) {
    return deployments->Get(name).has_value();
  };
  // A firing alert reaches the deployment's loop policy, if it names it.
  alerts.on_transition = [loops = app->loops_.get()](const monitoring::AlertTransition& t) {
    if (t.state != "firing") return;
    loop::AlertEvent event;
    event.deployment = t.deployment;
    event.alert = t.rule;
    event.labels = std::map<std::string, std::string>(t.labels.begin(), t.labels.end());
    event.value = t.value;
    event.since_ms = t.starts_at_ms;
    loops->OnAlert(event);
  };
  app->alerts_ = std::make_unique<monitoring::AlertService>(*app->stores_->alerts, *authorizer,
                                                            *app->audit_, alerts);
  return app;
}

App::~App() { Stop(); }

void App::Start() {
  if (scheduler_) return;
  core::Executor::Options executor_options;
  executor_options.name = "background";
  executor_options.threads = options_.background_threads;
  executor_options.max_queued = 1024;
  background_ = std::make_unique<core::Executor>(executor_options);
  scheduler_ = std::make_unique<core::Scheduler>(*background_);
  for (const store::Upkeep& upkeep : stores_->upkeep) {
    tasks_.push_back(scheduler_->Every(upkeep.interval, upkeep.name, upkeep.run));
    if (upkeep.set_wakeup) upkeep.set_wakeup(tasks_.back().Waker());
  }
  tasks_.push_back(scheduler_->Every(
      std::max(options_.audit.refusal_interval, std::chrono::milliseconds(1)),
      "audit refusal summaries", [audit = audit_.get()] { audit->FlushRefusals(); }));
  // What writes killed since the start left in the dataset store, once old
  // enough to be surely dead (the start's own sweep leaves younger ones).
  tasks_.push_back(scheduler_->Every(std::chrono::hours(1), "dataset store sweep",
                                     [content = content_.get()] { content->SweepAbandoned(); }));
  tasks_.push_back(scheduler_->Every(serving::ServingService::kRateSampleInterval,
                                     "serving rate samples",
                                     [serving = serving_.get()] { serving->SampleRates(); }));
  // Servers sharing the metadata store: their changes, and which of them
  // does the work below that must happen once (leading()).
  ReplicaSync::Services services;
  services.serving = serving_.get();
  services.alerts = alerts_.get();
  services.loops = loops_.get();
  services.metrics = options_.metrics;
  replicas_ =
      std::make_unique<ReplicaSync>(store::OpenReplicaCoordination(options_.store), services);
  ReplicaSync* replicas = replicas_.get();
  // Alert rules over the series of /metrics, and the deliveries of their
  // transitions (retries back off from the same interval).
  tasks_.push_back(scheduler_->Every(options_.alerts.interval, "alert evaluation",
                                     [alerts = alerts_.get(), replicas] {
                                       if (replicas->leading()) alerts->Evaluate(NowMillis());
                                     }));
  tasks_.push_back(scheduler_->Every(options_.alerts.interval, "alert delivery",
                                     [alerts = alerts_.get(), replicas] {
                                       if (replicas->leading()) alerts->Deliver(NowMillis());
                                     }));
  // The monitors' fold: published segments of the prediction log into
  // windows, then the gauges of /metrics.
  tasks_.push_back(scheduler_->Every(kMonitorFoldInterval, "monitor fold",
                                     [monitors = monitors_.get(), replicas] {
                                       if (replicas->leading()) monitors->FoldAll();
                                     }));
  serving_->Start(*background_);
  if (replicas->Shared()) {
    // The loop's worker starts when this server wins the leadership.
    replicas->StartFollowing();
    tasks_.push_back(scheduler_->Every(ReplicaSync::kPollInterval, "replica changes",
                                       [replicas] { replicas->Poll(); }));
    tasks_.push_back(scheduler_->Every(ReplicaSync::kResyncInterval, "replica resync",
                                       [replicas] { replicas->Resync("the periodic re-read"); }));
  } else {
    loops_->Start();
  }
  // The server keeps the prediction log; a CLI command's App only opens it.
  predictions_->StartRetention();
}

void App::Stop() {
  if (!background_) return;
  for (const store::Upkeep& upkeep : stores_->upkeep) {
    if (upkeep.set_wakeup) upkeep.set_wakeup(nullptr);
  }
  tasks_.clear();  // each Handle cancels its task and waits for a run under way
  // Leadership ends with the session, so another server takes over now.
  if (replicas_) replicas_->Stop();
  replicas_.reset();
  loops_->Stop();
  serving_->Stop();
  if (scheduler_) scheduler_->Stop();
  if (background_) background_->Stop();
  scheduler_.reset();
  background_.reset();
}

}  // namespace slipway::app
