// MLflow 3's GenAI evaluation entities: evaluation datasets and their
// records. Plain values.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace slipway::genai {

using Json = nlohmann::json;

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

}  // namespace slipway::genai
