#include "cli/model_commands.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/api_client.h"
#include "cli/cli_support.h"
#include "cli/table.h"
#include "core/error.h"

namespace slipway::cli {
namespace {

using nlohmann::json;
using Align = Table::Align;

constexpr size_t kDescriptionWidth = 50;

// --- Reading MLflow's proto3 JSON.

// `{key: value}` pairs of a proto3 map-like list ([{"key": ..., "value": ...}]), by key.
std::map<std::string, std::string> KeyValues(const json& entries) {
  std::map<std::string, std::string> values;
  if (!entries.is_array()) return values;
  for (const json& entry : entries) values[StringField(entry, "key")] = StringField(entry, "value");
  return values;
}

// A metric's value as MLflow's client shows it; NaN and infinities arrive as strings.
std::string MetricValue(const json& metric) {
  const json& value = Field(metric, "value");
  if (value.is_number()) return fmt::format("{}", value.get<double>());
  return StringField(metric, "value");
}

// --- Formatting.

// The first line of a description, cut to `width` columns; "…" marks anything left out.
std::string Summary(const std::string& text, size_t width) {
  size_t newline = text.find('\n');
  if (newline == std::string::npos) return Truncate(text, width);
  return Truncate(text.substr(0, newline) + " …", width);
}

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string joined;
  for (const std::string& item : items) {
    if (!joined.empty()) joined += separator;
    joined += item;
  }
  return joined;
}

// --- URLs and search filters.

// `segment` percent-encoded for one URL path segment: every byte but RFC 3986's unreserved
// characters, so names with '/', '%', '?', spaces, quotes or UTF-8 stay one segment.
std::string EncodePathSegment(std::string_view segment) {
  std::string encoded;
  for (char c : segment) {
    auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      encoded += c;
    } else {
      encoded += fmt::format("%{:02X}", byte);
    }
  }
  return encoded;
}

// A model-versions search filter that matches the versions of `name`, and maybe others: callers
// keep the exact matches. MLflow's filter parser strips a literal's quotes without unescaping
// anything, so a name is written in single quotes, or in double quotes when it holds a single
// quote. A name that holds both kinds of quote, or a backslash (which escapes a quote), cannot
// be written as a literal; it is matched with LIKE on its part before the first such character.
std::string VersionsFilter(const std::string& name) {
  bool has_single = name.find('\'') != std::string::npos;
  bool has_double = name.find('"') != std::string::npos;
  bool has_backslash = name.find('\\') != std::string::npos;
  if (!has_backslash && !has_single) return "name = '" + name + "'";
  if (!has_backslash && !has_double) return "name = \"" + name + "\"";
  return "name LIKE '" + name.substr(0, name.find_first_of("'\"\\")) + "%'";
}

// --- Model references.

// A registered model, or one of its versions, as named on the command line.
struct ModelReference {
  std::string text;  // as given
  std::string name;
  std::string version;  // NAME/VERSION, NAME@vVERSION
  std::string alias;    // NAME@ALIAS
  // NAME@N with N all digits: alias N when the model has one, else version N.
  bool alias_may_be_version = false;

  bool names_version() const { return !version.empty() || !alias.empty(); }
};

