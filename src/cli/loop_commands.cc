#include "cli/loop_commands.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/cli_support.h"
#include "cli/table.h"
#include "core/error.h"

namespace slipway::cli {
namespace {

using nlohmann::json;

struct LoopArgs {
  ServerOptions server;
  std::string name;
  std::vector<std::string> on;
  std::string spec;
  std::string data;
  std::string promote;
  std::string approval = "auto";
  std::string cooldown = "1h";
  int64_t max_per_day = 3;
  int64_t min_rows = 100;
  std::string reason;
  int64_t run = 0;
  int64_t max_results = 20;
};

std::string LoopPath(const std::string& name) { return "/api/v1/deployments/" + name + "/loop"; }

// "90s", "15m", "1h", "2d" or a number of seconds.
int64_t Seconds(const std::string& text) {
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = text.substr(used);
  const int64_t scale = unit.empty() || unit == "s" ? 1
                        : unit == "m"               ? 60
                        : unit == "h"               ? 3600
                        : unit == "d"               ? 86400
                                                    : 0;
  if (used == 0 || scale == 0 || value < 0) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "--cooldown '" + text + "': expected a duration such as 90s, 15m, 1h or 2d");
  }
  return value * scale;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kResourceDoesNotExist, "Cannot read spec file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void PrintRuns(const json& runs) {
  Table table({{"RUN", Table::Align::kRight, false},
               {"TRIGGER"},
               {"STATE"},
               {"CREATED"},
               {"VERSION", Table::Align::kRight, false},
               {"REASON"}});
  for (const json& r : runs) {
    std::string version = StringField(r, "version");
    if (!version.empty()) version = StringField(r, "model") + "/" + version;
    std::string reason = StringField(r, "reason");
    if (const size_t nl = reason.find('\n'); nl != std::string::npos)
      reason = reason.substr(0, nl) + " ...";
    table.AddRow({std::to_string(Int64Field(r, "id").value_or(0)), StringField(r, "trigger"),
                  StringField(r, "state"), FormatTime(Int64Field(r, "creation_time")), version,
                  reason});
  }
  PrintSection("runs", table);
}

void PrintPolicy(const json& p) {
  std::vector<std::string> on;
  for (const json& a : ArrayField(p, "on")) on.push_back(a.get<std::string>());
  std::string triggers;
  for (const std::string& a : on) triggers += (triggers.empty() ? "" : ", ") + a;
  std::cout << "loop of deployment " << StringField(p, "deployment") << "\n"
            << "  on:          " << (triggers.empty() ? "(by hand only)" : triggers) << "\n"
            << "  train:       " << StringField(p, "spec_name") << "\n"
            << "  data:        "
            << (StringField(p, "data").empty() ? "the spec's dataset @latest"
                                               : StringField(p, "data"))
            << "\n"
            << "  promote:     "
            << (StringField(p, "promote").empty() ? "the spec's alias" : StringField(p, "promote"))
            << " (approval " << StringField(p, "approval") << ")\n"
            << "  cool-down:   " << Int64Field(p, "cooldown_seconds").value_or(0) << " s, at most "
            << Int64Field(p, "max_per_day").value_or(0) << " retrains a day\n";
  if (StringField(p, "data").rfind("windows:", 0) == 0) {
    std::cout << "  min rows:    " << Int64Field(p, "min_rows").value_or(0)
              << " labelled rows (else the run is skipped)\n";
  }
  std::cout << "  owner:       " << StringField(p, "owner") << "\n";
}

void PrintRun(const ServerOptions& server, const json& reply) {
  if (server.json) {
    PrintJson(reply);
    return;
  }
  const json& r = Field(reply, "run");
  std::cout << "loop run " << Int64Field(r, "id").value_or(0) << " of "
            << StringField(r, "deployment") << ": " << StringField(r, "state");
  if (!StringField(r, "version").empty())
    std::cout << ", " << StringField(r, "model") << " version " << StringField(r, "version");
  std::cout << "\n";
  if (!StringField(r, "reason").empty()) std::cout << "  " << StringField(r, "reason") << "\n";
}

}  // namespace

