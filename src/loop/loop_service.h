// The closed loop: a deployment's alerts start a retrain, the training
// spec's gates decide, and a pass moves the alias the deployment follows,
// which hot-swaps the new version in (ServingService follows the registry).
//
// A LoopPolicy per deployment says which alerts start a retrain (their rule
// names), the training spec (its text, kept at set time, so editing the file
// later changes nothing until the policy is set again), the dataset version
// to train on (default: the spec's dataset at @latest, the newest version;
// or `windows:24h`, the deployment's labelled live traffic of the last 24
// hours, see below),
// the alias to move on a pass, a cool-down after each retrain, a budget of
// retrains per day, and whether a person must approve the promotion.
//
// Each alert that reaches OnAlert, and each manual Trigger, becomes a
// LoopRun, recorded before anything happens, so every step is visible:
//
//   skipped            the alert is not one of the policy's triggers' (not
//                      recorded), or the cool-down or the day's budget
//                      refused it (recorded, with the reason and when the
//                      next one may start)
//   queued -> running  a retrain is under way (one at a time per server:
//                      training takes the machine's cores)
//   gate_failed        the spec's gates failed: nothing is registered and
//                      production is untouched
//   failed             the retrain could not run (bad data, a crash); the
//                      reason says why
//   pending_approval   (manual approval) the gates passed and the version
//                      is registered without the alias; Approve moves it,
//                      Reject leaves it
//   promoted           the alias points at the new version
//   rejected
//
// The retrain itself is a Retrainer's (the server runs `slipway train` in a
// child process, so a crash or a runaway spec cannot take the server down);
// it tags the registered version with the loop run, its trigger and the
// cause (the alert's labels and window), so the version's lineage says why
// it exists.
//
// Permissions, on the deployment: READ to see the policy and its runs, EDIT
// to trigger a retrain by hand, MANAGE to set or delete the policy and to
// approve or reject a promotion (approving also needs EDIT on the registered
// model, which RegistryService::SetAlias checks as the approver). A retrain
// that an alert starts acts as `system:loop(<owner>)`: the grants of the
// user who set the policy, checked again at each run. Every transition is
// in the audit trail.
//
// Training on live traffic: a policy whose data is `windows:DURATION`
// builds, at each run, a dataset version from the predictions of the last
// DURATION whose feedback has arrived (MonitorService::Labelled,
// monitoring/live/labelled_rows.h): the requests' input columns and the
// label under the spec's target name, pushed as the next version of the
// dataset `<deployment>-feedback` as the policy's owner (EDIT on it, or
// nothing for its first version), described with the deployment, the
// windows (seq and time range) and the row counts; then trains on exactly
// that version. Fewer labelled rows than the policy's `min_rows` skip the
// run, saying how many there were.
//
// Lineage of the cause: each run records the window whose values the alert
// fired on (the newest window closed when the alert began; for a manual
// trigger, the newest closed window then), and the registered version is
// tagged with it (slipway.loop.window) and, for windows data, with the
// dataset version and windows it trained on (slipway.loop.data,
// slipway.loop.windows).
//
// After a restart, runs left `running` are marked failed ("the server
// stopped during the retrain"), and `queued` ones run. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/executor.h"
#include "governance/audit_log.h"
#include "governance/authorization.h"
#include "registry/registry_service.h"
#include "serving/serving_service.h"

namespace slipway::monitoring::live {
class MonitorService;
}
namespace slipway::data {
class DatasetService;
}