bool IsAllDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// MLflow's alias characters: letters, digits, '_' and '-'.
bool IsAliasName(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// NAME@ALIAS, NAME/VERSION or NAME, split at the last '@' or '/' when what follows is an alias
// or a version number; anything else is all name.
ModelReference ParseReference(const std::string& text) {
  ModelReference reference;
  reference.text = text;
  reference.name = text;
  size_t at = text.rfind('@');
  if (at != std::string::npos && at > 0 && IsAliasName(text.substr(at + 1))) {
    reference.name = text.substr(0, at);
    std::string suffix = text.substr(at + 1);
    if ((suffix[0] == 'v' || suffix[0] == 'V') && IsAllDigits(suffix.substr(1))) {
      reference.version = suffix.substr(1);
    } else {
      reference.alias = suffix;
      reference.alias_may_be_version = IsAllDigits(suffix);
    }
    return reference;
  }
  size_t slash = text.rfind('/');
  if (slash != std::string::npos && slash > 0 && IsAllDigits(text.substr(slash + 1))) {
    reference.name = text.substr(0, slash);
    reference.version = text.substr(slash + 1);
  }
  return reference;
}

// --- Registry reads.

// Runs `request`; a not-found or invalid-parameter error that does not mention `name` is
// prefixed with `label`, so the user sees which model was meant.
template <typename Request>
auto Naming(const std::string& name, const std::string& label, Request request) {
  try {
    return request();
  } catch (const Error& error) {
    if ((error.code() != ErrorCode::kResourceDoesNotExist &&
         error.code() != ErrorCode::kInvalidParameterValue) ||
        std::string_view(error.what()).find(name) != std::string_view::npos) {
      throw;
    }
    throw Error(error.code(), fmt::format("{}: {}", label, error.what()));
  }
}

json RequireObject(const json& reply, const char* key, const std::string& label) {
  const json& object = Field(reply, key);
  if (!object.is_object()) {
    throw Error(ErrorCode::kInternalError,
                fmt::format("the server's reply for {} has no {}", label, key));
  }
  return object;
}

json GetRegisteredModel(ApiClient& client, const std::string& name) {
  return Naming(name, fmt::format("model '{}'", name), [&] {
    return RequireObject(client.Get(Endpoint("registered-models/get"), {{"name", name}}),
                         "registered_model", fmt::format("model '{}'", name));
  });
}

json GetModelVersion(ApiClient& client, const std::string& name, const std::string& version) {
  std::string label = fmt::format("{}/{}", name, version);
  return Naming(name, label, [&] {
    return RequireObject(
        client.Get(Endpoint("model-versions/get"), {{"name", name}, {"version", version}}),
        "model_version", label);
  });
}

// The model's aliases: alias -> version.
std::map<std::string, std::string> Aliases(const json& model) {
  std::map<std::string, std::string> aliases;
  for (const json& alias : ArrayField(model, "aliases")) {
    aliases[StringField(alias, "alias")] = StringField(alias, "version");
  }
  return aliases;
}

std::optional<std::string> AliasTarget(const json& model, const std::string& alias) {
  std::map<std::string, std::string> aliases = Aliases(model);
  auto it = aliases.find(alias);
  if (it == aliases.end()) return std::nullopt;
  return it->second;
}

// The version `reference` names, as the server's ModelVersion object.
json ResolveVersion(ApiClient& client, const ModelReference& reference) {
  if (!reference.version.empty()) return GetModelVersion(client, reference.name, reference.version);
  if (reference.alias.empty()) {
    ThrowInvalid(fmt::format(
        "'{}' names a registered model; name one of its versions as NAME/VERSION or NAME@ALIAS",
        reference.text));
  }
  if (reference.alias_may_be_version) {
    json model = GetRegisteredModel(client, reference.name);
    return GetModelVersion(client, reference.name,
                           AliasTarget(model, reference.alias).value_or(reference.alias));
  }
  return Naming(reference.name, reference.text, [&] {
    return RequireObject(client.Get(Endpoint("registered-models/alias"),
                                    {{"name", reference.name}, {"alias", reference.alias}}),
                         "model_version", reference.text);
  });
}

// GET searches, following next_page_token until `limit` items of `items_key` are gathered.
json SearchAll(ApiClient& client, std::string_view endpoint, const ApiClient::QueryParams& query,
               const char* items_key, size_t limit) {
  return CollectPages(
      [&](size_t max_results, const std::string& token) {
        ApiClient::QueryParams page = query;
        page.emplace_back("max_results", std::to_string(max_results));
        if (!token.empty()) page.emplace_back("page_token", token);
        return client.Get(endpoint, page);
      },
      items_key, limit);
}

// Every version of `name`, newest first.
json ListVersions(ApiClient& client, const std::string& name) {
  json found =
      SearchAll(client, Endpoint("model-versions/search"), {{"filter", VersionsFilter(name)}},
                "model_versions", std::numeric_limits<size_t>::max());
  json versions = json::array();
  for (json& version : found) {
    if (StringField(version, "name") == name) versions.push_back(std::move(version));
  }
  std::sort(versions.begin(), versions.end(), [](const json& a, const json& b) {
    return Int64Field(a, "version").value_or(0) > Int64Field(b, "version").value_or(0);
  });
  return versions;
}

// The name and version number `reference` names; an alias is resolved through the server.
std::pair<std::string, std::string> VersionNumber(ApiClient& client,
                                                  const ModelReference& reference) {
  if (!reference.version.empty()) return {reference.name, reference.version};
  json version = ResolveVersion(client, reference);
  return {StringField(version, "name"), StringField(version, "version")};
}

// --- models ls

struct ModelsLsOptions {
  ServerOptions server;
  std::string filter;
  size_t max = 100;
};

std::string LatestVersion(const json& model) {
  std::optional<int64_t> latest;
  for (const json& version : ArrayField(model, "latest_versions")) {
    std::optional<int64_t> number = Int64Field(version, "version");
    if (number && (!latest || *number > *latest)) latest = number;
  }
  return latest ? std::to_string(*latest) : "";
}

// "production=3, staging=2"
std::string AliasList(const json& model) {
  std::vector<std::string> aliases;
  for (const auto& [alias, version] : Aliases(model)) aliases.push_back(alias + "=" + version);
  return Join(aliases, ", ");
}

void ModelsLs(const ModelsLsOptions& options) {
  ApiClient client(ResolveTrackingUri(options.server.tracking_uri));
  ApiClient::QueryParams query;
  if (!options.filter.empty()) query.emplace_back("filter", options.filter);
  json models = SearchAll(client, Endpoint("registered-models/search"), query, "registered_models",
                          options.max);
  if (options.server.json) {
    PrintJson({{"registered_models", models}});
    return;
  }
  Table table({{"NAME", Align::kLeft, false},
               {"LATEST", Align::kRight},
               {"ALIASES"},
               {"LAST UPDATED"},
               {"DESCRIPTION"}});
  for (const json& model : models) {
    table.AddRow({StringField(model, "name"), LatestVersion(model), AliasList(model),
                  FormatTime(Int64Field(model, "last_updated_timestamp")),
                  Summary(StringField(model, "description"), kDescriptionWidth)});
  }
  PrintTable(table);
}

// --- models show

struct ModelsShowOptions {
  ServerOptions server;
  std::string reference;
};

void PrintTags(const json& entity) {
  Table tags({{"KEY"}, {"VALUE"}});
  for (const auto& [key, value] : KeyValues(Field(entity, "tags"))) tags.AddRow({key, value});
  PrintSection("Tags", tags);
}

void ShowModel(ApiClient& client, const std::string& name, bool as_json) {
  json model = GetRegisteredModel(client, name);
  json versions = ListVersions(client, StringField(model, "name"));
  if (as_json) {
    PrintJson({{"registered_model", model}, {"model_versions", versions}});
    return;
  }

  Table summary({{""}, {""}});
  summary.AddRow({"Name", StringField(model, "name")});
  summary.AddRow({"Description", StringField(model, "description")});
  summary.AddRow({"Created", FormatTime(Int64Field(model, "creation_timestamp"))});
  summary.AddRow({"Last updated", FormatTime(Int64Field(model, "last_updated_timestamp"))});
  if (std::string user = StringField(model, "user_id"); !user.empty()) {
    summary.AddRow({"User", user});
  }
  PrintTable(summary);

  PrintTags(model);

  std::map<std::string, std::vector<std::string>> aliases_by_version;
  Table aliases({{"ALIAS"}, {"VERSION", Align::kRight}});
  for (const auto& [alias, version] : Aliases(model)) {
    aliases.AddRow({alias, version});
    aliases_by_version[version].push_back(alias);
  }
  PrintSection("Aliases", aliases);

  Table table({{"VERSION", Align::kRight},
               {"STAGE"},
               {"ALIASES"},
               {"RUN ID", Align::kLeft, false},
               {"SOURCE"},
               {"CREATED"}});
  for (const json& version : versions) {
    std::string number = StringField(version, "version");
    table.AddRow({number, StringField(version, "current_stage"),
                  Join(aliases_by_version[number], ", "), StringField(version, "run_id"),
                  StringField(version, "source"),
                  FormatTime(Int64Field(version, "creation_timestamp"))});
  }
  PrintSection("Versions", table);
}

void ShowVersion(ApiClient& client, const ModelReference& reference, bool as_json) {
  json version = ResolveVersion(client, reference);
  std::string name = StringField(version, "name");
  std::string number = StringField(version, "version");
  std::string download_uri = StringField(client.Get(Endpoint("model-versions/get-download-uri"),
                                                    {{"name", name}, {"version", number}}),
                                         "artifact_uri");
  if (as_json) {
    PrintJson({{"model_version", version}, {"artifact_uri", download_uri}});
    return;
  }

  std::string run_id = StringField(version, "run_id");
  std::string run_name;
  if (!run_id.empty()) {
    try {
      json run = client.Get(Endpoint("runs/get"), {{"run_id", run_id}});
      run_name = StringField(Field(Field(run, "run"), "info"), "run_name");
    } catch (const Error&) {
      // A deleted run still leaves its id to show.
    }
  }
  std::vector<std::string> aliases;
  for (const json& alias : ArrayField(version, "aliases"))
    aliases.push_back(alias.get<std::string>());

  Table summary({{""}, {""}});
  summary.AddRow({"Name", name});
  summary.AddRow({"Version", number});
  summary.AddRow({"Stage", StringField(version, "current_stage")});
  summary.AddRow({"Status", StringField(version, "status")});
  summary.AddRow({"Aliases", Join(aliases, ", ")});
  summary.AddRow({"Description", StringField(version, "description")});
  summary.AddRow({"Run ID", run_id});
  if (!run_name.empty()) summary.AddRow({"Run name", run_name});
  if (std::string model_id = StringField(version, "model_id"); !model_id.empty()) {
    summary.AddRow({"Logged model", model_id});
  }
  summary.AddRow({"Source", StringField(version, "source")});
  summary.AddRow({"Download URI", download_uri});
  if (std::string user = StringField(version, "user_id"); !user.empty()) {
    summary.AddRow({"User", user});
  }
  summary.AddRow({"Created", FormatTime(Int64Field(version, "creation_timestamp"))});
  summary.AddRow({"Last updated", FormatTime(Int64Field(version, "last_updated_timestamp"))});
  PrintTable(summary);

  PrintTags(version);
}

void ModelsShow(const ModelsShowOptions& options) {
  ApiClient client(ResolveTrackingUri(options.server.tracking_uri));
  ModelReference reference = ParseReference(options.reference);
  if (reference.names_version()) {
    ShowVersion(client, reference, options.server.json);
  } else {
    ShowModel(client, reference.name, options.server.json);
  }
}

// --- models alias

struct ModelsAliasOptions {
  ServerOptions server;
  std::string name;
  std::string alias;
  std::string version;
  bool remove = false;
};

std::string WasText(const std::optional<std::string>& previous) {
  return previous ? fmt::format("was {}", *previous) : "was unset";
}

// Points `alias` of `name` at `version` and says so: "churn@production: version 3 (was 2)".
void SetAlias(ApiClient& client, const std::string& name, const std::string& alias,
              const std::string& version) {
  std::optional<std::string> previous = AliasTarget(GetRegisteredModel(client, name), alias);
  Naming(name, fmt::format("{}@{}", name, alias), [&] {
    return client.Post(Endpoint("registered-models/alias"),
                       {{"name", name}, {"alias", alias}, {"version", version}});
  });
  std::cout << fmt::format("{}@{}: version {} ({})\n", name, alias, version, WasText(previous));
}

void ModelsAlias(const ModelsAliasOptions& options) {
  if (options.remove == !options.version.empty()) {
    ThrowInvalid("give either the VERSION to point the alias at or --delete");
  }
  ApiClient client(ResolveTrackingUri(options.server.tracking_uri));
  if (!options.remove) {
    json version = GetModelVersion(client, options.name, options.version);
    SetAlias(client, options.name, options.alias, StringField(version, "version"));
    return;
  }
  std::optional<std::string> previous =
      AliasTarget(GetRegisteredModel(client, options.name), options.alias);
  if (!previous) {
    throw Error(ErrorCode::kResourceDoesNotExist,
                fmt::format("model '{}' has no alias '{}'", options.name, options.alias));
  }
  client.Delete(Endpoint("registered-models/alias"),
                {{"name", options.name}, {"alias", options.alias}});
  std::cout << fmt::format("{}@{}: deleted (was version {})\n", options.name, options.alias,
                           *previous);
}

// --- models promote

struct ModelsPromoteOptions {
  ServerOptions server;
  std::string reference;
  std::string to_alias;
  std::string stage;
  bool archive_existing = false;
};

std::string Lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Moves version `number` of `name` to `stage` and prints every version whose stage changed.
void TransitionStage(ApiClient& client, const json& version, const std::string& stage,
                     bool archive_existing) {
  std::string name = StringField(version, "name");
  std::string number = StringField(version, "version");
  std::vector<json> displaced;
  if (archive_existing) {
    for (const json& other : ListVersions(client, name)) {
      if (StringField(other, "version") != number &&
          Lowercase(StringField(other, "current_stage")) == Lowercase(stage)) {
        displaced.push_back(other);
      }
    }
  }
  json reply = Naming(name, fmt::format("{}/{}", name, number), [&] {
    return client.Post(Endpoint("model-versions/transition-stage"),
                       {{"name", name},
                        {"version", number},
                        {"stage", stage},
                        {"archive_existing_versions", archive_existing}});
  });
  std::cout << fmt::format("{}/{}: stage {} (was {})\n", name, number,
                           StringField(Field(reply, "model_version"), "current_stage"),
                           StringField(version, "current_stage"));
  for (const json& other : displaced) {
    std::string other_number = StringField(other, "version");
    json now = GetModelVersion(client, name, other_number);
    std::cout << fmt::format("{}/{}: stage {} (was {})\n", name, other_number,
                             StringField(now, "current_stage"),
                             StringField(other, "current_stage"));
  }
}

void ModelsPromote(const ModelsPromoteOptions& options) {
  if (options.to_alias.empty() && options.stage.empty()) {
    ThrowInvalid("give the alias to point with --to ALIAS, a stage with --stage STAGE, or both");
  }
  ApiClient client(ResolveTrackingUri(options.server.tracking_uri));
  ModelReference reference = ParseReference(options.reference);
  json version = ResolveVersion(client, reference);
  if (!options.stage.empty()) {
    TransitionStage(client, version, options.stage, options.archive_existing);
  }
  if (!options.to_alias.empty()) {
    SetAlias(client, StringField(version, "name"), options.to_alias,
             StringField(version, "version"));
  }
}

// --- models lineage

struct ModelsReferenceOptions {
  ServerOptions server;
  std::string reference;
};

// A line of the lineage tree and the lines under it.
struct TreeNode {
  std::string label;
  std::vector<TreeNode> children;

  TreeNode& Add(std::string child_label) {
    children.push_back({std::move(child_label), {}});
    return children.back();
  }
};

void PrintTree(const TreeNode& node, const std::string& indent, bool last, bool root) {
  std::string label = node.label;
  for (char& c : label) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  }
  std::cout << (root ? "" : indent + (last ? "└── " : "├── ")) << label << '\n';
  std::string child_indent = root ? "" : indent + (last ? "    " : "│   ");
  for (size_t i = 0; i < node.children.size(); ++i) {
    PrintTree(node.children[i], child_indent, i + 1 == node.children.size(), false);
  }
}

