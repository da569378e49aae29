#include "loop/loop_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/error.h"
#include "data/dataset_service.h"
#include "monitoring/live/labelled_rows.h"
#include "monitoring/live/monitor_service.h"
#include "training/spec.h"

namespace slipway::loop {
namespace {

using governance::Permission;
using governance::ResourceType;

constexpr int64_t kDayMs = 24 * 3600 * 1000;
// Runs looked at for the cool-down and the day's budget: more than any
// budget allows in a day.
constexpr int64_t kRecentRuns = 1000;

constexpr std::pair<LoopRunState, std::string_view> kStateNames[] = {
    {LoopRunState::kSkipped, "skipped"},   {LoopRunState::kQueued, "queued"},
    {LoopRunState::kRunning, "running"},   {LoopRunState::kGateFailed, "gate_failed"},
    {LoopRunState::kFailed, "failed"},     {LoopRunState::kPendingApproval, "pending_approval"},
    {LoopRunState::kPromoted, "promoted"}, {LoopRunState::kRejected, "rejected"},
};

void Invalid(const std::string& message) {
  throw Error(ErrorCode::kInvalidParameterValue, message);
}

// Aliases and alert names as the registry and the rules spell them.
bool IsName(const std::string& name) {
  if (name.empty() || name.size() > 255) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

std::string Utc(int64_t ms) { return FormatIso8601(ms); }

// The dataset's name in a reference ("churn@7" -> "churn").
std::string DatasetName(const std::string& ref) { return ref.substr(0, ref.find('@')); }

}  // namespace

std::optional<int64_t> WindowsDataRange(const std::string& data) {
  if (data.rfind(kWindowsData, 0) != 0) return std::nullopt;
  const std::string text = data.substr(kWindowsData.size());
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = text.substr(used);
  const int64_t scale = unit == "s"   ? 1000
                        : unit == "m" ? 60 * 1000
                        : unit == "h" ? 3600 * 1000
                        : unit == "d" ? kDayMs
                                      : 0;
  const int64_t ms = value * scale;
  if (used == 0 || scale == 0 || value <= 0 || ms < 60 * 1000 || ms > 31 * kDayMs) {
    Invalid("data: '" + data +
            "': expected windows:DURATION, the labelled traffic of the last DURATION (whole s, "
            "m, h or d, from 1m to 31d), e.g. windows:24h");
  }
  return ms;
}

std::string FeedbackDatasetName(const std::string& deployment) { return deployment + "-feedback"; }

std::string_view LoopRunStateName(LoopRunState state) {
  for (const auto& [s, name] : kStateNames)
    if (s == state) return name;
  return "unknown";
}

LoopRunState ParseLoopRunState(std::string_view name) {
  for (const auto& [state, n] : kStateNames)
    if (n == name) return state;
  throw Error(ErrorCode::kInternalError, "unknown loop run state '" + std::string(name) + "'");
}

LoopService::LoopService(Options options, LoopStore& store, serving::ServingService& serving,
                         registry::RegistryService& registry, governance::Authorizer& authorizer,
                         governance::AuditLog& audit, Retrainer& retrainer)
    : options_(std::move(options)),
      store_(store),
      serving_(serving),
      registry_(registry),
      authorizer_(authorizer),
      audit_(audit),
      retrainer_(retrainer) {}

LoopService::~LoopService() { Stop(); }

int64_t LoopService::Now() const { return options_.now_ms ? options_.now_ms() : NowMillis(); }

void LoopService::Start() {
  {
    std::lock_guard lock(mu_);
    if (worker_) return;
    core::Executor::Options executor;
    executor.name = "loop";
    executor.threads = 1;
    worker_ = std::make_unique<core::Executor>(executor);
    stopping_ = false;
  }
  for (LoopRun run : store_.RunsIn(LoopRunState::kRunning)) {
    run.state = LoopRunState::kFailed;
    run.reason = "the server stopped during the retrain";
    run.finished_ms = Now();
    store_.UpdateRun(run);
  }
  for (const LoopRun& run : store_.RunsIn(LoopRunState::kQueued)) Enqueue(run.id);
}

void LoopService::Stop() {
  std::unique_ptr<core::Executor> worker;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    worker = std::move(worker_);
  }
  // Queued runs return at once (they stay queued for the next start); the
  // one under way finishes.
  if (worker) worker->Stop();
}

governance::Actor LoopService::LoopActor(const LoopPolicy& policy) const {
  if (policy.owner_id == 0) return governance::Actor::Operator("system:loop");
  return governance::Actor::System(
      "loop", governance::Principal{policy.owner_id, policy.owner, policy.owner_is_admin});
}

LoopPolicy LoopService::SetPolicy(LoopPolicy policy) {
  serving::ValidateDeploymentName(policy.deployment);
  governance::Require(authorizer_, Permission::kManage, ResourceType::kDeployment,
                      policy.deployment);
  serving_.Get(policy.deployment);  // RESOURCE_DOES_NOT_EXIST when there is none
  for (const std::string& trigger : policy.triggers) {
    if (!IsName(trigger))
      Invalid("on: '" + trigger + "' is not an alert name (letters, digits, '_', '-', '.')");
  }
  if (policy.spec.empty()) Invalid("train: the training spec is empty");
  const std::string source = policy.spec_name.empty() ? "spec" : policy.spec_name;
  const training::TrainingSpec spec = training::ParseSpec(policy.spec, source);
  if (!spec.register_as) {
    Invalid(source +
            ": the spec has no `register:` section; the loop promotes the version it "
            "registers");
  }
  if (policy.promote.empty() && spec.register_as->alias.empty())
    Invalid("promote: give the alias to move (the spec's register.alias is empty)");
  if (!policy.promote.empty() && !IsName(policy.promote))
    Invalid("promote: '" + policy.promote + "' is not an alias name");
  if (WindowsDataRange(policy.data)) {
    if (policy.min_rows < 1) Invalid("min_rows: must be at least 1");
    if (spec.target.name.empty())
      Invalid(source + ": the spec has no target: the label column of the feedback data");
  } else if (!policy.data.empty()) {
    const size_t at = policy.data.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == policy.data.size())
      Invalid("data: '" + policy.data + "' is not NAME@VERSION (e.g. churn@latest)");
  }
  if (policy.cooldown_seconds < 0) Invalid("cooldown: must not be negative");
  if (policy.max_per_day < 1) Invalid("max_per_day: must be at least 1");
  const governance::Actor& actor = governance::CurrentActor();
  policy.owner = actor.user ? actor.user->username : actor.name;
  policy.owner_id = actor.user ? actor.user->user_id : 0;
  policy.owner_is_admin = actor.user && actor.user->is_admin;
  const int64_t now = Now();
  std::optional<LoopPolicy> existing = store_.GetPolicy(policy.deployment);
  policy.created_ms = existing ? existing->created_ms : now;
  policy.updated_ms = now;
  store_.PutPolicy(policy);
  governance::SetTarget("deployment:" + policy.deployment);
  return policy;
}

