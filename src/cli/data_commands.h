// `slipway data ...`: dataset versions in a local workspace (.slipway/), their
// profiles, rules and diffs, push and pull to a server, and links to runs.
#pragma once

namespace CLI {
class App;
}

namespace slipway::cli {

void AddDataCommands(CLI::App& app);

}  // namespace slipway::cli
