// The persistence interfaces of MLflow 3's GenAI evaluation entities.
//
// EvaluationDatasetStore, IssueStore and ScorerStore are what the genai
// services need from a metadata store; GenaiStore is all three, which
// SqliteGenaiStore (store/) fills today, a PostgreSQL store later. Implementations are thread-safe,
// and a write returns only once it is durable against a crash of the process. Lookups of unknown
// ids return an empty optional; writes to an unknown dataset throw RESOURCE_DOES_NOT_EXIST.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/visibility.h"
#include "genai/dataset_search.h"
#include "genai/entities.h"
#include "tracking/tracking_store.h"

namespace slipway::genai {

struct DatasetQuery {
  // Datasets linked to any of these experiments; empty: all.
  std::vector<std::string> experiment_ids;
  std::vector<DatasetClause> clauses;
  std::vector<DatasetOrder> order;
  // Experiments the caller may read: a dataset is listed only if it is
  // linked to at least one experiment and every one it is linked to is
  // visible. Visibility::All() lists every dataset, linked or not.
  Visibility visible;
};

struct UpsertCounts {
  int64_t inserted = 0;
  int64_t updated = 0;
};

class EvaluationDatasetStore {
 public:
  virtual ~EvaluationDatasetStore() = default;

  // Inserts the dataset with its tags and experiment links.
  virtual void CreateDataset(const EvaluationDataset& dataset) = 0;
  // With tags and experiment ids.
  virtual std::optional<EvaluationDataset> GetDataset(const std::string& dataset_id) = 0;
  // Deletes the dataset, its tags, records and links; false if there was none.
  virtual bool DeleteDataset(const std::string& dataset_id) = 0;
  virtual tracking::PageOf<EvaluationDataset> SearchDatasets(const DatasetQuery& query,
                                                             tracking::Page page) = 0;

  // Sets (adds or overwrites) tags; others are kept.
  virtual void SetDatasetTags(const std::string& dataset_id,
                              const std::map<std::string, std::string>& tags) = 0;
  // False if the dataset had no such tag (or does not exist).
  virtual bool DeleteDatasetTag(const std::string& dataset_id, const std::string& key) = 0;

  // Adds the records (checked by ParseRecords) in one transaction: each is
  // merged into the record with the same inputs (InputsKey) or inserted
  // (dataset_records.h), then the dataset's update time, author (when the
  // batch names one), digest, schema and profile follow.
  virtual UpsertCounts UpsertRecords(const std::string& dataset_id,
                                     const std::vector<Json>& records, int64_t now) = 0;
  // By creation time, then id.
  virtual tracking::PageOf<DatasetRecord> GetRecords(const std::string& dataset_id,
                                                     tracking::Page page) = 0;
  // Deletes those of the ids that are records of the dataset and updates its
  // profile; returns how many.
  virtual int64_t DeleteRecords(const std::string& dataset_id,
                                const std::vector<std::string>& record_ids) = 0;

  // Links the dataset to the experiments it is not linked to yet; the
  // dataset's update time becomes `now`.
  virtual void AddExperiments(const std::string& dataset_id,
                              const std::vector<std::string>& experiment_ids, int64_t now) = 0;
  // Unlinks them; the update time becomes `now` if any link was removed.
  virtual void RemoveExperiments(const std::string& dataset_id,
                                 const std::vector<std::string>& experiment_ids, int64_t now) = 0;
};

struct IssueQuery {
  std::optional<std::string> experiment_id;  // nullopt: every experiment `visible` lets through
  // status / source_run_id = or != a value, all to hold.
  struct Clause {
    std::string field;
    bool equal = true;
    std::string value;
  };
  std::vector<Clause> clauses;
  bool include_trace_count = false;
  Visibility visible;
};

class IssueStore {
 public:
  virtual ~IssueStore() = default;

  virtual void CreateIssue(const Issue& issue) = 0;
  // With its trace count.
  virtual std::optional<Issue> GetIssue(const std::string& issue_id) = 0;
  // Writes every field but the id, experiment and creation.
  virtual void UpdateIssue(const Issue& issue) = 0;
  // By severity (high first, none last), then (when counted) the number of
  // traces affected, then newest first, then issue_id descending.
  virtual tracking::PageOf<Issue> SearchIssues(const IssueQuery& query, tracking::Page page) = 0;
};

class ScorerStore {
 public:
  virtual ~ScorerStore() = default;

  // Adds a version of the scorer `name` in the experiment, creating the
  // scorer (with `new_scorer_id`) if it has none: the version after the
  // highest one left, 1 when none is left.
  virtual ScorerVersion RegisterScorer(const std::string& experiment_id, const std::string& name,
                                       const std::string& serialized_scorer, int64_t now,
                                       const std::string& new_scorer_id) = 0;
  // The latest version of each scorer of `experiment_ids` (every active
  // experiment `visible` lets through when empty), by experiment and name.
  virtual std::vector<ScorerVersion> ListScorers(const std::vector<std::string>& experiment_ids,
                                                 const Visibility& visible) = 0;
  // Oldest first.
  virtual std::vector<ScorerVersion> ListScorerVersions(const std::string& experiment_id,
                                                        const std::string& name) = 0;
  // The version asked for, or the latest.
  virtual std::optional<ScorerVersion> GetScorer(const std::string& experiment_id,
                                                 const std::string& name,
                                                 std::optional<int64_t> version) = 0;
  // One version, or (without `version`) the scorer with all its versions;
  // returns how many versions went.
  virtual int64_t DeleteScorer(const std::string& experiment_id, const std::string& name,
                               std::optional<int64_t> version) = 0;
};

class GenaiStore : public EvaluationDatasetStore, public IssueStore, public ScorerStore {};

}  // namespace slipway::genai
