// ContentStore's front: Open and the sweep of what interrupted writes left,
// lookups across packs and loose objects, reads that verify what they
// return (through readers cached per pack), manifests stored as objects, and
// Materialize, which writes the user's own folders with file calls (the
// store itself is reached only through its blob::BlobStore). The chunk writer,
// the packs, the loose objects and the manifests' JSON are in the
// content_store_*.cc files beside this one (see content_store_internal.h).
// Thread-safe as ContentStore is (content_store.h).
#include "data/content_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>
#include <unordered_set>
#include <utility>

#include "blob/local_blob_store.h"
#include "core/durable_file.h"
#include "core/error.h"
#include "data/content_store_internal.h"

namespace slipway::data {
namespace fs = std::filesystem;
using content_store_internal::CheckFileManifest;
using content_store_internal::CheckTreeEntries;
using content_store_internal::ErrnoText;
using content_store_internal::FileDescriptor;
using content_store_internal::kIndexExtension;
using content_store_internal::kPackExtension;
using content_store_internal::Quote;
using content_store_internal::ThrowIo;
using content_store_internal::WriteAll;
using nlohmann::json;

// ---------------------------------------------------------------------------
// Open and the sweep of abandoned writes

namespace {

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The most pack readers kept open: enough for a file whose chunks lie in
// many packs (a version added on top of many others), few enough to stay
// far below a process's descriptor limit.
constexpr size_t kMaxOpenPacks = 64;

}  // namespace

// Readers of recently read packs, least recently used dropped first.
// Thread-safe; a reader handed out stays usable after it is dropped here.
class ContentStore::PackReaders {
 public:
  // The reader of the pack blob `key`, or null if there is no such blob.
  std::shared_ptr<blob::BlobReader> Get(blob::BlobStore& blobs, const std::string& key) {
    {
      std::lock_guard lock(mu_);
      auto it = by_key_.find(key);
      if (it != by_key_.end()) {
        order_.splice(order_.begin(), order_, it->second);
        return it->second->second;
      }
    }
    // Opened outside the lock: opening may wait on storage.
    std::shared_ptr<blob::BlobReader> reader = blobs.Open(key);
    if (!reader) return nullptr;
    std::lock_guard lock(mu_);
    auto [it, added] = by_key_.try_emplace(key);
    if (!added) return it->second->second;  // another thread opened it meanwhile
    order_.emplace_front(key, reader);
    it->second = order_.begin();
    if (order_.size() > kMaxOpenPacks) {
      by_key_.erase(order_.back().first);
      order_.pop_back();
    }
    return reader;
  }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<blob::BlobReader>>;
  std::mutex mu_;           // guards order_ and by_key_
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> by_key_;
};

std::unique_ptr<ContentStore> ContentStore::Open(const fs::path& root) {
  return Open(root, Options());
}

std::unique_ptr<ContentStore> ContentStore::Open(const fs::path& root, const Options& options) {
  std::unique_ptr<blob::BlobStore> blobs;
  try {
    blob::LocalBlobStore::Options local;
    local.root = root;
    local.sync = options.durable;
    blobs = blob::LocalBlobStore::Create(local);
  } catch (const Error& e) {
    ThrowInvalid("cannot open the store folder " + Quote(root) + ": " + e.what());
  }
  Options with_folders = options;
  const fs::path& canonical = static_cast<blob::LocalBlobStore&>(*blobs).root();
  if (with_folders.scratch_folder.empty()) with_folders.scratch_folder = canonical / "tmp";
  if (with_folders.own_folder.empty()) with_folders.own_folder = canonical;
  return Open(std::move(blobs), with_folders);
}

std::unique_ptr<ContentStore> ContentStore::Open(std::unique_ptr<blob::BlobStore> blobs,
                                                 const Options& options) {
  options.chunking.Validate();
  if (options.read_size < 2 * options.chunking.max_size) {
    ThrowInvalid("invalid store options: read_size " + std::to_string(options.read_size) +
                 " is smaller than twice chunking.max_size (" +
                 std::to_string(options.chunking.max_size) + ")");
  }
  if (options.abandoned_after_ms <= 0) {
    ThrowInvalid("invalid store options: abandoned_after_ms must be positive");
  }
  Options resolved = options;
  std::error_code error;
  fs::path scratch = options.scratch_folder;
  if (scratch.empty()) {
    scratch = fs::temp_directory_path(error);
  } else {
    fs::create_directories(scratch, error);
  }
  if (error)
    ThrowInvalid("cannot create the scratch folder " + Quote(scratch) + ": " + error.message());
  if (!resolved.own_folder.empty()) {
    fs::path own = fs::weakly_canonical(resolved.own_folder, error);
    if (!error) resolved.own_folder = std::move(own);
  }
  std::unique_ptr<ContentStore> store(
      new ContentStore(std::move(blobs), resolved, std::move(scratch)));
  store->SweepAbandoned();
  store->LoadNewPacks();
  return store;
}

ContentStore::ContentStore(std::unique_ptr<blob::BlobStore> blobs, const Options& options,
                           fs::path scratch)
    : blobs_(std::move(blobs)),
      options_(options),
      scratch_(std::move(scratch)),
      readers_(std::make_unique<PackReaders>()) {}

ContentStore::~ContentStore() = default;

std::string ContentStore::Where() const { return "the store " + blobs_->Describe(); }

uint64_t ContentStore::SweepAbandoned() {
  const int64_t cutoff = NowMillis() - options_.abandoned_after_ms;
  uint64_t removed = blobs_->SweepAbandoned("packs/", cutoff);
  removed += blobs_->SweepAbandoned("objects/", cutoff);
  // A pack is published before its index, so a pack without one is either
  // being completed right now (published moments ago) or was left by an add
  // that died between the two; an index without its pack lists objects that
  // are gone (a damaged store). The index is looked for again just before a
  // pack is deleted, and a pack published this recently is left alone, so
  // only a writer stalled between its two publishes for longer than the
  // cutoff could lose its pack, and then its Commit fails (it checks the
  // pack after publishing the index) rather than acknowledging.
  std::set<std::string> packs;
  std::set<std::string> indexes;
  blob::ListOptions list;
  list.prefix = "packs/";
  list.max_entries = 100000;
  for (const blob::ListEntry& entry : blobs_->ListAll(list)) {
    if (entry.is_prefix) continue;
    std::string_view name = std::string_view(entry.key).substr(list.prefix.size());
    if (name.ends_with(kPackExtension)) {
      packs.emplace(name.substr(0, name.size() - std::strlen(kPackExtension)));
    } else if (name.ends_with(kIndexExtension)) {
      indexes.emplace(name.substr(0, name.size() - std::strlen(kIndexExtension)));
    }
  }
  for (const std::string& name : packs) {
    if (indexes.count(name)) continue;
    std::optional<blob::BlobInfo> info = blobs_->Stat(PackKey(name));
    if (!info || info->modified_ms >= cutoff) continue;
    if (blobs_->Stat(IndexKey(name))) continue;
    removed += blobs_->Delete(PackKey(name)) ? 1 : 0;
  }
  for (const std::string& name : indexes) {
    if (packs.count(name) || blobs_->Stat(PackKey(name))) continue;
    removed += blobs_->Delete(IndexKey(name)) ? 1 : 0;
  }
  // Scratch copies are the store's only when it was given their folder.
  if (!options_.scratch_folder.empty()) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(scratch_, error)) {
      std::error_code entry_error;
      auto modified = fs::last_write_time(entry.path(), entry_error);
      if (entry_error) continue;
      auto age = fs::file_time_type::clock::now() - modified;
      if (age < std::chrono::milliseconds(options_.abandoned_after_ms)) continue;
      removed += fs::remove_all(entry.path(), entry_error);
    }
  }
  return removed;
}

