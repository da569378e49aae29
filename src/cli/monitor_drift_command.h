// `slipway monitor drift REF CUR`: a batch drift report between two tables,
// each a CSV file or a dataset version (NAME@VERSION) of the workspace, as
// JSON or as a standalone HTML page (monitoring/drift_report.h).
//
// Exit codes: 0 when no column drifted, 1 when at least one did (so a
// script or CI step can stop on drift), 2 for an error (a missing file, a
// CSV error, no common columns, a bad threshold). A malformed command line
// exits with the CLI parser's own codes (100 and up).
#pragma once

namespace CLI {
class App;
}

namespace slipway::cli {

// Adds `drift` to the `monitor` subcommand group.
void AddMonitorDriftCommand(CLI::App& monitor);

}  // namespace slipway::cli