// "label (a, b)" with the empty parts left out.
std::string Described(std::string label, const std::vector<std::string>& details) {
  std::vector<std::string> present;
  for (const std::string& detail : details) {
    if (!detail.empty()) present.push_back(detail);
  }
  if (!present.empty()) label += " (" + Join(present, ", ") + ")";
  return label;
}

std::string RunLabel(const std::string& prefix, const json& run_ref) {
  return Described(prefix + StringField(run_ref, "run_id"),
                   {StringField(run_ref, "run_name"), StringField(run_ref, "status")});
}

void AddKeyValues(TreeNode& parent, const std::string& title,
                  const std::vector<std::pair<std::string, std::string>>& values) {
  if (values.empty()) {
    parent.Add(title + ": (none)");
    return;
  }
  TreeNode& node = parent.Add(title);
  for (const auto& [key, value] : values) node.Add(key + " = " + value);
}

// What the run itself records: params, metrics, and where data and code came from.
void AddRunRecord(TreeNode& parent, const json& lineage) {
  if (const json& run = Field(lineage, "run"); run.is_object()) {
    const json& data = Field(run, "data");
    std::map<std::string, std::string> params = KeyValues(Field(data, "params"));
    AddKeyValues(parent, "params", {params.begin(), params.end()});
    std::map<std::string, std::string> metrics;
    for (const json& metric : ArrayField(data, "metrics")) {
      metrics[StringField(metric, "key")] = MetricValue(metric);
    }
    AddKeyValues(parent, "metrics", {metrics.begin(), metrics.end()});
  }

  const json& datasets = ArrayField(lineage, "datasets");
  if (datasets.empty()) {
    parent.Add("datasets: (none)");
  } else {
    TreeNode& node = parent.Add("datasets");
    for (const json& dataset : datasets) {
      std::string digest = StringField(dataset, "digest");
      TreeNode& entry = node.Add(Described(
          StringField(dataset, "name"), {StringField(dataset, "context"),
                                         digest.empty() ? "" : fmt::format("digest {}", digest)}));
      std::string source = StringField(dataset, "source");
      if (!source.empty()) {
        entry.Add(Described("source: " + source, {StringField(dataset, "source_type")}));
      }
    }
  }

  const json& code = Field(lineage, "code");
  std::string commit = StringField(code, "git_commit");
  std::string source_name = StringField(code, "source_name");
  if (commit.empty() && source_name.empty()) {
    parent.Add("code: (not recorded)");
  } else {
    TreeNode& node = parent.Add("code");
    if (!source_name.empty()) {
      node.Add(Described("source: " + source_name, {StringField(code, "source_type")}));
    }
    if (!commit.empty()) node.Add("git commit: " + commit);
  }

  if (const json& parent_run = Field(lineage, "parent_run"); parent_run.is_object()) {
    parent.Add(RunLabel("parent run ", parent_run));
  }
  const json& children = ArrayField(lineage, "child_runs");
  if (!children.empty()) {
    TreeNode& node = parent.Add("child runs");
    for (const json& child : children) node.Add(RunLabel("", child));
  }
}

