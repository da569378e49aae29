// Blob storage: named byte strings under one root, the only way Slipway
// reaches artifact and dataset bytes.
//
// A BlobStore holds blobs addressed by keys: '/'-separated strings relative
// to the store's root ("1/<run_id>/artifacts/model/MLmodel"), never file
// paths. The interface is what a local folder and an S3-compatible bucket
// can both do well, so a backend is chosen once, in the composition root
// (app::App), and nothing above it knows which one it got:
//
//   BlobStore          local folder (LocalBlobStore)     S3 (blob/s3/)
//   OpenWriter/Publish temp file, fdatasync, rename,     multipart upload;
//                      fsync of the folder               CompleteMultipartUpload
//   ~BlobWriter        temp file deleted                 AbortMultipartUpload
//   Open/ReadAt        open + pread                      HEAD, then ranged GETs
//                                                        (If-Match on the ETag)
//   List               directory walk, sorted            ListObjectsV2 (Prefix,
//                                                        Delimiter "/", StartAfter)
//   Delete/DeletePrefix unlink / remove the folder       DeleteObject(s)
//   SweepAbandoned     old temporary files deleted       AbortMultipartUpload of
//                                                        stale uploads
//   MakeDurable        fsync of the folder               nothing (visible is
//                                                        durable)
//
// Publication is atomic: a blob becomes visible whole, in one step, when its
// writer publishes it; until then readers see the old content or nothing,
// and a writer abandoned (an exception, a cut-short upload, a killed
// process) leaves no visible key. Once Publish returns, the blob survives a
// crash or power cut.
//
// Keys follow one set of rules in every backend (KeyProblem below), so a key
// one backend accepts the other does too, and no key can name anything
// outside the root: no absolute keys, no "." or ".." or empty segments, no
// backslashes (Windows clients mean them as separators), no NUL.
//
// Errors are slipway::Error: KeyError (INVALID_PARAMETER_VALUE) for a key
// the rules refuse or one the backend cannot hold (a blob where a key needs
// a folder),
// StorageUnavailable (TEMPORARILY_UNAVAILABLE) when remote storage did not
// answer or answered only with errors of its own after the retries (those
// messages name the storage and the request, never a server path nor a
// credential, so callers may pass them on), INTERNAL_ERROR for other I/O
// failures (those messages may name server paths: callers that answer
// clients say what failed in their own words). Absence is not an error:
// Stat and Open return nothing, Delete returns false.
//
// Every BlobStore method is thread-safe, also against other processes on the
// same root (the server and a CLI command). A BlobWriter is used by one
// thread at a time; a BlobReader's ReadAt may be called from several threads
// at once (pread, or independent ranged GETs), so a reader can be cached and
// shared. Neither may outlive its store.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace slipway::blob {

// The longest key and the longest segment of one. 1024 is S3's key limit;
// 200 leaves room in a local file name (255 bytes) for the temporary name
// a write uses.
inline constexpr size_t kMaxKeyBytes = 1024;
inline constexpr size_t kMaxSegmentBytes = 200;

// Names containing this are the local store's temporary files; keys may not
// contain it, so a temporary file is never mistaken for a blob.
inline constexpr std::string_view kTemporaryMarker = ".slipway-tmp-";

// Why `key` is not a valid blob key, or empty when it is.
std::string KeyProblem(std::string_view key);

