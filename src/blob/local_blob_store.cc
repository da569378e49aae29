#include "blob/local_blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "core/durable_file.h"
#include "core/error.h"

namespace slipway::blob {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void ThrowIo(const std::string& what, std::string_view key, int error) {
  throw Error(ErrorCode::kInternalError,
              what + " blob '" + std::string(key) + "': " + std::generic_category().message(error));
}

[[noreturn]] void ThrowKey(std::string_view key, std::string problem) {
  throw KeyError(key, std::move(problem));
}

int64_t MillisOf(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

std::string Join(const std::string& folder_key, const std::string& name) {
  return folder_key.empty() ? name : folder_key + "/" + name;
}

void SyncFolderOf(const fs::path& folder, std::string_view key) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) ThrowIo("cannot sync the folder of", key, errno);
  const bool synced = ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!synced) ThrowIo("cannot sync the folder of", key, error);
}

// A temporary file beside the target, renamed over it by Publish.
class LocalBlobWriter final : public BlobWriter {
 public:
  LocalBlobWriter(fs::path target, std::string key, bool sync, uint64_t write_back_bytes)
      : target_(std::move(target)),
        key_(std::move(key)),
        sync_(sync),
        write_back_bytes_(sync ? write_back_bytes : 0) {
    temp_ = target_.parent_path() / ("." + target_.filename().string() +
                                     std::string(kTemporaryMarker) + UniqueFileSuffix());
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) ThrowIo("cannot create a temporary file for", key_, errno);
  }
  ~LocalBlobWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!published_) ::unlink(temp_.c_str());
  }
  LocalBlobWriter(const LocalBlobWriter&) = delete;
  LocalBlobWriter& operator=(const LocalBlobWriter&) = delete;

  void Append(const void* data, size_t size) override {
    if (fd_ < 0 || broken_) ThrowBroken();
    const auto* bytes = static_cast<const char*>(data);
    while (size > 0) {
      ssize_t n = ::write(fd_, bytes, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        broken_ = true;
        ThrowIo("cannot write", key_, errno);
      }
      bytes += n;
      size -= static_cast<size_t>(n);
      size_ += static_cast<uint64_t>(n);
    }
    if (write_back_bytes_ > 0 && size_ - flushed_ >= write_back_bytes_) {
      // Starts the disk on what is written so far without waiting for it,
      // so Publish's fdatasync finds little left: the disk works while the
      // caller goes on (for a pack, while the next chunks are hashed).
      ::sync_file_range(fd_, static_cast<off_t>(flushed_), static_cast<off_t>(size_ - flushed_),
                        SYNC_FILE_RANGE_WRITE);
      flushed_ = size_;
    }
  }

  void Publish() override {
    if (fd_ < 0 || broken_) ThrowBroken();
    broken_ = true;  // whatever fails below, this writer is done
    // The modification time is the publication's, not the last append's:
    // a sweep judges a blob's age by it.
    if (::futimens(fd_, nullptr) != 0) ThrowIo("cannot stamp", key_, errno);
    if (sync_ && ::fdatasync(fd_) != 0) ThrowIo("cannot sync", key_, errno);
    // close() reports a delayed write error.
    if (::close(std::exchange(fd_, -1)) != 0) ThrowIo("cannot write", key_, errno);
    if (::rename(temp_.c_str(), target_.c_str()) != 0) ThrowIo("cannot publish", key_, errno);
    published_ = true;
    if (sync_) SyncFolderOf(target_.parent_path(), key_);
  }

  uint64_t size() const override { return size_; }

 private:
  [[noreturn]] void ThrowBroken() const {
    throw Error(ErrorCode::kInternalError,
                "cannot write blob '" + key_ + "': an earlier write or publish failed");
  }

  const fs::path target_;
  const std::string key_;
  const bool sync_;
  const uint64_t write_back_bytes_;
  fs::path temp_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t flushed_ = 0;    // bytes handed to sync_file_range
  bool broken_ = false;     // an append or the publish failed (or ran)
  bool published_ = false;  // renamed into place: nothing to delete
};

class LocalBlobReader final : public BlobReader {
 public:
  LocalBlobReader(int fd, BlobInfo info) : fd_(fd), info_(std::move(info)) {}
  ~LocalBlobReader() override { ::close(fd_); }
  LocalBlobReader(const LocalBlobReader&) = delete;
  LocalBlobReader& operator=(const LocalBlobReader&) = delete;

