// Artifacts (files of runs and logged models) as blobs.
//
// ArtifactStore maps artifact paths given by clients, such as
// "1/<run_id>/artifacts/model/MLmodel", to keys of the BlobStore that holds
// the artifact root (a local folder today, a bucket later: the composition
// root chooses). Every path is checked before use: absolute paths, `..`
// segments, backslashes and NUL bytes are rejected with
// INVALID_PARAMETER_VALUE; empty and `.` segments are dropped, as MLflow
// does ("a/./b//c" is "a/b/c"). The blob store checks the key again and
// keeps it under its root. Writes are published whole, so a reader never
// sees a half-written artifact, and an upload cut short leaves nothing.
//
// Messages name the artifact as the client gave it, never the server's
// folders: a failure of the storage is TEMPORARILY_UNAVAILABLE saying
// which artifact and what storage answered (blob::StorageUnavailable,
// S3's words, no secrets); any other failure is INTERNAL_ERROR naming the
// artifact only, its cause written to the server's log.
//
// Multipart uploads (MLflow's proxied multipart upload) exist only where
// the blob store can take parts straight from the client
// (blob::BlobStore::direct_uploads, S3): the client PUTs each part to a
// presigned URL, and completing publishes the artifact whole. On a local
// folder they are NOT_IMPLEMENTED with MLflow's own message, on which
// MLflow's client falls back to one PUT through the proxy.
//
// The top-level folder ".slipway" of the root is not an artifact: when the
// root is a bucket, the server keeps its datasets and prediction log
// there (app::App), so no artifact path may name it.
//
// Thread-safe (the blob store is). Does not own the blob store.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "blob/blob_store.h"

namespace slipway::tracking {

struct ArtifactEntry {
  std::string path;  // the entry's name within the listed folder
  bool is_dir = false;
  int64_t file_size = 0;
};

class ArtifactStore {
 public:
  // `blobs` holds the artifact root and must outlive this store.
  explicit ArtifactStore(blob::BlobStore& blobs) : blobs_(blobs) {}

  // Where the artifacts live, for logs.
  std::string location() const { return blobs_.Describe(); }

  // The blob key of `relative`, after the checks above; "" is the root.
  std::string KeyOf(std::string_view relative) const;

  // Streams a new artifact in. `source` is called once with a sink that
  // appends bytes to the file; it returns true when it delivered the whole
  // content, false when the upload was cut short (then nothing is kept).
  void Write(std::string_view relative,
             const std::function<bool(const std::function<void(const char*, size_t)>&)>& source);

  // The artifact's content, read by ranges; RESOURCE_DOES_NOT_EXIST when
  // there is no artifact (a folder is none) at `relative`.
  std::unique_ptr<blob::BlobReader> Open(std::string_view relative) const;

  // Entries directly in the folder `relative` (empty if it does not exist),
  // sorted by name; `path` of each entry is its name only.
  std::vector<ArtifactEntry> List(std::string_view relative) const;

  // Removes a file or a whole folder; RESOURCE_DOES_NOT_EXIST if absent.
  void Delete(std::string_view relative);

  // Whether multipart uploads are supported (see above).
  bool SupportsMultipartUpload() const { return blobs_.direct_uploads() != nullptr; }
  // Begins a multipart upload of `num_parts` parts to the artifact
  // `relative`: its id and one presigned URL per part.
  blob::DirectUpload CreateMultipartUpload(std::string_view relative, int64_t num_parts);
  // Publishes the parts (numbers and ETags as the client's PUTs got them).
  void CompleteMultipartUpload(std::string_view relative, const std::string& upload_id,
                               const std::vector<blob::UploadedPart>& parts);
  // Drops an upload and the parts it received.
  void AbortMultipartUpload(std::string_view relative, const std::string& upload_id);

 private:
  blob::DirectUploads& DirectUploadsOrThrow() const;

  blob::BlobStore& blobs_;
};

// The first segment of the artifact root that holds no artifacts.
inline constexpr std::string_view kReservedArtifactFolder = ".slipway";

}  // namespace slipway::tracking