// INVALID_PARAMETER_VALUE for a key: one the rules refuse, or one the
// backend cannot hold. The message is "Invalid blob key '<key>': <reason>";
// reason() alone lets a caller say it in its own words.
class KeyError : public Error {
 public:
  KeyError(std::string_view key, std::string reason);
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

// Throws KeyError unless `key` is valid.
void CheckKey(std::string_view key);

// TEMPORARILY_UNAVAILABLE: the storage behind a BlobStore (S3) gave no
// answer (unreachable, timed out, connection reset) or only server errors
// (5xx, 429) after its retries; the same call may succeed later. The
// message says which request failed and how ("S3 PUT s3://bucket/key: 503
// SlowDown: ..."), and is safe to show to a client.
class StorageUnavailable : public Error {
 public:
  explicit StorageUnavailable(std::string message)
      : Error(ErrorCode::kTemporarilyUnavailable, std::move(message)) {}
};

struct BlobInfo {
  std::string key;
  uint64_t size = 0;
  int64_t modified_ms = 0;  // last publication, milliseconds since the epoch
};

// Streams a blob in. Append as often as needed, then Publish once to make
// the whole blob visible under its key (replacing an older one). Destroyed
// without Publish, or after Publish threw, it leaves nothing behind. After
// an Append threw, the writer is broken (how much of that append arrived is
// unknown): Publish throws, so a blob is never published with a hole.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual void Append(const void* data, size_t size) = 0;
  virtual void Publish() = 0;
  // Bytes appended so far.
  virtual uint64_t size() const = 0;
};

// One published version of a blob, read by ranges. A reader keeps reading
// the version it opened even if the key is replaced or deleted meanwhile,
// so a download is never a mix of two versions. ReadAt is thread-safe.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual const BlobInfo& info() const = 0;
  // Appends up to `max` bytes starting at `offset` to `out` and returns how
  // many it appended: fewer only at the end of the blob, 0 past it.
  virtual size_t ReadAt(uint64_t offset, size_t max, std::string& out) = 0;
};

struct ListOptions {
  // Keys that start with this. A prefix is a folder ("1/run/artifacts/"),
  // a folder and the start of a name ("1/run/artifacts/mo"), or empty.
  std::string prefix;
  // false: only what lies directly under the prefix's folder, each deeper
  // folder reported once as a prefix entry ending in '/' (S3's Delimiter
  // "/" and CommonPrefixes). true: every blob at any depth.
  bool recursive = false;
  // Only entries whose key sorts after this (the last key of the previous
  // page); empty for the first page.
  std::string start_after;
  size_t max_entries = 1000;
};

struct ListEntry {
  std::string key;         // a blob's key, or a folder's ending in '/'
  bool is_prefix = false;  // a folder (only when not recursive)
  uint64_t size = 0;       // of a blob
};

struct ListPage {
  std::vector<ListEntry> entries;  // sorted by key, byte order (as S3)
  // Non-empty when more entries follow: pass it as the next start_after.
  std::string next_start_after;
};

struct WriterOptions {
  // Start moving what was appended towards durable storage every this many
  // bytes, without waiting for it, so that Publish finds little left to do
  // and the storage works while the caller goes on producing bytes. Local:
  // sync_file_range(SYNC_FILE_RANGE_WRITE) of the last this-many bytes (only
  // when the store syncs at all); S3: the part size of the multipart upload.
  // 0: the backend's default (local: nothing before Publish).
  uint64_t write_back_bytes = 0;
};

// Pull-style source of bytes for Put: fills up to `capacity` bytes of
// `buffer` and returns how many, 0 at the end.
using BlobSource = std::function<size_t(char* buffer, size_t capacity)>;

// A multipart upload whose parts the client sends straight to storage, by
// URLs the store signed (MLflow's proxied multipart upload: the server
// creates and completes the upload, the bytes never pass through it).
struct DirectPart {
  int number = 0;                              // 1-based, as S3 numbers parts
  std::string url;                             // where the client PUTs the part's bytes
  std::map<std::string, std::string> headers;  // to send with them
};
struct DirectUpload {
  std::string upload_id;
  std::vector<DirectPart> parts;
};
struct UploadedPart {
  int number = 0;
  std::string etag;  // as storage answered the part's PUT
};

