#include "serving/serving_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <random>
#include <set>

#include "core/clock.h"
#include "core/error.h"
#include "core/sha256.h"
#include "ml/input_example.h"

namespace slipway::serving {

using governance::Permission;
using governance::ResourceType;

namespace {

constexpr size_t kEventsKept = 50;
constexpr const char* kArtifactsScheme = "mlflow-artifacts:";

// The actor of background loads and swaps.
governance::Actor ServingActor() { return governance::Actor::Operator("system:serving"); }

void ValidateUri(const std::string& uri, const char* field) {
  if (uri.empty())
    ThrowInvalid(std::string("'") + field + "' must name a model (models:/NAME@ALIAS)");
  ModelRef::Parse(uri);
}

Deployment::Options RuntimeOptions(const DeploymentSpec& spec) {
  Deployment::Options options;
  options.max_queued = static_cast<size_t>(spec.max_queued);
  options.log_sample_rate = spec.log_sample_rate;
  return options;
}

void ValidateLimits(const DeploymentSpec& spec) {
  if (spec.canary_weight < 0 || spec.canary_weight > 100) {
    ThrowInvalid("'canary_weight' must be between 0 and 100 (percent), not " +
                 std::to_string(spec.canary_weight));
  }
  if (spec.max_queued < 1 || spec.max_queued > 1000000) {
    ThrowInvalid("'max_queued' must be between 1 and 1000000");
  }
  if (spec.max_batch_rows < 0 || spec.max_batch_rows > 1000000) {
    ThrowInvalid("'max_batch_rows' must be between 0 (no batching) and 1000000");
  }
  if (spec.max_queue_delay_us < 0 || spec.max_queue_delay_us > 1000000) {
    ThrowInvalid("'max_queue_delay_us' must be between 0 and 1000000 (one second)");
  }
  if (!(spec.log_sample_rate >= 0 && spec.log_sample_rate <= 1)) {
    ThrowInvalid("'log_sample_rate' must be between 0 and 1");
  }
}

std::string Describe(const std::string& model, const std::string& version) {
  return model + " v" + version;
}

// Whether the version served before the last swap is of the model the
// primary's URI names (so a rollback pins that version of it).
bool FollowsPreviousModel(const DeploymentSpec& spec) {
  return spec.previous_model.empty() || spec.previous_model == ModelRef::Parse(spec.model_uri).name;
}

// Whether two specs of a deployment ask for the same thing (the times of
// the last change aside).
bool SameSpec(const DeploymentSpec& a, const DeploymentSpec& b) {
  return a.name == b.name && a.model_uri == b.model_uri && a.canary_uri == b.canary_uri &&
         a.canary_weight == b.canary_weight && a.shadow_uri == b.shadow_uri &&
         a.pinned_version == b.pinned_version && a.previous_version == b.previous_version &&
         a.previous_model == b.previous_model && a.max_queued == b.max_queued &&
         a.max_batch_rows == b.max_batch_rows && a.max_queue_delay_us == b.max_queue_delay_us &&
         a.log_sample_rate == b.log_sample_rate && a.created_by == b.created_by &&
         a.creation_time == b.creation_time;
}

// Whether a name in the model cache is a version's folder (CacheKey's 32
// hex digits): anything else there is not the cache's and is left alone.
bool IsCacheKey(const std::string& name) {
  return name.size() == 32 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The servables of a routing by role.
std::array<std::pair<const char*, std::shared_ptr<const Servable>>, 3> RolesOf(
    const Routing& routing) {
  return {{{"primary", routing.primary}, {"canary", routing.canary}, {"shadow", routing.shadow}}};
}

using RoleServables = std::vector<std::pair<std::string, std::shared_ptr<const Servable>>>;

// The versions `before` routes to and `after` does not (swapped out), with
// their roles. Versions that stay (the same servable, or a copy sharing
// its RateWindow) are not among them.
RoleServables SwappedOut(const Routing* before, const Routing& after) {
  RoleServables gone;
  if (before == nullptr) return gone;
  std::set<const RateWindow*> staying;
  for (const auto& [role, servable] : RolesOf(after))
    if (servable) staying.insert(servable->rates.get());
  for (const auto& [role, servable] : RolesOf(*before))
    if (servable && !staying.count(servable->rates.get())) gone.emplace_back(role, servable);
  return gone;
}

// What `servables` did since their last sample, appended to `sample`;
// with `only_busy`, those that answered nothing in it are left out.
void SampleInto(const RoleServables& servables, RateWindow::Clock::time_point now, bool only_busy,
                RateSample& sample) {
  for (const auto& [role, servable] : servables) {
    std::optional<RateWindow::Recent> interval = servable->rates->Sample(servable->metrics, now);
    if (interval && (!only_busy || interval->requests > 0))
      sample.versions.push_back({role, servable->model_name, servable->version, *interval});
  }
}

}  // namespace

void ValidateDeploymentName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  }
  if (!ok) {
    ThrowInvalid("Invalid deployment name '" + name +
                 "': use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit.");
  }
}

ModelRef ModelRef::Parse(const std::string& uri) {
  const std::string scheme = "models:/";
  auto bad = [&]() {
    ThrowInvalid("Invalid model reference '" + uri +
                 "': use models:/NAME@ALIAS, models:/NAME/VERSION or models:/NAME/STAGE");
  };
  if (uri.rfind(scheme, 0) != 0) bad();
  std::string rest = uri.substr(scheme.size());
  ModelRef ref;
  size_t at = rest.rfind('@');
  size_t slash = rest.rfind('/');
  if (at != std::string::npos && (slash == std::string::npos || at > slash)) {
    ref.name = rest.substr(0, at);
    ref.alias = rest.substr(at + 1);
    if (ref.alias.empty()) bad();
  } else if (slash != std::string::npos) {
    ref.name = rest.substr(0, slash);
    std::string tail = rest.substr(slash + 1);
    if (tail.empty()) bad();
    if (std::all_of(tail.begin(), tail.end(), ::isdigit)) {
      ref.version = tail;
    } else {
      std::string lower = tail;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      ref.stage = lower == "latest" ? "latest" : tail;
    }
  } else {
    bad();
  }
  if (ref.name.empty()) bad();
  return ref;
}

