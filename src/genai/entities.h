// MLflow 3's GenAI evaluation entities: evaluation datasets and their
// records, issues found in an experiment's traces, registered scorers.
// Plain values.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace slipway::genai {

using Json = nlohmann::json;

// One page of a search or listing.
template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_page_token;  // empty on the last page
};

// A named, versionless set of evaluation records (inputs, expected answers)
// that belongs to experiments: MLflow's EvaluationDataset.
struct EvaluationDataset {
  std::string dataset_id;  // "d-" + 32 hex digits
  std::string name;        // not unique, as in MLflow
  std::map<std::string, std::string> tags;
  // MLflow's JSON texts: the field types seen in the records ({"inputs":
  // {...}, "outputs": {...}, "expectations": {...}, "version": "1.0"}) and
  // {"num_records": N}; absent until records are added.
  std::optional<std::string> schema;
  std::optional<std::string> profile;
  // Changes with every upsert of records: the first 8 hex digits of
  // SHA-256("<name>:<last_update_time>"), as MLflow computes it.
  std::string digest;
  int64_t created_time = 0;  // ms since the epoch
  int64_t last_update_time = 0;
  std::optional<std::string> created_by;  // the mlflow.user tag of the request, as MLflow
  std::optional<std::string> last_updated_by;
  // Canonical experiment ids, in the order they were linked.
  std::vector<std::string> experiment_ids;
};

// One record of a dataset. Records are keyed by their inputs: a record
// whose inputs equal (as JSON, key order aside) one already in the dataset
// is merged into it.
struct DatasetRecord {
  std::string dataset_record_id;  // "dr-" + 32 hex digits
  std::string dataset_id;
  Json inputs = Json::object();
  std::optional<Json> outputs;  // any JSON value; nullopt: none
  std::optional<Json> expectations;
  Json tags = Json::object();
  // {"source_type": "HUMAN", "source_data": {...}}; source_type and
  // source_id are its searchable parts (source_id: the trace id of a TRACE
  // source, else source_data.source_id).
  std::optional<Json> source;
  std::string source_type;
  std::string source_id;
  int64_t created_time = 0;
  int64_t last_update_time = 0;
  std::optional<std::string> created_by;
  std::optional<std::string> last_updated_by;
};

// A quality problem found in an experiment's traces (MLflow's Issue). The
// traces it affects carry an assessment of kind "issue" named by its id.
struct Issue {
  std::string issue_id;  // "iss-" + 32 hex digits
  std::string experiment_id;
  std::string name;
  std::string description;
  std::string status = "pending";  // pending, rejected, resolved
  std::string severity;            // not_an_issue, low, medium, high; "" for none
  std::vector<std::string> root_causes;
  std::vector<std::string> categories;
  std::string source_run_id;  // the run that found it; "" for none
  int64_t created_timestamp = 0;
  int64_t last_updated_timestamp = 0;
  std::string created_by;
  std::optional<int64_t> trace_count;  // when a search asks for it
};

// One version of a scorer registered in an experiment (MLflow's
// ScorerVersion): its serialized form as the client wrote it. Slipway
// stores scorers for clients and never runs them.
struct ScorerVersion {
  std::string scorer_id;  // a UUID, the same for every version of one scorer
  std::string experiment_id;
  std::string name;
  int64_t version = 0;            // 1, 2, ...
  std::string serialized_scorer;  // JSON text
  int64_t creation_time = 0;
};

}  // namespace slipway::genai
