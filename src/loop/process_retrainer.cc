#include "loop/process_retrainer.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "core/error.h"

extern char** environ;

namespace slipway::loop {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw Error(ErrorCode::kInternalError, "cannot write " + path.string());
}

// The last lines of the child's log: what a person reads first on a failure.
std::string Tail(const std::string& text, size_t lines) {
  size_t at = text.size();
  while (lines > 0 && at > 0) {
    at = text.rfind('\n', at - 1);
    if (at == std::string::npos) return text;
    --lines;
  }
  return text.substr(at + 1);
}

// The child's environment: ours, without a token of our own, plus `extra`.
std::vector<std::string> ChildEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.rfind("MLFLOW_TRACKING_TOKEN=", 0) == 0) continue;
    if (entry.rfind("MLFLOW_TRACKING_USERNAME=", 0) == 0) continue;
    if (entry.rfind("MLFLOW_TRACKING_PASSWORD=", 0) == 0) continue;
    env.emplace_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// Runs argv with stdout and stderr into `log`; the exit status, or -1 when
// it was killed after `timeout`.
int RunChild(const std::vector<std::string>& argv, const std::vector<std::string>& environment,
             const fs::path& log, std::chrono::seconds timeout) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0640);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  // Its own process group, so a kill reaches what it started (XGBoost's threads are ours).
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (const std::string& e : environment) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &actions, &attr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    throw Error(ErrorCode::kInternalError,
                fmt::format("cannot start {}: {}", argv[0], std::strerror(rc)));
  }
  // Training yields to serving: the child's threads run at a lower priority.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(pid), 10);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace

RetrainResult ProcessRetrainer::Retrain(const RetrainRequest& request) {
  RetrainResult result;
  const LoopRun& run = request.run;
  const fs::path folder = fs::path(options_.work_dir) / run.deployment / std::to_string(run.id);
  std::optional<std::string> token_id;
  try {
    if (options_.tracking_uri.empty() || options_.binary.empty())
      throw Error(ErrorCode::kInvalidState, "retrains run only in a server");
    fs::create_directories(folder);
    WriteFile(folder / "spec.yaml", request.policy.spec);
    const fs::path result_file = folder / "result.json";
    fs::remove(result_file);
    std::vector<std::string> argv = {options_.binary,
                                     "train",
                                     (folder / "spec.yaml").string(),
                                     "--data-dir",
                                     options_.data_dir,
                                     "--store",
                                     options_.store,
                                     "--datasets",
                                     options_.datasets,
                                     "--data",
                                     run.data,
                                     "--tracking-uri",
                                     options_.tracking_uri,
                                     "--experiment",
                                     options_.experiment + "-" + run.deployment,
                                     "--run-name",
                                     fmt::format("loop-{}-{}", run.deployment, run.id),
                                     "--result-file",
                                     result_file.string()};
    if (request.alias.empty()) {
      argv.push_back("--no-alias");
    } else {
      argv.push_back("--set");
      argv.push_back("register.alias=" + request.alias);
    }
    for (const auto& [key, value] : request.tags) {
      argv.push_back("--tag");
      argv.push_back(key + "=" + value);
    }
    std::vector<std::string> extra;
    if (options_.access != nullptr && request.policy.owner_id != 0) {
      // As the policy's owner: the current operation acts for them.
      auto [token, secret] = options_.access->CreateToken(
          request.policy.owner, fmt::format("loop run {} of {}", run.id, run.deployment),
          NowMillis() +
              std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout).count());
      token_id = token.id;
      extra.push_back("MLFLOW_TRACKING_TOKEN=" + secret);
    }
    spdlog::info("loop: run {} of deployment {}: training on {} (log {})", run.id, run.deployment,
                 run.data, (folder / "train.log").string());
    const int status =
        RunChild(argv, ChildEnvironment(extra), folder / "train.log", options_.timeout);
    const std::string log = ReadFile(folder / "train.log");
    if (fs::exists(result_file)) {
      const nlohmann::json outcome = nlohmann::json::parse(ReadFile(result_file));
      result.run_id = outcome.value("run_id", "");
      const bool passed = outcome.value("passed", false);
      std::string gates;
      for (const nlohmann::json& g : outcome.value("gates", nlohmann::json::array())) {
        gates += fmt::format("{}{}: {} ({})", gates.empty() ? "" : "; ", g.value("rule", ""),
                             g.value("passed", false) ? "passed" : "FAILED", g.value("detail", ""));
      }
      if (passed && outcome.contains("version")) {
        result.outcome = RetrainResult::Outcome::kPassed;
        result.model = outcome.value("model", "");
        result.version = outcome.value("version", "");
        result.summary = gates.empty() ? "no gates" : "gates passed: " + gates;
      } else if (!passed) {
        result.outcome = RetrainResult::Outcome::kGateFailed;
        result.summary = "gates failed: " + gates;
      } else {
        result.summary = "the gates passed but nothing was registered\n" + Tail(log, 20);
      }
    } else {
      result.summary = (status < 0 ? fmt::format("killed after {} s", options_.timeout.count())
                                   : fmt::format("slipway train exited {}", status)) +
                       ":\n" + Tail(log, 20);
    }
  } catch (const std::exception& e) {
    result.outcome = RetrainResult::Outcome::kFailed;
    result.summary = e.what();
  }
  if (token_id) {
    try {
      options_.access->RevokeToken(*token_id);
    } catch (const std::exception& e) {
      spdlog::warn("loop: cannot revoke the retrain's token {}: {}", *token_id, e.what());
    }
  }
  return result;
}

}  // namespace slipway::loop