struct ServingService::Entry {
  std::shared_ptr<Deployment> runtime;
  std::mutex reconcile_mu;  // one reconcile of this deployment at a time
  mutable std::mutex mu;    // guards everything below
  DeploymentSpec spec;
  std::map<std::string, VersionStatus> pending;  // by role: loading or failed
  std::deque<DeploymentEvent> events;
  bool deleted = false;
  RateHistory history;  // thread-safe itself, not guarded by mu
  // The model cache folders this deployment holds on to: the version each
  // role serves (by role), and versions being loaded.
  std::map<std::string, std::string> cache_keys;
  std::multiset<std::string> loading_keys;
  // Versions swapped out since the last periodic sample, by role: sampled
  // once more for the requests in flight at the swap, then let go.
  RoleServables retiring;

  void Note(std::string text) {
    std::lock_guard lock(mu);
    events.push_back({NowMillis(), std::move(text)});
    while (events.size() > kEventsKept) events.pop_front();
  }
};

ServingService::ServingService(Options options, DeploymentStore& store,
                               registry::RegistryService& registry,
                               tracking::TrackingService& tracking,
                               tracking::ArtifactStore& artifacts,
                               governance::Authorizer& authorizer, governance::AuditLog& audit)
    : options_(std::move(options)),
      store_(store),
      registry_(registry),
      tracking_(tracking),
      artifacts_(artifacts),
      authorizer_(authorizer),
      audit_(audit),
      shadows_(std::make_unique<core::Executor>(
          core::Executor::Options{.name = "shadow", .threads = 1, .max_queued = 1024})),
      map_(std::make_shared<const Map>()) {}

ServingService::~ServingService() { Stop(); }

void ServingService::Start(core::Executor& background) {
  background_ = &background;
  for (const DeploymentSpec& spec : store_.List()) {
    auto entry = std::make_shared<Entry>();
    entry->spec = spec;
    entry->runtime = std::make_shared<Deployment>(spec.name, RuntimeOptions(spec), shadows_.get(),
                                                  options_.metrics, options_.sink);
    Publish([&](Map& map) { map[spec.name] = entry; });
    Schedule(spec.name, "server start");
  }
  // What deployments deleted before a crash left; the loads just scheduled
  // are kept, as their references name them.
  SchedulePrune("server start");
  subscription_ = registry_.events().Subscribe(
      [this](const registry::RegistryEvent& e) { OnRegistryEvent(e); });
}

void ServingService::Stop() {
  subscription_.Reset();
  WaitIdle();
  if (shadows_) shadows_->Stop();
}

void ServingService::SampleRates() {
  const auto now = RateWindow::Clock::now();
  const int64_t now_ms = NowMillis();
  std::shared_ptr<const Map> map = map_.load();
  for (const auto& [name, entry] : *map) {
    std::shared_ptr<const Routing> routing = entry->runtime->routing();
    if (!routing) continue;
    RateSample sample;
    sample.time_ms = now_ms;
    RoleServables serving;
    for (const auto& [role, servable] : RolesOf(*routing))
      if (servable) serving.emplace_back(role, servable);
    SampleInto(serving, now, false, sample);
    // Versions swapped out since the last sample, once more: requests that
    // were in flight at the swap finished on them after it.
    RoleServables retiring;
    {
      std::lock_guard lock(entry->mu);
      retiring.swap(entry->retiring);
    }
    SampleInto(retiring, now, true, sample);
    if (!sample.versions.empty()) entry->history.Append(std::move(sample));
  }
}

void ServingService::WaitIdle() {
  std::unique_lock lock(loads_mu_);
  loads_done_.wait(lock, [&] { return loads_under_way_ == 0; });
}

std::shared_ptr<ServingService::Entry> ServingService::EntryOf(const std::string& name) const {
  std::shared_ptr<const Map> map = map_.load();
  auto found = map->find(name);
  return found == map->end() ? nullptr : found->second;
}

void ServingService::Publish(const std::function<void(Map&)>& change) {
  std::lock_guard lock(write_mu_);
  auto next = std::make_shared<Map>(*map_.load());
  change(*next);
  map_.store(std::move(next));
}

bool ServingService::RunInBackground(std::function<void()> work) {
  if (background_ == nullptr) return false;
  {
    std::lock_guard lock(loads_mu_);
    ++loads_under_way_;  // WaitIdle() and Stop() wait for it
  }
  auto done = [this] {
    std::lock_guard lock(loads_mu_);
    --loads_under_way_;
    loads_done_.notify_all();
  };
  if (background_->TrySubmit([work = std::move(work), done] {
        work();
        done();
      }))
    return true;
  done();
  return false;
}

void ServingService::Schedule(const std::string& name, const std::string& why) {
  if (background_ == nullptr) return;  // not started: Start() loads everything
  bool queued = RunInBackground([this, name, why] {
    try {
      Reconcile(name, why);
    } catch (const std::exception& e) {
      spdlog::error("deployment {}: {}", name, e.what());
    }
  });
  if (!queued)
    spdlog::error("deployment {}: the background executor is full; {} not handled", name, why);
}

void ServingService::FollowRename(const std::string& name, Entry& entry,
                                  const registry::RegistryEvent& event) {
  const std::string scheme = "models:/";
  governance::AuditedOperation(
      audit_, ServingActor(), "deployments/follow-rename", "background",
      "deployment " + name + ": model " + event.model + " renamed to " + event.new_name)
      .Run([&] {
        governance::SetTarget("deployment:" + name);
        std::lock_guard lock(entry.mu);
        DeploymentSpec spec = entry.spec;
        for (std::string* uri : {&spec.model_uri, &spec.canary_uri, &spec.shadow_uri}) {
          if (uri->empty() || ModelRef::Parse(*uri).name != event.model) continue;
          // models:/OLD@alias -> models:/NEW@alias (the name is the prefix).
          *uri = scheme + event.new_name + uri->substr(scheme.size() + event.model.size());
        }
        spec.last_updated_time = NowMillis();
        store_.Update(spec);
        entry.spec = spec;
        entry.events.push_back({NowMillis(), "model " + event.model + " renamed to " +
                                                 event.new_name + ": now follows " +
                                                 spec.model_uri});
        while (entry.events.size() > kEventsKept) entry.events.pop_front();
      });
}

