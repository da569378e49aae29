// Blobs as objects in an S3-compatible bucket: the BlobStore for more than
// one machine (issue 16).
//
// The key "a/b/c" is the object "<prefix>a/b/c" of the bucket, where the
// prefix is the store's root inside it ("s3://bucket/slipway" has the
// prefix "slipway/"). Keys follow the shared rules (blob_store.h) before
// any request, so a key that the local store accepts is accepted here too;
// one difference remains, in S3's favour: a blob and a folder may share a
// name ("a" and "a/b"), which a local folder cannot hold.
//
// How each promise of BlobStore is kept:
// - Atomic publication. A writer buffers one part (WriterOptions::
//   write_back_bytes, at least Options::min_part_bytes, 8 MiB by default).
//   A blob that stays under one part is one PUT at Publish; a larger one is
//   a multipart upload whose parts are sent as they fill, and Publish is
//   CompleteMultipartUpload. Either way S3 shows the object whole, in one
//   step, and an object already there stays until then. A writer destroyed
//   unpublished sends AbortMultipartUpload; one killed leaves an incomplete
//   upload that no listing or read shows, which SweepAbandoned aborts.
//   Parts are sent from Append, on the caller's thread (not in the
//   background yet).
// - Readers pinned to a version. Open is a HEAD; a blob up to
//   Options::cached_bytes is then read whole at once, with If-Match on the
//   ETag, and served from memory, so it keeps its version whatever happens
//   to the key. A larger blob is read by ranged GETs: pinned to the
//   version id where the bucket keeps versions, else conditional on the
//   ETag (If-Match), so a read after the key was replaced or deleted fails
//   (INTERNAL_ERROR: "... changed while it was being read") instead of
//   mixing two versions. Without bucket versioning that is the most S3 can
//   do.
// - List is ListObjectsV2 (Prefix, Delimiter "/" unless recursive,
//   StartAfter, MaxKeys); folders are S3's CommonPrefixes. Objects under the
//   root whose names are not valid keys (written by someone else) are
//   skipped.
// - Delete is a HEAD (to answer whether there was a blob) then a
//   DeleteObject; DeletePrefix lists and sends DeleteObjects per 1000 keys.
// - SweepAbandoned aborts the multipart uploads under the folder that were
//   initiated before the cutoff (S3 tells when an upload began, not when it
//   was last written to: what a bucket's lifecycle rule does).
// - MakeDurable has nothing to do: an object S3 shows is durable.
// - Direct uploads (DirectUploads) are S3's multipart uploads whose
//   UploadPart requests are presigned URLs (SigV4 in the query): the
//   client PUTs each part to S3 itself, and CompleteMultipartUpload
//   publishes the object, as MLflow's S3 artifact repository does.
// - modified_ms is S3's Last-Modified (HEAD gives whole seconds).
//
// Errors: KeyError for bad keys as everywhere; INTERNAL_ERROR naming the
// request, bucket, key and S3's error code for anything S3 refused or did
// not answer (after the client's retries, s3_client.h); never credentials.
// Thread-safe; readers may be shared between threads.
#pragma once

#include <memory>
#include <string>

#include "blob/blob_store.h"
#include "blob/s3/s3_client.h"

namespace slipway::blob {

// "s3://bucket/some/prefix" split into the bucket and the root prefix
// ("some/prefix/", or "" for the whole bucket).
struct S3Location {
  std::string bucket;
  std::string prefix;
};
bool IsS3Uri(std::string_view uri);
// Throws INVALID_PARAMETER_VALUE for a malformed URI (no bucket, a prefix
// that is not a valid key).
S3Location ParseS3Uri(std::string_view uri);

class S3BlobStore final : public BlobStore, public DirectUploads {
 public:
  struct Options {
    // The bucket, endpoint, region, credentials, timeouts and retries
    // (the bucket is set from `location` by Create).
    s3::ClientOptions client;
    S3Location location;
    // Part size unless a writer asks for more; S3 refuses parts under
    // 5 MiB (but the last).
    uint64_t part_bytes = uint64_t{8} << 20;
    uint64_t min_part_bytes = uint64_t{5} << 20;
    // Blobs up to this size are read whole on Open (see above).
    uint64_t cached_bytes = uint64_t{1} << 20;
  };

  // Throws INVALID_PARAMETER_VALUE for bad options (client options, see
  // s3::Client::Create). Sends nothing: a bucket that does not exist or
  // refuses the credentials fails the first call.
  static std::unique_ptr<S3BlobStore> Create(Options options);

  // Checks that the bucket answers to the credentials (one listing of at
  // most one key); throws INTERNAL_ERROR saying what S3 answered.
  void CheckReachable();

  std::string Describe() const override;
  using BlobStore::OpenWriter;
  std::unique_ptr<BlobWriter> OpenWriter(std::string_view key,
                                         const WriterOptions& options) override;
  std::unique_ptr<BlobReader> Open(std::string_view key) override;
  std::optional<BlobInfo> Stat(std::string_view key) override;
  ListPage List(const ListOptions& options) override;
  bool Delete(std::string_view key) override;
  uint64_t DeletePrefix(std::string_view folder) override;
  uint64_t SweepAbandoned(std::string_view folder, int64_t cutoff_ms) override;
  void MakeDurable(std::string_view folder) override;
  DirectUploads* direct_uploads() override { return this; }

  DirectUpload BeginDirectUpload(std::string_view key, int parts,
                                 std::chrono::seconds valid_for) override;
  void CompleteDirectUpload(std::string_view key, const std::string& upload_id,
                            const std::vector<UploadedPart>& parts) override;
  void AbortDirectUpload(std::string_view key, const std::string& upload_id) override;

  s3::Client& client() { return *client_; }
  const S3Location& location() const { return options_.location; }

 private:
  struct Head {
    BlobInfo info;
    std::string etag;
    std::string version_id;
  };
  S3BlobStore(Options options, std::unique_ptr<s3::Client> client)
      : options_(std::move(options)), client_(std::move(client)) {}
  std::string ObjectKey(std::string_view key) const {
    return options_.location.prefix + std::string(key);
  }
  std::optional<Head> HeadOf(std::string_view key);

  const Options options_;
  std::unique_ptr<s3::Client> client_;
};

}  // namespace slipway::blob
