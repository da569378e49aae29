// Datasets and their versions as records, and where they are kept.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/visibility.h"

namespace slipway::data {

// One immutable version of a dataset. The content itself lives in a
// ContentStore under `manifest_digest`; this is what is known about it.
struct DatasetVersion {
  std::string name;
  int64_t version = 0;
  std::string manifest_digest;  // SHA-256 of the manifest blob
  std::string content_digest;   // SHA-256 of the file, or the tree digest of a folder
  std::string kind;             // "file" or "folder"
  std::string format;           // "csv" for profiled tables, else "" (opaque bytes)
  uint64_t size_bytes = 0;
  int64_t row_count = -1;  // -1 when not a table
  int64_t column_count = -1;
  std::string source;  // where it was added from, as given
  std::string description;
  std::string created_by;
  int64_t created_ms = 0;
  std::string profile_json;  // DatasetProfile::ToJson() dump; "" when not a table
};

struct DatasetSummary {
  std::string name;
  int64_t latest_version = 0;
  int64_t version_count = 0;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
};

// Persistence of dataset records; SqliteDatasetStore fills it. Thread-safe.
class DatasetStore {
 public:
  virtual ~DatasetStore() = default;

  // Appends `version` atomically. With version.version == 0 it becomes the
  // next number, unless the latest version holds the same content, which is
  // returned instead (`*created` false). With an explicit number (a push or
  // pull), that number must be free and follow the latest, or already hold
  // the same content (then returned, `*created` false); otherwise
  // RESOURCE_CONFLICT naming both digests.
  virtual DatasetVersion AddVersion(DatasetVersion version, bool* created) = 0;
  // RESOURCE_DOES_NOT_EXIST naming the dataset or the version.
  virtual DatasetVersion GetVersion(const std::string& name, int64_t version) = 0;
  virtual DatasetVersion LatestVersion(const std::string& name) = 0;
  // Versions without their profiles, oldest first.
  virtual std::vector<DatasetVersion> ListVersions(const std::string& name) = 0;
  // The datasets `visible` lets through (by name), by name.
  virtual std::vector<DatasetSummary> ListDatasets(const Visibility& visible) = 0;
};

}  // namespace slipway::data