void ServingService::OnRegistryEvent(const registry::RegistryEvent& event) {
  std::shared_ptr<const Map> map = map_.load();
  for (const auto& [name, entry] : *map) {
    DeploymentSpec spec;
    {
      std::lock_guard lock(entry->mu);
      spec = entry->spec;
    }
    if (event.kind == registry::RegistryEvent::Kind::kModelRenamed) {
      bool named = false;
      for (const std::string* uri : {&spec.model_uri, &spec.canary_uri, &spec.shadow_uri})
        named = named || (!uri->empty() && ModelRef::Parse(*uri).name == event.model);
      if (!named) continue;
      try {
        FollowRename(name, *entry, event);
      } catch (const std::exception& e) {
        spdlog::error("deployment {}: could not follow the rename of {}: {}", name, event.model,
                      e.what());
        entry->Note("could not follow the rename of " + event.model + ": " + e.what());
      }
      Schedule(name, "model " + event.model + " renamed to " + event.new_name);
      continue;
    }
    bool follows = false;
    for (const std::string* uri : {&spec.model_uri, &spec.canary_uri, &spec.shadow_uri}) {
      if (uri->empty()) continue;
      follows = follows || ModelRef::Parse(*uri).name == event.model;
    }
    if (!follows) continue;
    // The alias a rolled-back primary follows moved: follow it again.
    ModelRef primary = ModelRef::Parse(spec.model_uri);
    if (!spec.pinned_version.empty() && event.kind == registry::RegistryEvent::Kind::kAliasSet &&
        primary.name == event.model && primary.alias == event.alias) {
      std::lock_guard lock(entry->mu);
      entry->spec.pinned_version.clear();
      entry->spec.last_updated_time = NowMillis();
      try {
        store_.Update(entry->spec);
      } catch (const std::exception& e) {
        spdlog::error("deployment {}: could not unpin: {}", name, e.what());
      }
    }
    Schedule(name, "registry change of " + event.model);
  }
}

bool ServingService::Adopt(const std::string& name, const std::optional<DeploymentSpec>& stored,
                           const std::string& why) {
  std::shared_ptr<Entry> entry = EntryOf(name);
  if (!stored) {
    if (!entry) return false;
    {
      std::lock_guard lock(entry->mu);
      entry->deleted = true;
    }
    Publish([&](Map& map) {
      auto found = map.find(name);
      if (found != map.end() && found->second == entry) map.erase(found);
    });
    spdlog::info("deployment {}: deleted ({})", name, why);
    SchedulePrune("the delete of " + name);
    return true;
  }
  if (!entry) {
    auto created = std::make_shared<Entry>();
    created->spec = *stored;
    created->runtime = std::make_shared<Deployment>(name, RuntimeOptions(*stored), shadows_.get(),
                                                    options_.metrics, options_.sink);
    created->Note("created by " + stored->created_by + " for " + stored->model_uri + " (" + why +
                  ")");
    bool added = false;
    Publish([&](Map& map) { added = map.emplace(name, created).second; });
    if (added) Schedule(name, why);
    return added;
  }
  DeploymentSpec spec;
  {
    std::lock_guard lock(entry->mu);
    if (entry->deleted || SameSpec(entry->spec, *stored)) return false;
    // Read again under the lock this server's own changes are written
    // under: `stored` may predate one of them (a periodic re-read racing
    // an update), and must not undo it.
    std::optional<DeploymentSpec> fresh = store_.Get(name);
    if (!fresh || SameSpec(entry->spec, *fresh)) return false;  // a delete: its notice follows
    entry->spec = spec = *fresh;
  }
  entry->runtime->SetLimits(static_cast<size_t>(spec.max_queued), spec.log_sample_rate);
  entry->Note("changed (" + why + "): follows " + spec.model_uri +
              (spec.canary_uri.empty() ? "" : ", canary " + spec.canary_uri) +
              (spec.pinned_version.empty() ? "" : ", pinned to v" + spec.pinned_version));
  Schedule(name, why);
  return true;
}

bool ServingService::NeedsReload(const Entry& entry) {
  DeploymentSpec spec;
  std::map<std::string, VersionStatus> pending;
  {
    std::lock_guard lock(entry.mu);
    if (entry.deleted) return false;
    spec = entry.spec;
    pending = entry.pending;
  }
  std::shared_ptr<const Routing> routing = entry.runtime->routing();
  if (routing && routing->canary_weight != spec.canary_weight) return true;
  const Routing none;
  governance::Operation operation(ServingActor(), "deployments/check");
  for (const auto& [role, slot] : RolesOf(routing ? *routing : none)) {
    const std::string& uri = std::string(role) == "primary"  ? spec.model_uri
                             : std::string(role) == "canary" ? spec.canary_uri
                                                             : spec.shadow_uri;
    auto under_way = pending.find(role);
    if (uri.empty()) {
      if (slot) return true;
      continue;
    }
    Resolved resolved;
    try {
      resolved = Resolve(uri, std::string(role) == "primary" ? spec.pinned_version : "");
    } catch (const std::exception&) {
      // Names nothing now: one reload records the failure, then no more.
      if (under_way == pending.end() || under_way->second.state != "failed") return true;
      continue;
    }
    if (slot && slot->model_name == resolved.model_name && slot->version == resolved.version)
      continue;
    if (under_way != pending.end() && under_way->second.model_name == resolved.model_name &&
        under_way->second.version == resolved.version)
      continue;  // loading it, or failed to
    return true;
  }
  return false;
}

void ServingService::FollowStoredDeployment(const std::string& name) {
  Adopt(name, store_.Get(name), "changed through another server");
}

void ServingService::FollowModelChange(const std::string& model) {
  for (const auto& [name, entry] : *map_.load()) {
    DeploymentSpec spec;
    {
      std::lock_guard lock(entry->mu);
      spec = entry->spec;
    }
    bool follows = false;
    for (const std::string* uri : {&spec.model_uri, &spec.canary_uri, &spec.shadow_uri})
      follows = follows || (!uri->empty() && ModelRef::Parse(*uri).name == model);
    if (follows && NeedsReload(*entry)) Schedule(name, "registry change of " + model);
  }
}

