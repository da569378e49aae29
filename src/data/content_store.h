// Content-addressed storage of dataset files.
//
// A ContentStore keeps immutable objects under one root folder, each named by
// the SHA-256 of its bytes (64 lowercase hex digits):
//
//   <root>/packs/<name>.pack   the chunks one add stored, back to back
//   <root>/packs/<name>.idx    which chunk lies where in <name>.pack
//   <root>/objects/<first 2 hex>/<remaining 62 hex>
//                              one object stored on its own ("loose"):
//                              manifests and objects put one at a time
//   <root>/tmp/                what is being written
//   <root>/lock                see ContentStore::Open
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

#include "core/sha256.h"
#include "data/chunker.h"

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

// A content-addressed object store in a local folder.
//
// Objects are immutable and written atomically. An add appends its new chunks
// to a pack in <root>/tmp/; publishing the pack (Commit) makes it durable,
// then renames it into packs/ and then its index beside it, so a pack counts
// only once its index is there, and an add that dies leaves no half version
// (what it left in tmp/, or a pack without an index, is deleted by the next
// exclusive Open). A loose object is written to tmp/ and renamed into
// objects/. The adds make their objects durable before they return, so a
// caller may record a version right after. Reads verify the digest, so a
// corrupt object is reported, never returned.
//
// The store owns nothing but its folder; manifests are plain values owned by
// the caller. All methods are thread-safe, and several processes may use the
// same root at once: each add writes its own pack, an object written twice is
// the same bytes either way, and a lookup that misses reads the indexes of
// packs other processes published since. AddFile and AddTree use up to three
// threads of their own while they run.
class ContentStore {
  class Ingest;  // what one add or ObjectWriter writes (content_store.cc)

 public:
  struct Options {
    Chunker::Options chunking;
    // Bytes per read() of a file being added; at least 2 * chunking.max_size.
    size_t read_size = size_t{8} << 20;
    // Make new objects durable before an add or PutBlob returns: an
    // fdatasync of the pack and its index (or of the loose object), then the
    // renames, then an fsync of the folders that changed. Off only for tests
    // and benchmarks that measure something else.
    bool durable = true;
    // An add that has written this many new bytes publishes its pack and
    // starts another before it goes on, so tmp/ stays bounded (such objects
    // stay if the add then fails: they are whole, merely unreferenced).
    uint64_t commit_every_bytes = uint64_t{4} << 30;
  };

  // Where the bytes of an object lie: a whole loose object file, or `size`
  // bytes at `offset` of a pack file.
  struct Location {
    std::filesystem::path file;
    uint64_t offset = 0;
    uint64_t size = 0;
    bool packed = false;
  };

  // Opens the store at `root`, creating its folders if needed, and reads the
  // pack indexes. If no other ContentStore (in any process) has the store
  // open, deletes what interrupted writes left (<root>/tmp/, packs without an
  // index). Holds a shared lock on <root>/lock while open. Throws
  // kInvalidParameterValue for invalid options or a root that cannot be
  // created, kInternalError naming the file for a pack index that is corrupt.
  static std::unique_ptr<ContentStore> Open(const std::filesystem::path& root);
  static std::unique_ptr<ContentStore> Open(const std::filesystem::path& root,
                                            const Options& options);
  ~ContentStore();
  ContentStore(const ContentStore&) = delete;
  ContentStore& operator=(const ContentStore&) = delete;

  const std::filesystem::path& root() const { return root_; }
  const Options& options() const { return options_; }

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
  // refused with kInvalidParameterValue naming them. The store's own root is
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
  class PackReader;

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

  ContentStore(std::filesystem::path root, const Options& options, int lock_fd);

  std::filesystem::path LoosePath(std::string_view digest) const;
  bool HasLoose(std::string_view digest) const;
  // The packed object `digest`, looking only at the indexes loaded so far.
  std::optional<Location> FindPacked(const Sha256::Digest& digest) const;
  // Loads the indexes of packs published since the last call (by this or
  // another process). Returns whether it found any.
  bool LoadNewPacks() const;
  // Registers a pack this process has just published.
  void AddPack(const std::string& name, const std::vector<IndexEntry>& entries) const;
  // Publishes the pack written to `pack_temp` (open as `pack_fd`, which it
  // closes) holding `entries`; see Ingest::Commit. On failure deletes it.
  void PublishPack(int pack_fd, const std::filesystem::path& pack_temp,
                   std::vector<IndexEntry> entries);
  // The bytes of a pack index: "SLWIDX01", the entry count (u64), the
  // entries sorted by digest (32-byte digest, u64 offset, u64 size), then the
  // SHA-256 of all that; integers little-endian.
  static std::string EncodePackIndex(const std::vector<IndexEntry>& entries);
  // Parses a pack index read from `path`; kInternalError naming it if it is
  // torn or corrupt.
  static std::vector<IndexEntry> DecodePackIndex(std::string_view bytes,
                                                 const std::filesystem::path& path);
  // Validates `digest`, then finds it packed or loose; `refresh` reads the
  // indexes of new packs before it gives up.
  std::optional<Location> Find(std::string_view digest, bool refresh) const;
  // The bytes at `location` without verifying them; kInternalError if the
  // file is shorter than the location says.
  std::string ReadLocation(const Location& location, std::string_view digest,
                           PackReader* reader) const;

  void WriteFileFromChunks(const FileManifest& manifest, const std::filesystem::path& out_path,
                           const std::string& shown_name) const;

  const std::filesystem::path root_;
  const std::filesystem::path objects_;
  const std::filesystem::path packs_;
  const std::filesystem::path tmp_;
  const Options options_;
  const int lock_fd_;  // holds the shared lock on <root>/lock

  // The pack indexes read so far. A cache of what packs/ holds, hence
  // mutable: lookups of a const store refresh it.
  mutable std::shared_mutex index_mu_;  // guards the three below
  mutable std::vector<std::string> pack_names_;
  mutable std::unordered_set<std::string> loaded_packs_;
  mutable std::unordered_map<Sha256::Digest, PackedObject, DigestHash> packed_;
};

}  // namespace slipway::data
