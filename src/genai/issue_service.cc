#include "genai/issue_service.h"

#include <array>

#include "core/clock.h"
#include "core/error.h"
#include "core/ids.h"
#include "core/page_token.h"
#include "tracking/entities.h"
#include "tracking/search_parser.h"

namespace slipway::genai {
namespace {

using governance::Permission;
using governance::ResourceType;
namespace si = tracking::search_internal;

constexpr std::array<std::string_view, 3> kStatuses = {"pending", "rejected", "resolved"};
constexpr std::array<std::string_view, 4> kSeverities = {"not_an_issue", "low", "medium", "high"};

void CheckStatus(const std::string& status) {
  if (std::find(kStatuses.begin(), kStatuses.end(), status) == kStatuses.end()) {
    ThrowInvalid("Invalid value '" + status +
                 "' for parameter 'status': expected one of pending, rejected, resolved.");
  }
}

void CheckSeverity(const std::string& severity) {
  if (!SeverityRank(severity) || severity.empty()) {
    ThrowInvalid("Invalid value '" + severity +
                 "' for parameter 'severity': expected one of not_an_issue, low, medium, high.");
  }
}

std::vector<IssueQuery::Clause> ParseIssueFilter(const std::string& filter) {
  std::vector<IssueQuery::Clause> out;
  for (const si::RawClause& c : si::ParseFilterClauses(filter)) {
    const std::string field = c.ident.has_entity ? c.ident.entity + "." + c.ident.key : c.ident.key;
    if (field != "status" && field != "source_run_id") {
      ThrowInvalid("Invalid filter field '" + field +
                   "'. Supported fields: {'status', 'source_run_id'}");
    }
    if (!c.op.op ||
        (*c.op.op != tracking::CompareOp::kEq && *c.op.op != tracking::CompareOp::kNe)) {
      ThrowInvalid("Invalid comparator '" + c.op.text + "'. Supported comparators: {'=', '!='}");
    }
    if (c.value.kind != si::ValueKind::kString) {
      ThrowInvalid("Expected a quoted string value for '" + field + "'. Got value " +
                   c.value.source);
    }
    out.push_back({field, *c.op.op == tracking::CompareOp::kEq, c.value.str});
  }
  return out;
}

}  // namespace

std::optional<int> SeverityRank(const std::string& severity) {
  if (severity.empty()) return -1;
  for (size_t i = 0; i < kSeverities.size(); ++i) {
    if (kSeverities[i] == severity) return static_cast<int>(i);
  }
  return std::nullopt;
}

IssueService::IssueService(IssueStore& store, tracking::TrackingStore& tracking,
                           governance::Authorizer& authorizer)
    : store_(store), tracking_(tracking), authorizer_(authorizer) {}

Issue IssueService::RequireIssue(const std::string& issue_id, Permission needed) {
  governance::NameTarget("issue:" + issue_id);
  std::optional<Issue> issue = store_.GetIssue(issue_id);
  std::optional<std::string> experiment;
  if (issue) experiment = issue->experiment_id;
  governance::RequireWithin(authorizer_, needed, ResourceType::kExperiment, experiment, "issue",
                            issue_id);
  if (!issue) ThrowNotFound("Issue with ID '" + issue_id + "' not found");
  return std::move(*issue);
}

Issue IssueService::CreateIssue(Issue issue) {
  if (issue.experiment_id.empty()) {
    ThrowInvalid("Missing value for required parameter 'experiment_id'.");
  }
  if (issue.name.empty()) ThrowInvalid("Missing value for required parameter 'name'.");
  if (issue.description.empty()) {
    ThrowInvalid("Missing value for required parameter 'description'.");
  }
  CheckStatus(issue.status);
  if (!issue.severity.empty()) CheckSeverity(issue.severity);
  std::optional<int64_t> id = tracking::ParseExperimentId(issue.experiment_id);
  if (!id) {
    ThrowInvalid("Invalid experiment ID '" + issue.experiment_id +
                 "'. Experiment ID must be a valid integer.");
  }
  governance::Require(authorizer_, Permission::kEdit, ResourceType::kExperiment,
                      std::to_string(*id));
  auto experiment = tracking_.GetExperiment(std::to_string(*id));
  if (!experiment || experiment->lifecycle_stage != tracking::kLifecycleActive) {
    ThrowNotFound("No Experiment with id=" + issue.experiment_id + " exists");
  }
  if (!issue.source_run_id.empty()) {
    // The run must be one the actor may read, in any experiment.
    auto run = tracking_.GetRun(issue.source_run_id);
    governance::RequireWithin(
        authorizer_, Permission::kRead, ResourceType::kExperiment,
        run ? std::optional<std::string>(run->info.experiment_id) : std::nullopt, "run",
        issue.source_run_id);
    if (!run) ThrowNotFound("Run with id=" + issue.source_run_id + " not found");
  }
  issue.issue_id = NewIssueId();
  issue.experiment_id = std::to_string(*id);
  governance::SetTarget("issue:" + issue.issue_id);
  issue.created_timestamp = issue.last_updated_timestamp = NowMillis();
  issue.trace_count.reset();
  store_.CreateIssue(issue);
  return issue;
}

Issue IssueService::GetIssue(const std::string& issue_id) {
  Issue issue = RequireIssue(issue_id, Permission::kRead);
  issue.trace_count.reset();
  return issue;
}

Issue IssueService::UpdateIssue(const std::string& issue_id, const Change& change) {
  if (change.status) CheckStatus(*change.status);
  if (change.severity) CheckSeverity(*change.severity);
  Issue issue = RequireIssue(issue_id, Permission::kEdit);
  if (!change.name.empty()) issue.name = change.name;
  if (!change.description.empty()) issue.description = change.description;
  if (change.status) issue.status = *change.status;
  if (change.severity) issue.severity = *change.severity;
  issue.last_updated_timestamp = NowMillis();
  issue.trace_count.reset();
  store_.UpdateIssue(issue);
  return issue;
}

Page<Issue> IssueService::SearchIssues(const std::string& experiment_id, const std::string& filter,
                                       std::optional<int64_t> max_results,
                                       const std::string& page_token, bool include_trace_count) {
  const int64_t limit = max_results.value_or(kDefaultIssuesPerPage);
  if (limit < 1) {
    ThrowInvalid("Invalid value " + std::to_string(limit) +
                 " for parameter 'max_results' supplied. It must be a positive integer");
  }
  if (limit > kMaxIssuesPerPage) {
    ThrowInvalid("Invalid value " + std::to_string(limit) +
                 " for parameter 'max_results' supplied. It must be at most " +
                 std::to_string(kMaxIssuesPerPage));
  }
  IssueQuery query;
  query.clauses = ParseIssueFilter(filter);
  query.include_trace_count = include_trace_count;
  const int64_t offset = DecodePageToken(page_token);
  if (!experiment_id.empty()) {
    std::optional<int64_t> id = tracking::ParseExperimentId(experiment_id);
    if (!id) return {};  // names no experiment
    governance::Require(authorizer_, Permission::kRead, ResourceType::kExperiment,
                        std::to_string(*id));
    query.experiment_id = std::to_string(*id);
  } else {
    query.visible = governance::Readable(authorizer_, ResourceType::kExperiment);
  }
  tracking::PageOf<Issue> found = store_.SearchIssues(query, {offset, limit});
  Page<Issue> out;
  out.items = std::move(found.items);
  if (found.has_more) out.next_page_token = EncodePageToken(offset + limit);
  return out;
}

}  // namespace slipway::genai
