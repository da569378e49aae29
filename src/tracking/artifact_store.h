// Artifacts (files of runs and logged models) in a local folder.
//
// ArtifactStore maps artifact paths given by clients, such as
// "1/<run_id>/artifacts/model/MLmodel", to files under one root folder. Every
// path is checked before use: absolute paths, `..` segments, backslashes and
// NUL bytes are rejected with INVALID_PARAMETER_VALUE, and the resolved file
// must lie under the root, so no request reads or writes outside it. Writes
// go to a temporary file that is renamed into place, so a reader never sees a
// half-written artifact. Thread-safe (the file system serialises).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::tracking {

struct ArtifactEntry {
  std::string path;  // the entry's name within the listed folder
  bool is_dir = false;
  int64_t file_size = 0;
};

class ArtifactStore {
 public:
  // Creates `root` if needed.
  explicit ArtifactStore(std::filesystem::path root);

  const std::filesystem::path& root() const { return root_; }

  // The file for `relative`, after the checks above. An empty path is the root.
  std::filesystem::path Resolve(std::string_view relative) const;

  // Streams a new artifact in. `source` is called once with a sink that
  // appends bytes to the file; it returns true when it delivered the whole
  // content, false when the upload was cut short (then nothing is kept).
  void Write(std::string_view relative,
             const std::function<bool(const std::function<void(const char*, size_t)>&)>& source);

  // Entries directly in the folder `relative` (empty if it does not exist),
  // sorted by name; `path` of each entry is its name only.
  std::vector<ArtifactEntry> List(std::string_view relative) const;

  // Removes a file or a whole folder; RESOURCE_DOES_NOT_EXIST if absent.
  void Delete(std::string_view relative);

 private:
  std::filesystem::path root_;
};

}  // namespace slipway::tracking
