// `slipway server`: the tracking server process.
#pragma once

#include <CLI/CLI.hpp>

namespace slipway::cli {

void AddServerCommand(CLI::App& app);

}  // namespace slipway::cli
