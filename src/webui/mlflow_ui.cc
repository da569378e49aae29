#include "webui/mlflow_ui.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "webui/asset_catalog.h"
#include "webui/asset_embedder.h"

extern char** environ;

namespace slipway::webui {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";

// A path as requested: '/'-separated names, none of them empty, "." or
// "..", and no byte that another layer could read as a separator or an end.
bool IsPlainRelativePath(std::string_view relative) {
  if (relative.empty() || relative.front() == '/') return false;
  if (relative.find('\0') != std::string_view::npos) return false;
  if (relative.find('\\') != std::string_view::npos) return false;
  size_t start = 0;
  while (start <= relative.size()) {
    size_t end = relative.find('/', start);
    if (end == std::string_view::npos) end = relative.size();
    std::string_view segment = relative.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    start = end + 1;
  }
  return true;
}

bool IsUnder(const fs::path& root, const fs::path& path) {
  auto [r, p] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  return r == root.end();
}

bool IsHex(std::string_view part) {
  return std::all_of(part.begin(), part.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

FileReply Serve(const fs::path& path, std::string_view if_none_match, std::string cache_control) {
  FileReply reply;
  reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
  // The path is real (no symlink left); O_NOFOLLOW refuses one swapped in since.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return reply;
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return reply;
  }
  auto file = std::make_shared<const OpenFile>(fd, static_cast<uint64_t>(info.st_size));
  char etag[64];
  std::snprintf(etag, sizeof etag, "\"%llx-%llx\"", static_cast<unsigned long long>(info.st_size),
                static_cast<unsigned long long>(info.st_mtim.tv_sec) * 1000000000ull +
                    static_cast<unsigned long long>(info.st_mtim.tv_nsec));
  reply.content_type = std::string(ContentTypeFor(path.filename().string()));
  reply.headers.emplace_back("Cache-Control", std::move(cache_control));
  reply.headers.emplace_back("ETag", etag);
  if (MatchesEtag(if_none_match, etag)) {
    reply.status = 304;
    return reply;
  }
  reply.status = 200;
  reply.file = std::move(file);
  return reply;
}

void Send(FileReply reply, http::Response& res) {
  res.status = reply.status;
  for (auto& [name, value] : reply.headers) res.set_header(std::move(name), std::move(value));
  if (reply.status != 200) {
    res.content_type = std::move(reply.content_type);
    return;
  }
  std::shared_ptr<const OpenFile> file = std::move(reply.file);
  res.set_content_provider(file->size(), std::move(reply.content_type),
                           [file](uint64_t offset, size_t max, std::string* out) {
                             return file->Read(offset, max, out);
                           });
}

// Runs argv (argv[0] looked up in PATH, no shell) and returns its stdout;
// nullopt when it cannot be started or does not exit 0.
std::optional<std::string> RunForOutput(const std::vector<std::string>& args) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return std::nullopt;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  int spawned = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (spawned != 0) {
    ::close(out[0]);
    return std::nullopt;
  }
  std::string output;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(out[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() < 64 * 1024) output.append(buffer, static_cast<size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return output;
}

}  // namespace

OpenFile::~OpenFile() { ::close(fd_); }

bool OpenFile::Read(uint64_t offset, size_t max, std::string* out) const {
  if (offset >= size_) return true;
  size_t want = static_cast<size_t>(std::min<uint64_t>(max, size_ - offset));
  size_t old = out->size();
  out->resize(old + want);
  size_t done = 0;
  while (done < want) {
    ssize_t n =
        ::pread(fd_, out->data() + old + done, want - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // an error, or the file shrank under us
      out->resize(old + done);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

MlflowUiFiles MlflowUiFiles::Open(const fs::path& folder) {
  std::error_code ec;
  fs::path root = fs::canonical(folder, ec);
  if (ec || !fs::is_directory(root, ec)) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "--mlflow-ui: " + folder.string() + " is not a folder (" +
                    (ec ? ec.message() : std::string("not a directory")) + ")");
  }
  if (!fs::is_regular_file(root / "index.html", ec)) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "--mlflow-ui: " + folder.string() +
                    " has no index.html: give the folder of MLflow's built UI "
                    "(mlflow/server/js/build in the installed package)");
  }
  return MlflowUiFiles(std::move(root));
}

std::optional<fs::path> MlflowUiFiles::Resolve(std::string_view relative) const {
  if (!IsPlainRelativePath(relative)) return std::nullopt;
  std::error_code ec;
  fs::path real = fs::canonical(root_ / fs::path(std::string(relative)), ec);
  if (ec || !IsUnder(root_, real) || !fs::is_regular_file(real, ec)) return std::nullopt;
  return real;
}

FileReply MlflowUiFiles::Page(std::string_view if_none_match) const {
  FileReply reply = Serve(root_ / "index.html", if_none_match, "no-cache");
  if (reply.status == 200 || reply.status == 304) {
    reply.headers.emplace_back("Content-Security-Policy",
                               std::string(kMlflowUiContentSecurityPolicy));
    reply.headers.emplace_back("Referrer-Policy", "same-origin");
  }
  return reply;
}

FileReply MlflowUiFiles::File(std::string_view relative, std::string_view if_none_match) const {
  std::optional<fs::path> path = Resolve(relative);
  if (!path) {
    FileReply reply;
    reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return reply;
  }
  return Serve(*path, if_none_match,
               std::string(HasContentHash(path->filename().string()) ? kImmutable : "no-cache"));
}

bool HasContentHash(std::string_view file_name) {
  // The parts between dots, except the first (the name) and the last (the extension).
  size_t first = file_name.find('.');
  size_t last = file_name.rfind('.');
  if (first == std::string_view::npos || first == last) return false;
  std::string_view middle = file_name.substr(first + 1, last - first - 1);
  size_t start = 0;
  while (start <= middle.size()) {
    size_t end = middle.find('.', start);
    if (end == std::string_view::npos) end = middle.size();
    std::string_view part = middle.substr(start, end - start);
    if (part.size() >= 8 && IsHex(part)) return true;
    start = end + 1;
  }
  return false;
}

fs::path LocateInstalledMlflowUi(const std::string& python) {
  static constexpr const char* kScript =
      "import importlib.util, os\n"
      "spec = importlib.util.find_spec('mlflow')\n"
      "if spec is None or not spec.origin: raise SystemExit(3)\n"
      "print(os.path.join(os.path.dirname(spec.origin), 'server', 'js', 'build'))\n";
  std::optional<std::string> output = RunForOutput({python, "-c", kScript});
  if (!output) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "--mlflow-ui: no mlflow package found by `" + python +
                    "` (install mlflow there, choose the interpreter with --python, or give "
                    "the UI's folder: --mlflow-ui PATH)");
  }
  while (!output->empty() && std::isspace(static_cast<unsigned char>(output->back()))) {
    output->pop_back();
  }
  return fs::path(*output);
}

