// MLflow's own web UI, served by `slipway server --mlflow-ui` for people who
// know that UI, from the `mlflow` package installed beside Slipway.
//
// MLflow ships its UI built, in the wheel (mlflow/server/js/build:
// index.html and the ~27 MB of files it loads). Nothing of it is copied
// into Slipway: MlflowUiFiles reads that folder while the server runs. The
// UI is built to be served under a prefix (MLflow's --static-prefix): its
// page loads "static-files/..." and the app calls "ajax-api/...",
// "graphql", "get-artifact", ... relative to the page. So, under
// kMlflowUiPrefix:
//
//   /mlflow                   a redirect to /mlflow/ (relative URLs need the slash)
//   /mlflow/                  index.html (the app routes by the URL's #fragment)
//   /mlflow/static-files/P    the build folder's file P
//   /mlflow/ajax-api/...      the API route without the prefix
//                             (HttpServer::AddApiMount): the same handler,
//                             permission check, audit and metrics
//   /mlflow/ajax-api/.../gateway...  and the other features Slipway does not
//                             have: 501 NOT_IMPLEMENTED in MLflow's error
//                             form, which the UI's page shows as its error
//
// Paths from requests never leave the folder: a path with an empty, "." or
// ".." segment, a backslash or a NUL is refused, and the file found (every
// symlink resolved) must still be under the folder's real path.
//
// MlflowUiFiles holds only the folder's path; its methods are const and
// thread-safe (they read the disk on each call, so a reinstalled mlflow is
// served at once, with new ETags).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/http_server.h"

namespace slipway::webui {

inline constexpr std::string_view kMlflowUiPrefix = "/mlflow";

// The page's Content-Security-Policy: MLflow's UI adds style elements at run
// time (CSS-in-JS), and fonts and images as data: URLs; scripts only from
// this origin, no eval, no framing.
inline constexpr std::string_view kMlflowUiContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'";

// An open file of the build (read-only); closed when the last holder lets go.
class OpenFile {
 public:
  OpenFile(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~OpenFile();
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;

  uint64_t size() const { return size_; }
  // Appends up to `max` bytes from `offset` to `out`; false on a read error.
  bool Read(uint64_t offset, size_t max, std::string* out) const;

 private:
  int fd_;
  uint64_t size_;
};

// What to answer, without HTTP types: status 200 with `file` to send, 304
// (no body), or 404 (no such file, or a path refused).
struct FileReply {
  int status = 404;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<const OpenFile> file;  // set when status is 200
};

class MlflowUiFiles {
 public:
  // The UI build at `folder` (a path to MLflow's server/js/build). Throws
  // slipway::Error (INVALID_PARAMETER_VALUE) naming the folder when it is
  // not a folder with an index.html.
  static MlflowUiFiles Open(const std::filesystem::path& folder);

  // The real path of the folder (symlinks resolved).
  const std::filesystem::path& root() const { return root_; }

  // The regular file `relative` names ('/'-separated, percent-decoded, as
  // requested) inside the folder, as a real path; nullopt when there is
  // none or the path is refused (see the header comment).
  std::optional<std::filesystem::path> Resolve(std::string_view relative) const;

  // index.html, `Cache-Control: no-cache` with its ETag (a reinstalled
  // mlflow shows at once) and kMlflowUiContentSecurityPolicy.
  FileReply Page(std::string_view if_none_match) const;
  // The file at `relative`: a year's `immutable` caching when its name
  // carries a content hash ("main.c2f5f8d4.js"), else `no-cache` and its
  // ETag. Every reply says `X-Content-Type-Options: nosniff`.
  FileReply File(std::string_view relative, std::string_view if_none_match) const;

 private:
  explicit MlflowUiFiles(std::filesystem::path root) : root_(std::move(root)) {}

  std::filesystem::path root_;
};

// Where the `mlflow` package that `python` imports keeps its UI build, by
// running `python` once (found in PATH; no shell) and asking importlib,
// without importing mlflow. Throws slipway::Error (INVALID_PARAMETER_VALUE)
// when the interpreter cannot be run or has no mlflow.
std::filesystem::path LocateInstalledMlflowUi(const std::string& python);

// Whether a file name carries a content hash: a dot-separated part of at
// least 8 hexadecimal digits before the extension ("main.c2f5f8d4.js").
bool HasContentHash(std::string_view file_name);

// Registers MLflow's UI under kMlflowUiPrefix: the page and static-files
// as Public routes (they hold no data; the data comes through the API
// routes, with their permissions), the API mount (HttpServer::AddApiMount),
// and 501 NOT_IMPLEMENTED routes, for signed-in callers, for what the UI
// calls and Slipway does not have. Register before the web UI's routes.
// `files` must outlive the server.
void AddMlflowUiRoutes(http::HttpServer& server, const MlflowUiFiles& files);

}  // namespace slipway::webui
