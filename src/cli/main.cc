// The `slipway` command: every subsystem's commands under one binary.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/alert_commands.h"
#include "cli/audit_commands.h"
#include "cli/cli_support.h"
#include "cli/data_commands.h"
#include "cli/db_commands.h"
#include "cli/evaluate_command.h"
#include "cli/loop_commands.h"
#include "cli/model_commands.h"
#include "cli/monitor_commands.h"
#include "cli/monitor_drift_command.h"
#include "cli/serve_commands.h"
#include "cli/server_command.h"
#include "cli/tracking_commands.h"
#include "cli/train_commands.h"
#include "cli/user_commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  // Request bodies and the buffers built from them are a few hundred KB
  // each. With glibc's defaults such blocks are mmapped, or freed memory is
  // returned to the system, and every request page-faults them back in
  // (about a tenth of the CPU of a 1000-row prediction). Fixed thresholds
  // keep freed memory for reuse: up to 64 MiB of free memory is kept per
  // malloc arena, and only blocks from 32 MiB up are mapped on their own.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  slipway::cli::ConfigureLogging();
  CLI::App app{"Slipway: the machine-learning operations platform in one binary", "slipway"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "slipway 0.1.0");
  slipway::cli::AddServerCommand(app);
  slipway::cli::AddTrackingCommands(app);
  slipway::cli::AddAuditCommands(app);
  slipway::cli::AddAlertCommands(app);
  slipway::cli::AddModelCommands(app);
  slipway::cli::AddServeCommands(app);
  slipway::cli::AddUserCommands(app);
  slipway::cli::AddDataCommands(app);
  slipway::cli::AddDbCommands(app);
  slipway::cli::AddTrainCommands(app);
  slipway::cli::AddLoopCommands(app);
  slipway::cli::AddEvaluateCommand(app);
  // `slipway monitor ...`: each command of the group adds itself.
  CLI::App* monitor =
      app.add_subcommand("monitor", "Watch data and models: drift, live monitors, accuracy");
  monitor->require_subcommand(1);
  slipway::cli::AddMonitorDriftCommand(*monitor);
  slipway::cli::AddMonitorCommands(*monitor);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const slipway::Error& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
  return 0;
}
