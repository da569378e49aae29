// The model registry on PostgreSQL.
#pragma once

#include <memory>

#include "registry/registry_store.h"
#include "store/postgres/pg_db.h"

namespace slipway::store::postgres {

// Implements RegistryStore over a PgDb shared with the other stores, with
// SqliteRegistryStore's behaviour: its statements in PostgreSQL's spelling,
// searches through SqlDialect::Postgres(). A version's number is the
// model's largest plus one, read and written in one SERIALIZABLE
// transaction, so two servers creating versions of one model at once get
// distinct numbers (one transaction runs again). Thread-safe.
class PgRegistryStore : public registry::RegistryStore {
 public:
  explicit PgRegistryStore(std::shared_ptr<PgDb> db) : db_(std::move(db)) {}

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
  std::shared_ptr<PgDb> db_;
};

}  // namespace slipway::store::postgres