namespace slipway::loop {

// The prefix of a policy's data that trains on labelled live traffic.
inline constexpr std::string_view kWindowsData = "windows:";
// The range of a `windows:DURATION` data ("windows:24h": 24 hours in ms),
// nullopt for a dataset reference; INVALID_PARAMETER_VALUE naming the
// field `data` for a bad duration (whole s, m, h or d, 1 minute to 31 days).
std::optional<int64_t> WindowsDataRange(const std::string& data);
// The dataset a deployment's labelled traffic is pushed to.
std::string FeedbackDatasetName(const std::string& deployment);

struct LoopPolicy {
  std::string deployment;
  std::vector<std::string> triggers;  // alert (rule) names; empty: by hand only
  std::string spec;                   // the training spec's YAML text
  std::string spec_name;              // the file it came from, for people
  std::string data;                   // NAME@VERSION; "" = the spec's dataset @latest;
                                      // windows:DURATION = labelled live traffic
  int64_t min_rows = 100;             // windows data: fewer labelled rows skip the run
  std::string promote;                // alias to move; "" = the spec's register.alias
  bool manual_approval = false;
  int64_t cooldown_seconds = 3600;  // after a retrain starts, before the next may
  int64_t max_per_day = 3;          // retrains started in any 24 hours
  std::string owner;                // who set it (their grants act for the loop)
  int64_t owner_id = 0;
  bool owner_is_admin = false;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
};

enum class LoopRunState {
  kSkipped,
  kQueued,
  kRunning,
  kGateFailed,
  kFailed,
  kPendingApproval,
  kPromoted,
  kRejected,
};

// "skipped", "queued", "running", "gate_failed", "failed",
// "pending_approval", "promoted", "rejected".
std::string_view LoopRunStateName(LoopRunState state);
LoopRunState ParseLoopRunState(std::string_view name);

struct LoopRun {
  int64_t id = 0;
  std::string deployment;
  std::string trigger;       // the alert's name, or "manual"
  std::string cause;         // JSON text: the alert's labels, window, value, or the reason given
  std::string requested_by;  // actor name
  LoopRunState state = LoopRunState::kQueued;
  std::string reason;  // why skipped or failed; the gate summary
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  std::string data;  // the dataset version trained on
  // JSON text: the monitoring window the cause was seen in ({seq, start,
  // end, window}); "" when the deployment has no monitor or no closed window.
  std::string window;
  // JSON text, windows data only: the dataset version built and the range
  // of live traffic it holds (deployment, windows, times, counts).
  std::string windows;
  std::string run_id;  // the retrain's tracking run
  std::string model;   // the registered version, once there is one
  std::string version;
  std::string alias;       // moved, or to move on approval
  std::string decided_by;  // who approved or rejected
};

// Where policies and runs are kept. Implementations live in store/.
class LoopStore {
 public:
  virtual ~LoopStore() = default;
  virtual void PutPolicy(const LoopPolicy& policy) = 0;
  virtual std::optional<LoopPolicy> GetPolicy(const std::string& deployment) = 0;
  virtual bool DeletePolicy(const std::string& deployment) = 0;
  // Assigns and returns the run's id.
  virtual int64_t AddRun(const LoopRun& run) = 0;
  virtual void UpdateRun(const LoopRun& run) = 0;
  virtual std::optional<LoopRun> GetRun(int64_t id) = 0;
  // The deployment's runs, newest first, at most `limit`.
  virtual std::vector<LoopRun> Runs(const std::string& deployment, int64_t limit) = 0;
  // Every deployment's runs in `state`, oldest first.
  virtual std::vector<LoopRun> RunsIn(LoopRunState state) = 0;
};

// One retrain, as the loop asks for it.
struct RetrainRequest {
  LoopPolicy policy;
  LoopRun run;
  std::string alias;  // move on a pass; "" registers without moving one
  // Tags for the run and the registered version: slipway.loop.*.
  std::map<std::string, std::string> tags;
};

struct RetrainResult {
  enum class Outcome { kPassed, kGateFailed, kFailed };
  Outcome outcome = Outcome::kFailed;
  std::string run_id;
  std::string model;    // registered, when passed
  std::string version;  // registered, when passed
  std::string summary;  // what a person reads: the gates, or the error
};

class Retrainer {
 public:
  virtual ~Retrainer() = default;
  // Runs on the loop's own thread; must not throw (a failure is kFailed).
  virtual RetrainResult Retrain(const RetrainRequest& request) = 0;
};

// What the alerts tell the loop: a rule of a deployment began firing.
struct AlertEvent {
  std::string deployment;
  std::string alert;                          // the rule's name
  std::map<std::string, std::string> labels;  // of the series that fired
  double value = 0;
  int64_t since_ms = 0;  // when the condition began
};

class LoopService {
 public:
  struct Options {
    // Milliseconds since the epoch; tests drive it.
    std::function<int64_t()> now_ms;
    // Live monitoring (the cause's window, labelled traffic) and datasets
    // (the version built from it); without them a windows policy's run
    // fails saying so, and runs record no window.
    monitoring::live::MonitorService* monitors = nullptr;
    data::DatasetService* datasets = nullptr;
    // Scratch folder for the table of labelled traffic while it is added.
    std::string work_dir;
  };

