#include "cli/monitor_drift_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/app.h"
#include "cli/workspace.h"
#include "core/error.h"
#include "core/executor.h"
#include "data/dataset_service.h"
#include "data/drift.h"
#include "data/profile.h"
#include "monitoring/drift_report.h"

namespace slipway::cli {
namespace {

namespace fs = std::filesystem;

constexpr int kExitDrift = 1;
constexpr int kExitError = 2;

struct MonitorDriftOptions {
  std::string reference;
  std::string current;
  std::string format;
  std::string out;
  std::string workspace;
  std::vector<std::string> columns;
  std::vector<std::string> thresholds;
};

// A side of the comparison: a CSV file if `source` names a file; else, if it
// reads NAME@VERSION, that version's stored profile.
data::DatasetProfile LoadProfile(const std::string& source, const std::string& role,
                                 const std::string& workspace_flag,
                                 std::unique_ptr<Workspace>& workspace) {
  std::error_code error;
  if (fs::is_regular_file(source, error)) {
    std::unique_ptr<core::Executor> executor = app::NewDataExecutor();
    data::ProfileOptions options;
    options.threads = 0;
    options.executor = executor.get();
    // Progress on stderr, redrawn in place, only when stderr is a terminal.
    const bool show = isatty(STDERR_FILENO) != 0;
    data::DatasetProfile profile =
        data::ProfileCsv(source, {}, options, [&](uint64_t done, uint64_t total) {
          if (!show) return;
          const int percent = total == 0 ? 100 : static_cast<int>(100.0 * done / total);
          std::cerr << fmt::format("\rprofiling the {} {:>3}%  ", role, percent) << std::flush;
        });
    if (show) std::cerr << "\r" << std::string(40, ' ') << "\r" << std::flush;
    return profile;
  }
  if (fs::exists(source, error)) ThrowInvalid(role + " '" + source + "' is not a regular file");
  if (source.find('@') == std::string::npos) {
    throw Error(ErrorCode::kResourceDoesNotExist,
                role + ": no such file '" + source +
                    "' (a dataset version is written NAME@VERSION, e.g. churn@3)");
  }
  if (!workspace) workspace = Workspace::Open(workspace_flag, false);
  data::DatasetService& service = workspace->service();
  const data::DatasetVersion v = service.Resolve(data::ParseDatasetRef(source));
  if (v.profile_json.empty()) {
    ThrowInvalid(
        fmt::format("{} {}@{} is not a table (it has no profile)", role, v.name, v.version));
  }
  return service.ProfileOf(v);
}

std::string Format(const MonitorDriftOptions& options) {
  if (!options.format.empty()) return options.format;
  const std::string extension = fs::path(options.out).extension().string();
  return extension == ".html" || extension == ".htm" ? "html" : "json";
}

void Write(const MonitorDriftOptions& options, const std::string& text) {
  if (options.out.empty() || options.out == "-") {
    std::cout << text << std::flush;
    return;
  }
  std::ofstream file(options.out, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) ThrowInvalid("cannot write the report to '" + options.out + "'");
}

void RunMonitorDrift(const MonitorDriftOptions& options) {
  monitoring::BatchDriftOptions report_options;
  report_options.reference_name = options.reference;
  report_options.current_name = options.current;
  for (const std::string& spec : options.thresholds) {
    data::ApplyDriftThreshold(report_options.drift, spec);
  }
  for (const std::string& column : options.columns) {
    if (column.empty()) ThrowInvalid("--columns: empty column name");
    report_options.columns.push_back(column);
  }
  const std::string format = Format(options);
  std::unique_ptr<Workspace> workspace;
  const data::DatasetProfile reference =
      LoadProfile(options.reference, "reference", options.workspace, workspace);
  const data::DatasetProfile current =
      LoadProfile(options.current, "current data", options.workspace, workspace);
  const monitoring::BatchDriftReport report =
      monitoring::BuildBatchDriftReport(reference, current, report_options);
  Write(options, format == "html" ? report.ToHtml() : report.ToJson().dump(2) + "\n");

  // A one-line summary for people, on stderr when the report took stdout.
  std::string names;
  for (const data::ColumnDrift& c : report.drift.columns) {
    if (!c.drifted) continue;
    names += (names.empty() ? ": " : ", ") + c.column;
  }
  const std::string summary = fmt::format(
      "{} of {} columns drifted{}{}\n", report.drift.drifted_count, report.drift.columns.size(),
      names, report.drift.dataset_drift ? " (dataset drift)" : "");
  (options.out.empty() || options.out == "-" ? std::cerr : std::cout) << summary;
  if (!options.out.empty() && options.out != "-") {
    std::cout << fmt::format("{} report written to {}\n", format, options.out);
  }
  if (report.drift.drifted_count > 0) throw CLI::RuntimeError(kExitDrift);
}

}  // namespace

void AddMonitorDriftCommand(CLI::App& monitor) {
  auto options = std::make_shared<MonitorDriftOptions>();
  CLI::App* drift = monitor.add_subcommand(
      "drift",
      "Batch drift report between a reference and current data (CSV files or NAME@VERSION); "
      "exit 0 no drift, 1 drift, 2 error");
  drift->add_option("reference", options->reference, "Reference: a CSV file or NAME@VERSION")
      ->required();
  drift->add_option("current", options->current, "Current data: a CSV file or NAME@VERSION")
      ->required();
  drift
      ->add_option("--format", options->format,
                   "json or html (default: html when --out ends in .html, else json)")
      ->check(CLI::IsMember({"json", "html"}));
  drift->add_option("--out,-o", options->out, "Write the report to this file (default: stdout)");
  drift->add_option("--columns", options->columns, "Compare only these columns")->delimiter(',');
  drift->add_option("--threshold", options->thresholds,
                    "[numeric:|categorical:|COLUMN:]STAT=VALUE with STAT one of psi, js, ks, "
                    "wasserstein, wasserstein_normed; or missing_rate=VALUE, "
                    "dataset_share=VALUE (repeatable)");
  drift->add_option("--workspace", options->workspace,
                    "Folder holding the .slipway workspace, for NAME@VERSION sides");
  drift->callback([options] {
    try {
      RunMonitorDrift(*options);
    } catch (const CLI::RuntimeError&) {
      throw;
    } catch (const std::exception& error) {
      std::fprintf(stderr, "error: %s\n", error.what());
      throw CLI::RuntimeError(kExitError);
    }
  });
}

}  // namespace slipway::cli
