// The model registry: MLflow's registered models, versions, stages and aliases.
//
// RegistryService validates input as MLflow does (names, version numbers,
// reserved aliases, stages), links versions to the runs and logged models of
// experiment tracking, and calls the RegistryStore. It knows nothing of HTTP.
// Failures throw slipway::Error with MLflow's code and wording. Thread-safe if
// the stores are.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "registry/registry_events.h"
#include "registry/registry_store.h"
#include "tracking/tracking_service.h"

namespace slipway::registry {

inline constexpr size_t kMaxModelNameLength = 256;
inline constexpr size_t kMaxRegistryTagKeyLength = 250;
inline constexpr size_t kMaxRegistryTagValueLength = 100000;
inline constexpr size_t kMaxAliasLength = 255;

// What the caller of a registry operation may read beyond the registered
// model that the operation names: the experiments (and so the runs and
// logged models in them) and the other registered models that a version's
// source or lineage reaches. The HTTP layer answers from the caller's
// permissions; Everything() allows all (no auth, or an admin).
class ReadAccess {
 public:
  virtual ~ReadAccess() = default;
  virtual bool CanReadExperiment(const std::string& experiment_id) const = 0;
  virtual bool CanReadRegisteredModel(const std::string& name) const = 0;
  // Whether the reader may learn that an id does not exist; others get the
  // answer a hidden one gets, so that ids cannot be probed.
  virtual bool SeesWhatExists() const { return true; }
  static const ReadAccess& Everything();
};

// What the current operation's actor may read, through `authorizer`
// (everything when it is not enforcing). Taken when made: holds a copy of
// the actor, so it may be used inside nested internal operations.
class ActorReadAccess final : public ReadAccess {
 public:
  explicit ActorReadAccess(const governance::Authorizer& authorizer);
  bool CanReadExperiment(const std::string& experiment_id) const override;
  bool CanReadRegisteredModel(const std::string& name) const override;
  bool SeesWhatExists() const override;

 private:
  const governance::Authorizer& authorizer_;
  governance::Actor actor_;
};

class RegistryService {
 public:
  // All must outlive the service. Every method checks the current
  // operation's actor (governance::Operation) on the registered model it
  // names: reads need READ, changes EDIT, deletes MANAGE; creating a model
  // needs only a signed-in actor, who then manages it.
  RegistryService(RegistryStore& store, tracking::TrackingService& tracking,
                  governance::Authorizer& authorizer = governance::Authorizer::AllowAll());

  const governance::Authorizer& authorizer() const { return authorizer_; }

  // Announces every committed change (see registry_events.h).
  RegistryEventBus& events() { return events_; }

  RegisteredModel CreateRegisteredModel(const std::string& name, const std::vector<Tag>& tags,
                                        const std::string& description);
  RegisteredModel GetRegisteredModel(const std::string& name);
  RegisteredModel RenameRegisteredModel(const std::string& name, const std::string& new_name);
  RegisteredModel UpdateRegisteredModel(const std::string& name, const std::string& description);
  void DeleteRegisteredModel(const std::string& name);
  // Only the models the actor may read, left out in the store's query: a
  // page is full when that many match, and the page token counts readable
  // models only.
  tracking::SearchResult<RegisteredModel> SearchRegisteredModels(
      const std::string& filter, const std::vector<std::string>& order_by,
      std::optional<int64_t> max_results, const std::string& page_token);
  // The newest version in each of `stages` (every stage when empty).
  std::vector<ModelVersion> GetLatestVersions(const std::string& name,
                                              const std::vector<std::string>& stages);
  void SetRegisteredModelTag(const std::string& name, const Tag& tag);
  void DeleteRegisteredModelTag(const std::string& name, const std::string& key);

  struct NewVersion {
    std::string name;
    std::string source;
    std::string run_id;
    std::string run_link;
    std::string description;
    std::string model_id;
    std::vector<Tag> tags;
  };
  // Creating a version reads its source: PERMISSION_DENIED unless the
  // actor may read the run, the logged model and the artifact folder it
  // comes from; for a `models:/<name>/<version>` source, that registered
  // model (as in MLflow; the lineage withholds what it copies from other
  // readers).
  ModelVersion CreateModelVersion(NewVersion request);
  // `version` is the text from the request; not a number -> INVALID_PARAMETER_VALUE.
  ModelVersion GetModelVersion(const std::string& name, const std::string& version);
  ModelVersion UpdateModelVersion(const std::string& name, const std::string& version,
                                  const std::string& description);
  ModelVersion TransitionStage(const std::string& name, const std::string& version,
                               const std::string& stage, bool archive_existing_versions);
  void DeleteModelVersion(const std::string& name, const std::string& version);
  // Only versions of the models the actor may read, as
  // SearchRegisteredModels.
  tracking::SearchResult<ModelVersion> SearchModelVersions(const std::string& filter,
                                                           const std::vector<std::string>& order_by,
                                                           std::optional<int64_t> max_results,
                                                           const std::string& page_token);
  // Where the client downloads the version from, as MLflow answers it: the
  // logged model's artifact URI for a `models:/<model_id>` source, the
  // source itself otherwise (the client resolves `runs:/` URIs).
  std::string GetDownloadUri(const std::string& name, const std::string& version);
  // The artifact URI the version's files are under, every indirection
  // resolved: `runs:/<run_id>/<path>` to the run's artifact URI plus the path,
  // `models:/<model_id>` to the logged model's, `models:/<name>/<version>` to
  // that version's. READ on the registered model; what it points at is read
  // as the server (the version was checked when it was created).
  std::string ResolveArtifactUri(const std::string& name, const std::string& version);
  void SetModelVersionTag(const std::string& name, const std::string& version, const Tag& tag);
  void DeleteModelVersionTag(const std::string& name, const std::string& version,
                             const std::string& key);

  void SetAlias(const std::string& name, const std::string& alias, const std::string& version);
  void DeleteAlias(const std::string& name, const std::string& alias);
  ModelVersion GetVersionByAlias(const std::string& name, const std::string& alias);

 private:
  // Reads and writes the registry makes in tracking on its own account
  // (after checking the caller's right to them itself): a nested operation
  // of the operator "system:registry", for as long as it lives.
  class Internal {
   public:
    Internal();

   private:
    governance::Operation operation_;
  };

  void RequireOn(const std::string& name, governance::Permission needed);
  // Names "model_version:<name>/<version>" as the target.
  void RequireOnVersion(const std::string& name, const std::string& version,
                        governance::Permission needed);
  RegisteredModel RequireModel(const std::string& name);
  // Checks `request.source` against its run or logged model, and fills in the
  // run and model of a `models:/<name>/<version>` source.
  // PERMISSION_DENIED unless `access` may read everything the source reaches.
  void ValidateSource(NewVersion& request, const ReadAccess& access);
  void RequireReadableRun(const std::string& run_id, const std::string& source,
                          const ReadAccess& access);
  static void RequireReadableArtifacts(const std::string& source, const ReadAccess& access);
  int64_t ParseVersion(const std::string& version);

  RegistryStore& store_;
  tracking::TrackingService& tracking_;
  governance::Authorizer& authorizer_;
  RegistryEventBus events_;
};

}  // namespace slipway::registry
