// `slipway monitor set|show|delete`: live monitoring of a deployment of a
// running `slipway server` (its REST API, /api/v1/deployments/{d}/monitor).
#pragma once

#include <CLI/CLI.hpp>

namespace slipway::cli {

// Adds set, show and delete to the `monitor` group.
void AddMonitorCommands(CLI::App& monitor);

}  // namespace slipway::cli