// ---------------------------------------------------------------------------
// Lookups and reads

std::optional<ContentStore::Location> ContentStore::Find(std::string_view digest,
                                                         bool refresh) const {
  if (!IsValidDigest(digest)) {
    ThrowInvalid("invalid digest '" + std::string(digest.substr(0, 100)) +
                 "': a digest is 64 lowercase hex digits (SHA-256)");
  }
  Sha256::Digest raw = FromHex(digest);
  if (auto packed = FindPacked(raw)) return packed;
  std::string loose = LooseKey(digest);
  if (std::optional<blob::BlobInfo> info = blobs_->Stat(loose)) {
    return Location{std::move(loose), 0, info->size, false};
  }
  if (refresh && LoadNewPacks()) return FindPacked(raw);
  return std::nullopt;
}

std::optional<ContentStore::Location> ContentStore::Locate(std::string_view digest) const {
  return Find(digest, /*refresh=*/true);
}

bool ContentStore::Has(std::string_view digest) const { return Find(digest, true).has_value(); }

std::vector<std::string> ContentStore::Missing(const std::vector<std::string>& digests) const {
  LoadNewPacks();
  std::vector<std::string> missing;
  std::unordered_set<std::string_view> reported;
  for (const std::string& digest : digests) {
    if (!Find(digest, /*refresh=*/false) && reported.insert(digest).second) {
      missing.push_back(digest);
    }
  }
  return missing;
}