LoopPolicy LoopService::GetPolicy(const std::string& deployment) {
  serving::ValidateDeploymentName(deployment);
  governance::Require(authorizer_, Permission::kRead, ResourceType::kDeployment, deployment);
  governance::SetTarget("deployment:" + deployment);
  std::optional<LoopPolicy> policy = store_.GetPolicy(deployment);
  if (!policy) {
    throw Error(ErrorCode::kResourceDoesNotExist,
                "Deployment '" + deployment + "' has no loop policy");
  }
  return *policy;
}

void LoopService::DeletePolicy(const std::string& deployment) {
  serving::ValidateDeploymentName(deployment);
  governance::Require(authorizer_, Permission::kManage, ResourceType::kDeployment, deployment);
  governance::SetTarget("deployment:" + deployment);
  if (!store_.DeletePolicy(deployment)) {
    throw Error(ErrorCode::kResourceDoesNotExist,
                "Deployment '" + deployment + "' has no loop policy");
  }
}

std::vector<LoopRun> LoopService::Runs(const std::string& deployment, int64_t limit) {
  serving::ValidateDeploymentName(deployment);
  governance::Require(authorizer_, Permission::kRead, ResourceType::kDeployment, deployment);
  governance::SetTarget("deployment:" + deployment);
  if (limit < 1 || limit > 1000) Invalid("max_results: must be in [1, 1000]");
  return store_.Runs(deployment, limit);
}

