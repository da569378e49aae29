#include "cli/monitor_commands.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/cli_support.h"
#include "cli/table.h"
#include "core/error.h"
#include "monitoring/live/monitor_config.h"

namespace slipway::cli {
namespace {

using nlohmann::json;

struct MonitorArgs {
  ServerOptions server;
  std::string deployment;
  std::string reference;
  std::string window = "5m";
  std::string features = "all";
  std::vector<std::string> thresholds;  // FEATURE=PSI
  double default_threshold = -1;
  std::string task;
  std::string last;              // a duration: show the windows of this long back
  int series = 12;               // windows listed by show
  std::string retention;         // the windows' and kept predictions' maximum age
  int64_t max_windows = -1;      // -1: the server's default
  int64_t max_predictions = -1;  // -1: the server's default
};

std::string Path(const std::string& deployment, const std::string& rest) {
  return "/api/v1/deployments/" + deployment + rest;
}

std::string Number(const json& value, const char* format = "%.4f") {
  if (!value.is_number()) return "";
  char text[32];
  std::snprintf(text, sizeof text, format, value.get<double>());
  return text;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) items.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return items;
}

void Set(const MonitorArgs& args) {
  json body = {{"window", args.window}, {"features", SplitList(args.features)}};
  if (!args.reference.empty()) body["reference"] = args.reference;
  if (!args.task.empty()) body["task"] = args.task;
  if (args.default_threshold >= 0) body["default_threshold"] = args.default_threshold;
  json thresholds = json::object();
  for (const std::string& item : args.thresholds) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      ThrowInvalid("--threshold '" + item + "': use FEATURE=PSI, such as age=0.1");
    }
    try {
      thresholds[item.substr(0, eq)] = std::stod(item.substr(eq + 1));
    } catch (const std::exception&) {
      ThrowInvalid("--threshold '" + item + "': the PSI is not a number");
    }
  }
  if (!thresholds.empty()) body["thresholds"] = thresholds;
  json retention = json::object();
  if (!args.retention.empty()) retention["max_age"] = args.retention;
  if (args.max_windows >= 0) retention["max_windows"] = args.max_windows;
  if (args.max_predictions >= 0) retention["max_predictions"] = args.max_predictions;
  if (!retention.empty()) body["retention"] = retention;
  ApiClient client(ResolveTrackingUri(args.server.tracking_uri));
  json reply = client.Put(Path(args.deployment, "/monitor"), body.dump(), "application/json");
  if (args.server.json) {
    PrintJson(reply);
    return;
  }
  const json& m = Field(reply, "monitor");
  std::cout << "monitoring deployment " << args.deployment << " against "
            << StringField(m, "reference")
            << (m.value("reference_from_lineage", false) ? " (the model's training data)" : "")
            << ", windows of " << StringField(m, "window") << "\n";
}

// "7d (the server's), at most 2016 windows, every prediction".
std::string RetentionText(const json& retention) {
  const std::string age = StringField(retention, "max_age");
  const int64_t windows = Int64Field(retention, "max_windows").value_or(0);
  const int64_t predictions = Int64Field(retention, "max_predictions").value_or(0);
  return (age.empty() ? std::string("the server's maximum age") : age) + ", " +
         (windows > 0 ? "at most " + std::to_string(windows) + " windows" : "every window") + ", " +
         (predictions > 0 ? "at most " + std::to_string(predictions) + " kept predictions"
                          : "every kept prediction");
}

