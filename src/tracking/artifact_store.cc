#include "tracking/artifact_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>

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

// The valid-for of the part URLs a multipart upload hands out: long enough
// for parts of a few gigabytes on a slow link (MLflow's S3 repository
// gives boto3's default, an hour, too).
constexpr std::chrono::seconds kPartUrlValidity{std::chrono::hours(1)};

// What the client is told when `what` ("writing artifact 'x'") failed with
// `e`: the storage's own words when it was unavailable (they name S3 and
// the request, never the server's folders nor a secret); otherwise a
// message naming the artifact only, with the cause in the server's log.
[[noreturn]] void Rethrow(const std::string& what, const Error& e) {
  if (e.code() == ErrorCode::kTemporarilyUnavailable) {
    spdlog::warn("{} failed: {}", what, e.what());
    throw Error(ErrorCode::kTemporarilyUnavailable, what + " failed: " + e.what());
  }
  spdlog::error("{} failed: {}", what, e.what());
  throw Error(ErrorCode::kInternalError, what + " failed");
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
  if (key == kReservedArtifactFolder ||
      key.starts_with(std::string(kReservedArtifactFolder) + "/")) {
    RejectPath(relative, "'" + std::string(kReservedArtifactFolder) +
                             "' is the server's own folder, not an artifact");
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
  const std::string what = "writing artifact '" + std::string(relative) + "'";
  std::unique_ptr<blob::BlobWriter> writer;
  try {
    writer = blobs_.OpenWriter(key);
  } catch (const blob::KeyError& e) {
    // A key the blob store cannot hold (a folder of that name exists, a
    // link out of its root) is the client's to fix.
    RejectPath(relative, e.reason());
  } catch (const Error& e) {
    Rethrow(what, e);
  }
  std::optional<Error> failure;
  auto sink = [&](const char* data, size_t size) {
    if (failure) return;
    try {
      writer->Append(data, size);
    } catch (const Error& e) {
      failure = e;  // the rest of the body is drained, then reported
    }
  };
  // An exception from `source`, like any failure below, publishes nothing:
  // the writer, destroyed unpublished, removes what it wrote.
  bool complete = source(sink);
  if (!failure && complete) {
    try {
      writer->Publish();
      return;
    } catch (const Error& e) {
      failure = e;
    }
  }
  writer.reset();
  if (!complete) ThrowInvalid("the upload of '" + std::string(relative) + "' was cut short");
  Rethrow(what, *failure);
}

std::unique_ptr<blob::BlobReader> ArtifactStore::Open(std::string_view relative) const {
  const std::string key = KeyOf(relative);
  std::unique_ptr<blob::BlobReader> reader;
  if (!key.empty()) {
    try {
      reader = ForPath(relative, [&] { return blobs_.Open(key); });
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kInvalidParameterValue) throw;
      Rethrow("reading artifact '" + std::string(relative) + "'", e);
    }
  }
  if (!reader) ThrowNotFound("No artifact found at '" + std::string(relative) + "'");
  return reader;
}

std::vector<ArtifactEntry> ArtifactStore::List(std::string_view relative) const {
  const std::string key = KeyOf(relative);
  blob::ListOptions options;
  options.prefix = key.empty() ? "" : key + "/";
  std::vector<blob::ListEntry> listing;
  try {
    listing = ForPath(relative, [&] { return blobs_.ListAll(options); });
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInvalidParameterValue) throw;
    Rethrow("listing artifacts under '" + std::string(relative) + "'", e);
  }
  std::vector<ArtifactEntry> entries;
  for (const blob::ListEntry& listed : listing) {
    if (key.empty() && listed.is_prefix &&
        listed.key == std::string(kReservedArtifactFolder) + "/") {
      continue;  // the server's own folder
    }
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
  bool deleted = false;
  try {
    deleted =
        ForPath(relative, [&] { return blobs_.Delete(key) || blobs_.DeletePrefix(key + "/") > 0; });
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInvalidParameterValue) throw;
    Rethrow("deleting artifact '" + std::string(relative) + "'", e);
  }
  if (deleted) return;
  ThrowNotFound("No artifact found at '" + std::string(relative) + "'");
}

blob::DirectUploads& ArtifactStore::DirectUploadsOrThrow() const {
  blob::DirectUploads* uploads = blobs_.direct_uploads();
  // MLflow's words, which its client recognises and falls back on.
  if (!uploads) {
    throw Error(ErrorCode::kNotImplemented,
                "Multipart upload is not supported for the current artifact repository");
  }
  return *uploads;
}

blob::DirectUpload ArtifactStore::CreateMultipartUpload(std::string_view relative,
                                                        int64_t num_parts) {
  blob::DirectUploads& uploads = DirectUploadsOrThrow();
  const std::string key = KeyOf(relative);
  if (key.empty()) RejectPath(relative, "an artifact needs a file name");
  if (num_parts < 1 || num_parts > 10000) {
    ThrowInvalid("Invalid value " + std::to_string(num_parts) +
                 " for 'num_parts': a multipart upload has 1 to 10000 parts");
  }
  try {
    return ForPath(relative, [&] {
      return uploads.BeginDirectUpload(key, static_cast<int>(num_parts), kPartUrlValidity);
    });
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInvalidParameterValue) throw;
    Rethrow("beginning the multipart upload of artifact '" + std::string(relative) + "'", e);
  }
}

void ArtifactStore::CompleteMultipartUpload(std::string_view relative, const std::string& upload_id,
                                            const std::vector<blob::UploadedPart>& parts) {
  blob::DirectUploads& uploads = DirectUploadsOrThrow();
  const std::string key = KeyOf(relative);
  if (key.empty()) RejectPath(relative, "an artifact needs a file name");
  try {
    ForPath(relative, [&] { uploads.CompleteDirectUpload(key, upload_id, parts); });
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInvalidParameterValue ||
        e.code() == ErrorCode::kResourceDoesNotExist) {
      throw;
    }
    Rethrow("completing the multipart upload of artifact '" + std::string(relative) + "'", e);
  }
}

void ArtifactStore::AbortMultipartUpload(std::string_view relative, const std::string& upload_id) {
  blob::DirectUploads& uploads = DirectUploadsOrThrow();
  const std::string key = KeyOf(relative);
  if (key.empty()) RejectPath(relative, "an artifact needs a file name");
  try {
    ForPath(relative, [&] { uploads.AbortDirectUpload(key, upload_id); });
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInvalidParameterValue ||
        e.code() == ErrorCode::kResourceDoesNotExist) {
      throw;
    }
    Rethrow("aborting the multipart upload of artifact '" + std::string(relative) + "'", e);
  }
}

}  // namespace slipway::tracking
