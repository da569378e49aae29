// `slipway users ...`: users, their permissions and API tokens on a server
// started with --auth.
#pragma once

namespace CLI {
class App;
}

namespace slipway::cli {

void AddUserCommands(CLI::App& app);

}  // namespace slipway::cli