// What a store that supports direct uploads does (BlobStore::direct_uploads).
// The blob becomes visible whole at Complete, as with a BlobWriter; an
// upload never completed leaves nothing visible (Abort, or SweepAbandoned
// once it is old). Thread-safe.
class DirectUploads {
 public:
  virtual ~DirectUploads() = default;
  // Starts an upload of `parts` parts (1 to 10000) to `key`, with URLs
  // valid for `valid_for`.
  virtual DirectUpload BeginDirectUpload(std::string_view key, int parts,
                                         std::chrono::seconds valid_for) = 0;
  // Publishes the parts, in the order given, as the blob `key`.
  // INVALID_PARAMETER_VALUE when storage refuses the list (a part missing
  // or too small, a wrong ETag); RESOURCE_DOES_NOT_EXIST for an unknown or
  // finished upload.
  virtual void CompleteDirectUpload(std::string_view key, const std::string& upload_id,
                                    const std::vector<UploadedPart>& parts) = 0;
  // Drops the upload and every part sent; RESOURCE_DOES_NOT_EXIST for an
  // unknown or finished upload.
  virtual void AbortDirectUpload(std::string_view key, const std::string& upload_id) = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Where the blobs live, for logs ("file:///srv/artifacts").
  virtual std::string Describe() const = 0;

  // A writer for `key`. The key is checked here, before any byte is taken.
  virtual std::unique_ptr<BlobWriter> OpenWriter(std::string_view key,
                                                 const WriterOptions& options) = 0;
  std::unique_ptr<BlobWriter> OpenWriter(std::string_view key) { return OpenWriter(key, {}); }

  // The published blob under `key`, or null when there is none.
  virtual std::unique_ptr<BlobReader> Open(std::string_view key) = 0;

  virtual std::optional<BlobInfo> Stat(std::string_view key) = 0;

  // One page of what lies under options.prefix.
  virtual ListPage List(const ListOptions& options) = 0;

  // Removes the blob under `key`; false when there was none.
  virtual bool Delete(std::string_view key) = 0;

  // Removes every blob whose key starts with `folder`, which must end in
  // '/' (a whole store is never deleted by accident: "" is refused).
  // Returns how many blobs it removed.
  virtual uint64_t DeletePrefix(std::string_view folder) = 0;

  // Removes what writers left under `folder` (a folder ending in '/', or ""
  // for the whole store) that were neither published nor abandoned cleanly
  // (a killed process, a power cut), when their last write is older than
  // `cutoff_ms` (milliseconds since the epoch). No lock is needed: a writer
  // still at work wrote recently, and one that was idle longer than the
  // cutoff and swept anyway fails its Publish rather than publishing less.
  // Local: temporary files; S3: AbortMultipartUpload of the uploads under
  // the prefix initiated before the cutoff (what a bucket lifecycle rule
  // "abort incomplete multipart uploads after N days" does). Returns how
  // many it removed.
  virtual uint64_t SweepAbandoned(std::string_view folder, int64_t cutoff_ms) = 0;

  // Makes durable the publishes and deletes directly under `folder` (ending
  // in '/', or "" for the top) that a listing may already show: another
  // process's blob becomes visible a moment before its publication is
  // durable, and a caller about to build on it (record that it holds
  // something) must not depend on what a crash could undo. Local: fsync of
  // the folder; S3: nothing, a visible object is durable.
  virtual void MakeDurable(std::string_view folder) = 0;

  // Uploads whose bytes go straight to storage, or null when the backend
  // has none (a local folder: its bytes must pass through this process).
  virtual DirectUploads* direct_uploads() { return nullptr; }

  // Conveniences over the methods above.

  // `bytes` as the whole blob `key`, published.
  void Put(std::string_view key, std::string_view bytes);
  // Everything `source` yields as the blob `key`, published once `source`
  // reports its end; an exception from `source` publishes nothing.
  void Put(std::string_view key, const BlobSource& source);
  // `length` bytes of `key` from `offset` (fewer at the end; all the rest
  // by default), or nothing when there is no such blob.
  std::optional<std::string> Get(std::string_view key, uint64_t offset = 0,
                                 uint64_t length = UINT64_MAX);
  // Every page of List, concatenated.
  std::vector<ListEntry> ListAll(ListOptions options);
};

}  // namespace slipway::blob
