// A model card: what a model version is for, what it was trained on, how it
// did, and who answers for it, generated from its lineage record.
//
// ModelCard is plain data; RenderMarkdown gives the document people read and
// the HTTP layer gives the same fields as JSON. Validation results and
// approvals come from the version's tags (`validation.*`, `approval.*`) until
// the validation and governance subsystems record them themselves.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "registry/lineage.h"

namespace slipway::registry {

struct ModelCard {
  std::string name;
  int64_t version = 0;
  std::string stage;
  std::vector<std::string> aliases;
  std::string intended_use;         // the version's description, else the model's
  std::vector<std::string> owners;  // registered model and run users, `owner` tags
  std::vector<DatasetRef> training_data;
  std::vector<std::pair<std::string, std::string>> parameters;
  std::vector<std::pair<std::string, double>> metrics;
  std::vector<std::pair<std::string, std::string>> validation;
  std::vector<std::pair<std::string, std::string>> approvals;
  std::string run_id;
  std::string experiment_id;
  std::string model_id;
  std::string source;
  std::string git_commit;
  std::string source_name;
  int64_t created = 0;
  std::vector<std::string> withheld;  // the lineage's: what the reader may not see
};

ModelCard BuildModelCard(const ModelLineage& lineage);

std::string RenderMarkdown(const ModelCard& card);

}  // namespace slipway::registry
