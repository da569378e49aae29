// ContentStore's front: Open (and the recovery of what interrupted writes
// left), lookups across packs and loose objects, reads that verify what they
// return, manifests stored as objects, and Materialize. The chunk writer,
// the packs, the loose objects and the manifests' JSON are in the
// content_store_*.cc files beside this one (see content_store_internal.h).
// Thread-safe as ContentStore is (content_store.h).
#include "data/content_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <system_error>
#include <unordered_set>
#include <utility>

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
// Open and recovery

std::unique_ptr<ContentStore> ContentStore::Open(const fs::path& root) {
  return Open(root, Options());
}

std::unique_ptr<ContentStore> ContentStore::Open(const fs::path& root, const Options& options) {
  options.chunking.Validate();
  if (options.read_size < 2 * options.chunking.max_size) {
    ThrowInvalid("invalid store options: read_size " + std::to_string(options.read_size) +
                 " is smaller than twice chunking.max_size (" +
                 std::to_string(options.chunking.max_size) + ")");
  }
  std::error_code error;
  fs::create_directories(root, error);
  if (error) ThrowInvalid("cannot create the store folder " + Quote(root) + ": " + error.message());
  fs::path canonical = fs::canonical(root, error);
  if (error) ThrowInvalid("cannot open the store folder " + Quote(root) + ": " + error.message());

  // Fan-out folders are made up front, so writes never create folders.
  bool created = false;
  auto make_folder = [&](const fs::path& folder) {
    if (::mkdir(folder.c_str(), 0755) == 0) {
      created = true;
    } else if (errno != EEXIST) {
      ThrowInvalid("cannot create " + Quote(folder) + ": " + ErrnoText(errno));
    }
  };
  make_folder(canonical / "objects");
  make_folder(canonical / "packs");
  make_folder(canonical / "tmp");
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 0; i < 256; ++i) {
    make_folder(canonical / "objects" / std::string{kDigits[i >> 4], kDigits[i & 0xf]});
  }
  if (created && options.durable) {
    SyncFolder(canonical / "objects");
    SyncFolder(canonical);
  }

  fs::path lock_path = canonical / "lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) ThrowInvalid("cannot open " + Quote(lock_path) + ": " + ErrnoText(errno));
  FileDescriptor lock_guard(lock_fd);
  // Whoever holds the lock exclusively is the only user of the store, so
  // what tmp/ holds, and a pack whose index is missing, were left by
  // interrupted writes. Others hold it shared.
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) == 0) {
    for (const auto& entry : fs::directory_iterator(canonical / "tmp", error)) {
      std::error_code ignored;
      fs::remove_all(entry.path(), ignored);
    }
    // A pack without its index was never published; an index without its
    // pack lists objects that are gone (dropping it lets adds store them
    // again).
    for (const auto& entry : fs::directory_iterator(canonical / "packs", error)) {
      fs::path partner = entry.path();
      std::error_code ignored;
      if (entry.path().extension() == kPackExtension) {
        if (!fs::exists(partner.replace_extension(kIndexExtension), ignored)) {
          fs::remove(entry.path(), ignored);
        }
      } else if (entry.path().extension() == kIndexExtension) {
        if (!fs::exists(partner.replace_extension(kPackExtension), ignored)) {
          fs::remove(entry.path(), ignored);
        }
      }
    }
  }
  while (::flock(lock_fd, LOCK_SH) != 0) {
    if (errno != EINTR) ThrowInvalid("cannot lock " + Quote(lock_path) + ": " + ErrnoText(errno));
  }
  std::unique_ptr<ContentStore> store(new ContentStore(canonical, options, lock_fd));
  lock_guard.Release();
  store->LoadNewPacks();
  return store;
}

ContentStore::ContentStore(fs::path root, const Options& options, int lock_fd)
    : root_(std::move(root)),
      objects_(root_ / "objects"),
      packs_(root_ / "packs"),
      tmp_(root_ / "tmp"),
      options_(options),
      lock_fd_(lock_fd) {}