void ServingService::FollowStore(const std::string& why) {
  // The deployments known before the listing: one created here after it
  // is not in the listing, and must not be taken for deleted.
  std::shared_ptr<const Map> known = map_.load();
  std::map<std::string, DeploymentSpec> stored;
  for (DeploymentSpec& spec : store_.List()) stored.emplace(spec.name, std::move(spec));
  for (const auto& [name, entry] : *known) {
    if (!stored.count(name)) Adopt(name, std::nullopt, why);
  }
  for (const auto& [name, spec] : stored) {
    // Adopt reloads what it changed; the rest reload when what their
    // references name moved unheard.
    if (Adopt(name, spec, why)) continue;
    std::shared_ptr<Entry> entry = EntryOf(name);
    if (entry && NeedsReload(*entry)) Schedule(name, why);
  }
}

ServingService::Resolved ServingService::Resolve(const std::string& uri,
                                                 const std::string& pinned_version) {
  ModelRef ref = ModelRef::Parse(uri);
  registry::ModelVersion found;
  if (!pinned_version.empty()) {
    found = registry_.GetModelVersion(ref.name, pinned_version);
  } else if (!ref.alias.empty()) {
    found = registry_.GetVersionByAlias(ref.name, ref.alias);
  } else if (!ref.version.empty()) {
    found = registry_.GetModelVersion(ref.name, ref.version);
  } else {
    std::vector<std::string> stages;
    if (ref.stage != "latest") stages.push_back(ref.stage);
    std::vector<registry::ModelVersion> latest = registry_.GetLatestVersions(ref.name, stages);
    if (latest.empty()) {
      ThrowNotFound("Registered model '" + ref.name + "' has no version" +
                    (stages.empty() ? "" : " in stage '" + ref.stage + "'") + ".");
    }
    found = *std::max_element(latest.begin(), latest.end(),
                              [](const auto& a, const auto& b) { return a.version < b.version; });
  }
  Resolved resolved;
  resolved.model_name = found.name;
  resolved.version = std::to_string(found.version);
  std::string location = registry_.GetDownloadUri(found.name, resolved.version);
  const std::string runs = "runs:/";
  if (location.rfind(runs, 0) == 0) {
    std::string rest = location.substr(runs.size());
    size_t slash = rest.find('/');
    std::string run_id = rest.substr(0, slash);
    std::string sub = slash == std::string::npos ? "" : rest.substr(slash + 1);
    location = tracking_.GetRun(run_id).info.artifact_uri + (sub.empty() ? "" : "/" + sub);
  }
  if (location.rfind(kArtifactsScheme, 0) != 0) {
    throw Error(ErrorCode::kNotImplemented,
                "the files of " + Describe(found.name, resolved.version) + " are at '" + location +
                    "', outside this server's artifact store; Slipway serves models whose "
                    "files it stores");
  }
  std::string path = location.substr(std::string(kArtifactsScheme).size());
  while (!path.empty() && path.front() == '/') path.erase(0, 1);
  resolved.artifact_path = path;
  return resolved;
}

std::string ServingService::CacheKey(const Resolved& resolved) {
  // Versions are immutable; the key also names the files' location, so a
  // model deleted and registered again under the same name gets its own.
  return Sha256::Hex(resolved.model_name + '\n' + resolved.version + '\n' + resolved.artifact_path)
      .substr(0, 32);
}

std::filesystem::path ServingService::Materialize(const Resolved& resolved) {
  namespace fs = std::filesystem;
  const std::string key = CacheKey(resolved);
  fs::path dir = options_.cache_dir / key;
  std::lock_guard lock(materialize_mu_);
  if (fs::exists(dir / ".complete")) return dir;
  fs::path staging = options_.cache_dir / (key + ".partial");
  fs::remove_all(staging);
  fs::create_directories(staging);
  size_t files = 0;
  std::function<void(const std::string&, const fs::path&)> copy = [&](const std::string& from,
                                                                      const fs::path& to) {
    for (const tracking::ArtifactEntry& entry : artifacts_.List(from)) {
      if (entry.path.empty() || entry.path == "." || entry.path == ".." ||
          entry.path.find('/') != std::string::npos) {
        continue;  // the artifact store hands out plain names only
      }
      const std::string child = from + "/" + entry.path;
      if (entry.is_dir) {
        fs::create_directories(to / entry.path);
        copy(child, to / entry.path);
        continue;
      }
      std::unique_ptr<blob::BlobReader> reader = artifacts_.Open(child);
      std::ofstream out(to / entry.path, std::ios::binary | std::ios::trunc);
      std::string chunk;
      uint64_t offset = 0;
      while (true) {
        chunk.clear();
        size_t got = reader->ReadAt(offset, 1 << 20, chunk);
        if (got == 0) break;
        out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        offset += got;
      }
      if (!out) throw Error(ErrorCode::kInternalError, "could not write the model cache");
      ++files;
    }
  };
  copy(resolved.artifact_path, staging);
  if (files == 0) {
    fs::remove_all(staging);
    ThrowInvalid(Describe(resolved.model_name, resolved.version) +
                 " has no files (was the model logged?)");
  }
  // What the folder holds, for whoever looks at the cache.
  std::ofstream(staging / ".complete") << resolved.artifact_path << '\n'
                                       << resolved.model_name << '\n'
                                       << resolved.version << '\n';
  fs::remove_all(dir);
  fs::rename(staging, dir);
  return dir;
}

std::shared_ptr<const Servable> ServingService::Load(const std::string& deployment,
                                                     const std::string& role,
                                                     const Resolved& resolved,
                                                     const std::string& uri,
                                                     const DeploymentSpec& spec) {
  std::filesystem::path dir = Materialize(resolved);
  auto servable = std::make_shared<Servable>();
  servable->model_name = resolved.model_name;
  servable->version = resolved.version;
  servable->uri = uri;
  servable->model = ml::LoadModel(dir, options_.load);
  servable->loaded_at = std::chrono::system_clock::now();
  servable->metrics = ServableMetrics::For(options_.metrics, deployment, role, resolved.model_name,
                                           resolved.version);
  if (spec.max_batch_rows > 0) {
    servable->batcher = std::make_shared<Batcher>(
        Batcher::Options{static_cast<size_t>(spec.max_batch_rows),
                         std::chrono::microseconds(spec.max_queue_delay_us)});
  }
  // Warm-up and check: the model must answer its own input example.
  if (std::optional<ml::Frame> example = ml::ReadInputExample(servable->model->mlmodel())) {
    try {
      servable->Predict(servable->Conform(std::move(*example)), "");
    } catch (const std::exception& e) {
      ThrowInvalid(Describe(resolved.model_name, resolved.version) +
                   " failed on its own input example: " + e.what());
    }
  }
  // The first sample: the recent rates, and the first interval of the
  // history, start when the version was loaded.
  servable->rates->Sample(servable->metrics, RateWindow::Clock::now());
  return servable;
}