void PrintDrift(const json& drift) {
  Table features({{"FEATURE", Table::Align::kLeft, false},
                  {"KIND"},
                  {"PSI", Table::Align::kRight},
                  {"JS", Table::Align::kRight},
                  {"KS", Table::Align::kRight},
                  {"MISSING", Table::Align::kRight},
                  {"THRESHOLD", Table::Align::kRight},
                  {"DRIFT"},
                  {"NEW CATEGORIES"}});
  for (const json& c : ArrayField(drift, "features")) {
    std::string news;
    for (const json& n : ArrayField(c, "new_categories")) {
      news += (news.empty() ? "" : ",") + n.get<std::string>();
    }
    features.AddRow({StringField(c, "column"), StringField(c, "kind"), Number(Field(c, "psi")),
                     Number(Field(c, "js")), Number(Field(c, "ks")),
                     Number(Field(c, "missing_rate"), "%.3f"),
                     Number(Field(c, "threshold"), "%.2f"),
                     Field(c, "over_threshold") == true ? "DRIFT" : "ok", news});
  }
  PrintSection("feature drift against the reference", features);
  Table predictions({{"OUTPUT", Table::Align::kLeft, false},
                     {"PSI", Table::Align::kRight},
                     {"JS", Table::Align::kRight},
                     {"DRIFT"}});
  for (const json& c : ArrayField(drift, "predictions")) {
    predictions.AddRow({StringField(c, "column"), Number(Field(c, "psi")), Number(Field(c, "js")),
                        Field(c, "over_threshold") == true ? "DRIFT" : "ok"});
  }
  PrintSection("prediction drift against the first window", predictions);
  const json& a = Field(drift, "accuracy");
  Table accuracy({{"TASK"},
                  {"LABELED ROWS", Table::Align::kRight},
                  {"ACCURACY", Table::Align::kRight},
                  {"F1", Table::Align::kRight},
                  {"ROC AUC", Table::Align::kRight},
                  {"RMSE", Table::Align::kRight},
                  {"MAE", Table::Align::kRight},
                  {"DELAY P50 S", Table::Align::kRight},
                  {"DELAY P90 S", Table::Align::kRight}});
  if (Int64Field(a, "rows").value_or(0) > 0) {
    accuracy.AddRow({StringField(a, "task"), std::to_string(*Int64Field(a, "rows")),
                     Number(Field(a, "accuracy")), Number(Field(a, "f1")),
                     Number(Field(a, "roc_auc")), Number(Field(a, "rmse")), Number(Field(a, "mae")),
                     Number(Field(a, "label_delay_p50_seconds"), "%.1f"),
                     Number(Field(a, "label_delay_p90_seconds"), "%.1f")});
  }
  PrintSection("live accuracy (predictions with feedback)", accuracy);
  // Before labels: NannyML's CBPE over the range's two-class probabilities.
  Table estimated({{"METHOD"},
                   {"ROWS", Table::Align::kRight},
                   {"EST. ACCURACY", Table::Align::kRight},
                   {"EST. ROC AUC", Table::Align::kRight}});
  const json& e = Field(drift, "estimated");
  if (Int64Field(e, "rows").value_or(0) > 0) {
    estimated.AddRow({StringField(e, "method"), std::to_string(*Int64Field(e, "rows")),
                      Number(Field(e, "accuracy")), Number(Field(e, "roc_auc"))});
  }
  PrintSection("estimated performance before labels (CBPE, from predicted probabilities)",
               estimated);
}

void Show(const MonitorArgs& args) {
  ApiClient client(ResolveTrackingUri(args.server.tracking_uri));
  ApiClient::QueryParams range;
  if (!args.last.empty()) {
    monitoring::live::WindowSpec spec = monitoring::live::WindowSpec::Parse(args.last);
    if (spec.kind != monitoring::live::WindowSpec::Kind::kTime) {
      ThrowInvalid("--last '" + args.last + "': a duration such as 1h or 7d");
    }
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    range.emplace_back("from", std::to_string(now - spec.millis));
  }
  json monitor = client.Get(Path(args.deployment, "/monitor"));
  json drift = client.Get(Path(args.deployment, "/monitor/drift"), range);
  json windows = client.Get(Path(args.deployment, "/monitor/windows"), range);
  if (args.server.json) {
    PrintJson({{"monitor", Field(monitor, "monitor")},
               {"drift", Field(drift, "drift")},
               {"windows", Field(windows, "windows")}});
    return;
  }
  const json& m = Field(monitor, "monitor");
  const json& d = Field(drift, "drift");
  std::cout << "deployment " << args.deployment << "\n"
            << "  reference: " << StringField(m, "reference")
            << (m.value("reference_from_lineage", false) ? " (from the model's lineage)" : "")
            << "\n"
            << "  model:     " << StringField(m, "model_name") << " v"
            << StringField(m, "model_version") << "\n"
            << "  window:    " << StringField(m, "window") << "\n"
            << "  retention: " << RetentionText(Field(m, "retention")) << "\n"
            << "  range:     " << Int64Field(d, "windows").value_or(0) << " windows, "
            << Int64Field(d, "rows").value_or(0) << " rows";
  if (Int64Field(d, "windows").value_or(0) > 0) {
    std::cout << ", " << FormatTime(Int64Field(d, "first_window_start_ms")) << " to "
              << FormatTime(Int64Field(d, "last_window_end_ms"));
  }
  std::cout << "\n";
  PrintDrift(d);
  // Over time: the newest windows, the feature that drifted most in each.
  Table series({{"WINDOW START"},
                {"ROWS", Table::Align::kRight},
                {"STATE"},
                {"MAX PSI", Table::Align::kRight},
                {"FEATURE"},
                {"DRIFTED", Table::Align::kRight},
                {"ACCURACY", Table::Align::kRight},
                {"EST. ACCURACY", Table::Align::kRight},
                {"RMSE", Table::Align::kRight}});
  const json& list = ArrayField(windows, "windows");
  size_t first = list.size() > size_t(args.series) ? list.size() - args.series : 0;
  for (size_t i = first; i < list.size(); ++i) {
    const json& w = list[i];
    double max_psi = -1;
    std::string worst;
    int drifted = 0;
    for (const json& c : ArrayField(w, "features")) {
      double psi = c.value("psi", 0.0);
      if (psi > max_psi) {
        max_psi = psi;
        worst = StringField(c, "column");
      }
      if (c.value("over_threshold", false)) ++drifted;
    }
    const json& a = Field(w, "accuracy");
    series.AddRow({FormatTime(Int64Field(w, "start_ms")), std::to_string(w.value("rows", 0)),
                   w.value("closed", false) ? "closed" : "open",
                   max_psi >= 0 ? Number(json(max_psi)) : "", worst, std::to_string(drifted),
                   Number(Field(a, "accuracy")), Number(Field(Field(w, "estimated"), "accuracy")),
                   Number(Field(a, "rmse"))});
  }
  PrintSection("windows (newest last)", series);
}

}  // namespace

