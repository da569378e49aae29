// The records of experiment tracking, as MLflow's service.proto defines them.
//
// Plain values with no behaviour: the store fills them, the tracking service
// validates them, the HTTP layer turns them into MLflow's JSON. Times are
// milliseconds since the Unix epoch, as in MLflow.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::tracking {

inline constexpr const char* kLifecycleActive = "active";
inline constexpr const char* kLifecycleDeleted = "deleted";

struct Tag {
  std::string key;
  std::string value;
};

struct Param {
  std::string key;
  std::string value;
};

// One point of a metric's history. `model_id` and the dataset fields are
// MLflow 3's links from a metric to a logged model and an evaluation dataset.
struct MetricPoint {
  std::string key;
  double value = 0;
  int64_t timestamp = 0;
  int64_t step = 0;
  std::string run_id;
  std::string model_id;
  std::string dataset_name;
  std::string dataset_digest;
};

struct Experiment {
  std::string experiment_id;
  std::string name;
  std::string artifact_location;
  std::string lifecycle_stage = kLifecycleActive;
  int64_t creation_time = 0;
  int64_t last_update_time = 0;
  std::vector<Tag> tags;
};

// Experiment ids are the decimal numbers the store issues, written without
// sign, spaces or leading zeros ("0", "17"). That is the only spelling that
// names an experiment anywhere: in the store, in permissions and as the first
// segment of an artifact path. So a permission checked on an id's text is a
// permission on the experiment the store acts on; "02", "+2", " 2" or "2.0"
// name no experiment. nullopt for any other spelling.
std::optional<int64_t> ParseExperimentId(std::string_view text);

// `text` when it is an experiment id as above; otherwise RESOURCE_DOES_NOT_EXIST,
// the answer for any id that names no experiment. It does not look the
// experiment up: whether it exists is the store's answer, after authorization.
const std::string& CanonicalExperimentId(const std::string& text);

// Run statuses of MLflow's RunStatus enum.
bool IsValidRunStatus(const std::string& status);

struct RunInfo {
  std::string run_id;
  std::string experiment_id;
  std::string run_name;
  std::string user_id;
  std::string status = "RUNNING";
  int64_t start_time = 0;
  std::optional<int64_t> end_time;
  std::string artifact_uri;
  std::string lifecycle_stage = kLifecycleActive;
};

struct Dataset {
  std::string name;
  std::string digest;
  std::string source_type;
  std::string source;
  std::string schema;
  std::string profile;
};

struct DatasetInput {
  std::vector<Tag> tags;
  Dataset dataset;
};

// One dataset a run of an experiment used, with the context it was used in
// (the input's mlflow.data.context tag), as MLflow's UI lists them.
struct DatasetSummary {
  std::string experiment_id;
  std::string name;
  std::string digest;
  std::optional<std::string> context;
};

// A run's link to a logged model it used (input) or produced (output).
struct ModelLink {
  std::string model_id;
  int64_t step = 0;  // outputs only
};

struct Run {
  RunInfo info;
  std::vector<MetricPoint> metrics;  // latest value of each key
  std::vector<Param> params;
  std::vector<Tag> tags;
  std::vector<DatasetInput> dataset_inputs;
  std::vector<ModelLink> model_inputs;
  std::vector<ModelLink> model_outputs;
};

// MLflow 3's LoggedModel: a model logged by `mlflow.<flavor>.log_model`.
struct LoggedModel {
  std::string model_id;
  std::string experiment_id;
  std::string name;
  std::string artifact_uri;
  int64_t creation_timestamp_ms = 0;
  int64_t last_updated_timestamp_ms = 0;
  std::string status = "LOGGED_MODEL_PENDING";
  std::string status_message;
  std::string model_type;
  std::string source_run_id;
  std::string lifecycle_stage = kLifecycleActive;
  std::vector<Tag> tags;
  std::vector<Param> params;
  std::vector<MetricPoint> metrics;
};

}  // namespace slipway::tracking
