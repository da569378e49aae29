#include "ml/python_env.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/sha256.h"
#include "ml/python_process.h"

namespace slipway::ml {
namespace {

namespace fs = std::filesystem;

std::string ReadIfExists(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Holds an exclusive flock on `path` while alive.
class FileLock {
 public:
  FileLock(const fs::path& path, std::chrono::milliseconds timeout) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw Error(ErrorCode::kInternalError, "cannot open the lock file " + path.string());
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::close(fd_);
        throw Error(
            ErrorCode::kTemporarilyUnavailable,
            "another process is still building the Python environment (" + path.string() + ")");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

void Run(const std::vector<std::string>& argv, const std::string& prefix,
         std::chrono::milliseconds timeout) {
  std::string line;
  for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
  spdlog::info("[{}] running: {}", prefix, line);
  const int code = RunToCompletion(argv, prefix, timeout);
  if (code != 0)
    throw Error(ErrorCode::kInternalError,
                "building the model's Python environment failed: '" + line +
                    "' ended with status " + std::to_string(code) + " (its output is in the log)");
}

std::string BuildVirtualenv(const MlModel& mlmodel, const PythonOptions& options) {
  const std::string env_yaml = ReadIfExists(mlmodel.dir / "python_env.yaml");
  const std::string requirements = ReadIfExists(mlmodel.dir / "requirements.txt");
  std::vector<std::string> build_deps;
  std::vector<std::string> deps;
  std::string wanted_python;
  if (!env_yaml.empty()) {
    try {
      const YAML::Node root = YAML::Load(env_yaml);
      if (root["python"]) wanted_python = root["python"].as<std::string>();
      for (const auto& d : root["build_dependencies"]) build_deps.push_back(d.as<std::string>());
      for (const auto& d : root["dependencies"]) deps.push_back(d.as<std::string>());
    } catch (const YAML::Exception& e) {
      ThrowInvalid("the model's python_env.yaml is not valid: " + std::string(e.what()));
    }
  } else if (!requirements.empty()) {
    deps.push_back("-r requirements.txt");
  } else {
    ThrowInvalid(
        "env_manager 'virtualenv' needs the model's python_env.yaml or requirements.txt, and "
        "the model has neither");
  }

  // The name covers everything that decides the environment's content.
  Sha256 hash;
  for (const std::string* part : {&options.python, &env_yaml, &requirements}) {
    hash.Update(part->data(), part->size());
    hash.Update("\0", 1);
  }
  const std::string key = "mlflow-" + ToHex(hash.Finish()).substr(0, 24);
  const fs::path cache =
      options.env_cache_dir.empty() ? DefaultPythonEnvCache() : fs::path(options.env_cache_dir);
  fs::create_directories(cache);
  const fs::path env = cache / key;
  const fs::path ready = env / ".slipway-ready";
  const std::string python = (env / "bin" / "python").string();
  if (fs::exists(ready)) return python;

  FileLock lock(cache / (key + ".lock"), options.env_build_timeout);
  if (fs::exists(ready)) return python;  // built by whoever held the lock
  const std::string prefix = "python env " + key;
  if (!wanted_python.empty())
    spdlog::info("[{}] the model asks for Python {}; the environment uses '{}'", prefix,
                 wanted_python, options.python);
  std::error_code ignored;
  fs::remove_all(env, ignored);  // a build that did not finish
  const auto deadline = std::chrono::steady_clock::now() + options.env_build_timeout;
  auto left = [&] {
    return std::max(std::chrono::milliseconds(1000),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()));
  };
  Run({options.python, "-m", "venv", env.string()}, prefix, left());
  if (!build_deps.empty()) {
    std::vector<std::string> argv = {python, "-m", "pip", "install", "--quiet"};
    argv.insert(argv.end(), build_deps.begin(), build_deps.end());
    Run(argv, prefix, left());
  }
  if (!deps.empty()) {
    std::vector<std::string> argv = {python, "-m", "pip", "install", "--quiet"};
    for (const auto& d : deps) {
      // "-r requirements.txt" is relative to the model's folder.
      if (d.rfind("-r ", 0) == 0) {
        argv.push_back("-r");
        argv.push_back((mlmodel.dir / d.substr(3)).string());
      } else {
        argv.push_back(d);
      }
    }
    Run(argv, prefix, left());
  }
  std::ofstream(ready) << key << "\n";
  spdlog::info("[{}] ready in {}", prefix, env.string());
  return python;
}

}  // namespace

fs::path DefaultPythonEnvCache() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0')
    return fs::path(xdg) / "slipway" / "python_envs";
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr ? home : "/tmp") / ".cache" / "slipway" / "python_envs";
}

std::string PythonInterpreterFor(const MlModel& mlmodel, const PythonOptions& options) {
  if (options.env_manager == "local" || options.env_manager.empty()) return options.python;
  if (options.env_manager == "virtualenv") return BuildVirtualenv(mlmodel, options);
  ThrowInvalid("unknown env_manager '" + options.env_manager +
               "' (Slipway supports 'local' and 'virtualenv')");
}

}  // namespace slipway::ml