  const BlobInfo& info() const override { return info_; }

  // The descriptor stays on the file that was opened: a publish renames a
  // new file over the name and a delete unlinks it, neither changes the
  // bytes this reader sees.
  size_t ReadAt(uint64_t offset, size_t max, std::string& out) override {
    const size_t had = out.size();
    out.resize(had + max);
    size_t got = 0;
    while (got < max) {
      ssize_t n = ::pread(fd_, out.data() + had + got, max - got, static_cast<off_t>(offset + got));
      if (n < 0) {
        if (errno == EINTR) continue;
        const int error = errno;
        out.resize(had + got);
        ThrowIo("cannot read", info_.key, error);
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    out.resize(had + got);
    return got;
  }

 private:
  const int fd_;
  const BlobInfo info_;
};

}  // namespace

std::unique_ptr<LocalBlobStore> LocalBlobStore::Create(Options options) {
  std::error_code ec;
  fs::create_directories(options.root, ec);
  fs::path root = ec ? fs::path() : fs::canonical(options.root, ec);
  if (ec) {
    throw Error(ErrorCode::kInternalError,
                "cannot open blob root '" + options.root.string() + "': " + ec.message());
  }
  return std::unique_ptr<LocalBlobStore>(new LocalBlobStore(std::move(root), options.sync));
}

std::string LocalBlobStore::Describe() const { return "file://" + root_.string(); }

bool LocalBlobStore::LinkStaysInside(const fs::path& link) const {
  std::error_code ec;
  fs::path real = fs::canonical(link, ec);
  if (ec) return false;  // dangling: a write through it would land wherever it points
  auto [r, p] = std::mismatch(root_.begin(), root_.end(), real.begin(), real.end());
  return r == root_.end();
}

fs::path LocalBlobStore::PathOf(std::string_view key) const {
  CheckKey(key);
  // The key has no "." or ".." segments, so only a symbolic link can lead
  // out of the root: each existing part of the path is looked at, and a
  // link must resolve to somewhere under the root. A missing part ends the
  // walk (nothing below it exists), which also keeps this correct while
  // deletes remove folders concurrently.
  fs::path path = root_;
  size_t start = 0;
  bool exists = true;
  while (start <= key.size()) {
    size_t end = std::min(key.find('/', start), key.size());
    path /= std::string(key.substr(start, end - start));
    start = end + 1;
    struct stat st {};
    if (exists && ::lstat(path.c_str(), &st) != 0) exists = false;
    if (exists && S_ISLNK(st.st_mode) && !LinkStaysInside(path)) {
      ThrowKey(key, "resolves outside the store's root");
    }
  }
  return path;
}

void LocalBlobStore::MakeFolders(std::string_view key) const {
  fs::path folder = root_;
  std::vector<fs::path> grown;  // folders that got a new sub-folder
  size_t start = 0;
  // A concurrent delete may remove a folder just made above the next one
  // (it empties and removes folders): then start again from the root.
  int restarts = 0;
  for (size_t slash = key.find('/'); slash != std::string_view::npos;
       slash = key.find('/', start)) {
    fs::path child = folder / std::string(key.substr(start, slash - start));
    if (::mkdir(child.c_str(), 0755) == 0) {
      grown.push_back(folder);
    } else if (errno == ENOENT && folder != root_ && ++restarts < 100) {
      folder = root_;
      start = 0;
      continue;
    } else if (errno == EEXIST) {
      // A blob where the key needs a folder ("a" when writing "a/b") is the
      // caller's mistake, anything else the machine's.
      struct stat st {};
      if (::stat(child.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
        ThrowKey(key, "'" + std::string(key.substr(0, slash)) + "' is a blob, not a folder");
      }
    } else {
      ThrowIo("cannot make the folders of", key, errno);
    }
    folder = std::move(child);
    start = slash + 1;
  }
  // A new folder is an entry in the one above it: without this, a power cut
  // could take a published blob with the folder it is in.
  if (sync_) {
    for (const fs::path& parent : grown) SyncFolderOf(parent, key);
  }
}

std::unique_ptr<BlobWriter> LocalBlobStore::OpenWriter(std::string_view key,
                                                       const WriterOptions& options) {
  const fs::path target = PathOf(key);
  // A delete (in any thread or process) removes the folders it empties, so
  // one may vanish between making it and creating the temporary file in it:
  // then make it again. Once the temporary file is in it, it stays.
  constexpr int kAttempts = 8;
  for (int attempt = 1;; ++attempt) {
    try {
      MakeFolders(key);
      std::error_code ec;
      if (fs::is_directory(target, ec)) ThrowKey(key, "a folder of that name exists");
      return std::make_unique<LocalBlobWriter>(target, std::string(key), sync_,
                                               options.write_back_bytes);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kInvalidParameterValue || attempt == kAttempts) throw;
    }
  }
}

std::unique_ptr<BlobReader> LocalBlobStore::Open(std::string_view key) {
  const fs::path path = PathOf(key);
  // O_NONBLOCK: a FIFO put in the folder by other means must not hang the
  // caller (it is then refused as not a regular file).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return nullptr;
    ThrowIo("cannot open", key, errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int error = errno;
    ::close(fd);
    ThrowIo("cannot open", key, error);
  }
  if (!S_ISREG(st.st_mode)) {  // a folder is not a blob
    ::close(fd);
    return nullptr;
  }
  BlobInfo info{std::string(key), static_cast<uint64_t>(st.st_size), MillisOf(st)};
  return std::make_unique<LocalBlobReader>(fd, std::move(info));
}

std::optional<BlobInfo> LocalBlobStore::Stat(std::string_view key) {
  const fs::path path = PathOf(key);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    ThrowIo("cannot stat", key, errno);
  }
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  return BlobInfo{std::string(key), static_cast<uint64_t>(st.st_size), MillisOf(st)};
}