// model version -> logged model -> run -> params, metrics, datasets, code, parent, children.
TreeNode LineageTree(const json& lineage) {
  const json& version = Field(lineage, "model_version");
  std::vector<std::string> aliases;
  for (const json& alias : ArrayField(version, "aliases"))
    aliases.push_back("@" + alias.get<std::string>());
  std::string stage = StringField(version, "current_stage");
  TreeNode root{Described(fmt::format("model version {}/{}", StringField(version, "name"),
                                      StringField(version, "version")),
                          {Join(aliases, " "), stage.empty() || stage == "None" ? "" : stage,
                           FormatTime(Int64Field(version, "creation_timestamp"))}),
                {}};
  root.Add("source: " + StringField(version, "source"));

  TreeNode* under = &root;
  if (const json& logged = Field(lineage, "logged_model"); logged.is_object()) {
    const json& info = Field(logged, "info");
    under = &root.Add(Described("logged model " + StringField(info, "model_id"),
                                {StringField(info, "name"), StringField(info, "status")}));
    std::string artifacts = StringField(info, "artifact_uri");
    if (!artifacts.empty()) under->Add("artifacts: " + artifacts);
  }

  const json& run = Field(lineage, "run");
  if (run.is_object()) {
    const json& info = Field(run, "info");
    under = &under->Add(Described("run " + StringField(info, "run_id"),
                                  {StringField(info, "run_name"), StringField(info, "status")}));
    under->Add(Described("experiment " + StringField(info, "experiment_id"),
                         {FormatTime(Int64Field(info, "start_time"))}));
  } else {
    std::string run_id = StringField(version, "run_id");
    const json& withheld = ArrayField(lineage, "withheld");
    under = &under->Add(run_id.empty()     ? "run: (none recorded)"
                        : withheld.empty() ? fmt::format("run {} (no longer available)", run_id)
                                           : fmt::format("run {} (withheld)", run_id));
  }
  AddRunRecord(*under, lineage);
  // What the server left out because the caller may not read it.
  for (const json& line : ArrayField(lineage, "withheld")) {
    if (line.is_string()) root.Add("withheld: " + line.get<std::string>());
  }
  return root;
}

