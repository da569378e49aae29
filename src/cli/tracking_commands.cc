#include "cli/tracking_commands.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cli/api_client.h"
#include "cli/cli_support.h"
#include "cli/table.h"
#include "core/error.h"

namespace slipway::cli {
namespace {

using nlohmann::json;
using Align = Table::Align;

constexpr size_t kMetricColumnsInRunList = 4;
constexpr size_t kMaxArtifactsListed = 1000;

// --- Formatting for tables.

std::string FormatDuration(std::optional<int64_t> start, std::optional<int64_t> end) {
  if (!start || !end || *start <= 0 || *end < *start) return "";
  int64_t millis = *end - *start;
  if (millis < 1000) return fmt::format("{}ms", millis);
  if (millis < 60'000) return fmt::format("{:.1f}s", millis / 1000.0);
  int64_t seconds = millis / 1000;
  if (seconds < 3600) return fmt::format("{}m {:02}s", seconds / 60, seconds % 60);
  if (seconds < 86400) return fmt::format("{}h {:02}m", seconds / 3600, seconds % 3600 / 60);
  return fmt::format("{}d {:02}h", seconds / 86400, seconds % 86400 / 3600);
}

std::string FormatMetricValue(const json& metric) {
  std::optional<double> value = DoubleField(metric, "value");
  if (!value) return StringField(metric, "value");
  return fmt::format("{}", *value);
}

std::string FormatSize(std::optional<int64_t> bytes) {
  if (!bytes) return "";
  if (*bytes < 1024) return fmt::format("{} B", *bytes);
  constexpr std::string_view kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double size = static_cast<double>(*bytes);
  size_t unit = 0;
  for (size /= 1024; size >= 1024 && unit + 1 < std::size(kUnits); size /= 1024) ++unit;
  return fmt::format("{:.1f} {}", size, kUnits[unit]);
}

std::string ShortRunId(const std::string& run_id) { return run_id.substr(0, 8); }

// --- Tracking data.

// The newest point of each metric, by (step, timestamp) as MLflow orders them, by key.
std::map<std::string, json> LatestMetrics(const json& run) {
  std::map<std::string, json> latest;
  for (const json& metric : ArrayField(Field(run, "data"), "metrics")) {
    std::string key = StringField(metric, "key");
    auto order = [](const json& m) {
      return std::pair(Int64Field(m, "step").value_or(0), Int64Field(m, "timestamp").value_or(0));
    };
    auto [it, inserted] = latest.try_emplace(key, metric);
    if (!inserted && order(metric) >= order(it->second)) it->second = metric;
  }
  return latest;
}

std::map<std::string, std::string> KeyValues(const json& run, const char* field) {
  std::map<std::string, std::string> values;
  for (const json& entry : ArrayField(Field(run, "data"), field)) {
    values[StringField(entry, "key")] = StringField(entry, "value");
  }
  return values;
}

bool IsSystemTag(const std::string& key) { return key.starts_with("mlflow."); }

bool IsAllDigits(const std::string& text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The experiment named by `name_or_id`: an id when it is all digits, else a name.
json FindExperiment(ApiClient& client, const std::string& name_or_id) {
  json reply =
      IsAllDigits(name_or_id)
          ? client.Get(Endpoint("experiments/get"), {{"experiment_id", name_or_id}})
          : client.Get(Endpoint("experiments/get-by-name"), {{"experiment_name", name_or_id}});
  const json& experiment = Field(reply, "experiment");
  if (StringField(experiment, "experiment_id").empty()) {
    throw Error(
        ErrorCode::kInternalError,
        fmt::format("the server's reply for experiment '{}' has no experiment_id", name_or_id));
  }
  return experiment;
}

json GetRun(ApiClient& client, const std::string& run_id) {
  try {
    json run = Field(client.Get(Endpoint("runs/get"), {{"run_id", run_id}}), "run");
    if (!run.is_object()) {
      throw Error(ErrorCode::kInternalError,
                  fmt::format("the server's reply for run '{}' has no run", run_id));
    }
    return run;
  } catch (const Error& error) {
    if (error.code() != ErrorCode::kResourceDoesNotExist ||
        std::string_view(error.what()).find(run_id) != std::string_view::npos) {
      throw;
    }
    throw Error(error.code(), fmt::format("run '{}': {}", run_id, error.what()));
  }
}

// Follows next_page_token from `request` until `limit` items of `items_key` are gathered.
json SearchAll(ApiClient& client, std::string_view endpoint, json request, const char* items_key,
               size_t limit) {
  return CollectPages(
      [&](size_t max_results, const std::string& token) {
        request["max_results"] = max_results;
        if (!token.empty()) request["page_token"] = token;
        return client.Post(endpoint, request);
      },
      items_key, limit);
}

// Artifacts under `path`, depth first, at most kMaxArtifactsListed of them.
void ListArtifacts(ApiClient& client, const std::string& run_id, const std::string& path,
                   json& listing) {
  ApiClient::QueryParams query = {{"run_id", run_id}};
  if (!path.empty()) query.emplace_back("path", path);
  json reply = client.Get(Endpoint("artifacts/list"), query);
  if (!listing.contains("root_uri")) listing["root_uri"] = StringField(reply, "root_uri");
  for (const json& file : ArrayField(reply, "files")) {
    if (listing["files"].size() >= kMaxArtifactsListed) return;
    listing["files"].push_back(file);
    std::string child = StringField(file, "path");
    bool is_dir = Field(file, "is_dir").is_boolean() && Field(file, "is_dir").get<bool>();
    if (is_dir && !child.empty() && child != path) ListArtifacts(client, run_id, child, listing);
  }
}

// --- experiments ls

struct ExperimentsLsOptions {
  ServerOptions server;
  bool all = false;
  bool deleted = false;
};

void ExperimentsLs(const ExperimentsLsOptions& options) {
  ApiClient client(ResolveTrackingUri(options.server.tracking_uri));
  json request = {{"view_type", options.all       ? "ALL"
                                : options.deleted ? "DELETED_ONLY"
                                                  : "ACTIVE_ONLY"}};
  json experiments = SearchAll(client, Endpoint("experiments/search"), std::move(request),
                               "experiments", std::numeric_limits<size_t>::max());
  if (options.server.json) {
    PrintJson({{"experiments", experiments}});
    return;
  }
  Table table(
      {{"ID", Align::kRight, false}, {"NAME"}, {"LIFECYCLE"}, {"ARTIFACT LOCATION"}, {"CREATED"}});
  for (const json& experiment : experiments) {
    table.AddRow({StringField(experiment, "experiment_id"), StringField(experiment, "name"),
                  StringField(experiment, "lifecycle_stage"),
                  StringField(experiment, "artifact_location"),
                  FormatTime(Int64Field(experiment, "creation_time"))});
  }
  PrintTable(table);
}

// --- runs ls

struct RunsLsOptions {
  ServerOptions server;
  std::string experiment;
  std::string filter;
  std::vector<std::string> order_by;
  size_t max = 100;
};

// "metrics.`val loss` DESC" -> "val loss"; "" when the term does not order by a metric.
std::string OrderedMetric(const std::string& term) {
  constexpr std::string_view kPrefix = "metrics.";
  std::string_view rest(term);
  rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
  if (!rest.starts_with(kPrefix)) return "";
  rest.remove_prefix(kPrefix.size());
  if (!rest.empty() && (rest.front() == '`' || rest.front() == '"')) {
    size_t close = rest.find(rest.front(), 1);
    return std::string(rest.substr(1, close == std::string_view::npos ? close : close - 1));
  }
  return std::string(rest.substr(0, rest.find(' ')));
}

// The metric keys shown as columns: those the runs are ordered by, then the others by name.
std::vector<std::string> MetricColumns(const json& runs, const std::vector<std::string>& order_by) {
  std::set<std::string> present;
  for (const json& run : runs) {
    for (const auto& [key, metric] : LatestMetrics(run)) present.insert(key);
  }
  std::vector<std::string> columns;
  for (const std::string& term : order_by) {
    std::string key = OrderedMetric(term);
    if (present.erase(key) > 0) columns.push_back(key);
  }
  columns.insert(columns.end(), present.begin(), present.end());
  if (columns.size() > kMetricColumnsInRunList) columns.resize(kMetricColumnsInRunList);
  return columns;
}

void RunsLs(const RunsLsOptions& options) {
  ApiClient client(ResolveTrackingUri(options.server.tracking_uri));
  json experiment = FindExperiment(client, options.experiment);
  json request = {{"experiment_ids", json::array({StringField(experiment, "experiment_id")})},
                  {"run_view_type", "ACTIVE_ONLY"}};
  if (!options.filter.empty()) request["filter"] = options.filter;
  if (!options.order_by.empty()) request["order_by"] = options.order_by;
  json runs = SearchAll(client, Endpoint("runs/search"), std::move(request), "runs", options.max);
  if (options.server.json) {
    PrintJson({{"runs", runs}});
    return;
  }

  std::vector<std::string> metric_keys = MetricColumns(runs, options.order_by);
  std::vector<Table::Column> columns = {{"RUN ID", Align::kLeft, false},
                                        {"NAME"},
                                        {"STATUS"},
                                        {"STARTED"},
                                        {"DURATION", Align::kRight}};
  for (const std::string& key : metric_keys) columns.push_back({key, Align::kRight});
  Table table(std::move(columns));
  for (const json& run : runs) {
    const json& info = Field(run, "info");
    std::vector<std::string> row = {
        StringField(info, "run_id"), StringField(info, "run_name"), StringField(info, "status"),
        FormatTime(Int64Field(info, "start_time")),
        FormatDuration(Int64Field(info, "start_time"), Int64Field(info, "end_time"))};
    std::map<std::string, json> metrics = LatestMetrics(run);
    for (const std::string& key : metric_keys) {
      auto it = metrics.find(key);
      row.push_back(it == metrics.end() ? "" : FormatMetricValue(it->second));
    }
    table.AddRow(std::move(row));
  }
  PrintTable(table);
}

// --- runs show

struct RunsShowOptions {
  ServerOptions server;
  std::string run_id;
  bool all_tags = false;
};

void RunsShow(const RunsShowOptions& options) {
  ApiClient client(ResolveTrackingUri(options.server.tracking_uri));
  json run = GetRun(client, options.run_id);

  json artifacts = {{"files", json::array()}};
  std::string artifacts_error;
  try {
    ListArtifacts(client, options.run_id, "", artifacts);
  } catch (const Error& error) {
    artifacts_error = error.what();
    std::cerr << "warning: could not list the run's artifacts: " << artifacts_error << '\n';
  }

  if (options.server.json) {
    json shown = {{"run", run}};
    if (artifacts_error.empty()) shown["artifacts"] = artifacts;
    PrintJson(shown);
    return;
  }

  const json& info = Field(run, "info");
  std::string experiment_id = StringField(info, "experiment_id");
  std::string experiment_label = experiment_id;
  try {
    json experiment = FindExperiment(client, experiment_id);
    experiment_label = fmt::format("{} ({})", experiment_id, StringField(experiment, "name"));
  } catch (const Error&) {
    // The id alone still identifies the experiment.
  }

  std::optional<int64_t> start = Int64Field(info, "start_time");
  std::optional<int64_t> end = Int64Field(info, "end_time");
  Table summary({{""}, {""}});
  summary.AddRow({"Run ID", StringField(info, "run_id")});
  summary.AddRow({"Name", StringField(info, "run_name")});
  summary.AddRow({"Experiment", experiment_label});
  summary.AddRow({"Status", StringField(info, "status")});
  summary.AddRow({"User", StringField(info, "user_id")});
  summary.AddRow({"Started", FormatTime(start)});
  summary.AddRow({"Ended", FormatTime(end)});
  summary.AddRow({"Duration", FormatDuration(start, end)});
  summary.AddRow({"Lifecycle", StringField(info, "lifecycle_stage")});
  summary.AddRow({"Artifact URI", StringField(info, "artifact_uri")});
  PrintTable(summary);

  Table params({{"KEY"}, {"VALUE"}});
  for (const auto& [key, value] : KeyValues(run, "params")) params.AddRow({key, value});
  PrintSection("Params", params);

  Table metrics({{"KEY"}, {"VALUE", Align::kRight}, {"STEP", Align::kRight}, {"TIMESTAMP"}});
  for (const auto& [key, metric] : LatestMetrics(run)) {
    metrics.AddRow({key, FormatMetricValue(metric), StringField(metric, "step"),
                    FormatTime(Int64Field(metric, "timestamp"))});
  }
  PrintSection("Metrics", metrics);

  Table tags({{"KEY"}, {"VALUE"}});
  size_t hidden = 0;
  for (const auto& [key, value] : KeyValues(run, "tags")) {
    if (!options.all_tags && IsSystemTag(key)) {
      ++hidden;
    } else {
      tags.AddRow({key, value});
    }
  }
  PrintSection(hidden == 0
                   ? std::string("Tags")
                   : fmt::format("Tags ({} mlflow.* tags hidden; --all-tags shows them)", hidden),
               tags);

  Table datasets({{"NAME"}, {"DIGEST"}, {"CONTEXT"}, {"SOURCE TYPE"}, {"SOURCE"}});
  for (const json& input : ArrayField(Field(run, "inputs"), "dataset_inputs")) {
    const json& dataset = Field(input, "dataset");
    std::string context;
    for (const json& tag : ArrayField(input, "tags")) {
      if (StringField(tag, "key") == "mlflow.data.context") context = StringField(tag, "value");
    }
    datasets.AddRow({StringField(dataset, "name"), StringField(dataset, "digest"), context,
                     StringField(dataset, "source_type"), StringField(dataset, "source")});
  }
  PrintSection("Datasets", datasets);

  Table files({{"PATH"}, {"SIZE", Align::kRight}});
  for (const json& file : artifacts["files"]) {
    bool is_dir = Field(file, "is_dir").is_boolean() && Field(file, "is_dir").get<bool>();
    files.AddRow({StringField(file, "path") + (is_dir ? "/" : ""),
                  is_dir ? "" : FormatSize(Int64Field(file, "file_size"))});
  }
  if (artifacts_error.empty()) {
    PrintSection(fmt::format("Artifacts ({})", StringField(artifacts, "root_uri")), files);
  } else {
    std::cout << "\nArtifacts\n(unavailable: " << artifacts_error << ")\n";
  }
}

// --- runs compare

struct RunsCompareOptions {
  ServerOptions server;
  std::vector<std::string> run_ids;
};

void RunsCompare(const RunsCompareOptions& options) {
  ApiClient client(ResolveTrackingUri(options.server.tracking_uri));
  json runs = json::array();
  for (const std::string& run_id : options.run_ids) runs.push_back(GetRun(client, run_id));
  if (options.server.json) {
    PrintJson({{"runs", runs}});
    return;
  }

  std::vector<std::map<std::string, std::string>> params;
  std::vector<std::map<std::string, json>> metrics;
  std::set<std::string> param_keys;
  std::set<std::string> metric_keys;
  std::vector<Table::Column> columns = {{""}, {"", Align::kLeft, false}};
  for (const json& run : runs) {
    params.push_back(KeyValues(run, "params"));
    metrics.push_back(LatestMetrics(run));
    for (const auto& [key, value] : params.back()) param_keys.insert(key);
    for (const auto& [key, metric] : metrics.back()) metric_keys.insert(key);
    columns.push_back({ShortRunId(StringField(Field(run, "info"), "run_id"))});
  }
  Table table(std::move(columns));

  auto add_info_row = [&](const std::string& label, auto cell) {
    std::vector<std::string> row = {"", label};
    for (const json& run : runs) row.push_back(cell(Field(run, "info")));
    table.AddRow(std::move(row));
  };
  add_info_row("name", [](const json& info) { return StringField(info, "run_name"); });
  add_info_row("status", [](const json& info) { return StringField(info, "status"); });
  add_info_row("started",
               [](const json& info) { return FormatTime(Int64Field(info, "start_time")); });
  add_info_row("duration", [](const json& info) {
    return FormatDuration(Int64Field(info, "start_time"), Int64Field(info, "end_time"));
  });

  constexpr std::string_view kMissing = "-";
  bool any_differs = false;
  for (const std::string& key : param_keys) {
    std::vector<std::string> values;
    for (const auto& run_params : params) {
      auto it = run_params.find(key);
      values.push_back(it == run_params.end() ? std::string(kMissing) : it->second);
    }
    bool differs =
        std::adjacent_find(values.begin(), values.end(), std::not_equal_to<>()) != values.end();
    any_differs |= differs;
    std::vector<std::string> row = {differs ? "*" : "", "params." + key};
    row.insert(row.end(), values.begin(), values.end());
    table.AddRow(std::move(row));
  }
  for (const std::string& key : metric_keys) {
    std::vector<std::string> row = {"", "metrics." + key};
    for (const auto& run_metrics : metrics) {
      auto it = run_metrics.find(key);
      row.push_back(it == run_metrics.end() ? std::string(kMissing)
                                            : FormatMetricValue(it->second));
    }
    table.AddRow(std::move(row));
  }
  PrintTable(table);
  if (any_differs) std::cout << "\n* the runs' values of this param differ\n";
}

}  // namespace

void AddTrackingCommands(CLI::App& app) {
  CLI::App* experiments = app.add_subcommand("experiments", "Inspect tracking experiments");
  experiments->require_subcommand(1);

  auto experiments_ls = std::make_shared<ExperimentsLsOptions>();
  CLI::App* ls = experiments->add_subcommand("ls", "List experiments (active ones by default)");
  AddServerOptions(ls, &experiments_ls->server);
  CLI::Option* all = ls->add_flag("--all", experiments_ls->all, "Active and deleted experiments");
  ls->add_flag("--deleted", experiments_ls->deleted, "Only deleted experiments")->excludes(all);
  ls->callback([experiments_ls] { ExperimentsLs(*experiments_ls); });

  CLI::App* runs = app.add_subcommand("runs", "Inspect tracked runs");
  runs->require_subcommand(1);

  auto runs_ls = std::make_shared<RunsLsOptions>();
  CLI::App* runs_ls_command = runs->add_subcommand("ls", "List the runs of an experiment");
  AddServerOptions(runs_ls_command, &runs_ls->server);
  runs_ls_command->add_option("--experiment,-e", runs_ls->experiment, "Experiment name or id")
      ->required();
  runs_ls_command->add_option("--filter", runs_ls->filter,
                              "MLflow search filter, e.g. \"metrics.acc > 0.9\"");
  runs_ls_command->add_option("--order-by", runs_ls->order_by,
                              "Order terms, e.g. \"metrics.acc DESC\"; repeatable");
  runs_ls_command->add_option("--max", runs_ls->max, "Most runs to list")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  runs_ls_command->callback([runs_ls] { RunsLs(*runs_ls); });

  auto runs_show = std::make_shared<RunsShowOptions>();
  CLI::App* show = runs->add_subcommand("show", "Show one run");
  AddServerOptions(show, &runs_show->server);
  show->add_option("run_id", runs_show->run_id, "Run id")->required();
  show->add_flag("--all-tags", runs_show->all_tags, "Also show mlflow.* system tags");
  show->callback([runs_show] { RunsShow(*runs_show); });

  auto runs_compare = std::make_shared<RunsCompareOptions>();
  CLI::App* compare = runs->add_subcommand("compare", "Compare the params and metrics of runs");
  AddServerOptions(compare, &runs_compare->server);
  compare->add_option("run_ids", runs_compare->run_ids, "Two or more run ids")
      ->required()
      ->expected(2, -1);
  compare->callback([runs_compare] { RunsCompare(*runs_compare); });
}

}  // namespace slipway::cli
