// Dataset records on PostgreSQL.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/dataset_store.h"
#include "store/postgres/pg_db.h"

namespace slipway::store::postgres {

// Implements data::DatasetStore over a PgDb shared with the other stores,
// with SqliteDatasetStore's behaviour: versions numbered in order, the next
// one read and written in one SERIALIZABLE transaction. Thread-safe.
class PgDatasetStore : public data::DatasetStore {
 public:
  explicit PgDatasetStore(std::shared_ptr<PgDb> db) : db_(std::move(db)) {}

  data::DatasetVersion AddVersion(data::DatasetVersion version, bool* created) override;
  data::DatasetVersion GetVersion(const std::string& name, int64_t version) override;
  data::DatasetVersion LatestVersion(const std::string& name) override;
  std::vector<data::DatasetVersion> ListVersions(const std::string& name) override;
  std::vector<data::DatasetSummary> ListDatasets(const Visibility& visible) override;

 private:
  std::shared_ptr<PgDb> db_;
};

}  // namespace slipway::store::postgres
