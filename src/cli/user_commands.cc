#include "cli/user_commands.h"

#include <fmt/format.h>
#include <pwd.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "app/app.h"
#include "cli/api_client.h"
#include "cli/cli_support.h"
#include "cli/table.h"
#include "core/error.h"
#include "core/sha256.h"
#include "governance/access_control.h"
#include "governance/audit_log.h"
#include "governance/authorization.h"
#include "store/metadata_store.h"

namespace slipway::cli {
namespace {

using nlohmann::json;
using Align = Table::Align;

constexpr std::string_view kUsers = "/api/2.0/mlflow/users";
constexpr std::string_view kGrants = "/api/3.0/mlflow/users/permissions";
constexpr std::string_view kTokens = "/api/v1/tokens";

struct UserOptions {
  std::string tracking_uri;
  std::string store;
  std::string sync = "full";
  std::string username;
  bool admin = false;
  bool password_stdin = false;
  bool json = false;
  std::string experiment;
  std::string model;
  std::string dataset;
  std::string permission;
  std::string value;
  std::string token_name;
  int expires_in_days = 0;
};

// Passwords never come from the command line (other users see it in ps):
// from stdin with --password-stdin, else typed at a terminal without echo.
std::string ReadPassword(bool from_stdin, const std::string& prompt) {
  std::string password;
  if (from_stdin) {
    std::getline(std::cin, password);
    if (!password.empty() && password.back() == '\r') password.pop_back();
  } else {
    if (!isatty(STDIN_FILENO)) {
      ThrowInvalid("no terminal to type a password at: pass --password-stdin and pipe it in");
    }
    termios old_mode{};
    tcgetattr(STDIN_FILENO, &old_mode);
    termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::cerr << prompt << std::flush;
    std::getline(std::cin, password);
    tcsetattr(STDIN_FILENO, TCSANOW, &old_mode);
    std::cerr << "\n";
  }
  if (password.empty()) ThrowInvalid("the password is empty");
  return password;
}

// "local:<user>" for the account this process runs as.
std::string LocalPrincipal() {
  passwd* account = getpwuid(geteuid());
  return "local:" + std::string(account != nullptr ? account->pw_name : std::to_string(geteuid()));
}

std::string Path(std::string_view base, std::string_view rest) {
  return std::string(base) + std::string(rest);
}

// --store: straight into the metadata store, for the first admin or while
// no server runs. No one signs in: the command acts as the operating-system
// account that ran it (the operator; whoever may write the store's file
// could change it anyway), through the same AccessControl, and is audited
// like the API call it stands for, with `command` (never a secret) digested.
void AsOperator(const UserOptions& options, const std::string& action, const std::string& command,
                const std::function<void(governance::AccessControl&)>& work) {
  std::unique_ptr<store::MetadataStores> stores =
      store::OpenMetadataStore(options.store, store::ParseSync(options.sync));
  governance::AccessControl::Options access_options;
  access_options.canonical_id = app::CanonicalResourceId;
  governance::AccessControl access(*stores->auth, access_options);
  governance::AuditLog log(*stores->audit);
  governance::AuditedOperation(log, governance::Actor::Operator(LocalPrincipal()), action, "cli",
                               command)
      .Run([&] { work(access); });
}

void UsersCreate(const UserOptions& options) {
  std::string password =
      ReadPassword(options.password_stdin, "Password for " + options.username + ": ");
  if (!options.store.empty()) {
    governance::User user;
    AsOperator(options, "users/create",
               "users create --store " + options.username + (options.admin ? " --admin" : ""),
               [&](governance::AccessControl& access) {
                 user = access.CreateUser(options.username, password, options.admin);
               });
    std::cout << fmt::format("created user {} (id {}{})\n", user.username, user.id,
                             user.is_admin ? ", admin" : "");
    return;
  }
  ApiClient client(ResolveTrackingUri(options.tracking_uri));
  json reply = client.Post(Path(kUsers, "/create"),
                           {{"username", options.username}, {"password", password}});
  if (options.admin) {
    client.Patch(Path(kUsers, "/update-admin"),
                 {{"username", options.username}, {"is_admin", true}});
  }
  std::cout << fmt::format("created user {} (id {}{})\n", options.username,
                           StringField(Field(reply, "user"), "id"), options.admin ? ", admin" : "");
}

void UsersLs(const UserOptions& options) {
  ApiClient client(ResolveTrackingUri(options.tracking_uri));
  json reply = client.Get(Path(kUsers, "/list"));
  if (options.json) return PrintJson(reply);
  Table table({{"ID", Align::kRight}, {"USERNAME", Align::kLeft, false}, {"ADMIN"}});
  for (const json& user : ArrayField(reply, "users")) {
    table.AddRow({StringField(user, "id"), StringField(user, "username"),
                  StringField(user, "is_admin") == "true" ? "yes" : ""});
  }
  PrintTable(table);
}

void UsersDelete(const UserOptions& options) {
  if (!options.store.empty()) {
    AsOperator(options, "users/delete", "users delete --store " + options.username,
               [&](governance::AccessControl& access) { access.DeleteUser(options.username); });
    std::cout << fmt::format("deleted user {}\n", options.username);
    return;
  }
  ApiClient client(ResolveTrackingUri(options.tracking_uri));
  client.Delete(Path(kUsers, "/delete"), {{"username", options.username}});
  std::cout << fmt::format("deleted user {}\n", options.username);
}

void UsersPasswd(const UserOptions& options) {
  ApiClient client(ResolveTrackingUri(options.tracking_uri));
  json body = {{"username", options.username},
               {"password", ReadPassword(options.password_stdin,
                                         "New password for " + options.username + ": ")}};
  // Changing one's own password needs the current one: the one signed in with.
  const char* self = std::getenv("MLFLOW_TRACKING_USERNAME");
  const char* current = std::getenv("MLFLOW_TRACKING_PASSWORD");
  if (self != nullptr && options.username == self && current != nullptr) {
    body["current_password"] = current;
  }
  client.Patch(Path(kUsers, "/update-password"), body);
  std::cout << fmt::format("changed the password of {}\n", options.username);
}

void UsersSetAdmin(const UserOptions& options) {
  if (options.value != "true" && options.value != "false") {
    ThrowInvalid("set-admin takes true or false, not '" + options.value + "'");
  }
  if (!options.store.empty()) {
    AsOperator(options, "users/update-admin",
               "users set-admin --store " + options.username + " " + options.value,
               [&](governance::AccessControl& access) {
                 access.SetAdmin(options.username, options.value == "true");
               });
  } else {
    ApiClient client(ResolveTrackingUri(options.tracking_uri));
    client.Patch(Path(kUsers, "/update-admin"),
                 {{"username", options.username}, {"is_admin", options.value == "true"}});
  }
  std::cout << fmt::format("{} is {}an admin\n", options.username,
                           options.value == "true" ? "" : "no longer ");
}

json ResourceOf(const UserOptions& options) {
  int named = !options.experiment.empty() + !options.model.empty() + !options.dataset.empty();
  if (named != 1) {
    ThrowInvalid("name exactly one resource: --experiment ID, --model NAME or --dataset NAME");
  }
  if (!options.experiment.empty()) {
    return {{"resource_type", "experiment"}, {"resource_id", options.experiment}};
  }
  if (!options.dataset.empty()) {
    return {{"resource_type", "dataset"}, {"resource_id", options.dataset}};
  }
  return {{"resource_type", "registered_model"}, {"resource_id", options.model}};
}

void UsersGrant(const UserOptions& options) {
  json body = ResourceOf(options);
  body["username"] = options.username;
  body["permission"] = options.permission;
  if (!options.store.empty()) {
    AsOperator(options, "users/permissions/grant", "users grant --store " + body.dump(),
               [&](governance::AccessControl& access) {
                 access.SetPermission(
                     options.username,
                     governance::ParseResourceType(body["resource_type"].get<std::string>()),
                     body["resource_id"].get<std::string>(),
                     governance::ParsePermission(options.permission));
               });
  } else {
    ApiClient client(ResolveTrackingUri(options.tracking_uri));
    client.Post(Path(kGrants, "/grant"), body);
  }
  std::cout << fmt::format("{} now has {} on {} {}\n", options.username, options.permission,
                           body["resource_type"].get<std::string>(),
                           body["resource_id"].get<std::string>());
}

void UsersRevoke(const UserOptions& options) {
  json body = ResourceOf(options);
  body["username"] = options.username;
  if (!options.store.empty()) {
    AsOperator(options, "users/permissions/revoke", "users revoke --store " + body.dump(),
               [&](governance::AccessControl& access) {
                 access.RemovePermission(
                     options.username,
                     governance::ParseResourceType(body["resource_type"].get<std::string>()),
                     body["resource_id"].get<std::string>());
               });
  } else {
    ApiClient client(ResolveTrackingUri(options.tracking_uri));
    client.Post(Path(kGrants, "/revoke"), body);
  }
  std::cout << fmt::format("revoked {}'s permission on {} {}\n", options.username,
                           body["resource_type"].get<std::string>(),
                           body["resource_id"].get<std::string>());
}

void UsersPermissions(const UserOptions& options) {
  ApiClient client(ResolveTrackingUri(options.tracking_uri));
  json reply = client.Get(Path(kGrants, "/list"), {{"username", options.username}});
  if (options.json) return PrintJson(reply);
  if (StringField(reply, "is_admin") == "true") {
    std::cout << fmt::format("{} is an admin: MANAGE on everything\n", options.username);
  }
  Table table({{"RESOURCE TYPE"}, {"RESOURCE", Align::kLeft, false}, {"PERMISSION"}});
  for (const json& grant : ArrayField(reply, "permissions")) {
    table.AddRow({StringField(grant, "resource_type"), StringField(grant, "resource_pattern"),
                  StringField(grant, "permission")});
  }
  PrintSection("Explicit permissions (everything else: the server's default)", table);
}

void TokenCreate(const UserOptions& options) {
  ApiClient client(ResolveTrackingUri(options.tracking_uri));
  json body = {{"name", options.token_name}};
  if (!options.username.empty()) body["username"] = options.username;
  if (options.expires_in_days > 0) body["expires_in_days"] = options.expires_in_days;
  json reply = client.Post(kTokens, body);
  if (options.json) return PrintJson(reply);
  const json& info = Field(reply, "token_info");
  std::cerr << fmt::format(
      "API token {} for {}; it is shown this once, store it now (use it as "
      "MLFLOW_TRACKING_TOKEN):\n",
      StringField(info, "id"), StringField(info, "username"));
  std::cout << StringField(reply, "token") << "\n";
}

void TokenLs(const UserOptions& options) {
  ApiClient client(ResolveTrackingUri(options.tracking_uri));
  ApiClient::QueryParams query;
  if (!options.username.empty()) query.emplace_back("username", options.username);
  json reply = client.Get(kTokens, query);
  if (options.json) return PrintJson(reply);
  Table table({{"ID", Align::kLeft, false},
               {"USER", Align::kLeft, false},
               {"NAME"},
               {"CREATED"},
               {"EXPIRES"}});
  for (const json& token : ArrayField(reply, "tokens")) {
    table.AddRow({StringField(token, "id"), StringField(token, "username"),
                  StringField(token, "name"), FormatTime(Int64Field(token, "created_ms")),
                  FormatTime(Int64Field(token, "expires_ms"))});
  }
  PrintTable(table);
}

void TokenRevoke(const UserOptions& options) {
  ApiClient client(ResolveTrackingUri(options.tracking_uri));
  client.Delete(std::string(kTokens) + "/" + options.value, json::object());
  std::cout << fmt::format("revoked API token {}\n", options.value);
}

}  // namespace

void AddUserCommands(CLI::App& app) {
  CLI::App* users = app.add_subcommand(
      "users", "Manage users, permissions and API tokens (server started with --auth)");
  users->require_subcommand(1);
  auto options = std::make_shared<UserOptions>();
  auto add = [&](const char* name, const char* help, void (*run)(const UserOptions&)) {
    CLI::App* cmd = users->add_subcommand(name, help);
    AddTrackingUriOption(cmd, &options->tracking_uri);
    cmd->callback([options, run] { run(*options); });
    return cmd;
  };
  auto username = [&](CLI::App* cmd) {
    cmd->add_option("username", options->username, "User name")->required();
  };
  // --store: the command works on the metadata store directly (AsOperator).
  auto direct = [&](CLI::App* cmd) {
    CLI::Option* store_option = cmd->add_option(
        "--store", options->store,
        "Work on the metadata store at sqlite:///PATH directly, as this OS account (for the "
        "first admin, or while no server runs); audited like the API call");
    cmd->add_option("--sync", options->sync,
                    "With --store: full (fsync every commit) or normal, as for `slipway server`")
        ->capture_default_str()
        ->check(CLI::IsMember({"full", "normal"}))
        ->needs(store_option);
  };
  auto resource = [&](CLI::App* cmd) {
    cmd->add_option("--experiment", options->experiment, "Experiment id");
    cmd->add_option("--model", options->model, "Registered model name");
    cmd->add_option("--dataset", options->dataset, "Dataset name");
  };

  CLI::App* create =
      add("create", "Create a user (password typed, or --password-stdin)", UsersCreate);
  username(create);
  create->add_flag("--admin", options->admin, "Make the user an admin");
  create->add_flag("--password-stdin", options->password_stdin,
                   "Read the password from the first line of stdin");
  direct(create);

  CLI::App* ls = add("ls", "List users (admins only)", UsersLs);
  ls->add_flag("--json", options->json, "Print the server's JSON");

  CLI::App* delete_user =
      add("delete", "Delete a user with their tokens and permissions", UsersDelete);
  username(delete_user);
  direct(delete_user);

  CLI::App* passwd = add("passwd", "Change a user's password", UsersPasswd);
  username(passwd);
  passwd->add_flag("--password-stdin", options->password_stdin,
                   "Read the new password from the first line of stdin");

  CLI::App* set_admin = add("set-admin", "Grant or remove admin rights", UsersSetAdmin);
  username(set_admin);
  set_admin->add_option("value", options->value, "true or false")->required();
  direct(set_admin);

  CLI::App* grant =
      add("grant", "Give a user a permission on an experiment, model or dataset", UsersGrant);
  username(grant);
  resource(grant);
  grant
      ->add_option("--permission", options->permission, "READ, USE, EDIT, MANAGE or NO_PERMISSIONS")
      ->required()
      ->check(CLI::IsMember({"READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS"}));
  direct(grant);

  CLI::App* revoke = add("revoke", "Remove a user's explicit permission", UsersRevoke);
  username(revoke);
  resource(revoke);
  direct(revoke);

  CLI::App* perms = add("permissions", "List a user's explicit permissions", UsersPermissions);
  username(perms);
  perms->add_flag("--json", options->json, "Print the server's JSON");

  CLI::App* token = users->add_subcommand("token", "Create, list and revoke API tokens");
  token->require_subcommand(1);
  CLI::App* token_create = token->add_subcommand(
      "create", "Create an API token (printed once) for yourself or, as admin, --user");
  AddTrackingUriOption(token_create, &options->tracking_uri);
  token_create->add_option("--user", options->username, "Owner (default: you)");
  token_create->add_option("--name", options->token_name, "A label, e.g. ci-pipeline");
  token_create->add_option("--expires-in-days", options->expires_in_days, "Lifetime in days")
      ->check(CLI::Range(1, 3650));
  token_create->add_flag("--json", options->json, "Print the server's JSON");
  token_create->callback([options] { TokenCreate(*options); });

  CLI::App* token_ls = token->add_subcommand("ls", "List API tokens (yours, or --user)");
  AddTrackingUriOption(token_ls, &options->tracking_uri);
  token_ls->add_option("--user", options->username, "Owner");
  token_ls->add_flag("--json", options->json, "Print the server's JSON");
  token_ls->callback([options] { TokenLs(*options); });

  CLI::App* token_revoke = token->add_subcommand("revoke", "Revoke an API token at once");
  AddTrackingUriOption(token_revoke, &options->tracking_uri);
  token_revoke->add_option("id", options->value, "The token's id")->required();
  token_revoke->callback([options] { TokenRevoke(*options); });
}

}  // namespace slipway::cli