void LocalBlobStore::Collect(const fs::path& folder, const std::string& key_of_folder,
                             std::string_view name_start, bool recursive,
                             std::vector<ListEntry>& out) const {
  std::error_code ec;
  fs::directory_iterator it(folder, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) return;
    ThrowIo("cannot list", key_of_folder, ec.value());
  }
  for (const fs::directory_entry& entry : it) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with(name_start)) continue;
    // Temporary files, and anything put in the folder by other means under
    // a name the store could not have written, are not blobs.
    const std::string key = Join(key_of_folder, name);
    if (!KeyProblem(key).empty()) continue;
    std::error_code entry_ec;
    const bool link = entry.is_symlink(entry_ec);
    if (link && !LinkStaysInside(entry.path())) continue;
    if (entry.is_directory(entry_ec)) {
      if (recursive) {
        // A linked folder could lead back up the tree: not walked into.
        if (!link) Collect(entry.path(), key, "", true, out);
      } else {
        out.push_back({key + "/", true, 0});
      }
    } else if (entry.is_regular_file(entry_ec)) {
      uint64_t size = entry.file_size(entry_ec);
      if (!entry_ec) out.push_back({key, false, size});  // else deleted meanwhile
    }
  }
}

ListPage LocalBlobStore::List(const ListOptions& options) {
  const std::string& prefix = options.prefix;
  const size_t slash = prefix.rfind('/');
  const std::string folder_key = slash == std::string::npos ? "" : prefix.substr(0, slash);
  const std::string name_start = slash == std::string::npos ? prefix : prefix.substr(slash + 1);
  if (name_start.find('\0') != std::string::npos || name_start.find('\\') != std::string::npos ||
      prefix.starts_with('/')) {
    ThrowInvalid("Invalid blob prefix '" + prefix + "': NUL byte, backslash or leading '/'");
  }
  const fs::path folder = folder_key.empty() ? root_ : PathOf(folder_key);

  std::vector<ListEntry> entries;
  Collect(folder, folder_key, name_start, options.recursive, entries);
  std::sort(entries.begin(), entries.end(),
            [](const ListEntry& a, const ListEntry& b) { return a.key < b.key; });

  // Pages are cut from the full listing: a local folder is cheap to walk
  // again, and a page token that is just a key survives any change between
  // pages (an entry added or removed before it moves nothing).
  auto first = entries.begin();
  if (!options.start_after.empty()) {
    first = std::upper_bound(
        entries.begin(), entries.end(), options.start_after,
        [](const std::string& after, const ListEntry& entry) { return after < entry.key; });
  }
  ListPage page;
  const size_t max = std::max<size_t>(options.max_entries, 1);
  auto last = entries.end() - first > static_cast<ptrdiff_t>(max) ? first + max : entries.end();
  page.entries.assign(std::make_move_iterator(first), std::make_move_iterator(last));
  if (last != entries.end()) page.next_start_after = page.entries.back().key;
  return page;
}

