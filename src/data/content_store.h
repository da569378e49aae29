// Content-addressed storage of dataset files.
//
// A ContentStore keeps immutable objects as blobs of one blob::BlobStore
// (the only way it reaches storage), each object named by the SHA-256 of its
// bytes (64 lowercase hex digits). Its keys:
//
//   packs/<name>.pack   the chunks one add stored, back to back
//   packs/<name>.idx    which chunk lies where in <name>.pack
//   objects/<first 2 hex>/<remaining 62 hex>
//                       one object stored on its own ("loose"): manifests
//                       and objects put one at a time
//
// With the local blob store these are files under the store's folder (the
// layout stores written before the blob store had, so they open unchanged).
//
// Files are cut into content-defined chunks (chunker.h) and each chunk is an
// object, so two versions of a dataset share the chunks they have in common.
// An add writes its new chunks into one pack file rather than one file per
// chunk: a gigabyte is about 13,000 chunks, and creating that many files costs
// more than writing the bytes (ext4 without a journal slows to about a
// millisecond per file after many deletes; a backup or rsync of the store pays
// per file too). This is the layout git and restic chose for the same reason.
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
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "blob/blob_store.h"
#include "core/sha256.h"
#include "data/chunker.h"

namespace slipway::core {
class Executor;
}

namespace slipway::data {

// True for 64 lowercase hex digits, the only digest form the store accepts.
bool IsValidDigest(std::string_view digest);

// The digest written as `hex`, which must be valid (IsValidDigest).
Sha256::Digest FromHex(std::string_view hex);

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

// A content-addressed object store on a blob store.
//
// Objects are immutable and published atomically. An add appends its new
// chunks to a pack blob named when it starts (a random name: an S3 multipart
// upload needs its key first), pushing it to storage as it grows; publishing
// the pack (Commit) makes it durable, then publishes its index as a second
// blob: a pack counts only once its index is there, so an add that dies
// leaves no half version. What it did leave (an unpublished write, a pack
// without an index) is deleted by SweepAbandoned once it is older than
// Options::abandoned_after_ms, which needs no lock: the age tells a dead write
// from a live one. A loose object is one blob. The adds make their objects
// durable before they return, so a caller may record a version right after.
// Reads verify the digest, so a corrupt object is reported, never returned.
//
// Because packs are not named by their content, two processes that store
// the same bundle at the same moment (a retried push racing the first try)
// publish two packs holding the same objects: readers use either, and the
// cost is the space of one bundle. (Naming packs by the digest of their
// index deduplicated that, but needs the whole pack before its key.)
//
// The store owns its blob store and a scratch folder; manifests are plain
// values owned by the caller. All methods are thread-safe, and several
// processes may use the same blobs at once: each add writes its own pack, an
// object written twice is the same bytes either way, and a lookup that
// misses reads the indexes of packs other processes published since. AddFile
// and AddTree hash on Options::executor as well as on the caller's thread
// (at most three of its threads per add); they start no thread.
class ContentStore {
  class Ingest;  // what one add or ObjectWriter writes (content_store.cc)

 public:
  struct Options {
    Chunker::Options chunking;
    // Bytes per read() of a file being added; at least 2 * chunking.max_size.
    size_t read_size = size_t{8} << 20;
    // New objects are durable before an add or PutBlob returns when the
    // blob store syncs (LocalBlobStore::Options::sync; Open(root, ...) sets
    // it from this). Here it also asks the pack writer to push the pack to
    // storage as it grows. Off only for tests and benchmarks that measure
    // something else.
    bool durable = true;
    // An add that has written this many new bytes publishes its pack and
    // starts another before it goes on, so an unpublished write stays
    // bounded (such objects stay if the add then fails: they are whole,
    // merely unreferenced).
    uint64_t commit_every_bytes = uint64_t{4} << 30;
    // A write unpublished this long after its last byte, or a pack without
    // its index this long after it was published, was abandoned (a killed
    // process): SweepAbandoned deletes it. Far longer than any pause of a
    // live writer (a pull's pack waits at most one request between puts;
    // an add's pack waits for the file's profile before it is published).
    int64_t abandoned_after_ms = int64_t{60} * 60 * 1000;
    // A local folder for what must be a file to be read (a version
    // materialized to be validated: DatasetService). The store deletes what
    // it holds longer than abandoned_after_ms. Empty: the system's temporary
    // folder, never swept. Open(root, ...) uses <root>/tmp.
    std::filesystem::path scratch_folder;
    // A local folder AddTree leaves out (the store's own, when a project
    // keeps its store inside the folder being added). Open(root, ...) sets
    // it to root.
    std::filesystem::path own_folder;
    // Where an add hashes while the caller reads: the data pipeline's
    // executor, which the composition root (app::App) owns and which must
    // outlive the store. Shared with other adds and profiles; an add never
    // waits for work queued there (data/task_group.h), so a busy executor
    // slows it, never stops it. Null: everything on the caller's thread.
    core::Executor* executor = nullptr;
  };

