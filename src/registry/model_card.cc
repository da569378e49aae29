#include "registry/model_card.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/clock.h"

namespace slipway::registry {
namespace {

void AddUnique(std::vector<std::string>& list, const std::string& value) {
  if (!value.empty() && std::find(list.begin(), list.end(), value) == list.end()) {
    list.push_back(value);
  }
}

void CollectPrefixed(const std::vector<Tag>& tags, const std::string& prefix,
                     std::vector<std::pair<std::string, std::string>>& out) {
  for (const Tag& tag : tags) {
    if (tag.key.rfind(prefix, 0) == 0) out.emplace_back(tag.key.substr(prefix.size()), tag.value);
  }
}

// Table cells may not hold a raw `|` or a line break.
std::string Cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// `markdown` with its headings `levels` deeper, so a description that is a
// document of its own (a training's model card is made the version's
// description) nests under the section that shows it. Fenced code is left
// as it is.
std::string NestHeadings(const std::string& markdown, int levels) {
  std::string out;
  bool fenced = false;
  size_t start = 0;
  while (start < markdown.size()) {
    size_t end = markdown.find('\n', start);
    if (end == std::string::npos) end = markdown.size();
    const std::string_view line(markdown.data() + start, end - start);
    if (line.starts_with("```") || line.starts_with("~~~")) fenced = !fenced;
    if (!fenced && line.starts_with('#')) out.append(static_cast<size_t>(levels), '#');
    out.append(line);
    if (end < markdown.size()) out += '\n';
    start = end + 1;
  }
  return out;
}

}  // namespace

ModelCard BuildModelCard(const ModelLineage& lineage) {
  ModelCard card;
  const ModelVersion& version = lineage.version;
  card.name = version.name;
  card.version = version.version;
  card.stage = version.current_stage;
  card.aliases = version.aliases;
  card.intended_use = version.description;
  if (card.intended_use.empty() && lineage.model) card.intended_use = lineage.model->description;
  card.source = version.source;
  card.model_id = version.model_id;
  card.created = version.creation_timestamp;
  if (lineage.model) {
    AddUnique(card.owners, lineage.model->user_id);
    for (const Tag& tag : lineage.model->tags) {
      if (tag.key == "owner" || tag.key == "owners") AddUnique(card.owners, tag.value);
    }
  }
  AddUnique(card.owners, version.user_id);
  for (const Tag& tag : version.tags) {
    if (tag.key == "owner") AddUnique(card.owners, tag.value);
  }
  CollectPrefixed(version.tags, "validation.", card.validation);
  CollectPrefixed(version.tags, "approval.", card.approvals);
  card.training_data = lineage.datasets;
  card.withheld = lineage.withheld;
  card.git_commit = lineage.git_commit;
  card.source_name = lineage.source_name;
  if (lineage.run) {
    const tracking::Run& run = *lineage.run;
    card.run_id = run.info.run_id;
    card.experiment_id = run.info.experiment_id;
    AddUnique(card.owners, run.info.user_id);
    for (const tracking::Param& param : run.params) {
      card.parameters.emplace_back(param.key, param.value);
    }
    for (const tracking::MetricPoint& metric : run.metrics) {
      card.metrics.emplace_back(metric.key, metric.value);
    }
  }
  if (lineage.logged_model) {
    for (const tracking::MetricPoint& metric : lineage.logged_model->metrics) {
      bool known = std::any_of(card.metrics.begin(), card.metrics.end(),
                               [&](const auto& m) { return m.first == metric.key; });
      if (!known) card.metrics.emplace_back(metric.key, metric.value);
    }
  }
  return card;
}

std::string RenderMarkdown(const ModelCard& card) {
  std::string out = fmt::format("# Model card: {} version {}\n\n", card.name, card.version);
  out += fmt::format("- Stage: {}\n", card.stage);
  if (!card.aliases.empty()) out += fmt::format("- Aliases: {}\n", fmt::join(card.aliases, ", "));
  out += fmt::format("- Registered: {}\n\n", FormatIso8601(card.created));

  out += "## Intended use\n\n";
  out += card.intended_use.empty() ? "Not described." : NestHeadings(card.intended_use, 2);
  out += "\n\n## Owners\n\n";
  if (card.owners.empty()) out += "None recorded.\n";
  for (const std::string& owner : card.owners) out += "- " + owner + "\n";

  // Withheld lineage leaves sections empty that are not empty for others.
  const std::string none_shown = "None shown (see Withheld below).\n";
  out += "\n## Training data\n\n";
  if (card.training_data.empty()) {
    out +=
        card.withheld.empty() ? "No dataset inputs were logged by the training run.\n" : none_shown;
  } else {
    out += "| name | digest | context | source |\n|---|---|---|---|\n";
    for (const DatasetRef& d : card.training_data) {
      out += fmt::format("| {} | {} | {} | {} |\n", Cell(d.name), Cell(d.digest), Cell(d.context),
                         Cell(d.source));
    }
  }

  out += "\n## Parameters\n\n";
  if (card.parameters.empty()) {
    out += card.withheld.empty() ? "None logged.\n" : none_shown;
  } else {
    out += "| parameter | value |\n|---|---|\n";
    for (const auto& [key, value] : card.parameters) {
      out += fmt::format("| {} | {} |\n", Cell(key), Cell(value));
    }
  }

  out += "\n## Metrics\n\n";
  if (card.metrics.empty()) {
    out += card.withheld.empty() ? "None logged.\n" : none_shown;
  } else {
    out += "| metric | value |\n|---|---|\n";
    for (const auto& [key, value] : card.metrics) {
      out += fmt::format("| {} | {:.6g} |\n", Cell(key), value);
    }
  }

  out += "\n## Validation\n\n";
  if (card.validation.empty()) out += "No validation results recorded.\n";
  for (const auto& [check, result] : card.validation) {
    out += fmt::format("- {}: {}\n", check, result);
  }
  out += "\n## Approvals\n\n";
  if (card.approvals.empty()) out += "No approvals recorded.\n";
  for (const auto& [who, decision] : card.approvals) {
    out += fmt::format("- {}: {}\n", who, decision);
  }

  out += "\n## Lineage\n\n";
  out += fmt::format("- Source: `{}`\n", card.source);
  if (!card.model_id.empty()) out += fmt::format("- Logged model: `{}`\n", card.model_id);
  if (!card.run_id.empty()) {
    out += fmt::format("- Training run: `{}` (experiment {})\n", card.run_id, card.experiment_id);
  }
  if (!card.git_commit.empty()) out += fmt::format("- Code version: `{}`\n", card.git_commit);
  if (!card.source_name.empty()) out += fmt::format("- Entry point: `{}`\n", card.source_name);
  if (!card.withheld.empty()) {
    out += "\n## Withheld\n\nParts of this card are left out because you may not read them:\n\n";
    for (const std::string& line : card.withheld) out += "- " + line + "\n";
  }
  return out;
}

}  // namespace slipway::registry
