// Content-addressed storage of dataset files.
//
// A ContentStore keeps immutable objects under one root folder, each named by
// the SHA-256 of its bytes (64 lowercase hex digits):
//
//   <root>/objects/<first 2 hex>/<remaining 62 hex>   one object, read-only
//   <root>/tmp/                                       objects being written
//   <root>/lock                                       see ContentStore::Open
//
// Files are cut into content-defined chunks (chunker.h) and each chunk is an
// object, so two versions of a dataset share the chunks they have in common.
// A FileManifest lists the chunks of one file, a TreeManifest the files of a
// folder; manifests are stored as objects too (their JSON text), so the
// digest of a manifest identifies a dataset version.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "data/chunker.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace slipway::data {

// Incremental SHA-256 (OpenSSL EVP). Not thread-safe; one per stream.
class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  // The digest of everything updated since construction or the last Finish;
  // the hasher then starts over.
  Digest Finish();

  // Lowercase hex of a whole buffer's digest.
  static std::string Hex(std::string_view data);

 private:
  EVP_MD_CTX* context_;
};

// 64 lowercase hex digits.
std::string ToHex(const Sha256::Digest& digest);

// True for 64 lowercase hex digits, the only digest form the store accepts.
bool IsValidDigest(std::string_view digest);

// One chunk of a file: the object `digest` holds bytes [offset, offset+size).
struct ChunkRef {
  std::string digest;
  uint64_t offset = 0;
  uint64_t size = 0;

  friend bool operator==(const ChunkRef&, const ChunkRef&) = default;
};

// The content of one file: its SHA-256, its size, and the chunks that
// reassemble it, in order, contiguous from offset 0.
struct FileManifest {
  std::string sha256;
  uint64_t size = 0;
  std::vector<ChunkRef> chunks;

  friend bool operator==(const FileManifest&, const FileManifest&) = default;
};

// One entry of a folder. `path` is relative, with forward slashes, and never
// contains empty, "." or ".." segments. A folder is listed only when it is
// empty (the others are implied by their files); it has no content.
struct TreeEntry {
  std::string path;
  bool is_dir = false;
  FileManifest file;  // empty for a folder

  friend bool operator==(const TreeEntry&, const TreeEntry&) = default;
};

// The content of a folder: its entries sorted by path (byte order), and a
// digest that identifies the content independently of how it was chunked:
// the SHA-256 of, for each entry in order, "F <sha256> <size> <path>\0" for
// a file or "D <path>\0" for a folder (see TreeDigest).
struct TreeManifest {
  std::vector<TreeEntry> entries;
  std::string digest;

  friend bool operator==(const TreeManifest&, const TreeManifest&) = default;
};

// What a dataset version points at: one file or one folder.
using Manifest = std::variant<FileManifest, TreeManifest>;

// The tree digest of `entries` (which must be sorted).
std::string TreeDigest(const std::vector<TreeEntry>& entries);

// JSON form of a manifest: {"version": 1, "kind": "file", "sha256", "size",
// "chunks": [{"digest", "offset", "size"}]} or {"version": 1, "kind": "tree",
// "digest", "entries": [{"path", "type": "file", "sha256", "size", "chunks"}
// | {"path", "type": "dir"}]}.
nlohmann::json ManifestToJson(const Manifest& manifest);
// Parses and checks everything a manifest promises (digest syntax, chunks
// contiguous and summing to the size, entry paths safe, sorted and unique, the
// tree digest); throws kInvalidParameterValue saying which field is wrong.
Manifest ManifestFromJson(const nlohmann::json& json);

// What an add did. "New" objects were not in the store before the add.
struct AddStats {
  uint64_t bytes_read = 0;
  uint64_t chunks_total = 0;
  uint64_t chunks_new = 0;
  uint64_t bytes_new = 0;
};

struct AddFileResult {
  FileManifest manifest;
  AddStats stats;
};

struct AddTreeResult {
  TreeManifest manifest;
  AddStats stats;
};

// Called with the bytes read so far and the bytes expected in all (the size
// when the add began), on the thread that called the add.
using ProgressCallback = std::function<void(uint64_t bytes_done, uint64_t bytes_total)>;

