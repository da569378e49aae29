#include "tracking/artifact_store.h"

#include <algorithm>

#include "core/error.h"

namespace slipway::tracking {
namespace {

[[noreturn]] void RejectPath(std::string_view relative, const std::string& why) {
  ThrowInvalid("Invalid artifact path '" + std::string(relative) + "': " + why);
}

// Calls `call`, saying a key the blob store refused (a link out of its
// root, say) in the artifact's words.
template <typename Call>
auto ForPath(std::string_view relative, Call&& call) {
  try {
    return call();
  } catch (const blob::KeyError& e) {
    RejectPath(relative, e.reason());
  }
}

}  // namespace

std::string ArtifactStore::KeyOf(std::string_view relative) const {
  if (relative.find('\0') != std::string_view::npos) RejectPath(relative, "NUL byte");
  if (relative.find('\\') != std::string_view::npos) RejectPath(relative, "backslash");
  if (!relative.empty() && relative.front() == '/') {
    RejectPath(relative, "absolute paths are not allowed");
  }
  std::string key;
  size_t start = 0;
  while (start <= relative.size()) {
    size_t end = relative.find('/', start);
    if (end == std::string_view::npos) end = relative.size();
    std::string_view part = relative.substr(start, end - start);
    if (part == "..") RejectPath(relative, "'..' segments are not allowed");
    if (!part.empty() && part != ".") {
      if (!key.empty()) key += '/';
      key += part;
    }
    start = end + 1;
  }
  // What is left the blob store must accept too (segment and key lengths,
  // its reserved names); say so in the artifact's words.
  if (!key.empty()) {
    std::string problem = blob::KeyProblem(key);
    if (!problem.empty()) RejectPath(relative, problem);
  }
  return key;
}

void ArtifactStore::Write(
    std::string_view relative,
    const std::function<bool(const std::function<void(const char*, size_t)>&)>& source) {
  const std::string key = KeyOf(relative);
  if (key.empty()) RejectPath(relative, "an artifact needs a file name");
  const std::string failed_message = "writing artifact '" + std::string(relative) + "' failed";
  std::unique_ptr<blob::BlobWriter> writer;
  try {
    writer = blobs_.OpenWriter(key);
  } catch (const blob::KeyError& e) {
    // A key the blob store cannot hold (a folder of that name exists, a
    // link out of its root) is the client's to fix.
    RejectPath(relative, e.reason());
  } catch (const Error&) {
    // I/O errors would name the server's folders.
    throw Error(ErrorCode::kInternalError, failed_message);
  }
  bool failed = false;
  auto sink = [&](const char* data, size_t size) {
    if (failed) return;
    try {
      writer->Append(data, size);
    } catch (const Error&) {
      failed = true;  // the rest of the body is drained, then reported
    }
  };
  // An exception from `source`, like any failure below, publishes nothing:
  // the writer, destroyed unpublished, removes what it wrote.
  bool complete = source(sink);
  if (!failed && complete) {
    try {
      writer->Publish();
      return;
    } catch (const Error&) {
      failed = true;
    }
  }
  writer.reset();
  if (!complete) ThrowInvalid("the upload of '" + std::string(relative) + "' was cut short");
  throw Error(ErrorCode::kInternalError, failed_message);
}

std::unique_ptr<blob::BlobReader> ArtifactStore::Open(std::string_view relative) const {
  const std::string key = KeyOf(relative);
  std::unique_ptr<blob::BlobReader> reader;
  if (!key.empty()) reader = ForPath(relative, [&] { return blobs_.Open(key); });
  if (!reader) ThrowNotFound("No artifact found at '" + std::string(relative) + "'");
  return reader;
}

std::vector<ArtifactEntry> ArtifactStore::List(std::string_view relative) const {
  const std::string key = KeyOf(relative);
  blob::ListOptions options;
  options.prefix = key.empty() ? "" : key + "/";
  std::vector<ArtifactEntry> entries;
  for (const blob::ListEntry& listed : ForPath(relative, [&] { return blobs_.ListAll(options); })) {
    ArtifactEntry item;
    item.path = listed.key.substr(options.prefix.size());
    item.is_dir = listed.is_prefix;
    if (item.is_dir) {
      item.path.pop_back();  // the folder's trailing '/'
    } else {
      item.file_size = static_cast<int64_t>(listed.size);
    }
    entries.push_back(std::move(item));
  }
  // By name, as before: blob listings sort folders by "name/", which puts
  // "a-b" before "a".
  std::sort(entries.begin(), entries.end(),
            [](const ArtifactEntry& a, const ArtifactEntry& b) { return a.path < b.path; });
  return entries;
}

void ArtifactStore::Delete(std::string_view relative) {
  const std::string key = KeyOf(relative);
  if (key.empty()) RejectPath(relative, "refusing to delete the artifact root");
  const bool deleted =
      ForPath(relative, [&] { return blobs_.Delete(key) || blobs_.DeletePrefix(key + "/") > 0; });
  if (deleted) return;
  ThrowNotFound("No artifact found at '" + std::string(relative) + "'");
}

}  // namespace slipway::tracking