ContentStore::~ContentStore() {
  ::close(lock_fd_);  // releases the shared lock
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
  fs::path loose = LoosePath(digest);
  struct stat info;
  if (::stat(loose.c_str(), &info) == 0) {
    return Location{loose, 0, static_cast<uint64_t>(info.st_size), false};
  }
  if (errno != ENOENT) ThrowIo("cannot look up object " + std::string(digest), errno);
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

// Keeps the pack files one read opened, so reading a file's chunks opens each
// pack once rather than once per chunk.
class ContentStore::PackReader {
 public:
  PackReader() = default;
  ~PackReader() {
    for (const auto& [path, fd] : open_) ::close(fd);
  }
  PackReader(const PackReader&) = delete;
  PackReader& operator=(const PackReader&) = delete;

  // An open descriptor of `path` (owned by the reader), or -1 with errno set.
  int Open(const fs::path& path) {
    auto it = open_.find(path.native());
    if (it != open_.end()) return it->second;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) open_.emplace(path.native(), fd);
    return fd;
  }

 private:
  std::unordered_map<std::string, int> open_;
};

std::string ContentStore::ReadLocation(const Location& location, std::string_view digest,
                                       PackReader* reader) const {
  PackReader own;
  if (reader == nullptr) reader = &own;
  int fd = reader->Open(location.file);
  if (fd < 0) {
    if (errno == ENOENT && location.packed) {
      throw Error(ErrorCode::kInternalError, "object " + std::string(digest) + " in the store " +
                                                 Quote(root_) + " is lost: its pack " +
                                                 location.file.filename().string() +
                                                 " is missing (the store is damaged)");
    }
    if (errno == ENOENT) {  // a loose object deleted since it was found
      throw Error(ErrorCode::kResourceDoesNotExist,
                  "object " + std::string(digest) + " does not exist in the store " + Quote(root_));
    }
    ThrowIo("cannot read object " + std::string(digest), errno);
  }
  std::string bytes;
  bytes.resize(location.size);
  size_t have = 0;
  while (have < bytes.size()) {
    ssize_t n = ::pread(fd, bytes.data() + have, bytes.size() - have,
                        static_cast<off_t>(location.offset + have));
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowIo("cannot read object " + std::string(digest), errno);
    }
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  if (have != location.size) {
    throw Error(ErrorCode::kInternalError,
                "object " + std::string(digest) + " in the store " + Quote(root_) +
                    " is corrupt: " + location.file.filename().string() + " holds " +
                    std::to_string(have) + " of its " + std::to_string(location.size) + " bytes");
  }
  return bytes;
}

std::string ContentStore::ReadBlob(std::string_view digest) const {
  std::optional<Location> location = Find(digest, /*refresh=*/true);
  if (!location) {
    throw Error(ErrorCode::kResourceDoesNotExist,
                "object " + std::string(digest) + " does not exist in the store " + Quote(root_));
  }
  std::string bytes = ReadLocation(*location, digest, nullptr);
  std::string actual = Sha256::Hex(bytes);
  if (actual != digest) {
    throw Error(ErrorCode::kInternalError, "object " + std::string(digest) + " in the store " +
                                               Quote(root_) +
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
    PackReader reader;
    for (const ChunkRef& chunk : manifest.chunks) {
      std::optional<Location> location = Find(chunk.digest, /*refresh=*/true);
      if (!location) {
        throw Error(ErrorCode::kResourceDoesNotExist,
                    "cannot materialize '" + shown_name + "': chunk " + chunk.digest +
                        " does not exist in the store " + Quote(root_));
      }
      if (location->size != chunk.size) {
        throw Error(ErrorCode::kInternalError,
                    "object " + chunk.digest + " in the store " + Quote(root_) +
                        " is corrupt: it holds " + std::to_string(location->size) +
                        " bytes, expected " + std::to_string(chunk.size));
      }
      std::string bytes = ReadLocation(*location, chunk.digest, &reader);
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