void ServingService::Reconcile(const std::string& name, const std::string& why) {
  std::shared_ptr<Entry> entry = EntryOf(name);
  if (!entry) return;
  std::lock_guard reconcile(entry->reconcile_mu);
  DeploymentSpec spec;
  {
    std::lock_guard lock(entry->mu);
    if (entry->deleted) return;
    spec = entry->spec;
  }
  // The cache keys of what serves once this reconcile is done, and of the
  // versions it loads (held by the entry until it ends, so that a prune
  // meanwhile keeps their files).
  std::map<std::string, std::string> serving_keys;
  struct Loading {
    Entry& entry;
    std::vector<std::string> keys;
    ~Loading() {
      std::lock_guard lock(entry.mu);
      for (const std::string& key : keys) entry.loading_keys.erase(entry.loading_keys.find(key));
    }
    void Add(std::string key) {
      std::lock_guard lock(entry.mu);
      entry.loading_keys.insert(key);
      keys.push_back(std::move(key));
    }
  } loading{*entry, {}};
  {
    std::lock_guard lock(entry->mu);
    serving_keys = entry->cache_keys;
  }
  std::shared_ptr<const Routing> current = entry->runtime->routing();
  auto next = std::make_shared<Routing>(current ? *current : Routing{});
  bool changed = false;
  bool spec_changed = false;
  struct Role {
    const char* name;
    const std::string& uri;
    std::shared_ptr<const Servable>& slot;
  };
  Role roles[] = {{"primary", spec.model_uri, next->primary},
                  {"canary", spec.canary_uri, next->canary},
                  {"shadow", spec.shadow_uri, next->shadow}};
  for (Role& role : roles) {
    const std::string role_name = role.name;
    if (role.uri.empty()) {
      if (role.slot) {
        role.slot.reset();
        changed = true;
        entry->Note(role_name + " removed");
      }
      serving_keys.erase(role_name);
      std::lock_guard lock(entry->mu);
      entry->pending.erase(role_name);
      continue;
    }
    const std::string pinned = role_name == "primary" ? spec.pinned_version : "";
    auto same_batching = [&](const Servable& s) {
      size_t rows = s.batcher ? s.batcher->options().max_rows : 0;
      int64_t delay = s.batcher ? s.batcher->options().max_delay.count() : 0;
      return static_cast<int64_t>(rows) == spec.max_batch_rows &&
             (rows == 0 || delay == spec.max_queue_delay_us);
    };
    std::string description = "deployment " + name + ": " + role_name + " <- " + role.uri +
                              (pinned.empty() ? "" : " pinned to v" + pinned) + " (" + why + ")";
    try {
      governance::AuditedOperation(audit_, ServingActor(), "deployments/load", "background",
                                   description)
          .Run([&] {
            governance::SetTarget("deployment:" + name);
            Resolved resolved = Resolve(role.uri, pinned);
            const std::string key = CacheKey(resolved);
            if (role.slot && role.slot->model_name == resolved.model_name &&
                role.slot->version == resolved.version && same_batching(*role.slot)) {
              serving_keys[role_name] = key;
              std::lock_guard lock(entry->mu);
              entry->pending.erase(role_name);
              return;  // already serving what the reference names
            }
            {
              std::lock_guard lock(entry->mu);
              VersionStatus& status = entry->pending[role_name];
              status = VersionStatus{};
              status.role = role_name;
              status.model_name = resolved.model_name;
              status.version = resolved.version;
              status.state = "loading";
              status.time_ms = NowMillis();
            }
            loading.Add(key);
            std::shared_ptr<const Servable> loaded;
            if (role.slot && role.slot->model_name == resolved.model_name &&
                role.slot->version == resolved.version) {
              // Only batching changed: same model object, a new batcher.
              auto copy = std::make_shared<Servable>(*role.slot);
              copy->batcher.reset();
              if (spec.max_batch_rows > 0) {
                copy->batcher = std::make_shared<Batcher>(
                    Batcher::Options{static_cast<size_t>(spec.max_batch_rows),
                                     std::chrono::microseconds(spec.max_queue_delay_us)});
              }
              loaded = copy;
            } else {
              loaded = Load(name, role_name, resolved, role.uri, spec);
            }
            std::string was = role.slot ? " (was v" + role.slot->version + ")" : "";
            if (role_name == "primary" && role.slot &&
                (role.slot->version != resolved.version ||
                 role.slot->model_name != resolved.model_name)) {
              spec.previous_version = role.slot->version;
              spec.previous_model = role.slot->model_name;
              spec_changed = true;
            }
            role.slot = loaded;
            serving_keys[role_name] = key;
            changed = true;
            entry->Note(role_name + " now serves " +
                        Describe(resolved.model_name, resolved.version) + was);
            std::lock_guard lock(entry->mu);
            entry->pending.erase(role_name);
          });
    } catch (const Error& e) {
      spdlog::warn("deployment {}: {} of {} not loaded: {}", name, role_name, role.uri, e.what());
      entry->Note(role_name + " " + role.uri + " not loaded: " + e.what());
      std::lock_guard lock(entry->mu);
      VersionStatus& status = entry->pending[role_name];
      status.role = role_name;
      status.state = "failed";
      status.error = e.what();
      status.time_ms = NowMillis();
      if (options_.metrics) {
        options_.metrics
            ->GetCounter("slipway_serving_load_failures_total",
                         "Model versions that failed to load or to answer their input example.",
                         {{"deployment", name}})
            .Increment();
      }
    }
  }
  next->canary_weight = spec.canary_weight;
  if (current == nullptr || next->canary_weight != current->canary_weight) changed = true;
  {
    std::lock_guard lock(entry->mu);
    if (entry->deleted) return;
    if (spec_changed) {
      entry->spec.previous_version = spec.previous_version;
      entry->spec.previous_model = spec.previous_model;
      entry->spec.last_updated_time = NowMillis();
      try {
        // On the spec as stored: another server sharing the store may have
        // changed the rest of it since this one read it.
        DeploymentSpec record = store_.Get(name).value_or(entry->spec);
        record.previous_version = spec.previous_version;
        record.previous_model = spec.previous_model;
        record.last_updated_time = entry->spec.last_updated_time;
        store_.Update(record);
      } catch (const std::exception& e) {
        spdlog::error("deployment {}: could not record the swap: {}", name, e.what());
      }
    }
  }
  if (changed) {
    std::shared_ptr<const Routing> after = next;
    entry->runtime->Swap(std::move(next));
    // What the versions swapped out did since their last sample: the
    // periodic sampling no longer sees them as serving, so without this
    // their last partial interval would be lost. After the swap, so that no
    // new request lands on them after it; those in flight at the swap finish
    // later, and the next periodic sample takes them (Entry::retiring).
    RoleServables gone = SwappedOut(current.get(), *after);
    RateSample last;
    last.time_ms = NowMillis();
    SampleInto(gone, RateWindow::Clock::now(), false, last);
    if (!last.versions.empty()) entry->history.Append(std::move(last));
    {
      std::lock_guard lock(entry->mu);
      entry->retiring.insert(entry->retiring.end(), gone.begin(), gone.end());
    }
    if (options_.metrics) {
      options_.metrics
          ->GetCounter("slipway_serving_swaps_total", "Routing changes applied (hot swaps).",
                       {{"deployment", name}})
          .Increment();
    }
    {
      std::lock_guard lock(entry->mu);
      entry->cache_keys = serving_keys;
    }
    // The version swapped out may be one no deployment needs any more.
    try {
      PruneModelCache();
    } catch (const std::exception& e) {
      spdlog::warn("model cache: prune failed: {}", e.what());
    }
  }
}

