// Where deployments are kept, so they survive a restart.
//
// A DeploymentSpec is what the user asked for (which model, traffic split,
// limits), plus the little the server must remember to act the same after a
// restart: the version a rollback pinned and the one served before the last
// swap. What is loaded right now is run-time state (ServingService).
// Implementations live in store/ and are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace slipway::serving {

struct DeploymentSpec {
  std::string name;
  std::string model_uri;  // "models:/churn@production", "models:/churn/3"
  std::string canary_uri;
  int canary_weight = 0;  // percent of requests
  std::string shadow_uri;
  // Set by a rollback: serve this version of the primary's model instead of
  // following its alias, until the alias moves again or the user updates.
  std::string pinned_version;
  // The primary version that served before the last swap (what a rollback
  // returns to), and its model; empty before the first swap. The model is
  // empty in records written before it was kept: the primary's model.
  std::string previous_version;
  std::string previous_model;
  // Limits and batching (Deployment::Options).
  int64_t max_queued = 256;
  int64_t max_batch_rows = 0;
  int64_t max_queue_delay_us = 0;
  double log_sample_rate = 1.0;
  std::string created_by;
  int64_t creation_time = 0;  // ms since the epoch
  int64_t last_updated_time = 0;
};

class DeploymentStore {
 public:
  virtual ~DeploymentStore() = default;
  // RESOURCE_ALREADY_EXISTS when the name is taken.
  virtual void Create(const DeploymentSpec& spec) = 0;
  virtual std::optional<DeploymentSpec> Get(const std::string& name) = 0;
  virtual std::vector<DeploymentSpec> List() = 0;
  // RESOURCE_DOES_NOT_EXIST when it is gone.
  virtual void Update(const DeploymentSpec& spec) = 0;
  // False when there was none.
  virtual bool Delete(const std::string& name) = 0;
};

}  // namespace slipway::serving
