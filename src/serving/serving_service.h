// Deployments: which registered models a running server serves, following
// the registry, with canary and shadow versions, and the rules for changing
// them.
//
// Each deployment follows a model reference ("models:/churn@production",
// "models:/churn/3", "models:/churn/Production"). When the registry moves
// what the reference names (an alias set, a stage changed, a version
// created or deleted: RegistryEvents), the service loads the new version in
// the background, warms it up on the model's input example, and only then
// swaps it in (Deployment::Swap): requests in flight finish on the old
// version, and a version that fails to load or to answer its example never
// takes traffic; the old one keeps serving and the failure shows in the
// deployment's status, the audit trail and /metrics. Deployments are kept in
// a DeploymentStore and come back after a restart.
//
// Authorization (the current governance::Operation's actor):
//   create         signed in; READ on every registered model it serves; the
//                  creator manages the deployment
//   get, list, history
//                  READ on the deployment (list shows the readable ones)
//   predict        USE on the deployment
//   update, roll back, promote
//                  EDIT on the deployment; READ on any model it newly serves;
//                  a promote that moves an alias also EDIT on that
//                  registered model (as setting the alias does)
//   delete         MANAGE
// Background loads and swaps act as "system:serving" (the user's right to
// read the model was checked when they named it) and are audited as such,
// with the deployment as their target.
//
// Model files are copied from the artifact store into `cache_dir` once per
// model version (model versions are immutable) and loaded from there: the
// loaders (native and Python) read local files, so the cache is a local
// folder, not a blob::BlobStore. It is pruned after every swap, after a
// deployment is deleted and once at Start: a version's folder stays while
// a deployment serves it (any role), could roll back to it (the primary's
// previous version), is loading it, or names it (what the references
// resolve to now, so a load about to start finds its files); everything
// else in the cache goes (PruneModelCache).
//
// Thread-safe. The request path (Find) reads an immutable map through an
// atomic pointer: no lock shared by all requests.
#pragma once

#include <atomic>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/event_bus.h"
#include "core/executor.h"
#include "governance/audit_log.h"
#include "governance/authorization.h"
#include "ml/model_loader.h"
#include "registry/registry_events.h"
#include "registry/registry_service.h"
#include "serving/deployment.h"
#include "serving/deployment_store.h"
#include "serving/rate_history.h"
#include "tracking/artifact_store.h"
#include "tracking/tracking_service.h"

namespace slipway::serving {

// INVALID_PARAMETER_VALUE unless `name` is 1-64 characters of letters,
// digits, '-', '_' and '.', starting with a letter or digit (it appears in
// paths, metric labels and file names).
void ValidateDeploymentName(const std::string& name);

// A model reference: "models:/<name>@<alias>", "models:/<name>/<version>",
// "models:/<name>/<stage>" or "models:/<name>/latest".
struct ModelRef {
  std::string name;
  std::string alias;
  std::string version;
  std::string stage;  // "latest" for the newest version

