// `slipway db ...`: the metadata store's schema.
#pragma once

namespace CLI {
class App;
}

namespace slipway::cli {

void AddDbCommands(CLI::App& app);

}  // namespace slipway::cli