void AddMonitorCommands(CLI::App& monitor) {
  auto args = std::make_shared<MonitorArgs>();
  CLI::App* set = monitor.add_subcommand(
      "set", "Watch a deployment: drift of its traffic against a reference, live accuracy");
  set->add_option("deployment", args->deployment, "Deployment name")->required();
  set->add_option("--reference", args->reference,
                  "Dataset version to compare with, NAME@VERSION (default: the dataset the "
                  "served model was trained on, from its lineage)");
  set->add_option("--window", args->window,
                  "Tumbling windows: a time (30s, 5m, 1h, 1d) or a row count (1000rows)")
      ->capture_default_str();
  set->add_option("--features", args->features,
                  "Features to compare: all, or a comma-separated list of model inputs")
      ->capture_default_str();
  set->add_option("--threshold", args->thresholds,
                  "PSI above which a feature counts as drifted, FEATURE=PSI (repeatable)");
  set->add_option("--default-threshold", args->default_threshold,
                  "PSI threshold of the features not named by --threshold (default 0.2)");
  set->add_option("--task", args->task,
                  "classification or regression (default: decided from the predictions)");
  set->add_option("--retention", args->retention,
                  "Keep windows and kept predictions this long (90m, 12h, 30d; default: the "
                  "server's prediction-log age, 7d unless set)");
  set->add_option("--max-windows", args->max_windows,
                  "Keep at most this many windows, the newest (default 2016; 0: no limit)");
  set->add_option("--max-predictions", args->max_predictions,
                  "Keep at most this many predictions for feedback, the newest (default 0: no "
                  "limit)");
  AddServerOptions(set, &args->server);
  set->callback([args] { Set(*args); });

  CLI::App* show = monitor.add_subcommand(
      "show", "A deployment's drift per feature, now and over time, and its live accuracy");
  show->add_option("deployment", args->deployment, "Deployment name")->required();
  show->add_option("--last", args->last, "Only the windows of this long back (1h, 7d)");
  show->add_option("--windows", args->series, "Windows listed in the series")
      ->capture_default_str();
  AddServerOptions(show, &args->server);
  show->callback([args] { Show(*args); });

  CLI::App* remove = monitor.add_subcommand(
      "delete", "Stop watching a deployment and forget its windows and feedback");
  remove->add_option("deployment", args->deployment, "Deployment name")->required();
  AddServerOptions(remove, &args->server);
  remove->callback([args] {
    ApiClient client(ResolveTrackingUri(args->server.tracking_uri));
    client.Delete(Path(args->deployment, "/monitor"), json::object());
    if (!args->server.json) std::cout << "deleted the monitor of " << args->deployment << "\n";
  });
}

}  // namespace slipway::cli