// A GET of Slipway's own /api/v1 API; a server without it (MLflow's) is named as such.
json GetSlipwayApi(ApiClient& client, const std::string& path, const std::string& what,
                   const ApiClient::QueryParams& query = {}) {
  try {
    return client.Get(path, query);
  } catch (const Error& error) {
    if (error.code() != ErrorCode::kEndpointNotFound) throw;
    throw Error(error.code(), fmt::format("the server at {} does not serve {} (a `slipway "
                                          "server` endpoint): {}",
                                          client.uri(), what, error.what()));
  }
}

void ModelsLineage(const ModelsReferenceOptions& options) {
  ApiClient client(ResolveTrackingUri(options.server.tracking_uri));
  auto [name, version] = VersionNumber(client, ParseReference(options.reference));
  std::string path = fmt::format("/api/v1/lineage/model-versions/{}/{}", EncodePathSegment(name),
                                 EncodePathSegment(version));
  json lineage = Naming(name, fmt::format("{}/{}", name, version),
                        [&] { return GetSlipwayApi(client, path, "model lineage"); });
  if (options.server.json) {
    PrintJson(lineage);
    return;
  }
  PrintTree(LineageTree(lineage), "", true, true);
}

// --- models card

void ModelsCard(const ModelsReferenceOptions& options) {
  ApiClient client(ResolveTrackingUri(options.server.tracking_uri));
  auto [name, version] = VersionNumber(client, ParseReference(options.reference));
  std::string path = fmt::format("/api/v1/models/{}/versions/{}/card", EncodePathSegment(name),
                                 EncodePathSegment(version));
  std::string label = fmt::format("{}/{}", name, version);
  if (options.server.json) {
    PrintJson(Naming(name, label, [&] {
      return GetSlipwayApi(client, path, "model cards", {{"format", "json"}});
    }));
    return;
  }
  std::string markdown = Naming(name, label, [&] {
    try {
      return client.GetText(path, {}, "text/markdown");
    } catch (const Error& error) {
      if (error.code() != ErrorCode::kEndpointNotFound) throw;
      throw Error(error.code(), fmt::format("the server at {} does not serve model cards (a "
                                            "`slipway server` endpoint): {}",
                                            client.uri(), error.what()));
    }
  });
  std::cout << markdown;
  if (!markdown.empty() && markdown.back() != '\n') std::cout << '\n';
}

}  // namespace