bool LocalBlobStore::Delete(std::string_view key) {
  const fs::path path = PathOf(key);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    ThrowIo("cannot delete", key, errno);
  }
  if (S_ISDIR(st.st_mode)) return false;  // a folder is not a blob: DeletePrefix
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return false;  // deleted by someone else meanwhile
    ThrowIo("cannot delete", key, errno);
  }
  PruneAndSync(path.parent_path());
  return true;
}

uint64_t LocalBlobStore::DeletePrefix(std::string_view folder) {
  if (folder.empty() || folder.back() != '/') {
    ThrowInvalid("Invalid blob prefix '" + std::string(folder) +
                 "': only a folder (ending in '/') can be deleted, never the whole store");
  }
  const std::string_view key = folder.substr(0, folder.size() - 1);
  const fs::path path = PathOf(key);
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(path, ec))) return 0;
  std::vector<ListEntry> blobs;
  Collect(path, std::string(key), "", true, blobs);
  fs::remove_all(path, ec);
  if (ec) ThrowIo("cannot delete the folder of", key, ec.value());
  PruneAndSync(path.parent_path());
  return blobs.size();
}

fs::path LocalBlobStore::FolderOf(std::string_view folder, const char* what) const {
  if (folder.empty()) return root_;
  if (folder.back() != '/') {
    ThrowInvalid("Invalid blob prefix '" + std::string(folder) +
                 "': only a folder (ending in '/') " + what);
  }
  return PathOf(folder.substr(0, folder.size() - 1));
}

uint64_t LocalBlobStore::SweepAbandoned(std::string_view folder, int64_t cutoff_ms) {
  const fs::path top = FolderOf(folder, "can be swept");
  // Found first, removed after: removing may prune folders under the walk.
  std::vector<fs::path> stale;
  std::error_code ec;
  fs::recursive_directory_iterator it(top, ec);  // does not follow linked folders
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) return 0;
    ThrowIo("cannot sweep", folder, ec.value());
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;  // a folder removed meanwhile ends this walk; the next sweep goes on
    const std::string name = it->path().filename().string();
    if (name.find(kTemporaryMarker) == std::string::npos) continue;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (MillisOf(st) < cutoff_ms) stale.push_back(it->path());
  }
  uint64_t removed = 0;
  for (const fs::path& path : stale) {
    if (::unlink(path.c_str()) != 0) continue;  // its writer published or gave up meanwhile
    ++removed;
    PruneAndSync(path.parent_path());
  }
  return removed;
}

void LocalBlobStore::MakeDurable(std::string_view folder) {
  const fs::path path = FolderOf(folder, "can be made durable");
  if (!sync_) return;
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return;  // nothing under it
    ThrowIo("cannot sync the folder of", folder, errno);
  }
  const bool synced = ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!synced) ThrowIo("cannot sync the folder of", folder, error);
}

void LocalBlobStore::PruneAndSync(fs::path folder) const {
  // rmdir(2) removes only an empty folder, so a concurrent put, whose
  // temporary file is already in it, keeps it.
  while (folder != root_ && ::rmdir(folder.c_str()) == 0) folder = folder.parent_path();
  if (!sync_) return;
  // The first folder that stays holds the removal; a concurrent delete may
  // remove it before it is synced, and then its parent holds both.
  while (true) {
    int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && (errno == ENOENT || errno == ENOTDIR) && folder != root_) {
      folder = folder.parent_path();
      continue;
    }
    if (fd < 0)
      ThrowIo("cannot sync the folder of", folder.lexically_relative(root_).string(), errno);
    const bool synced = ::fsync(fd) == 0;
    const int error = errno;
    ::close(fd);
    if (!synced)
      ThrowIo("cannot sync the folder of", folder.lexically_relative(root_).string(), error);
    return;
  }
}

}  // namespace slipway::blob
