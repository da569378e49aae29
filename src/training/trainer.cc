#include "training/trainer.h"

#include "core/error.h"

namespace slipway::training {

std::unique_ptr<Trainer> Trainer::Create(const TrainerOptions& options) {
  if (options.model == ModelType::kXgboost) return MakeXgboostTrainer(options);
  return MakeLinearTrainer(options);
}

std::unique_ptr<FittedModel> LoadFittedModel(const TrainerOptions& options,
                                             const std::vector<ModelFile>& files) {
  const std::string wanted = options.model == ModelType::kXgboost ? "model.ubj" : "model.json";
  for (const ModelFile& file : files) {
    if (file.name != wanted) continue;
    return options.model == ModelType::kXgboost ? LoadXgboostModel(options, file.bytes)
                                                : LoadLinearModel(options, file.bytes);
  }
  ThrowInvalid("the model has no " + wanted);
}

}  // namespace slipway::training