std::string ContentStore::ReadLocation(const Location& location, std::string_view digest) const {
  std::shared_ptr<blob::BlobReader> reader;
  if (location.packed) {
    reader = readers_->Get(*blobs_, location.key);
    if (!reader) {
      throw Error(ErrorCode::kInternalError, "object " + std::string(digest) + " in " + Where() +
                                                 " is lost: its pack " + location.key +
                                                 " is missing (the store is damaged)");
    }
  } else {
    reader = blobs_->Open(location.key);
    if (!reader) {  // a loose object deleted since it was found
      throw Error(ErrorCode::kResourceDoesNotExist,
                  "object " + std::string(digest) + " does not exist in " + Where());
    }
  }
  std::string bytes;
  bytes.reserve(location.size);
  uint64_t have = 0;
  while (have < location.size) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(location.size - have, 16 << 20));
    size_t got = reader->ReadAt(location.offset + have, want, bytes);
    if (got == 0) break;
    have += got;
  }
  if (have != location.size) {
    throw Error(ErrorCode::kInternalError, "object " + std::string(digest) + " in " + Where() +
                                               " is corrupt: " + location.key + " holds " +
                                               std::to_string(have) + " of its " +
                                               std::to_string(location.size) + " bytes");
  }
  return bytes;
}

std::string ContentStore::ReadBlob(std::string_view digest) const {
  std::optional<Location> location = Find(digest, /*refresh=*/true);
  if (!location) {
    throw Error(ErrorCode::kResourceDoesNotExist,
                "object " + std::string(digest) + " does not exist in " + Where());
  }
  std::string bytes = ReadLocation(*location, digest);
  std::string actual = Sha256::Hex(bytes);
  if (actual != digest) {
    throw Error(ErrorCode::kInternalError, "object " + std::string(digest) + " in " + Where() +
                                               " is corrupt: its content hashes to " + actual);
  }
  return bytes;
}

// ---------------------------------------------------------------------------
// Manifests as objects

std::string ContentStore::PutManifest(const Manifest& manifest) {
  json text = ManifestToJson(manifest);
  ManifestFromJson(text);  // store only what GetManifest will accept
  return PutBlob(text.dump());
}

Manifest ContentStore::GetManifest(std::string_view digest) const {
  std::string text = ReadBlob(digest);
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    ThrowInvalid("object " + std::string(digest) + " is not a manifest: it is not JSON");
  }
  return ManifestFromJson(parsed);
}

// ---------------------------------------------------------------------------
// Materialize

void ContentStore::WriteFileFromChunks(const FileManifest& manifest, const fs::path& out_path,
                                       const std::string& shown_name) const {
  CheckFileManifest(manifest, "'" + shown_name + "'");
  fs::path temp = out_path.parent_path() /
                  ("." + out_path.filename().string() + ".slipway-tmp-" + UniqueFileSuffix());
  FileDescriptor fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) ThrowInvalid("cannot create " + Quote(temp) + ": " + ErrnoText(errno));
  try {
    // The whole-file digest covers every chunk, so chunks are hashed again
    // only to name the corrupt one when it does not match.
    Sha256 whole;
    for (const ChunkRef& chunk : manifest.chunks) {
      std::optional<Location> location = Find(chunk.digest, /*refresh=*/true);
      if (!location) {
        throw Error(ErrorCode::kResourceDoesNotExist, "cannot materialize '" + shown_name +
                                                          "': chunk " + chunk.digest +
                                                          " does not exist in " + Where());
      }
      if (location->size != chunk.size) {
        throw Error(ErrorCode::kInternalError,
                    "object " + chunk.digest + " in " + Where() + " is corrupt: it holds " +
                        std::to_string(location->size) + " bytes, expected " +
                        std::to_string(chunk.size));
      }
      std::string bytes = ReadLocation(*location, chunk.digest);
      whole.Update(bytes.data(), bytes.size());
      WriteAll(fd.get(), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), Quote(temp));
    }
    if (!fd.Close()) ThrowIo("cannot write " + Quote(temp), errno);
    if (ToHex(whole.Finish()) != manifest.sha256) {
      for (const ChunkRef& chunk : manifest.chunks) ReadBlob(chunk.digest);  // names the culprit
      throw Error(ErrorCode::kInternalError, "cannot materialize '" + shown_name +
                                                 "': the content does not hash to " +
                                                 manifest.sha256);
    }
    if (::rename(temp.c_str(), out_path.c_str()) != 0) {
      ThrowInvalid("cannot write " + Quote(out_path) + ": " + ErrnoText(errno));
    }
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
}