void ServingService::SchedulePrune(const std::string& why) {
  // When the executor is full, the next swap prunes.
  RunInBackground([this, why] {
    try {
      PruneModelCache();
    } catch (const std::exception& e) {
      spdlog::warn("model cache: prune after {} failed: {}", why, e.what());
    }
  });
}

size_t ServingService::PruneModelCache() {
  namespace fs = std::filesystem;
  if (options_.cache_dir.empty()) return 0;
  // What the references name now (including the version a rollback would
  // pin), read before the lock: registry reads need not hold up loads.
  std::set<std::string> keep;
  std::vector<DeploymentSpec> specs;
  for (const auto& [name, entry] : *map_.load()) {
    std::lock_guard lock(entry->mu);
    if (!entry->deleted) specs.push_back(entry->spec);
  }
  {
    governance::Operation operation(ServingActor(), "deployments/prune-cache");
    auto named = [&](const std::string& uri, const std::string& version) {
      if (uri.empty()) return;
      try {
        keep.insert(CacheKey(Resolve(uri, version)));
      } catch (const std::exception&) {
        // Names nothing now (a version deleted): nothing to keep for it.
      }
    };
    for (const DeploymentSpec& spec : specs) {
      named(spec.model_uri, spec.pinned_version);
      named(spec.canary_uri, "");
      named(spec.shadow_uri, "");
      if (!spec.previous_version.empty()) {
        if (FollowsPreviousModel(spec)) {
          named(spec.model_uri, spec.previous_version);
        } else {
          named("models:/" + spec.previous_model + "/" + spec.previous_version, "");
        }
      }
    }
  }
  // Under the copy lock, what is served and loaded: a load registers its
  // key before it copies, so it is either seen here or copies after the
  // prune.
  std::lock_guard copying(materialize_mu_);
  for (const auto& [name, entry] : *map_.load()) {
    std::lock_guard lock(entry->mu);
    for (const auto& [role, key] : entry->cache_keys) keep.insert(key);
    keep.insert(entry->loading_keys.begin(), entry->loading_keys.end());
  }
  std::vector<fs::path> doomed;
  std::error_code ec;
  for (const fs::directory_entry& item : fs::directory_iterator(options_.cache_dir, ec)) {
    const std::string name = item.path().filename().string();
    const bool partial = name.ends_with(".partial");  // an interrupted copy
    const std::string key = partial ? name.substr(0, name.size() - 8) : name;
    if (IsCacheKey(key) && (partial || keep.count(key) == 0)) doomed.push_back(item.path());
  }
  size_t removed = 0;
  for (const fs::path& path : doomed) {
    std::error_code remove_ec;
    fs::remove_all(path, remove_ec);
    if (remove_ec) {
      spdlog::warn("model cache: could not remove {}: {}", path.string(), remove_ec.message());
    } else {
      ++removed;
    }
  }
  if (removed > 0) spdlog::info("model cache: removed {} version(s) no deployment needs", removed);
  return removed;
}

void ServingService::RequireReadableModel(const std::string& uri) {
  if (uri.empty()) return;
  governance::Require(authorizer_, Permission::kRead, ResourceType::kRegisteredModel,
                      ModelRef::Parse(uri).name);
}

DeploymentInfo ServingService::InfoOf(const Entry& entry) const {
  DeploymentInfo info;
  std::shared_ptr<const Routing> routing = entry.runtime->routing();
  if (routing) {
    auto ready = [&](const char* role, const std::shared_ptr<const Servable>& s) {
      if (!s) return;
      VersionStatus status;
      status.role = role;
      status.model_name = s->model_name;
      status.version = s->version;
      status.state = "ready";
      status.time_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(s->loaded_at.time_since_epoch())
              .count();
      const ServableMetrics& m = s->metrics;
      if (m.ok != nullptr) {
        // Since this servable was loaded (its first sample), not all that
        // its series on /metrics has counted.
        if (std::optional<RateWindow::Totals> totals = s->rates->SinceFirst(m)) {
          status.errors = totals->errors;
          status.requests = totals->requests;
          status.rows = totals->rows;
          status.latency_p50_ms = totals->latency_p50_ms;
          status.latency_p99_ms = totals->latency_p99_ms;
        }
        status.recent = s->rates->Read(m, RateWindow::Clock::now());
      }
      info.versions.push_back(std::move(status));
    };
    ready("primary", routing->primary);
    ready("canary", routing->canary);
    ready("shadow", routing->shadow);
  }
  std::lock_guard lock(entry.mu);
  info.spec = entry.spec;
  for (const auto& [role, status] : entry.pending) info.versions.push_back(status);
  info.events.assign(entry.events.begin(), entry.events.end());
  info.in_flight = entry.runtime->in_flight();
  info.shadow_dropped = entry.runtime->shadow_dropped();
  return info;
}