  // INVALID_PARAMETER_VALUE saying what a reference looks like.
  static ModelRef Parse(const std::string& uri);
};

// One version a deployment serves or is loading.
struct VersionStatus {
  std::string role;  // "primary", "canary", "shadow"
  std::string model_name;
  std::string version;
  std::string state;    // "loading", "ready", "failed"
  std::string error;    // why it failed
  int64_t time_ms = 0;  // loaded, or failed, at
  // Of a ready version, since it was loaded: requests answered (2xx and
  // 4xx/5xx), rows predicted, and latency quantiles estimated from the
  // histogram of /metrics (the upper bound of the bucket they fall in).
  uint64_t requests = 0;
  uint64_t errors = 0;
  uint64_t rows = 0;
  double latency_p50_ms = 0;
  double latency_p99_ms = 0;
  // Over the last minute or so (see RateWindow), once sampled.
  std::optional<RateWindow::Recent> recent;
};

struct DeploymentEvent {
  int64_t time_ms = 0;
  std::string text;
};

struct DeploymentInfo {
  DeploymentSpec spec;
  std::vector<VersionStatus> versions;  // serving now, then loading or failed
  std::vector<DeploymentEvent> events;  // newest last, the last 50
  size_t in_flight = 0;
  uint64_t shadow_dropped = 0;
};

// What an update changes; unset fields stay as they are. An empty
// canary_uri / shadow_uri removes the canary / shadow.
struct DeploymentUpdate {
  std::optional<std::string> model_uri;
  std::optional<std::string> canary_uri;
  std::optional<int> canary_weight;
  std::optional<std::string> shadow_uri;
  std::optional<int64_t> max_queued;
  std::optional<int64_t> max_batch_rows;
  std::optional<int64_t> max_queue_delay_us;
  std::optional<double> log_sample_rate;
};

class ServingService {
 public:
  struct Options {
    std::filesystem::path cache_dir;  // model files copied out of the artifact store
    ml::LoadOptions load;
    monitoring::MetricRegistry* metrics = nullptr;  // may be null
    PredictionSink sink;                            // the prediction log; may be empty
  };

  ServingService(Options options, DeploymentStore& store, registry::RegistryService& registry,
                 tracking::TrackingService& tracking, tracking::ArtifactStore& artifacts,
                 governance::Authorizer& authorizer, governance::AuditLog& audit);
  ~ServingService();
  ServingService(const ServingService&) = delete;
  ServingService& operator=(const ServingService&) = delete;

  // Loads every stored deployment in the background on `background` and
  // follows the registry from now on. `background` must outlive Stop().
  void Start(core::Executor& background);
  // Stops following the registry and waits for loads under way.
  void Stop();

  DeploymentInfo Create(DeploymentSpec request);
  DeploymentInfo Get(const std::string& name);
  // What the deployment's versions did in each sample interval after
  // `since_ms` (its RateHistory), oldest first.
  std::vector<RateSample> History(const std::string& name, int64_t since_ms);
  std::vector<DeploymentInfo> List();
  DeploymentInfo Update(const std::string& name, const DeploymentUpdate& update);
  // Back to the version served before the last swap: removes the canary
  // if there is one, else pins the primary to the previous version (until
  // the followed alias moves again or the model is updated).
  DeploymentInfo Rollback(const std::string& name);
  // Makes the version the canary serves the primary, and removes the
  // canary, in one step. When the primary follows an alias of the
  // canary's registered model (models:/NAME@ALIAS), the alias moves to the
  // canary's version (RegistryService::SetAlias: EDIT on the model; every
  // other follower of the alias moves too) and the deployment keeps
  // following it; otherwise (a version, a stage, latest, or another model's
  // alias) the primary is pointed at models:/NAME/VERSION of the canary.
  // Either way a pin left by a rollback is dropped, and the swap happens in
  // the background like any other: the canary keeps its share until the
  // primary serves its version. INVALID_STATE when the deployment has no
  // canary, or its canary is not serving yet (loading, or failed to load):
  // only a version that passed its checks is promoted.
  DeploymentInfo Promote(const std::string& name);
  void Delete(const std::string& name);

  // The deployment requests go to; USE on it. RESOURCE_DOES_NOT_EXIST when
  // there is none.
  std::shared_ptr<Deployment> Find(const std::string& name);

  // Whether a request to deployment `name` would be answered quickly
  // (Deployment::AnswersQuickly); false when there is none. Checks no
  // permission: it says how to schedule a request, Find still decides
  // whether the caller may make it.
  bool AnswersQuickly(const std::string& name) const;

