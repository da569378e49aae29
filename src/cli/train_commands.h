// `slipway train SPEC`: a model from a training spec (src/training/spec.h)
// on a dataset version of the local workspace. So far it checks the spec
// against the data and prints the plan (--dry-run); training itself is not
// built yet and says so.
#pragma once

namespace CLI {
class App;
}

namespace slipway::cli {

void AddTrainCommands(CLI::App& app);

}  // namespace slipway::cli
