// Dataset versions: add, resolve, read back, exchange with another store.
//
// DatasetService ties a ContentStore (the bytes, chunked and
// content-addressed) to a DatasetStore (the records). Adding a table (CSV)
// parses and profiles it strictly while its chunks are written, and the
// chunks become visible only once the profile has succeeded, so bad input is
// refused with nothing stored; then the version record is committed, in one
// transaction. An add that is
// interrupted at any point therefore leaves no version behind (at most
// unreferenced chunks). Adding content identical to the latest version
// creates nothing and says so.
//
// Access: every method that reaches a dataset checks the current
// operation's actor (governance::Operation) through the authorizer: reading
// a version (Resolve, Versions) needs READ on its dataset; adding or
// importing a version needs EDIT, except version 1 of a dataset that does
// not exist yet, which any actor may create and then manages. List() shows
// the datasets the actor may read.
//
// Thread-safe as far as its stores are (both are). Starts no thread: the
// work an add does beside the caller's thread runs on the executor given.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/content_store.h"
#include "data/csv_reader.h"
#include "data/dataset_store.h"
#include "data/profile.h"
#include "data/rules.h"
#include "governance/authorization.h"

namespace slipway::data {

// "churn@2", or "churn" / "churn@latest" for the latest version.
struct DatasetRef {
  std::string name;
  std::optional<int64_t> version;  // nullopt: the latest
  std::string ToString() const;
};
// INVALID_PARAMETER_VALUE for a bad name or version.
DatasetRef ParseDatasetRef(std::string_view text);
// Letters, digits, '.', '_' and '-', starting with a letter or digit, at most
// 128 characters; INVALID_PARAMETER_VALUE otherwise.
void ValidateDatasetName(std::string_view name);

// The digest a run logs for a dataset version (MLflow keeps dataset digests
// of at most 36 characters): the first 32 hex digits of its content SHA-256.
std::string RunInputDigest(const DatasetVersion& version);

struct AddOptions {
  std::string description;
  std::string created_by;
  // Profile the file as a CSV table: nullopt decides by the extension
  // (.csv, .tsv); folders are never profiled.
  std::optional<bool> table;
  CsvOptions csv;
  ProfileOptions profile;  // its executor, when null, is the service's
  // Called with the phase ("add"), bytes done and total, from any thread
  // (never two calls at once).
  std::function<void(std::string_view phase, uint64_t done, uint64_t total)> progress;
};

struct AddOutcome {
  DatasetVersion version;
  bool created = false;  // false: identical to the latest version, nothing new
  AddStats stats;
};

class DatasetService {
 public:
  // `executor` is the data pipeline's (app::App owns it; it must outlive the
  // service): an add profiles a table there while the content store reads
  // and hashes it, and profiles parse ranges there. Null: on the caller's
  // thread, one after the other.
  DatasetService(ContentStore& content, DatasetStore& store,
                 governance::Authorizer& authorizer = governance::Authorizer::AllowAll(),
                 core::Executor* executor = nullptr)
      : content_(content), store_(store), authorizer_(authorizer), executor_(executor) {}
  AddOutcome Add(const std::string& name, const std::filesystem::path& path,
                 const AddOptions& options);
  DatasetVersion Resolve(const DatasetRef& ref);
  // The datasets the actor may read, left out in the store's query.
  std::vector<DatasetSummary> List();
  std::vector<DatasetVersion> Versions(const std::string& name);
  // Which of `digests` this store lacks, for a push to `dataset`: EDIT on
  // it, or nothing if it does not exist yet (the push will create it).
  std::vector<std::string> MissingObjects(const std::string& dataset,
                                          const std::vector<std::string>& digests);
  // INVALID_STATE if the version is not a profiled table.
  DatasetProfile ProfileOf(const DatasetVersion& version);
  Manifest ManifestOf(const DatasetVersion& version);
  // Checks a table version against `rules`: statistics from its profile,
  // exact row-level checks over a private copy of its content. The drift
  // baseline is `reference` ("churn@1"), else the rules' drift.reference,
  // else none.
  ValidationReport Validate(const DatasetVersion& version, const Rules& rules,
                            const std::string& reference);
  // A starting point for rules from a version's profile, with that version
  // as the drift reference.
  Rules InferRulesFor(const DatasetVersion& version);
  // Writes the version's content to `out_path` (a file, or a folder for a
  // folder version), verifying its digest.
  void Materialize(const DatasetVersion& version, const std::filesystem::path& out_path);

  // Every object a version needs: its manifest blob, then each chunk.
  std::vector<std::string> ObjectsOf(const DatasetVersion& version);
  // Records a version that came from another store under its own number.
  // Its manifest and every chunk must already be here (INVALID_PARAMETER_VALUE
  // naming the first missing one), and the manifest must describe
  // `content_digest`. A csv version is profiled here again; a profile sent
  // along is ignored. Returns the stored record (see DatasetStore::AddVersion).
  DatasetVersion Import(DatasetVersion version, bool* created);

  ContentStore& content() { return content_; }

 private:
  bool Exists(const std::string& name);
  // EDIT on `name`, or nothing when it does not exist and `version` is 1
  // (or unknown: nullopt), which creates it. True when it is new.
  bool RequireWritable(const std::string& name, std::optional<int64_t> version);

  ContentStore& content_;
  DatasetStore& store_;
  governance::Authorizer& authorizer_;
  core::Executor* const executor_;
};

}  // namespace slipway::data