// A content-addressed object store in a local folder.
//
// Objects are immutable and written atomically: to a file in <root>/tmp/
// first, renamed into objects/ only when complete, so objects/ never holds a
// partial object, even if the process dies. The adds make their new objects
// durable (data, then the rename) before they return, so a caller may record
// a version right after. Reads verify the digest, so a corrupt object is
// reported, never returned.
//
// The store owns nothing but its folder; manifests are plain values owned by
// the caller. All methods are thread-safe, and several processes may use the
// same root at once (an object written twice is the same bytes either way).
// AddFile and AddTree use up to three threads of their own while they run.
class ContentStore {
 public:
  struct Options {
    Chunker::Options chunking;
    // Bytes per read() of a file being added; at least 2 * chunking.max_size.
    size_t read_size = size_t{8} << 20;
    // Make new objects durable before an add or PutBlob returns: one syncfs()
    // of the store's file system for all new objects, then the renames, then
    // an fsync of each objects/ folder that changed. Off only for tests and
    // benchmarks that measure something else.
    bool durable = true;
    // An add that has written this many new bytes makes them durable and
    // moves them into objects/ before it goes on, so tmp/ and the list of
    // pending objects stay bounded (such objects stay if the add then fails:
    // they are whole, merely unreferenced).
    uint64_t commit_every_bytes = uint64_t{4} << 30;
  };

  // Opens the store at `root`, creating its folders if needed. If no other
  // ContentStore (in any process) has the store open, deletes what
  // interrupted writes left in <root>/tmp/. Holds a shared lock on
  // <root>/lock while open. Throws kInvalidParameterValue for invalid
  // options or a root that cannot be created.
  static std::unique_ptr<ContentStore> Open(const std::filesystem::path& root);
  static std::unique_ptr<ContentStore> Open(const std::filesystem::path& root,
                                            const Options& options);
  ~ContentStore();
  ContentStore(const ContentStore&) = delete;
  ContentStore& operator=(const ContentStore&) = delete;

  const std::filesystem::path& root() const { return root_; }
  const Options& options() const { return options_; }

  // Where the object `digest` lives (whether or not it exists). Throws
  // kInvalidParameterValue unless `digest` is 64 lowercase hex digits.
  std::filesystem::path ObjectPath(std::string_view digest) const;

  bool Has(std::string_view digest) const;
  // The digests of `digests` that are not in the store, each once, in the
  // order given. Throws on the first invalid digest.
  std::vector<std::string> Missing(const std::vector<std::string>& digests) const;

  // Stores `bytes` as one object (if not there already) and returns its
  // digest.
  std::string PutBlob(std::string_view bytes);
  // The bytes of object `digest`: kResourceDoesNotExist if absent,
  // kInternalError naming the digest if its bytes do not hash to it.
  std::string ReadBlob(std::string_view digest) const;

  // Stores the file at `path`, chunked, in one read pass.
  // kResourceDoesNotExist if it does not exist, kInvalidParameterValue if it
  // is not a regular file or cannot be read. `before_commit`, when given, runs
  // once before the first new object becomes visible in objects/ (it may
  // wait); if it throws, the add deletes what it wrote and rethrows, so the
  // caller can check the file by other means while it is being stored.
  AddFileResult AddFile(const std::filesystem::path& path,
                        const ProgressCallback& progress = nullptr,
                        const std::function<void()>& before_commit = nullptr);

  // Stores every file under the folder `path`. Symbolic links are followed
  // when they point to a file inside the folder; links that point outside it,
  // to a folder, or nowhere, and special files (devices, FIFOs, sockets) are
  // refused with kInvalidParameterValue naming them. The store's own root is
  // skipped if it lies inside the folder.
  AddTreeResult AddTree(const std::filesystem::path& path,
                        const ProgressCallback& progress = nullptr);

  // Stores a manifest (its ManifestToJson text) as an object; returns its
  // digest, which identifies the dataset version.
  std::string PutManifest(const Manifest& manifest);
  // The manifest stored as `digest`: kResourceDoesNotExist if absent,
  // kInvalidParameterValue if the object is not a valid manifest.
  Manifest GetManifest(std::string_view digest) const;

  // Writes the file described by `manifest` to `out_path` (through a temp
  // file beside it, renamed into place once its SHA-256 checked out), or the
  // folder described by a TreeManifest to `out_path` (through a temp folder
  // beside it; `out_path` must not exist or be an empty folder). Entry paths
  // that are absolute, contain "..", or would land outside `out_path` are
  // refused with kInvalidParameterValue naming the path; a missing chunk is
  // kResourceDoesNotExist naming its digest.
  void Materialize(const FileManifest& manifest, const std::filesystem::path& out_path) const;
  void Materialize(const TreeManifest& manifest, const std::filesystem::path& out_path) const;
  void Materialize(const Manifest& manifest, const std::filesystem::path& out_path) const;

 private:
  class Ingest;

  ContentStore(std::filesystem::path root, const Options& options, int root_fd, int lock_fd);

  void WriteFileFromChunks(const FileManifest& manifest, const std::filesystem::path& out_path,
                           const std::string& shown_name) const;

  const std::filesystem::path root_;
  const std::filesystem::path objects_;
  const std::filesystem::path tmp_;
  const Options options_;
  const int root_fd_;  // for syncfs()
  const int lock_fd_;  // holds the shared lock on <root>/lock
};

}  // namespace slipway::data
