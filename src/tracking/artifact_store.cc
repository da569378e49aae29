#include "tracking/artifact_store.h"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <system_error>

#include "core/durable_file.h"
#include "core/error.h"

namespace slipway::tracking {
namespace fs = std::filesystem;

namespace {

void RejectPath(std::string_view relative, const char* why) {
  ThrowInvalid("Invalid artifact path '" + std::string(relative) + "': " + why);
}

bool IsUnder(const fs::path& child, const fs::path& root) {
  auto [r, c] = std::mismatch(root.begin(), root.end(), child.begin(), child.end());
  return r == root.end();
}

}  // namespace

ArtifactStore::ArtifactStore(fs::path root) {
  fs::create_directories(root);
  root_ = fs::canonical(root);
}

fs::path ArtifactStore::Resolve(std::string_view relative) const {
  if (relative.find('\0') != std::string_view::npos) RejectPath(relative, "NUL byte");
  if (relative.find('\\') != std::string_view::npos) RejectPath(relative, "backslash");
  if (!relative.empty() && relative.front() == '/') {
    RejectPath(relative, "absolute paths are not allowed");
  }
  fs::path result = root_;
  size_t start = 0;
  while (start <= relative.size()) {
    size_t end = relative.find('/', start);
    if (end == std::string_view::npos) end = relative.size();
    std::string_view part = relative.substr(start, end - start);
    if (part == "..") RejectPath(relative, "'..' segments are not allowed");
    if (!part.empty() && part != ".") result /= std::string(part);
    start = end + 1;
  }
  // Symbolic links inside the root could still point out of it.
  std::error_code ec;
  fs::path real = fs::weakly_canonical(result, ec);
  if (ec || !IsUnder(real, root_)) RejectPath(relative, "resolves outside the artifact root");
  return result;
}

void ArtifactStore::Write(
    std::string_view relative,
    const std::function<bool(const std::function<void(const char*, size_t)>&)>& source) {
  fs::path target = Resolve(relative);
  if (target == root_) RejectPath(relative, "an artifact needs a file name");
  fs::create_directories(target.parent_path());
  if (fs::is_directory(target)) RejectPath(relative, "a folder of that name exists");
  // Messages name the artifact, never the server's folders.
  std::optional<DurableFile> file;
  try {
    file.emplace(target);
  } catch (const Error&) {
    throw Error(ErrorCode::kInternalError, "cannot create artifact file for '" +
                                               std::string(relative) +
                                               "': " + std::generic_category().message(errno));
  }
  bool failed = false;
  auto sink = [&](const char* data, size_t size) {
    if (failed) return;
    try {
      file->Write(data, size);
    } catch (const Error&) {
      failed = true;
    }
  };
  // An exception from `source`, like any failure below, leaves no file:
  // the DurableFile deletes its temporary file.
  bool complete = source(sink);
  if (!failed && complete) {
    try {
      file->Commit();
      return;
    } catch (const Error&) {
      failed = true;
    }
  }
  file.reset();
  if (!complete) ThrowInvalid("the upload of '" + std::string(relative) + "' was cut short");
  throw Error(ErrorCode::kInternalError, "writing artifact '" + std::string(relative) + "' failed");
}

std::vector<ArtifactEntry> ArtifactStore::List(std::string_view relative) const {
  fs::path folder = Resolve(relative);
  std::vector<ArtifactEntry> entries;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return entries;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder, ec)) {
    std::string name = entry.path().filename().string();
    if (name.find(".slipway-tmp-") != std::string::npos) continue;
    ArtifactEntry item;
    item.path = name;
    item.is_dir = entry.is_directory(ec);
    if (!item.is_dir) item.file_size = static_cast<int64_t>(entry.file_size(ec));
    entries.push_back(std::move(item));
  }
  std::sort(entries.begin(), entries.end(),
            [](const ArtifactEntry& a, const ArtifactEntry& b) { return a.path < b.path; });
  return entries;
}

void ArtifactStore::Delete(std::string_view relative) {
  fs::path target = Resolve(relative);
  if (target == root_) RejectPath(relative, "refusing to delete the artifact root");
  std::error_code ec;
  if (!fs::exists(target, ec)) {
    ThrowNotFound("No artifact found at '" + std::string(relative) + "'");
  }
  fs::remove_all(target);
}

}  // namespace slipway::tracking
