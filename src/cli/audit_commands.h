// The audit-trail commands of the `slipway` CLI: `audit ls` and `audit verify`.
//
// `audit ls` reads the trail over a tracking server's REST API (GET /api/v1/audit), filtered by
// time, principal, action and target, and prints it as a table or, with --json, as the server's
// entries. `audit verify` checks the trail's hash chain, either on the server
// (GET /api/v1/audit/verify) or, with --store sqlite:///PATH, by opening the metadata database
// directly, which works whether or not a server is running on it. It prints
// "audit trail intact: N entries" and succeeds, or names each edited, deleted or reordered entry
// and exits 1.
//
// The server is chosen as for the tracking commands: --tracking-uri, else $SLIPWAY_TRACKING_URI,
// else $MLFLOW_TRACKING_URI, else http://127.0.0.1:5000. A failure to run a command (a server
// that cannot be reached, an error reply, bad options) throws slipway::Error out of the
// command's callback for main() to report; a trail found damaged ends the command with
// CLI::RuntimeError(1) after the problems are printed.
#pragma once

namespace CLI {
class App;
}

namespace slipway::cli {

void AddAuditCommands(CLI::App& app);

}  // namespace slipway::cli