  LoopService(Options options, LoopStore& store, serving::ServingService& serving,
              registry::RegistryService& registry, governance::Authorizer& authorizer,
              governance::AuditLog& audit, Retrainer& retrainer);
  ~LoopService();
  LoopService(const LoopService&) = delete;
  LoopService& operator=(const LoopService&) = delete;

  // Marks runs a stopped server left running as failed, and runs the queued.
  void Start();
  // Waits for the retrain under way; queued runs stay queued.
  void Stop();
  // Puts the queued runs this server has not taken yet on its worker: runs
  // that another server sharing the store admitted (with replicas, one
  // server, the leader, runs retrains: app/replica_sync.h). Nothing before
  // Start or after Stop.
  void RunQueued();

  // MANAGE on the deployment. The spec must parse (its errors name the line);
  // the deployment must exist. Returns the stored policy.
  LoopPolicy SetPolicy(LoopPolicy policy);
  LoopPolicy GetPolicy(const std::string& deployment);                      // READ
  void DeletePolicy(const std::string& deployment);                         // MANAGE
  std::vector<LoopRun> Runs(const std::string& deployment, int64_t limit);  // READ
  LoopRun GetRun(const std::string& deployment, int64_t id);                // READ

  // EDIT: a retrain now, whatever the alerts say; still bound by the
  // day's budget (not by the cool-down: a person asked).
  LoopRun Trigger(const std::string& deployment, const std::string& why);
  // The server's own action when a rule fires: nothing unless the
  // deployment has a policy naming the rule; else a run, queued or skipped.
  std::optional<LoopRun> OnAlert(const AlertEvent& event);
  // MANAGE: move the alias to a pending run's version (as the caller).
  LoopRun Approve(const std::string& deployment, int64_t id);
  LoopRun Reject(const std::string& deployment, int64_t id, const std::string& why);

  // Until no run is queued or running (tests).
  void WaitIdle();

 private:
  int64_t Now() const;
  LoopRun Admit(const LoopPolicy& policy, LoopRun run, bool manual);
  void Enqueue(int64_t id);
  void Execute(int64_t id);
  LoopRun RequirePending(const std::string& deployment, int64_t id);
  governance::Actor LoopActor(const LoopPolicy& policy) const;
  // The window the cause was seen in at `at_ms`, as LoopRun::window holds it.
  std::string CauseWindow(const std::string& deployment, int64_t at_ms);
  // Builds the dataset version of a windows policy's run as its current
  // actor and sets run.data and run.windows; false (run.reason says why)
  // when there are too few labelled rows.
  bool BuildWindowsData(const LoopPolicy& policy, const std::string& target, LoopRun& run);

  const Options options_;
  LoopStore& store_;
  serving::ServingService& serving_;
  registry::RegistryService& registry_;
  governance::Authorizer& authorizer_;
  governance::AuditLog& audit_;
  Retrainer& retrainer_;

  std::mutex mu_;  // admission (cool-down and budget read then written) and pending_
  std::condition_variable idle_;
  int64_t pending_ = 0;         // runs queued or running on worker_
  std::set<int64_t> enqueued_;  // ids on worker_'s queue, not started yet
  bool stopping_ = false;
  std::unique_ptr<core::Executor> worker_;
};

}  // namespace slipway::loop