void AddMlflowUiRoutes(http::HttpServer& server, const MlflowUiFiles& files) {
  const std::string prefix(kMlflowUiPrefix);
  server.Get(prefix, http::RouteSpec("mlflow-ui/page").Public(),
             [prefix](const http::Request&, http::Response& res) {
               res.status = 308;
               res.set_header("Location", prefix + "/");
               res.set_content("", "text/plain");
             });
  auto page = [&files](const http::Request& req, http::Response& res) {
    Send(files.Page(req.get_header_value("If-None-Match")), res);
  };
  server.Get(prefix + "/", http::RouteSpec("mlflow-ui/page").Public(), page);
  server.Get(prefix + "/index.html", http::RouteSpec("mlflow-ui/page").Public(), page);
  server.Get(prefix + "/static-files/(.+)", http::RouteSpec("mlflow-ui/static").Public(),
             [&files](const http::Request& req, http::Response& res) {
               FileReply reply = files.File(req.matches[1], req.get_header_value("If-None-Match"));
               if (reply.status == 404) {
                 throw Error(ErrorCode::kEndpointNotFound,
                             "No file " + req.matches[1] + " in MLflow's UI build.");
               }
               Send(std::move(reply), res);
             });

  // What the UI calls that Slipway does not have: an error the UI's page
  // shows, in MLflow's form, for a signed-in caller (with --auth, anyone
  // else gets 401 first, as for any API route).
  struct Missing {
    std::string pattern;  // under prefix + "/ajax-api/"
    std::string feature;
  };
  const Missing missing[] = {
      {"[0-9]\\.0/mlflow/gateway(/.*)?", "MLflow's AI gateway"},
      {"2\\.0/mlflow/gateway-proxy", "MLflow's AI gateway"},
      {"2\\.0/endpoints(/.*)?", "MLflow's AI gateway (deployments endpoints)"},
      {"3\\.0/mlflow/assistant(/.*)?", "MLflow's Assistant"},
  };
  for (const Missing& entry : missing) {
    auto refuse = [feature = entry.feature](const http::Request&, http::Response&) {
      throw Error(ErrorCode::kNotImplemented,
                  feature + " is not part of Slipway; this page of MLflow's UI needs it.");
    };
    const std::string pattern = prefix + "/ajax-api/" + entry.pattern;
    const auto spec = http::RouteSpec("mlflow-ui/not-implemented").SignedIn().ReadOnly();
    server.Get(pattern, spec, refuse);
    server.Post(pattern, spec, refuse);
    server.Put(pattern, spec, refuse);
    server.Patch(pattern, spec, refuse);
    server.Delete(pattern, spec, refuse);
  }
  server.AddApiMount(prefix);
}

}  // namespace slipway::webui