DeploymentInfo ServingService::Create(DeploymentSpec request) {
  ValidateDeploymentName(request.name);
  governance::SetTarget("deployment:" + request.name);
  ValidateUri(request.model_uri, "model_uri");
  if (!request.canary_uri.empty()) ValidateUri(request.canary_uri, "canary_uri");
  if (!request.shadow_uri.empty()) ValidateUri(request.shadow_uri, "shadow_uri");
  if (request.canary_uri.empty()) request.canary_weight = 0;
  ValidateLimits(request);
  RequireReadableModel(request.model_uri);
  RequireReadableModel(request.canary_uri);
  RequireReadableModel(request.shadow_uri);
  // The reference must name a version now: a typo is an error, not a
  // deployment that never serves.
  Resolve(request.model_uri, "");
  request.pinned_version.clear();
  request.previous_version.clear();
  request.created_by = governance::CurrentActorName();
  request.creation_time = request.last_updated_time = NowMillis();
  if (EntryOf(request.name)) {
    throw Error(ErrorCode::kResourceAlreadyExists,
                "Deployment '" + request.name + "' already exists.");
  }
  store_.Create(request);
  authorizer_.Created(governance::CurrentActor(), ResourceType::kDeployment, request.name);
  auto entry = std::make_shared<Entry>();
  entry->spec = request;
  entry->runtime = std::make_shared<Deployment>(request.name, RuntimeOptions(request),
                                                shadows_.get(), options_.metrics, options_.sink);
  entry->Note("created by " + request.created_by + " for " + request.model_uri);
  Publish([&](Map& map) { map[request.name] = entry; });
  Schedule(request.name, "created");
  return InfoOf(*entry);
}

DeploymentInfo ServingService::Get(const std::string& name) {
  governance::Require(authorizer_, Permission::kRead, ResourceType::kDeployment, name);
  std::shared_ptr<Entry> entry = EntryOf(name);
  if (!entry) ThrowNotFound("Deployment '" + name + "' does not exist.");
  return InfoOf(*entry);
}

std::vector<RateSample> ServingService::History(const std::string& name, int64_t since_ms) {
  governance::Require(authorizer_, Permission::kRead, ResourceType::kDeployment, name);
  std::shared_ptr<Entry> entry = EntryOf(name);
  if (!entry) ThrowNotFound("Deployment '" + name + "' does not exist.");
  return entry->history.Since(since_ms);
}

std::vector<DeploymentInfo> ServingService::List() {
  Visibility visible = governance::Readable(authorizer_, ResourceType::kDeployment);
  std::vector<DeploymentInfo> out;
  for (const auto& [name, entry] : *map_.load()) {
    if (visible.Allows(name)) out.push_back(InfoOf(*entry));
  }
  return out;
}

DeploymentInfo ServingService::Update(const std::string& name, const DeploymentUpdate& update) {
  governance::Require(authorizer_, Permission::kEdit, ResourceType::kDeployment, name);
  Adopt(name, store_.Get(name), "changed through another server");
  std::shared_ptr<Entry> entry = EntryOf(name);
  if (!entry) ThrowNotFound("Deployment '" + name + "' does not exist.");
  DeploymentSpec spec;
  {
    std::lock_guard lock(entry->mu);
    spec = entry->spec;
  }
  std::vector<std::string> changes;
  if (update.model_uri) {
    ValidateUri(*update.model_uri, "model_uri");
    RequireReadableModel(*update.model_uri);
    Resolve(*update.model_uri, "");
    spec.model_uri = *update.model_uri;
    spec.pinned_version.clear();
    changes.push_back("model " + spec.model_uri);
  }
  if (update.canary_uri) {
    if (!update.canary_uri->empty()) {
      ValidateUri(*update.canary_uri, "canary_uri");
      RequireReadableModel(*update.canary_uri);
      Resolve(*update.canary_uri, "");
    }
    spec.canary_uri = *update.canary_uri;
    changes.push_back(spec.canary_uri.empty() ? "canary removed" : "canary " + spec.canary_uri);
  }
  if (update.canary_weight) spec.canary_weight = *update.canary_weight;
  if (spec.canary_uri.empty()) spec.canary_weight = 0;
  if (update.canary_weight)
    changes.push_back("canary weight " + std::to_string(spec.canary_weight));
  if (update.shadow_uri) {
    if (!update.shadow_uri->empty()) {
      ValidateUri(*update.shadow_uri, "shadow_uri");
      RequireReadableModel(*update.shadow_uri);
      Resolve(*update.shadow_uri, "");
    }
    spec.shadow_uri = *update.shadow_uri;
    changes.push_back(spec.shadow_uri.empty() ? "shadow removed" : "shadow " + spec.shadow_uri);
  }
  if (update.max_queued) spec.max_queued = *update.max_queued;
  if (update.max_batch_rows) spec.max_batch_rows = *update.max_batch_rows;
  if (update.max_queue_delay_us) spec.max_queue_delay_us = *update.max_queue_delay_us;
  if (update.log_sample_rate) spec.log_sample_rate = *update.log_sample_rate;
  ValidateLimits(spec);
  spec.last_updated_time = NowMillis();
  {
    std::lock_guard lock(entry->mu);
    store_.Update(spec);
    entry->spec = spec;
  }
  entry->runtime->SetLimits(static_cast<size_t>(spec.max_queued), spec.log_sample_rate);
  std::string summary;
  for (const std::string& change : changes) summary += (summary.empty() ? "" : ", ") + change;
  entry->Note("updated by " + governance::CurrentActorName() +
              (summary.empty() ? "" : ": " + summary));
  Schedule(name, "update");
  return InfoOf(*entry);
}