  // Where the bytes of an object lie: the whole blob `key` (a loose
  // object), or `size` bytes at `offset` of the pack blob `key`.
  struct Location {
    std::string key;
    uint64_t offset = 0;
    uint64_t size = 0;
    bool packed = false;
  };

  // The store on `blobs`: reads the pack indexes, then sweeps abandoned
  // writes (SweepAbandoned). Throws kInvalidParameterValue for invalid
  // options, kInternalError naming the key for a pack index that is corrupt.
  static std::unique_ptr<ContentStore> Open(std::unique_ptr<blob::BlobStore> blobs,
                                            const Options& options);
  // The store in the local folder `root` (a LocalBlobStore there, syncing
  // when options.durable, and scratch space in <root>/tmp unless
  // options.scratch_folder says otherwise): what the CLI's workspace and
  // the tests use. kInvalidParameterValue for a root that cannot be made.
  static std::unique_ptr<ContentStore> Open(const std::filesystem::path& root);
  static std::unique_ptr<ContentStore> Open(const std::filesystem::path& root,
                                            const Options& options);
  ~ContentStore();
  ContentStore(const ContentStore&) = delete;
  ContentStore& operator=(const ContentStore&) = delete;

  const Options& options() const { return options_; }
  // Options::scratch_folder, made if missing.
  const std::filesystem::path& scratch_folder() const { return scratch_; }

  // Deletes what interrupted writes left, by age (Options::abandoned_after_ms):
  // unpublished writes, packs without an index, old scratch files; and pack
  // indexes whose pack is gone (a damaged store: dropping the index lets
  // adds store those objects again). Safe while other processes use the
  // store. Open runs it, and the server's App every hour.
  // Returns how many things it deleted.
  uint64_t SweepAbandoned();

  // Where the object `digest` is stored, if it is. Throws
  // kInvalidParameterValue unless `digest` is 64 lowercase hex digits (so
  // no digest names a path outside the store).
  std::optional<Location> Locate(std::string_view digest) const;

  bool Has(std::string_view digest) const;
  // The digests of `digests` that are not in the store, each once, in the
  // order given. Throws on the first invalid digest.
  std::vector<std::string> Missing(const std::vector<std::string>& digests) const;

  // Stores `bytes` as one loose object (if not there already) and returns
  // its digest.
  std::string PutBlob(std::string_view bytes);
  // The bytes of object `digest`: kResourceDoesNotExist if absent,
  // kInternalError naming the digest if its bytes do not hash to it.
  std::string ReadBlob(std::string_view digest) const;

  // Stores the file at `path`, chunked, in one read pass.
  // kResourceDoesNotExist if it does not exist, kInvalidParameterValue if it
  // is not a regular file or cannot be read. `before_commit`, when given, runs
  // once before the first new object is published (it may wait); if it
  // throws, the add deletes what it wrote and rethrows, so the caller can
  // check the file by other means while it is being stored.
  AddFileResult AddFile(const std::filesystem::path& path,
                        const ProgressCallback& progress = nullptr,
                        const std::function<void()>& before_commit = nullptr);

  // Stores every file under the folder `path`. Symbolic links are followed
  // when they point to a file inside the folder; links that point outside it,
  // to a folder, or nowhere, and special files (devices, FIFOs, sockets) are
  // refused with kInvalidParameterValue naming them. Options::own_folder is
  // skipped if it lies inside the folder.
  AddTreeResult AddTree(const std::filesystem::path& path,
                        const ProgressCallback& progress = nullptr);

