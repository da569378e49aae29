// The read-only tracking commands of the `slipway` CLI: `experiments ls`, `runs ls`,
// `runs show` and `runs compare`.
//
// They are clients of a tracking server's MLflow REST API (a `slipway server` or MLflow's own),
// chosen by --tracking-uri, else $SLIPWAY_TRACKING_URI, else $MLFLOW_TRACKING_URI, else
// http://127.0.0.1:5000. Results go to stdout as a table, or with --json as the server's JSON
// objects. A failure, including an error reply from the server, throws slipway::Error out of
// the command's callback for main() to report.
#pragma once

namespace CLI {
class App;
}

namespace slipway::cli {

void AddTrackingCommands(CLI::App& app);

}  // namespace slipway::cli