DeploymentInfo ServingService::Rollback(const std::string& name) {
  governance::Require(authorizer_, Permission::kEdit, ResourceType::kDeployment, name);
  Adopt(name, store_.Get(name), "changed through another server");
  std::shared_ptr<Entry> entry = EntryOf(name);
  if (!entry) ThrowNotFound("Deployment '" + name + "' does not exist.");
  std::string note;
  {
    std::lock_guard lock(entry->mu);
    DeploymentSpec spec = entry->spec;
    if (!spec.canary_uri.empty()) {
      note = "rolled back: canary " + spec.canary_uri + " removed";
      spec.canary_uri.clear();
      spec.canary_weight = 0;
    } else if (!spec.previous_version.empty()) {
      std::shared_ptr<const Routing> routing = entry->runtime->routing();
      if (FollowsPreviousModel(spec)) {
        note = "rolled back to v" + spec.previous_version;
        spec.pinned_version = spec.previous_version;
      } else {
        // The version served before was of another model (a canary of it
        // promoted): the primary follows that version again, by its URI.
        const std::string target = "models:/" + spec.previous_model + "/" + spec.previous_version;
        note = "rolled back to " + Describe(spec.previous_model, spec.previous_version) +
               ": the primary now follows " + target + " (was " + spec.model_uri + ")";
        spec.model_uri = target;
        spec.pinned_version.clear();
      }
      spec.previous_version = routing && routing->primary ? routing->primary->version : "";
      spec.previous_model = routing && routing->primary ? routing->primary->model_name : "";
    } else {
      throw Error(ErrorCode::kInvalidState, "Deployment '" + name +
                                                "' has nothing to roll back to: no canary and no "
                                                "earlier version served.");
    }
    spec.last_updated_time = NowMillis();
    store_.Update(spec);
    entry->spec = spec;
  }
  entry->Note(note + " by " + governance::CurrentActorName());
  Schedule(name, "rollback");
  return InfoOf(*entry);
}

DeploymentInfo ServingService::Promote(const std::string& name) {
  governance::SetTarget("deployment:" + name);
  governance::Require(authorizer_, Permission::kEdit, ResourceType::kDeployment, name);
  Adopt(name, store_.Get(name), "changed through another server");
  std::shared_ptr<Entry> entry = EntryOf(name);
  if (!entry) ThrowNotFound("Deployment '" + name + "' does not exist.");
  DeploymentSpec spec;
  {
    std::lock_guard lock(entry->mu);
    spec = entry->spec;
  }
  if (spec.canary_uri.empty()) {
    throw Error(ErrorCode::kInvalidState,
                "Deployment '" + name +
                    "' has no canary to promote: set one first (canary_uri), let it load, "
                    "then promote it.");
  }
  std::shared_ptr<const Routing> routing = entry->runtime->routing();
  if (!routing || !routing->canary || routing->canary->uri != spec.canary_uri) {
    throw Error(ErrorCode::kInvalidState,
                "The canary " + spec.canary_uri + " of deployment '" + name +
                    "' is not serving yet (still loading, or it failed to load): only a canary "
                    "that has loaded and answered its input example can be promoted.");
  }
  // The version that has been taking the canary's share, whatever the
  // canary's reference names by now.
  const std::string model = routing->canary->model_name;
  const std::string version = routing->canary->version;
  const ModelRef primary = ModelRef::Parse(spec.model_uri);
  const bool via_alias = !primary.alias.empty() && primary.name == model;
  // The deployment's half of the promotion: the canary removed, the
  // primary's URI set, unless someone changed the canary meanwhile.
  auto update_deployment = [&] {
    std::lock_guard lock(entry->mu);
    DeploymentSpec current = entry->spec;
    if (current.canary_uri != spec.canary_uri) {
      // Changed meanwhile by someone else: leave their change standing.
      throw Error(ErrorCode::kInvalidState, "The canary of deployment '" + name +
                                                "' changed while it was being promoted; look at "
                                                "the deployment again.");
    }
    current.model_uri = spec.model_uri;
    current.canary_uri.clear();
    current.canary_weight = 0;
    current.pinned_version.clear();
    current.last_updated_time = NowMillis();
    store_.Update(current);
    entry->spec = current;
  };
  std::string note;
  if (via_alias) {
    // The registry's half first (it checks EDIT on the model and announces
    // the move; the deployment follows it like any other alias move). When
    // the deployment's half then fails, the alias goes back to where it was,
    // so a failed promotion changes neither.
    const std::string was =
        std::to_string(registry_.GetVersionByAlias(model, primary.alias).version);
    registry_.SetAlias(model, primary.alias, version);
    try {
      update_deployment();
    } catch (...) {
      try {
        if (was != version) registry_.SetAlias(model, primary.alias, was);
      } catch (const std::exception& e) {
        spdlog::error(
            "deployment {}: promotion failed and @{} of {} could not be moved back to "
            "v{}: {}",
            name, primary.alias, model, was, e.what());
      }
      throw;
    }
    note = "promoted the canary " + Describe(model, version) + ": @" + primary.alias + " of " +
           model + " now names v" + version;
  } else {
    const std::string target = "models:/" + model + "/" + version;
    RequireReadableModel(target);
    Resolve(target, "");  // still registered
    note = "promoted the canary " + Describe(model, version) + ": the primary now follows " +
           target + " (was " + spec.model_uri + ")";
    spec.model_uri = target;
    update_deployment();
  }
  entry->Note(note + ", canary removed, by " + governance::CurrentActorName());
  Schedule(name, "promote");
  return InfoOf(*entry);
}

void ServingService::Delete(const std::string& name) {
  governance::Require(authorizer_, Permission::kManage, ResourceType::kDeployment, name);
  std::shared_ptr<Entry> entry = EntryOf(name);
  if (!entry) ThrowNotFound("Deployment '" + name + "' does not exist.");
  {
    std::lock_guard lock(entry->mu);
    entry->deleted = true;
  }
  store_.Delete(name);
  authorizer_.Deleted(ResourceType::kDeployment, name);
  Publish([&](Map& map) { map.erase(name); });
  SchedulePrune("the delete of " + name);
}

bool ServingService::AnswersQuickly(const std::string& name) const {
  std::shared_ptr<Entry> entry = EntryOf(name);
  return entry && entry->runtime->AnswersQuickly();
}

std::shared_ptr<Deployment> ServingService::Find(const std::string& name) {
  governance::Require(authorizer_, Permission::kUse, ResourceType::kDeployment, name);
  std::shared_ptr<Entry> entry = EntryOf(name);
  if (!entry) ThrowNotFound("Deployment '" + name + "' does not exist.");
  return entry->runtime;
}

}  // namespace slipway::serving
