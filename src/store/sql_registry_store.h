// The model registry (registered models, versions, their tags, aliases),
// written once for both engines over an Engine (store/sql_engine.h).
// SqliteRegistryStore (sqlite_registry_store.h) and PgRegistryStore
// (postgres/pg_registry_store.h) are its two instances; the definitions are
// in sql_registry_store_impl.h, compiled once per engine.
//
// Thread-safe. Writes are the Engine's write transactions: SQLite's single
// writer (shared with the other stores), or PostgreSQL's SERIALIZABLE
// transactions run again on a conflict. A version's number is the model's
// largest plus one, read and written in one such transaction, so two
// servers creating versions of one model at once get distinct numbers.
#pragma once

#include <memory>
#include <string>

#include "registry/registry_store.h"

namespace slipway::store {

template <class Engine>
class SqlRegistryStore : public registry::RegistryStore {
 public:
  explicit SqlRegistryStore(std::shared_ptr<typename Engine::Db> db) : db_(std::move(db)) {}

  void CreateRegisteredModel(const registry::RegisteredModel& model) override;
  std::optional<registry::RegisteredModel> GetRegisteredModel(const std::string& name) override;
  void RenameRegisteredModel(const std::string& name, const std::string& new_name) override;
  void UpdateRegisteredModel(const std::string& name, const std::string& description) override;
  void DeleteRegisteredModel(const std::string& name) override;
  tracking::PageOf<registry::RegisteredModel> SearchRegisteredModels(
      const tracking::Filter& filter, const std::vector<tracking::OrderTerm>& order_by,
      tracking::Page page, const Visibility& visible) override;
  void SetRegisteredModelTag(const std::string& name, const registry::Tag& tag) override;
  void DeleteRegisteredModelTag(const std::string& name, const std::string& key) override;

  registry::ModelVersion CreateModelVersion(const registry::ModelVersion& version) override;
  std::optional<registry::ModelVersion> GetModelVersion(const std::string& name,
                                                        int64_t version) override;
  void UpdateModelVersion(const std::string& name, int64_t version,
                          const std::string& description) override;
  void TransitionModelVersionStage(const std::string& name, int64_t version,
                                   const std::string& stage, bool archive_existing) override;
  void DeleteModelVersion(const std::string& name, int64_t version) override;
  tracking::PageOf<registry::ModelVersion> SearchModelVersions(
      const tracking::Filter& filter, const std::vector<tracking::OrderTerm>& order_by,
      tracking::Page page, const Visibility& visible) override;
  void SetModelVersionTag(const std::string& name, int64_t version,
                          const registry::Tag& tag) override;
  void DeleteModelVersionTag(const std::string& name, int64_t version,
                             const std::string& key) override;

  void SetAlias(const std::string& name, const std::string& alias, int64_t version) override;
  void DeleteAlias(const std::string& name, const std::string& alias) override;
  std::optional<int64_t> ResolveAlias(const std::string& name, const std::string& alias) override;

 private:
  std::shared_ptr<typename Engine::Db> db_;
};

}  // namespace slipway::store
