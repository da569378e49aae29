// The model-registry commands of the `slipway` CLI: `models ls`, `show`, `alias`, `promote`,
// `lineage` and `card`.
//
// A model version is named as in MLflow's `models:/` URIs: NAME/VERSION or NAME@ALIAS (NAME@vN
// is version N, as MLflow reserves such aliases; NAME@N is alias N if the model has one, else
// version N). Like the tracking commands they are clients of a tracking server's REST API,
// chosen by --tracking-uri, else $SLIPWAY_TRACKING_URI, else $MLFLOW_TRACKING_URI, else
// http://127.0.0.1:5000; `ls`, `show` and `lineage` read MLflow's registry API and print tables
// or, with --json, the server's JSON objects; `lineage` and `card` read Slipway's own /api/v1
// endpoints. A failure, including an error reply from the server, throws slipway::Error out of
// the command's callback for main() to report.
#pragma once

namespace CLI {
class App;
}

namespace slipway::cli {

void AddModelCommands(CLI::App& app);

}  // namespace slipway::cli