  // Stores objects that arrive one by one from elsewhere (a push, a pull)
  // into one pack, published by Commit; what is not committed is deleted
  // when the writer goes. Put is thread-safe.
  class ObjectWriter {
   public:
    explicit ObjectWriter(ContentStore* store);
    ~ObjectWriter();
    ObjectWriter(const ObjectWriter&) = delete;
    ObjectWriter& operator=(const ObjectWriter&) = delete;

    // Stores `bytes` unless the store has them. kInvalidParameterValue if
    // they do not hash to `digest`; `what` names the object in that error.
    void Put(std::string_view digest, std::string_view bytes, const std::string& what);
    // Publishes what Put stored (durably, as an add does) and returns what
    // was new.
    AddStats Commit();

   private:
    std::unique_ptr<Ingest> ingest_;
  };

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
  class PackReaders;

  // Where a packed object lies: pack number (into pack_names_), offset, size.
  struct PackedObject {
    uint32_t pack = 0;
    uint64_t offset = 0;
    uint64_t size = 0;
  };
  // One line of a pack index.
  struct IndexEntry {
    Sha256::Digest digest;
    uint64_t offset = 0;
    uint64_t size = 0;
  };
  struct DigestHash {
    size_t operator()(const Sha256::Digest& digest) const;
  };

  ContentStore(std::unique_ptr<blob::BlobStore> blobs, const Options& options,
               std::filesystem::path scratch);

  // "the store <what Describe says>", for messages.
  std::string Where() const;

  static std::string LooseKey(std::string_view digest);
  static std::string PackKey(const std::string& name);
  static std::string IndexKey(const std::string& name);
  // A name no other pack has, for a pack about to be written.
  static std::string NewPackName();

  bool HasLoose(std::string_view digest) const;
  // The packed object `digest`, looking only at the indexes loaded so far.
  std::optional<Location> FindPacked(const Sha256::Digest& digest) const;
  // Loads the indexes of packs published since the last call (by this or
  // another process). Returns whether it found any.
  bool LoadNewPacks() const;
  // Registers a pack this process has just published.
  void AddPack(const std::string& name, const std::vector<IndexEntry>& entries) const;
  // Publishes the pack `pack` named `name` holding `entries`, then its index;
  // see Ingest::Commit. On failure nothing is published.
  void PublishPack(std::unique_ptr<blob::BlobWriter> pack, const std::string& name,
                   std::vector<IndexEntry> entries);
  // The bytes of a pack index: "SLWIDX01", the entry count (u64), the
  // entries sorted by digest (32-byte digest, u64 offset, u64 size), then the
  // SHA-256 of all that; integers little-endian.
  static std::string EncodePackIndex(const std::vector<IndexEntry>& entries);
  // Parses a pack index read from `key`; kInternalError naming it if it is
  // torn or corrupt.
  static std::vector<IndexEntry> DecodePackIndex(std::string_view bytes, const std::string& key);
  // Validates `digest`, then finds it packed or loose; `refresh` reads the
  // indexes of new packs before it gives up.
  std::optional<Location> Find(std::string_view digest, bool refresh) const;
  // The bytes at `location` without verifying them; kInternalError if the
  // blob is shorter than the location says.
  std::string ReadLocation(const Location& location, std::string_view digest) const;

  void WriteFileFromChunks(const FileManifest& manifest, const std::filesystem::path& out_path,
                           const std::string& shown_name) const;

  const std::unique_ptr<blob::BlobStore> blobs_;
  const Options options_;
  const std::filesystem::path scratch_;
  // Open readers of the packs read lately (packs are immutable, so a reader
  // stays valid), so reading a file's chunks opens each pack once.
  const std::unique_ptr<PackReaders> readers_;

  // The pack indexes read so far. A cache of what packs/ holds, hence
  // mutable: lookups of a const store refresh it.
  mutable std::shared_mutex index_mu_;  // guards the three below
  mutable std::vector<std::string> pack_names_;
  mutable std::unordered_set<std::string> loaded_packs_;
  mutable std::unordered_map<Sha256::Digest, PackedObject, DigestHash> packed_;
};

}  // namespace slipway::data
