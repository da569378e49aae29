// Blobs as files in a local folder: the one-machine BlobStore.
//
// The key "a/b/c" is the file <root>/a/b/c. Keys are checked by the shared
// rules (blob_store.h) before any file call, and the resolved path must
// still lie under the root once symbolic links are followed: a link inside
// the root that points out of it is refused like a ".." segment. (A link
// swapped in between that check and the open could still be followed; only
// someone who can already write inside the root can do that.)
//
// A write goes to a temporary file beside the target
// (".<name>.slipway-tmp-<pid>-<n>"; keys cannot contain the marker, and
// listings skip such files), optionally pushed to the disk as it grows
// (WriterOptions::write_back_bytes). Publish stamps its modification time
// (a blob's modified_ms is its publication), fdatasyncs it, renames it over
// the target and fsyncs the folder. rename(2) within a folder is atomic, so
// a reader opens the old file or the new one, never a part; a killed writer
// leaves only a temporary file nobody lists, which SweepAbandoned deletes
// once it is older than the caller's cutoff.
//
// Folders exist only while a blob is under them, as in S3: a put makes the
// folders of its key (and, when syncing, fsyncs the folder above each one
// it made, so a published blob is not lost with a new folder), and a delete
// removes the folders it leaves empty (so a listing never shows an empty
// folder). A put racing such a removal makes the folder again. A folder and
// a blob cannot share a name ("a" as a blob and "a/b"), which S3 would
// allow: such a put is INVALID_PARAMETER_VALUE.
//
// Deletes are durable too: the folder that held the removed entry is
// fsync'ed before Delete returns. Thread-safe, and safe between processes
// sharing a root (all coordination is by rename and the file system).
#pragma once

#include <filesystem>
#include <memory>

#include "blob/blob_store.h"

namespace slipway::blob {

class LocalBlobStore final : public BlobStore {
 public:
  struct Options {
    // Created, with its parents, if missing.
    std::filesystem::path root;
    // fdatasync and folder fsync on publish and delete. Off only for tests
    // and benchmarks that measure something else: without it a power cut
    // can lose a published blob.
    bool sync = true;
  };

  // Throws INTERNAL_ERROR when the root cannot be made.
  static std::unique_ptr<LocalBlobStore> Create(Options options);

  // The root folder, absolute and free of symbolic links.
  const std::filesystem::path& root() const { return root_; }

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

 private:
  LocalBlobStore(std::filesystem::path root, bool sync) : root_(std::move(root)), sync_(sync) {}

  // The file of a checked key, after the symbolic-link check.
  std::filesystem::path PathOf(std::string_view key) const;
  // Whether the symbolic link `link` resolves to somewhere under the root.
  bool LinkStaysInside(const std::filesystem::path& link) const;
  // Makes the folders of `key` (each segment but the last), syncing the
  // folder above each one it made.
  void MakeFolders(std::string_view key) const;
  // The folder of a folder prefix ("" or ending in '/'), after the checks.
  std::filesystem::path FolderOf(std::string_view folder, const char* what) const;
  // After a removal in `folder`: removes it and its ancestors while they
  // are empty, then syncs the first one that stays.
  void PruneAndSync(std::filesystem::path folder) const;
  // Appends the blobs (and, unless recursive, the folders) under `folder`
  // whose names start with `name_start`; `key_of_folder` is its key.
  void Collect(const std::filesystem::path& folder, const std::string& key_of_folder,
               std::string_view name_start, bool recursive, std::vector<ListEntry>& out) const;

  const std::filesystem::path root_;
  const bool sync_;
};

}  // namespace slipway::blob