LoopRun LoopService::GetRun(const std::string& deployment, int64_t id) {
  serving::ValidateDeploymentName(deployment);
  governance::Require(authorizer_, Permission::kRead, ResourceType::kDeployment, deployment);
  std::optional<LoopRun> run = store_.GetRun(id);
  // Another deployment's run is not found here, whatever the caller may read.
  if (!run || run->deployment != deployment) {
    throw Error(ErrorCode::kResourceDoesNotExist,
                fmt::format("Deployment '{}' has no loop run {}", deployment, id));
  }
  governance::SetTarget(fmt::format("deployment:{}/loop-run:{}", deployment, id));
  return *run;
}

LoopRun LoopService::Trigger(const std::string& deployment, const std::string& why) {
  serving::ValidateDeploymentName(deployment);
  governance::Require(authorizer_, Permission::kEdit, ResourceType::kDeployment, deployment);
  governance::SetTarget("deployment:" + deployment);
  std::optional<LoopPolicy> policy = store_.GetPolicy(deployment);
  if (!policy) {
    throw Error(ErrorCode::kInvalidState,
                "Deployment '" + deployment + "' has no loop policy: `slipway loop set` first");
  }
  LoopRun run;
  run.deployment = deployment;
  run.trigger = "manual";
  run.cause = nlohmann::json{{"reason", why}}.dump();
  run.requested_by = governance::CurrentActorName();
  run.window = CauseWindow(deployment, Now());
  return Admit(*policy, std::move(run), true);
}

std::optional<LoopRun> LoopService::OnAlert(const AlertEvent& event) {
  std::optional<LoopPolicy> policy = store_.GetPolicy(event.deployment);
  if (!policy) return std::nullopt;
  if (std::find(policy->triggers.begin(), policy->triggers.end(), event.alert) ==
      policy->triggers.end())
    return std::nullopt;
  LoopRun run;
  run.deployment = event.deployment;
  run.trigger = event.alert;
  run.cause = nlohmann::json{{"alert", event.alert},
                             {"labels", event.labels},
                             {"value", event.value},
                             {"since", Utc(event.since_ms)}}
                  .dump();
  run.requested_by = "system:alerts";
  LoopRun admitted;
  governance::AuditedOperation(
      audit_, LoopActor(*policy), "loop/alert", "background",
      fmt::format("alert {} of deployment {}", event.alert, event.deployment))
      .Run([&] {
        run.window = CauseWindow(event.deployment, event.since_ms);
        governance::SetTarget("deployment:" + event.deployment);
        admitted = Admit(*policy, std::move(run), false);
      });
  return admitted;
}

// Cool-down and budget are read and the run written under one lock, so two
// alerts at once cannot both pass them.
LoopRun LoopService::Admit(const LoopPolicy& policy, LoopRun run, bool manual) {
  std::lock_guard lock(mu_);
  const int64_t now = Now();
  run.created_ms = now;
  run.state = LoopRunState::kQueued;
  const std::vector<LoopRun> recent = store_.Runs(policy.deployment, kRecentRuns);
  int64_t in_day = 0;
  int64_t oldest_in_day = now;
  int64_t last_start = -1;
  for (const LoopRun& r : recent) {
    if (r.state == LoopRunState::kSkipped) continue;
    if (r.state == LoopRunState::kQueued || r.state == LoopRunState::kRunning) {
      run.state = LoopRunState::kSkipped;
      run.reason = fmt::format("loop run {} is {}", r.id, LoopRunStateName(r.state));
      break;
    }
    if (r.created_ms > now - kDayMs) {
      ++in_day;
      oldest_in_day = std::min(oldest_in_day, r.created_ms);
    }
    last_start = std::max(last_start, r.created_ms);
  }
  if (run.state == LoopRunState::kQueued && in_day >= policy.max_per_day) {
    run.state = LoopRunState::kSkipped;
    run.reason =
        fmt::format("budget: {} retrains in the last 24 hours (max_per_day {}); next at {}", in_day,
                    policy.max_per_day, Utc(oldest_in_day + kDayMs));
  }
  if (run.state == LoopRunState::kQueued && !manual && last_start >= 0 &&
      now < last_start + policy.cooldown_seconds * 1000) {
    run.state = LoopRunState::kSkipped;
    run.reason = fmt::format("cool-down: the last retrain started at {}; next at {}",
                             Utc(last_start), Utc(last_start + policy.cooldown_seconds * 1000));
  }
  if (run.state == LoopRunState::kSkipped) run.finished_ms = now;
  run.id = store_.AddRun(run);
  if (run.state == LoopRunState::kQueued) {
    ++pending_;
    if (!worker_ || stopping_ || !worker_->TrySubmit([this, id = run.id] { Execute(id); })) {
      // Not started (a CLI's App, a replica that does not lead) or
      // stopping: the next start, or the leader, runs it.
      --pending_;
    } else {
      enqueued_.insert(run.id);
    }
  } else {
    spdlog::info("loop: {} of deployment {} skipped: {}", run.trigger, run.deployment, run.reason);
  }
  return run;
}