void ContentStore::Materialize(const FileManifest& manifest, const fs::path& out_path) const {
  if (out_path.filename().empty()) {
    ThrowInvalid("cannot materialize into " + Quote(out_path) + ": it names no file");
  }
  std::error_code error;
  if (fs::is_directory(out_path, error)) {
    ThrowInvalid("cannot materialize a file into " + Quote(out_path) + ": it is a folder");
  }
  if (!out_path.parent_path().empty()) {
    fs::create_directories(out_path.parent_path(), error);
    if (error) {
      ThrowInvalid("cannot create " + Quote(out_path.parent_path()) + ": " + error.message());
    }
  }
  WriteFileFromChunks(manifest, out_path, out_path.string());
}

void ContentStore::Materialize(const TreeManifest& manifest, const fs::path& out_path) const {
  CheckTreeEntries(manifest.entries);
  fs::path out = out_path.lexically_normal();
  if (out.filename().empty()) out = out.parent_path();
  if (out.empty() || out.filename().empty() || out.filename() == "." || out.filename() == "..") {
    ThrowInvalid("cannot materialize into " + Quote(out_path) + ": it names no folder");
  }
  std::error_code error;
  fs::file_status status = fs::symlink_status(out, error);
  if (fs::exists(status) && !(fs::is_directory(status) && fs::is_empty(out, error))) {
    ThrowInvalid("cannot materialize into " + Quote(out_path) +
                 ": it exists and is not an empty folder");
  }
  if (!out.parent_path().empty()) {
    fs::create_directories(out.parent_path(), error);
    if (error) ThrowInvalid("cannot create " + Quote(out.parent_path()) + ": " + error.message());
  }
  // Built beside the target and renamed into place, so `out_path` never
  // holds half a tree.
  fs::path temp =
      out.parent_path() / ("." + out.filename().string() + ".slipway-tmp-" + UniqueFileSuffix());
  if (::mkdir(temp.c_str(), 0755) != 0) {
    ThrowInvalid("cannot create " + Quote(temp) + ": " + ErrnoText(errno));
  }
  try {
    for (const TreeEntry& entry : manifest.entries) {
      fs::path target = (temp / entry.path).lexically_normal();
      auto [temp_end, target_end] =
          std::mismatch(temp.begin(), temp.end(), target.begin(), target.end());
      if (temp_end != temp.end() || target == temp) {
        ThrowInvalid("invalid entry path '" + entry.path + "': it escapes the output folder");
      }
      fs::create_directories(entry.is_dir ? target : target.parent_path(), error);
      if (error) ThrowInvalid("cannot create folder for '" + entry.path + "': " + error.message());
      if (!entry.is_dir) WriteFileFromChunks(entry.file, target, entry.path);
    }
    // rename(2) replaces an empty folder.
    if (::rename(temp.c_str(), out.c_str()) != 0) {
      ThrowInvalid("cannot materialize into " + Quote(out_path) + ": " + ErrnoText(errno));
    }
  } catch (...) {
    fs::remove_all(temp, error);
    throw;
  }
}

void ContentStore::Materialize(const Manifest& manifest, const fs::path& out_path) const {
  std::visit([&](const auto& value) { Materialize(value, out_path); }, manifest);
}

}  // namespace slipway::data