void AddLoopCommands(CLI::App& app) {
  CLI::App* loop = app.add_subcommand(
      "loop", "The closed loop of a deployment: alerts -> retrain -> gates -> promotion");
  loop->require_subcommand(1);
  auto args = std::make_shared<LoopArgs>();

  CLI::App* set = loop->add_subcommand("set", "Set (or replace) a deployment's loop policy");
  set->add_option("name", args->name, "Deployment name")->required();
  set->add_option("--on", args->on, "Alert names that start a retrain (comma-separated)")
      ->delimiter(',');
  set->add_option("--train", args->spec, "The training spec file (YAML); its text is kept")
      ->required();
  set->add_option("--data", args->data,
                  "Dataset version to train on (default: the spec's dataset @latest), or "
                  "windows:DURATION (e.g. windows:24h): the deployment's predictions of the last "
                  "DURATION that have feedback, pushed as the next version of the dataset "
                  "<deployment>-feedback at each run");
  set->add_option("--promote", args->promote,
                  "Alias to move when the gates pass (default: the spec's register.alias)");
  set->add_option("--approval", args->approval,
                  "auto: promote on a pass; manual: wait for `slipway loop approve`")
      ->check(CLI::IsMember({"auto", "manual"}))
      ->capture_default_str();
  set->add_option("--cooldown", args->cooldown,
                  "Least time between retrains an alert starts (90s, 15m, 1h, 2d)")
      ->capture_default_str();
  set->add_option("--max-per-day", args->max_per_day, "Retrains started in any 24 hours")
      ->capture_default_str();
  set->add_option("--min-rows", args->min_rows,
                  "With --data windows:...: fewer labelled rows skip the run")
      ->capture_default_str();
  AddServerOptions(set, &args->server);
  set->callback([args] {
    ApiClient client(ResolveTrackingUri(args->server.tracking_uri));
    json body = {{"on", args->on},
                 {"spec", ReadText(args->spec)},
                 {"spec_name", std::filesystem::path(args->spec).filename().string()},
                 {"data", args->data},
                 {"promote", args->promote},
                 {"approval", args->approval},
                 {"cooldown_seconds", Seconds(args->cooldown)},
                 {"max_per_day", args->max_per_day},
                 {"min_rows", args->min_rows}};
    // PUT of a JSON body.
    const json reply = client.Put(LoopPath(args->name), body.dump(), "application/json");
    if (args->server.json) {
      PrintJson(reply);
    } else {
      PrintPolicy(Field(reply, "policy"));
    }
  });

  CLI::App* show = loop->add_subcommand("show", "A deployment's loop policy and recent runs");
  show->add_option("name", args->name, "Deployment name")->required();
  AddServerOptions(show, &args->server);
  show->callback([args] {
    ApiClient client(ResolveTrackingUri(args->server.tracking_uri));
    const json reply = client.Get(LoopPath(args->name));
    if (args->server.json) {
      PrintJson(reply);
      return;
    }
    PrintPolicy(Field(reply, "policy"));
    PrintRuns(ArrayField(reply, "runs"));
  });

  CLI::App* trigger = loop->add_subcommand("trigger", "Start a retrain now");
  trigger->add_option("name", args->name, "Deployment name")->required();
  trigger->add_option("--reason", args->reason, "Why, for the record");
  AddServerOptions(trigger, &args->server);
  trigger->callback([args] {
    ApiClient client(ResolveTrackingUri(args->server.tracking_uri));
    PrintRun(args->server,
             client.Post(LoopPath(args->name) + "/trigger", {{"reason", args->reason}}));
  });

  CLI::App* approve =
      loop->add_subcommand("approve", "Promote a run's version that waits for approval");
  approve->add_option("name", args->name, "Deployment name")->required();
  approve->add_option("run", args->run, "Loop run id")->required();
  AddServerOptions(approve, &args->server);
  approve->callback([args] {
    ApiClient client(ResolveTrackingUri(args->server.tracking_uri));
    PrintRun(args->server,
             client.Post(LoopPath(args->name) + "/runs/" + std::to_string(args->run) + "/approve",
                         json::object()));
  });

  CLI::App* reject = loop->add_subcommand("reject", "Refuse a run's version; production stays");
  reject->add_option("name", args->name, "Deployment name")->required();
  reject->add_option("run", args->run, "Loop run id")->required();
  reject->add_option("--reason", args->reason, "Why, for the record");
  AddServerOptions(reject, &args->server);
  reject->callback([args] {
    ApiClient client(ResolveTrackingUri(args->server.tracking_uri));
    PrintRun(args->server,
             client.Post(LoopPath(args->name) + "/runs/" + std::to_string(args->run) + "/reject",
                         {{"reason", args->reason}}));
  });

  CLI::App* remove = loop->add_subcommand("delete", "Remove a deployment's loop policy");
  remove->add_option("name", args->name, "Deployment name")->required();
  AddServerOptions(remove, &args->server);
  remove->callback([args] {
    ApiClient client(ResolveTrackingUri(args->server.tracking_uri));
    client.Delete(LoopPath(args->name), json::object());
    std::cout << "loop policy of " << args->name << " deleted\n";
  });
}

}  // namespace slipway::cli