void LoopService::Enqueue(int64_t id) {
  std::lock_guard lock(mu_);
  if (!worker_ || stopping_ || enqueued_.count(id)) return;
  ++pending_;
  if (worker_->TrySubmit([this, id] { Execute(id); })) {
    enqueued_.insert(id);
  } else {
    --pending_;
  }
}

void LoopService::RunQueued() {
  {
    std::lock_guard lock(mu_);
    if (!worker_ || stopping_) return;
  }
  for (const LoopRun& run : store_.RunsIn(LoopRunState::kQueued)) Enqueue(run.id);
}

void LoopService::Execute(int64_t id) {
  struct Done {
    LoopService* self;
    ~Done() {
      std::lock_guard lock(self->mu_);
      --self->pending_;
      self->idle_.notify_all();
    }
  } done{this};
  {
    std::lock_guard lock(mu_);
    enqueued_.erase(id);
    if (stopping_) return;  // stays queued
  }
  std::optional<LoopRun> found = store_.GetRun(id);
  if (!found || found->state != LoopRunState::kQueued) return;
  LoopRun run = *found;
  std::optional<LoopPolicy> policy = store_.GetPolicy(run.deployment);
  run.started_ms = Now();
  if (!policy) {
    run.state = LoopRunState::kFailed;
    run.reason = "the loop policy was deleted before the retrain started";
    run.finished_ms = Now();
    store_.UpdateRun(run);
    return;
  }
  const bool windows_data = WindowsDataRange(policy->data).has_value();
  std::string target;
  try {
    // Checked when the policy was set; parsed again for its dataset and alias.
    const training::TrainingSpec spec = training::ParseSpec(policy->spec, policy->spec_name);
    run.data = policy->data.empty() ? DatasetName(spec.data.name) + "@latest" : policy->data;
    run.alias = policy->promote.empty() ? spec.register_as->alias : policy->promote;
    target = spec.target.name;
  } catch (const std::exception& e) {
    run.state = LoopRunState::kFailed;
    run.reason = e.what();
    run.finished_ms = Now();
    store_.UpdateRun(run);
    return;
  }
  run.state = LoopRunState::kRunning;
  store_.UpdateRun(run);

  RetrainResult result;
  bool too_few_rows = false;
  try {
    governance::AuditedOperation(audit_, LoopActor(*policy), "loop/retrain", "background",
                                 fmt::format("loop run {} of deployment {} ({}) on {}", run.id,
                                             run.deployment, run.trigger, run.data))
        .Run([&] {
          governance::SetTarget(fmt::format("deployment:{}/loop-run:{}", run.deployment, run.id));
          // The owner's grants are checked again: a revoked grant stops the loop.
          governance::Require(authorizer_, Permission::kEdit, ResourceType::kDeployment,
                              run.deployment);
          if (windows_data && !BuildWindowsData(*policy, target, run)) {
            too_few_rows = true;
            return;
          }
          // The child reads the dataset from the server's store directly:
          // the owner must be allowed to read it.
          governance::Require(authorizer_, Permission::kRead, ResourceType::kDataset,
                              DatasetName(run.data));
          RetrainRequest request;
          request.policy = *policy;
          request.run = run;
          request.alias = policy->manual_approval ? std::string() : run.alias;
          request.tags = {{"slipway.loop.run", fmt::format("{}/{}", run.deployment, run.id)},
                          {"slipway.loop.trigger", run.trigger},
                          {"slipway.loop.cause", run.cause}};
          if (!run.window.empty()) request.tags["slipway.loop.window"] = run.window;
          if (windows_data) {
            request.tags["slipway.loop.data"] = run.data;
            request.tags["slipway.loop.windows"] = run.windows;
          }
          store_.UpdateRun(run);  // the dataset version, before the retrain
          result = retrainer_.Retrain(request);
          if (result.outcome == RetrainResult::Outcome::kFailed)
            throw Error(ErrorCode::kInternalError, "retrain failed: " + result.summary);
        });
  } catch (const std::exception& e) {
    if (result.outcome != RetrainResult::Outcome::kFailed || result.summary.empty())
      result.summary = e.what();
    result.outcome = RetrainResult::Outcome::kFailed;
  }
  run.finished_ms = Now();
  if (too_few_rows) {
    run.state = LoopRunState::kSkipped;
    store_.UpdateRun(run);
    spdlog::info("loop: run {} of deployment {} skipped: {}", run.id, run.deployment, run.reason);
    return;
  }
  run.run_id = result.run_id;
  run.reason = result.summary;
  switch (result.outcome) {
    case RetrainResult::Outcome::kPassed:
      run.model = result.model;
      run.version = result.version;
      run.state =
          policy->manual_approval ? LoopRunState::kPendingApproval : LoopRunState::kPromoted;
      break;
    case RetrainResult::Outcome::kGateFailed:
      run.state = LoopRunState::kGateFailed;
      break;
    case RetrainResult::Outcome::kFailed:
      run.state = LoopRunState::kFailed;
      break;
  }
  store_.UpdateRun(run);
  spdlog::info("loop: run {} of deployment {}: {} {}", run.id, run.deployment,
               LoopRunStateName(run.state), run.version.empty() ? "" : "version " + run.version);
}

