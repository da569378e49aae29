#include "cli/alert_commands.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli/api_client.h"
#include "cli/cli_support.h"
#include "cli/table.h"
#include "core/clock.h"
#include "core/error.h"

namespace slipway::cli {
namespace {

using nlohmann::json;
using Align = Table::Align;

struct AlertOptions {
  std::string tracking_uri;
  std::string deployment;
  std::string file;
  size_t max = 20;
  bool json = false;
};

std::string Endpoint(const std::string& deployment) {
  return "/api/v1/deployments/" + deployment + "/alerts";
}

std::string ReadRuleFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) ThrowInvalid("cannot read the rule file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// `{a="x", b="y"}` without the labels every alert of the table shares.
std::string LabelsCell(const json& labels) {
  std::string out;
  if (!labels.is_object()) return out;
  for (const auto& [k, v] : labels.items()) {
    if (k == "alertname" || k == "deployment" || k == "severity") continue;
    out += (out.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

std::string Severity(const json& labels) {
  return labels.is_object() && labels.contains("severity") ? StringField(labels, "severity") : "";
}

std::string Time(std::optional<int64_t> ms) { return ms && *ms > 0 ? FormatIso8601(*ms) : ""; }

void Set(const AlertOptions& o) {
  ApiClient client(ResolveTrackingUri(o.tracking_uri));
  json reply = client.Put(Endpoint(o.deployment), ReadRuleFile(o.file), "application/yaml");
  const json& alerts = Field(reply, "alerts");
  size_t rules = Field(alerts, "rules").is_array() ? Field(alerts, "rules").size() : 0;
  std::cout << fmt::format("alert rules of {} set: {} rule{}\n", o.deployment, rules,
                           rules == 1 ? "" : "s");
}

void Get(const AlertOptions& o) {
  ApiClient client(ResolveTrackingUri(o.tracking_uri));
  json reply = client.Get(Endpoint(o.deployment));
  if (o.json) {
    PrintJson(reply);
    return;
  }
  std::cout << StringField(Field(reply, "alerts"), "yaml");
}

void Delete(const AlertOptions& o) {
  ApiClient client(ResolveTrackingUri(o.tracking_uri));
  client.Delete(Endpoint(o.deployment), json::object());
  std::cout << fmt::format("alert rules of {} deleted\n", o.deployment);
}

void Show(const AlertOptions& o) {
  ApiClient client(ResolveTrackingUri(o.tracking_uri));
  json reply =
      client.Get(Endpoint(o.deployment) + "/history", {{"max_results", std::to_string(o.max)}});
  if (o.json) {
    PrintJson(reply);
    return;
  }
  const size_t width = StdoutTerminalWidth();
  std::cout << "Active alerts\n";
  Table active({{"ALERT"},
                {"STATE"},
                {"SEVERITY"},
                {"LABELS"},
                {"VALUE", Align::kRight},
                {"SINCE", Align::kLeft, false}});
  for (const json& a : ArrayField(reply, "active")) {
    active.AddRow({StringField(a, "alert"), StringField(a, "state"), Severity(Field(a, "labels")),
                   LabelsCell(Field(a, "labels")),
                   fmt::format("{:g}", DoubleField(a, "value").value_or(0)),
                   Time(Int64Field(a, "active_since_ms"))});
  }
  if (active.row_count() == 0) {
    std::cout << "  (none)\n";
  } else {
    active.Print(std::cout, width);
  }
  std::cout << "\nRecent transitions\n";
  Table recent({{"TIME", Align::kLeft, false},
                {"ALERT"},
                {"STATE"},
                {"SEVERITY"},
                {"LABELS"},
                {"VALUE", Align::kRight},
                {"DELIVERIES"}});
  for (const json& t : ArrayField(reply, "transitions")) {
    std::string deliveries;
    for (const json& d : ArrayField(t, "deliveries")) {
      deliveries += (deliveries.empty() ? "" : "; ") + StringField(d, "receiver") + ": " +
                    StringField(d, "status");
      int64_t attempts = Int64Field(d, "attempts").value_or(0);
      if (attempts > 1) deliveries += fmt::format(" after {} attempts", attempts);
    }
    recent.AddRow({Time(Int64Field(t, "time_ms")), StringField(t, "alert"), StringField(t, "state"),
                   Severity(Field(t, "labels")), LabelsCell(Field(t, "labels")),
                   fmt::format("{:g}", DoubleField(t, "value").value_or(0)), deliveries});
  }
  if (recent.row_count() == 0) {
    std::cout << "  (none)\n";
  } else {
    recent.Print(std::cout, width);
  }
}

}  // namespace

void AddAlertCommands(CLI::App& app) {
  CLI::App* alerts = app.add_subcommand("alerts", "Alert rules of deployments and their alerts");
  alerts->require_subcommand(1);

  auto add = [&](const char* name, const char* help, void (*run)(const AlertOptions&), bool file,
                 bool show) {
    auto o = std::make_shared<AlertOptions>();
    CLI::App* cmd = alerts->add_subcommand(name, help);
    AddTrackingUriOption(cmd, &o->tracking_uri);
    cmd->add_option("deployment", o->deployment, "The deployment")->required();
    if (file)
      cmd->add_option("file", o->file, "The rule file (YAML; see docs/alerts.md)")->required();
    if (show) {
      cmd->add_option("--max", o->max, "Most recent transitions to show")
          ->check(CLI::Range(1, 1000))
          ->capture_default_str();
    }
    if (show || std::string(name) == "get") {
      cmd->add_flag("--json", o->json, "Print the server's JSON reply");
    }
    cmd->callback([o, run] { run(*o); });
  };
  add("set", "Set a deployment's alert rules and receivers from a YAML file", Set, true, false);
  add("get", "Print a deployment's alert rule file", Get, false, false);
  add("delete", "Remove a deployment's alert rules (its firing alerts resolve)", Delete, false,
      false);
  add("show", "Show a deployment's active alerts and recent transitions", Show, false, true);
}

}  // namespace slipway::cli
