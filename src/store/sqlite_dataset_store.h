// Dataset records on the embedded SQLite database.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/dataset_store.h"
#include "store/sqlite_db.h"

namespace slipway::store {

// Implements data::DatasetStore over the shared SqliteDb.
class SqliteDatasetStore : public data::DatasetStore {
 public:
  explicit SqliteDatasetStore(std::shared_ptr<SqliteDb> db) : db_(std::move(db)) {}

  data::DatasetVersion AddVersion(data::DatasetVersion version, bool* created) override;
  data::DatasetVersion GetVersion(const std::string& name, int64_t version) override;
  data::DatasetVersion LatestVersion(const std::string& name) override;
  std::vector<data::DatasetVersion> ListVersions(const std::string& name) override;
  std::vector<data::DatasetSummary> ListDatasets(const Visibility& visible) override;

 private:
  std::shared_ptr<SqliteDb> db_;
};

}  // namespace slipway::store
