// `slipway serve` (one model, standalone) and `slipway deploy` (deployments
// managed by a running server).
#pragma once

#include <CLI/CLI.hpp>

namespace slipway::cli {

void AddServeCommands(CLI::App& app);

}  // namespace slipway::cli
