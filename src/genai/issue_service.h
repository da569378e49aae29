// MLflow 3's GenAI issues: quality problems found in an experiment's traces
// (by a person or a judge), with a status and a severity.
//
// IssueService checks input as MLflow 3.17.2 does and calls the IssueStore.
// An issue has its experiment's permissions: reading it or searching needs
// READ, creating and changing one EDIT. Issues are not deleted (MLflow has no
// such call). Thread-safe if the stores are.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "genai/entities.h"
#include "genai/genai_store.h"
#include "governance/authorization.h"
#include "tracking/tracking_store.h"

namespace slipway::genai {

inline constexpr int64_t kDefaultIssuesPerPage = 100;
inline constexpr int64_t kMaxIssuesPerPage = 50000;

// not_an_issue 0, low 1, medium 2, high 3; -1 for none; nullopt for a word
// that is no severity.
std::optional<int> SeverityRank(const std::string& severity);

class IssueService {
 public:
  IssueService(IssueStore& store, tracking::TrackingStore& tracking,
               governance::Authorizer& authorizer = governance::Authorizer::AllowAll());

  // `issue` holds what the request gave; the id and times are set here.
  Issue CreateIssue(Issue issue);
  Issue GetIssue(const std::string& issue_id);
  // The fields given change: name and description when not empty, status
  // and severity when given.
  struct Change {
    std::string name;
    std::string description;
    std::optional<std::string> status;
    std::optional<std::string> severity;
  };
  Issue UpdateIssue(const std::string& issue_id, const Change& change);
  // Issues of `experiment_id` (every experiment the actor may read when
  // empty); `filter` takes status and source_run_id with = and !=. Unlike
  // other searches the token is "" (not absent) on the last page, as MLflow
  // answers.
  Page<Issue> SearchIssues(const std::string& experiment_id, const std::string& filter,
                           std::optional<int64_t> max_results, const std::string& page_token,
                           bool include_trace_count);

 private:
  // The issue, once the actor holds `needed` on its experiment.
  Issue RequireIssue(const std::string& issue_id, governance::Permission needed);

  IssueStore& store_;
  tracking::TrackingStore& tracking_;
  governance::Authorizer& authorizer_;
};

}  // namespace slipway::genai