void AddModelCommands(CLI::App& app) {
  CLI::App* models = app.add_subcommand(
      "models", "Inspect and manage registered models (versions as NAME/VERSION or NAME@ALIAS)");
  models->require_subcommand(1);

  auto ls_options = std::make_shared<ModelsLsOptions>();
  CLI::App* ls = models->add_subcommand("ls", "List registered models");
  AddServerOptions(ls, &ls_options->server);
  ls->add_option("--filter", ls_options->filter,
                 "MLflow search filter, e.g. \"name LIKE 'churn%'\"");
  ls->add_option("--max", ls_options->max, "Most models to list")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  ls->callback([ls_options] { ModelsLs(*ls_options); });

  auto show_options = std::make_shared<ModelsShowOptions>();
  CLI::App* show = models->add_subcommand(
      "show",
      "Show a registered model and its versions, or one version (NAME/VERSION, NAME@ALIAS)");
  AddServerOptions(show, &show_options->server);
  show->add_option("model", show_options->reference, "NAME, NAME/VERSION or NAME@ALIAS")
      ->required();
  show->callback([show_options] { ModelsShow(*show_options); });

  auto alias_options = std::make_shared<ModelsAliasOptions>();
  CLI::App* alias = models->add_subcommand(
      "alias", "Point an alias of a registered model at a version, or delete it");
  AddTrackingUriOption(alias, &alias_options->server.tracking_uri);
  alias->add_option("name", alias_options->name, "Registered model name")->required();
  alias->add_option("alias", alias_options->alias, "Alias, e.g. production")->required();
  CLI::Option* version =
      alias->add_option("version", alias_options->version, "Version the alias points at");
  alias->add_flag("--delete", alias_options->remove, "Delete the alias")->excludes(version);
  alias->callback([alias_options] { ModelsAlias(*alias_options); });

  auto promote_options = std::make_shared<ModelsPromoteOptions>();
  CLI::App* promote = models->add_subcommand(
      "promote",
      "Point an alias (--to) and/or move a stage (--stage) to the version a reference "
      "names, e.g. `promote churn@staging --to production`");
  AddTrackingUriOption(promote, &promote_options->server.tracking_uri);
  promote->add_option("model", promote_options->reference, "NAME/VERSION or NAME@ALIAS")
      ->required();
  promote->add_option("--to", promote_options->to_alias, "Alias to point at the version");
  CLI::Option* stage = promote->add_option(
      "--stage", promote_options->stage,
      "Legacy stage to move the version to: Staging, Production, Archived or None");
  promote
      ->add_flag("--archive-existing", promote_options->archive_existing,
                 "Archive the versions that are in --stage now")
      ->needs(stage);
  promote->callback([promote_options] { ModelsPromote(*promote_options); });

  auto lineage_options = std::make_shared<ModelsReferenceOptions>();
  CLI::App* lineage = models->add_subcommand(
      "lineage", "Show where a model version came from: run, params, metrics, data, code");
  AddServerOptions(lineage, &lineage_options->server);
  lineage->add_option("model", lineage_options->reference, "NAME/VERSION or NAME@ALIAS")
      ->required();
  lineage->callback([lineage_options] { ModelsLineage(*lineage_options); });

  auto card_options = std::make_shared<ModelsReferenceOptions>();
  CLI::App* card =
      models->add_subcommand("card", "Print a model version's model card (Markdown, or --json)");
  AddServerOptions(card, &card_options->server);
  card->add_option("model", card_options->reference, "NAME/VERSION or NAME@ALIAS")->required();
  card->callback([card_options] { ModelsCard(*card_options); });
}

}  // namespace slipway::cli
