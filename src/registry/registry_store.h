// The persistence interface of the model registry.
//
// RegistryStore is what the registry service needs from a metadata store;
// SqliteRegistryStore (store/) fills it. Implementations are thread-safe and
// return from a write only once it is durable. Lookups of unknown names or
// versions return an empty optional; writes to them throw
// RESOURCE_DOES_NOT_EXIST with MLflow's wording.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/visibility.h"
#include "registry/entities.h"
#include "tracking/search_filter.h"
#include "tracking/tracking_store.h"

namespace slipway::registry {

using tracking::Page;
using tracking::PageOf;

class RegistryStore {
 public:
  virtual ~RegistryStore() = default;

  // RESOURCE_ALREADY_EXISTS if the name is taken.
  virtual void CreateRegisteredModel(const RegisteredModel& model) = 0;
  virtual std::optional<RegisteredModel> GetRegisteredModel(const std::string& name) = 0;
  // Moves the model, its versions, tags and aliases to `new_name`.
  virtual void RenameRegisteredModel(const std::string& name, const std::string& new_name) = 0;
  virtual void UpdateRegisteredModel(const std::string& name, const std::string& description) = 0;
  // Deletes the model with all its versions, tags and aliases.
  virtual void DeleteRegisteredModel(const std::string& name) = 0;
  // Searches return only what `visible` lets through (by registered-model
  // name; a version as its model), left out before paging: a page is full
  // when that many visible ones match.
  virtual PageOf<RegisteredModel> SearchRegisteredModels(
      const tracking::Filter& filter, const std::vector<tracking::OrderTerm>& order_by, Page page,
      const Visibility& visible) = 0;
  virtual void SetRegisteredModelTag(const std::string& name, const Tag& tag) = 0;
  virtual void DeleteRegisteredModelTag(const std::string& name, const std::string& key) = 0;

  // Assigns the next version number (one above every version ever created,
  // deleted ones included) and returns the stored version.
  virtual ModelVersion CreateModelVersion(const ModelVersion& version) = 0;
  virtual std::optional<ModelVersion> GetModelVersion(const std::string& name, int64_t version) = 0;
  virtual void UpdateModelVersion(const std::string& name, int64_t version,
                                  const std::string& description) = 0;
  // Moves a version to `stage`; with `archive_existing`, the other versions
  // in that stage move to Archived in the same transaction.
  virtual void TransitionModelVersionStage(const std::string& name, int64_t version,
                                           const std::string& stage, bool archive_existing) = 0;
  // Marks the version deleted (its number is never reused) and drops its
  // aliases.
  virtual void DeleteModelVersion(const std::string& name, int64_t version) = 0;
  virtual PageOf<ModelVersion> SearchModelVersions(const tracking::Filter& filter,
                                                   const std::vector<tracking::OrderTerm>& order_by,
                                                   Page page, const Visibility& visible) = 0;
  virtual void SetModelVersionTag(const std::string& name, int64_t version, const Tag& tag) = 0;
  virtual void DeleteModelVersionTag(const std::string& name, int64_t version,
                                     const std::string& key) = 0;

  // The alias must name an existing version.
  virtual void SetAlias(const std::string& name, const std::string& alias, int64_t version) = 0;
  virtual void DeleteAlias(const std::string& name, const std::string& alias) = 0;
  virtual std::optional<int64_t> ResolveAlias(const std::string& name,
                                              const std::string& alias) = 0;
};

}  // namespace slipway::registry
