// The alerting commands of the `slipway` CLI, over a server's REST API
// (http/alert_routes.h):
//
//   slipway alerts set DEPLOYMENT FILE   replace the deployment's rule file
//   slipway alerts get DEPLOYMENT        print the rule file as stored
//   slipway alerts delete DEPLOYMENT     remove it (firing alerts resolve)
//   slipway alerts show DEPLOYMENT       active alerts and recent transitions
//
// The server is chosen as for the tracking commands (--tracking-uri, else
// $SLIPWAY_TRACKING_URI, ...). A rule file the server refuses is reported
// with the server's message, which names the line, column and field.
#pragma once

namespace CLI {
class App;
}

namespace slipway::cli {

void AddAlertCommands(CLI::App& app);

}  // namespace slipway::cli