  // Replicas: other servers on the same metadata store change it too, and
  // each follows through these (app/replica_sync.h calls them on the
  // background executor when PostgreSQL announces a change; this server's
  // own changes come back the same way, and change nothing then).
  //
  // The deployment `name` as stored now: one created elsewhere is added
  // and loaded, one changed elsewhere takes the stored spec and reloads,
  // one deleted elsewhere stops serving here.
  void FollowStoredDeployment(const std::string& name);
  // The registry changed `model` (a version, a stage, an alias, a rename
  // or a delete), perhaps through another server: the deployments whose
  // references name it reload what those name now.
  void FollowModelChange(const std::string& model);
  // Every deployment as stored, then a reload of each: the safety net for
  // changes this server may have missed (`why` goes to the log and the
  // deployments' events when something changed).
  void FollowStore(const std::string& why);

  // Waits until no load is under way (tests, shutdown).
  void WaitIdle();

  // Takes a sample of every serving version's counters for the recent
  // rates `Get` and `List` report (RateWindow) and appends what each did
  // since the previous sample to its deployment's history. The App runs
  // it every kRateSampleInterval; without it, versions report totals only.
  void SampleRates();
  static constexpr std::chrono::seconds kRateSampleInterval{5};

  // Removes from the model cache the versions no deployment needs (see
  // above) and what an interrupted copy left; returns how many folders it
  // removed. Runs on the caller's thread; the service calls it itself.
  size_t PruneModelCache();

 private:
  struct Entry;
  using Map = std::map<std::string, std::shared_ptr<Entry>>;

  std::shared_ptr<Entry> EntryOf(const std::string& name) const;
  void Publish(const std::function<void(Map&)>& change);
  // Runs `work` on the background executor, counted as a load (WaitIdle,
  // Stop); false when not started or the executor is full.
  bool RunInBackground(std::function<void()> work);
  void Schedule(const std::string& name, const std::string& why);
  void Reconcile(const std::string& name, const std::string& why);
  void OnRegistryEvent(const registry::RegistryEvent& event);
  // Whether what the entry's references name now differs from what it
  // serves and is not being loaded already: a reload would change
  // something. (Each reload is audited; following other servers reloads
  // only deployments that this says need it.)
  bool NeedsReload(const Entry& entry);
  // Takes `stored` (the store's spec of `name`, nullopt when deleted) as
  // this server's, when it differs from what it has; true when it did.
  bool Adopt(const std::string& name, const std::optional<DeploymentSpec>& stored,
             const std::string& why);
  // Rewrites the deployment's references to a renamed model (audited as
  // system:serving); the caller reloads it.
  void FollowRename(const std::string& name, Entry& entry, const registry::RegistryEvent& event);
  DeploymentInfo InfoOf(const Entry& entry) const;
  void RequireReadableModel(const std::string& uri);

  // Loading one version.
  struct Resolved {
    std::string model_name;
    std::string version;
    std::string artifact_path;  // in the artifact store
  };
  Resolved Resolve(const std::string& uri, const std::string& pinned_version);
  static std::string CacheKey(const Resolved& resolved);
  std::filesystem::path Materialize(const Resolved& resolved);
  void SchedulePrune(const std::string& why);
  // Loads and checks the version `resolved` names for `role` of the
  // deployment (its counters are that role's).
  std::shared_ptr<const Servable> Load(const std::string& deployment, const std::string& role,
                                       const Resolved& resolved, const std::string& uri,
                                       const DeploymentSpec& spec);

  Options options_;
  DeploymentStore& store_;
  registry::RegistryService& registry_;
  tracking::TrackingService& tracking_;
  tracking::ArtifactStore& artifacts_;
  governance::Authorizer& authorizer_;
  governance::AuditLog& audit_;
  core::Executor* background_ = nullptr;
  std::unique_ptr<core::Executor> shadows_;  // shadow predictions
  registry::RegistryEventBus::Subscription subscription_;

  std::mutex write_mu_;  // serializes changes of the map (copy on write)
  std::atomic<std::shared_ptr<const Map>> map_;

  std::mutex loads_mu_;  // guards loads_under_way_
  std::condition_variable loads_done_;
  int loads_under_way_ = 0;
  // One copy of a version's files at a time, and no prune during one: held
  // by Materialize and PruneModelCache.
  std::mutex materialize_mu_;
};

}  // namespace slipway::serving