std::string LoopService::CauseWindow(const std::string& deployment, int64_t at_ms) {
  if (options_.monitors == nullptr) return "";
  try {
    std::optional<monitoring::live::MonitorWindow> window =
        options_.monitors->ClosedWindowAt(deployment, at_ms);
    if (!window) return "";
    return nlohmann::json{{"seq", window->seq},
                          {"start", Utc(window->start_ms)},
                          {"end", Utc(window->end_ms)},
                          {"rows", window->rows}}
        .dump();
  } catch (const Error& e) {
    // No monitor (or no right to read it): the run records no window.
    spdlog::debug("loop: no window for deployment {}: {}", deployment, e.what());
    return "";
  }
}

bool LoopService::BuildWindowsData(const LoopPolicy& policy, const std::string& target,
                                   LoopRun& run) {
  namespace fs = std::filesystem;
  if (options_.monitors == nullptr || options_.datasets == nullptr)
    throw Error(ErrorCode::kInvalidState, "data " + policy.data + ": no live monitoring here");
  const int64_t range = *WindowsDataRange(policy.data);
  const int64_t to = Now() + 1;
  const int64_t from = to - range;
  monitoring::live::LabelledRange labelled;
  monitoring::live::LabelledRows rows;
  try {
    labelled = options_.monitors->Labelled(run.deployment, from, to);
    rows = monitoring::live::BuildLabelledRows(labelled.records, target, labelled.features);
  } catch (const Error& e) {
    throw Error(e.code(), "data " + policy.data + ": " + e.what());
  }
  const std::string windows =
      labelled.first_seq < 0
          ? std::string("none")
          : fmt::format("{}..{} of {}", labelled.first_seq, labelled.last_seq, labelled.window);
  if (rows.rows < policy.min_rows) {
    run.reason = fmt::format(
        "data {}: {} labelled rows of deployment {} from {} to {} (windows {}; {} requests "
        "without inputs, {} with a label count unlike their rows, {} rows labelled null); "
        "min_rows is {}",
        policy.data, rows.rows, run.deployment, Utc(from), Utc(to), windows,
        rows.requests_without_inputs, rows.requests_mismatched, rows.unlabelled_rows,
        policy.min_rows);
    return false;
  }
  const std::string name = FeedbackDatasetName(run.deployment);
  const fs::path folder =
      fs::path(options_.work_dir.empty() ? fs::temp_directory_path().string() : options_.work_dir) /
      run.deployment / std::to_string(run.id);
  fs::create_directories(folder);
  const fs::path file = folder / "feedback.csv";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << rows.csv;
    if (!out.flush()) throw Error(ErrorCode::kInternalError, "cannot write " + file.string());
  }
  nlohmann::json lineage = {{"deployment", run.deployment},
                            {"loop_run", run.id},
                            {"range", policy.data},
                            {"from", Utc(from)},
                            {"to", Utc(to)},
                            {"window", labelled.window},
                            {"first_seq", labelled.first_seq},
                            {"last_seq", labelled.last_seq},
                            {"first_prediction", Utc(rows.first_ms)},
                            {"last_prediction", Utc(rows.last_ms)},
                            {"requests", rows.requests},
                            {"rows", rows.rows},
                            {"label", target}};
  data::AddOptions add;
  add.table = true;
  add.created_by = governance::CurrentActorName();
  add.description = fmt::format(
      "labelled traffic of deployment {} (loop run {}): {} rows of {} requests, "
      "predictions from {} to {}, windows {}",
      run.deployment, run.id, rows.rows, rows.requests, Utc(rows.first_ms), Utc(rows.last_ms),
      windows);
  data::AddOutcome outcome;
  try {
    // As the loop's actor: EDIT on the dataset, or nothing for its first version.
    outcome = options_.datasets->Add(name, file, add);
  } catch (...) {
    fs::remove(file);
    throw;
  }
  fs::remove(file);
  // A new dataset is the policy owner's (MANAGE): the loop's actor acts for
  // them, and AccessControl::Created grants what such an actor creates to
  // the user it acts for, so the next runs (and they) may add versions.
  run.data = fmt::format("{}@{}", name, outcome.version.version);
  lineage["dataset"] = run.data;
  lineage["new_version"] = outcome.created;
  run.windows = lineage.dump();
  spdlog::info("loop: run {} of deployment {}: {} labelled rows as {}", run.id, run.deployment,
               rows.rows, run.data);
  return true;
}

LoopRun LoopService::RequirePending(const std::string& deployment, int64_t id) {
  serving::ValidateDeploymentName(deployment);
  governance::Require(authorizer_, Permission::kManage, ResourceType::kDeployment, deployment);
  LoopRun run = GetRun(deployment, id);
  if (run.state != LoopRunState::kPendingApproval) {
    throw Error(ErrorCode::kInvalidState, fmt::format("loop run {} is {}, not pending_approval", id,
                                                      LoopRunStateName(run.state)));
  }
  return run;
}

LoopRun LoopService::Approve(const std::string& deployment, int64_t id) {
  LoopRun run = RequirePending(deployment, id);
  // As the approver: SetAlias checks EDIT on the registered model.
  registry_.SetAlias(run.model, run.alias, run.version);
  governance::SetTarget(fmt::format("deployment:{}/loop-run:{}", deployment, id));
  run.state = LoopRunState::kPromoted;
  run.decided_by = governance::CurrentActorName();
  run.finished_ms = Now();
  store_.UpdateRun(run);
  return run;
}

LoopRun LoopService::Reject(const std::string& deployment, int64_t id, const std::string& why) {
  LoopRun run = RequirePending(deployment, id);
  run.state = LoopRunState::kRejected;
  run.decided_by = governance::CurrentActorName();
  if (!why.empty()) run.reason += (run.reason.empty() ? "" : "; ") + ("rejected: " + why);
  run.finished_ms = Now();
  store_.UpdateRun(run);
  return run;
}

void LoopService::WaitIdle() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [&] { return pending_ == 0; });
}

}  // namespace slipway::loop
