#include "data/content_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <utility>

#include "core/durable_file.h"
#include "core/error.h"

namespace slipway::data {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kManifestVersion = 1;
// Buffers of the add pipeline: one being read, the rest queued for hashing.
constexpr size_t kPipelineBuffers = 6;
// Threads that hash chunks and write new ones, beside the reader (which also
// finds the boundaries) and the whole-file hasher. The whole-file SHA-256 is
// one sequential stream (about 0.5 s per GB here), so it keeps one core; two
// chunk workers share the other with the reader, so one can hash while the
// other appends to the pack.
constexpr size_t kChunkWorkers = 2;
// A durable add starts the write-back of its pack every this many bytes.
constexpr uint64_t kWriteBackBytes = uint64_t{16} << 20;

constexpr char kPackExtension[] = ".pack";
constexpr char kIndexExtension[] = ".idx";
constexpr char kIndexMagic[] = "SLWIDX01";  // 8 bytes, no NUL
constexpr size_t kIndexEntryBytes = 32 + 8 + 8;

std::string ErrnoText(int error) { return std::generic_category().message(error); }

std::string Quote(const fs::path& path) { return "'" + path.string() + "'"; }

[[noreturn]] void ThrowIo(const std::string& what, int error) {
  throw Error(ErrorCode::kInternalError, what + ": " + ErrnoText(error));
}

// "cannot read 'x.csv': No such file or directory", with the code the
// cause deserves.
[[noreturn]] void ThrowCannotRead(const std::string& shown, int error) {
  std::string message = "cannot read '" + shown + "': " + ErrnoText(error);
  if (error == ENOENT || error == ENOTDIR) throw Error(ErrorCode::kResourceDoesNotExist, message);
  throw Error(ErrorCode::kInvalidParameterValue, message);
}

// Closes a file descriptor when it goes out of scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }
  // Closes now, reporting a failure (a delayed write error) as errno.
  bool Close() {
    int fd = std::exchange(fd_, -1);
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

void WriteAll(int fd, const uint8_t* data, size_t size, const std::string& what) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowIo("cannot write " + what, errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void PwriteAll(int fd, const uint8_t* data, size_t size, uint64_t offset, const std::string& what) {
  while (size > 0) {
    ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowIo("cannot write " + what, errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

void PutU64(std::string* out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t GetU64(const char* in) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

// Reads all of `path` into `text`; false if it does not exist.
bool ReadWholeFile(const fs::path& path, std::string* text) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return false;
    ThrowIo("cannot read " + Quote(path), errno);
  }
  text->clear();
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowIo("cannot read " + Quote(path), errno);
    }
    if (n == 0) return true;
    text->append(buffer, static_cast<size_t>(n));
  }
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<unsigned char>(text[i]);
    size_t length;
    uint32_t code;
    if (byte < 0x80) {
      ++i;
      continue;
    } else if ((byte & 0xe0) == 0xc0) {
      length = 2;
      code = byte & 0x1f;
    } else if ((byte & 0xf0) == 0xe0) {
      length = 3;
      code = byte & 0x0f;
    } else if ((byte & 0xf8) == 0xf0) {
      length = 4;
      code = byte & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return false;
    }
    i += length;
  }
  return true;
}

// Throws kInvalidParameterValue naming `path` unless it is a safe relative
// path: not empty, not absolute, no NUL, no empty, "." or ".." segment, and
// valid UTF-8 (manifests are JSON). `where` says where it came from.
void CheckEntryPath(std::string_view path, const std::string& where) {
  auto reject = [&](const char* why) {
    ThrowInvalid("invalid entry path '" + std::string(path) + "' (" + where + "): " + why);
  };
  if (path.empty()) reject("it is empty");
  if (path.front() == '/') reject("absolute paths are not allowed");
  if (path.find('\0') != std::string_view::npos) reject("it contains a NUL byte");
  if (!IsValidUtf8(path)) reject("it is not valid UTF-8");
  size_t start = 0;
  while (true) {
    size_t end = path.find('/', start);
    std::string_view segment =
        path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (segment == "..") reject("'..' segments are not allowed");
    if (segment == ".") reject("'.' segments are not allowed");
    if (segment.empty()) reject("empty segments are not allowed");
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
}

// Checks that the chunks of `file` are well formed and cover it exactly.
void CheckFileManifest(const FileManifest& file, const std::string& where) {
  if (!IsValidDigest(file.sha256)) {
    ThrowInvalid("invalid manifest: " + where + ".sha256 '" + file.sha256 +
                 "' is not 64 lowercase hex digits");
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < file.chunks.size(); ++i) {
    const ChunkRef& chunk = file.chunks[i];
    std::string at = where + ".chunks[" + std::to_string(i) + "]";
    if (!IsValidDigest(chunk.digest)) {
      ThrowInvalid("invalid manifest: " + at + ".digest '" + chunk.digest +
                   "' is not 64 lowercase hex digits");
    }
    if (chunk.offset != offset) {
      ThrowInvalid("invalid manifest: " + at + ".offset is " + std::to_string(chunk.offset) +
                   ", expected " + std::to_string(offset));
    }
    if (chunk.size == 0 || chunk.size > file.size - offset) {
      ThrowInvalid("invalid manifest: " + at + ".size " + std::to_string(chunk.size) +
                   " is zero or runs past the file size " + std::to_string(file.size));
    }
    offset += chunk.size;
  }
  if (offset != file.size) {
    ThrowInvalid("invalid manifest: " + where + " chunks cover " + std::to_string(offset) +
                 " bytes but its size is " + std::to_string(file.size));
  }
}

// Checks the entries of a tree: safe paths, strictly sorted, no entry below a
// file or below a listed (hence empty) folder, files well formed.
void CheckTreeEntries(const std::vector<TreeEntry>& entries) {
  std::unordered_set<std::string_view> paths;
  for (size_t i = 0; i < entries.size(); ++i) {
    const TreeEntry& entry = entries[i];
    std::string where = "entries[" + std::to_string(i) + "]";
    CheckEntryPath(entry.path, where);
    if (i > 0 && !(entries[i - 1].path < entry.path)) {
      ThrowInvalid("invalid manifest: " + where + " '" + entry.path +
                   "' is not sorted after, or repeats, '" + entries[i - 1].path + "'");
    }
    if (!entry.is_dir) CheckFileManifest(entry.file, where);
    paths.insert(entry.path);
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string_view path = entries[i].path;
    for (size_t slash = path.find('/'); slash != std::string_view::npos;
         slash = path.find('/', slash + 1)) {
      std::string_view parent = path.substr(0, slash);
      if (paths.count(parent)) {
        ThrowInvalid("invalid manifest: entries[" + std::to_string(i) + "] '" + std::string(path) +
                     "' lies below the entry '" + std::string(parent) +
                     "', which is a file or an empty folder");
      }
    }
  }
}

// Field access for ManifestFromJson, with errors that name the field.
const json& Field(const json& object, const char* key, const std::string& where) {
  if (!object.is_object()) ThrowInvalid("invalid manifest: " + where + " is not an object");
  auto it = object.find(key);
  if (it == object.end()) ThrowInvalid("invalid manifest: " + where + "." + key + " is missing");
  return *it;
}

std::string StringField(const json& object, const char* key, const std::string& where) {
  const json& value = Field(object, key, where);
  if (!value.is_string())
    ThrowInvalid("invalid manifest: " + where + "." + key + " is not a string");
  return value.get<std::string>();
}

uint64_t UintField(const json& object, const char* key, const std::string& where) {
  const json& value = Field(object, key, where);
  if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<int64_t>() >= 0)) {
    ThrowInvalid("invalid manifest: " + where + "." + key + " is not a non-negative integer");
  }
  return value.get<uint64_t>();
}

const json& ArrayField(const json& object, const char* key, const std::string& where) {
  const json& value = Field(object, key, where);
  if (!value.is_array())
    ThrowInvalid("invalid manifest: " + where + "." + key + " is not an array");
  return value;
}

json FileToJson(const FileManifest& file) {
  json chunks = json::array();
  for (const ChunkRef& chunk : file.chunks) {
    chunks.push_back({{"digest", chunk.digest}, {"offset", chunk.offset}, {"size", chunk.size}});
  }
  return {{"sha256", file.sha256}, {"size", file.size}, {"chunks", std::move(chunks)}};
}

FileManifest FileFromJson(const json& object, const std::string& where) {
  FileManifest file;
  file.sha256 = StringField(object, "sha256", where);
  file.size = UintField(object, "size", where);
  const json& chunks = ArrayField(object, "chunks", where);
  file.chunks.reserve(chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) {
    std::string at = where + ".chunks[" + std::to_string(i) + "]";
    file.chunks.push_back({StringField(chunks[i], "digest", at), UintField(chunks[i], "offset", at),
                           UintField(chunks[i], "size", at)});
  }
  CheckFileManifest(file, where);
  return file;
}

// A buffer of the add pipeline. `users` counts the stages still reading it.
struct Buffer {
  std::unique_ptr<uint8_t[]> bytes;
  std::atomic<int> users{0};
};

// A fixed number of equal buffers, allocated on first use and handed out
// again when every stage has released them. Thread-safe.
class BufferPool {
 public:
  BufferPool(size_t count, size_t capacity) : count_(count), capacity_(capacity) {}

  size_t capacity() const { return capacity_; }

  // A buffer with one user; waits while all are in use.
  Buffer* Acquire() {
    std::unique_lock lock(mu_);
    if (free_.empty() && buffers_.size() < count_) {
      buffers_.push_back(std::make_unique<Buffer>());
      buffers_.back()->bytes = std::make_unique_for_overwrite<uint8_t[]>(capacity_);
      free_.push_back(buffers_.back().get());
    }
    available_.wait(lock, [&] { return !free_.empty(); });
    Buffer* buffer = free_.back();
    free_.pop_back();
    buffer->users.store(1);
    return buffer;
  }

  void Release(Buffer* buffer) {
    if (buffer->users.fetch_sub(1) != 1) return;
    {
      std::lock_guard lock(mu_);
      free_.push_back(buffer);
    }
    available_.notify_one();
  }

 private:
  const size_t count_;
  const size_t capacity_;
  std::mutex mu_;  // guards buffers_ and free_
  std::condition_variable available_;
  std::vector<std::unique_ptr<Buffer>> buffers_;
  std::vector<Buffer*> free_;
};

// A queue between two pipeline stages; Pop waits for an item or Close.
template <typename T>
class WorkQueue {
 public:
  void Push(T item) {
    {
      std::lock_guard lock(mu_);
      items_.push_back(std::move(item));
    }
    ready_.notify_one();
  }

  void Close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    ready_.notify_all();
  }

  // False once the queue is closed and empty.
  bool Pop(T* item) {
    std::unique_lock lock(mu_);
    ready_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return false;
    *item = std::move(items_.front());
    items_.pop_front();
    return true;
  }

 private:
  std::mutex mu_;  // guards items_ and closed_
  std::condition_variable ready_;
  std::deque<T> items_;
  bool closed_ = false;
};

// Bytes [offset, offset + size) of a file, held in `buffer`; whole chunks
// only, ending at the stream offsets `cuts`.
struct Segment {
  Buffer* buffer = nullptr;
  uint64_t offset = 0;
  const uint8_t* data = nullptr;
  size_t size = 0;
  std::vector<uint64_t> cuts;
};

}  // namespace

// ---------------------------------------------------------------------------
// Digests

bool IsValidDigest(std::string_view digest) {
  return digest.size() == 64 && std::all_of(digest.begin(), digest.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Sha256::Digest FromHex(std::string_view hex) {
  auto nibble = [](char c) { return static_cast<uint8_t>(c <= '9' ? c - '0' : c - 'a' + 10); };
  Sha256::Digest digest;
  for (size_t i = 0; i < digest.size(); ++i) {
    digest[i] = static_cast<uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return digest;
}

// ---------------------------------------------------------------------------
// Manifests

std::string TreeDigest(const std::vector<TreeEntry>& entries) {
  Sha256 hasher;
  for (const TreeEntry& entry : entries) {
    std::string line = entry.is_dir ? "D " + entry.path
                                    : "F " + entry.file.sha256 + " " +
                                          std::to_string(entry.file.size) + " " + entry.path;
    hasher.Update(line.data(), line.size() + 1);  // with the terminating NUL
  }
  return ToHex(hasher.Finish());
}

json ManifestToJson(const Manifest& manifest) {
  if (const auto* file = std::get_if<FileManifest>(&manifest)) {
    json result = FileToJson(*file);
    result["version"] = kManifestVersion;
    result["kind"] = "file";
    return result;
  }
  const auto& tree = std::get<TreeManifest>(manifest);
  json entries = json::array();
  for (const TreeEntry& entry : tree.entries) {
    json item = entry.is_dir ? json::object() : FileToJson(entry.file);
    item["path"] = entry.path;
    item["type"] = entry.is_dir ? "dir" : "file";
    entries.push_back(std::move(item));
  }
  return {{"version", kManifestVersion},
          {"kind", "tree"},
          {"digest", tree.digest},
          {"entries", std::move(entries)}};
}

Manifest ManifestFromJson(const json& json_manifest) {
  const std::string where = "manifest";
  uint64_t version = UintField(json_manifest, "version", where);
  if (version != kManifestVersion) {
    ThrowInvalid("invalid manifest: version " + std::to_string(version) + " is not supported");
  }
  std::string kind = StringField(json_manifest, "kind", where);
  if (kind == "file") return FileFromJson(json_manifest, where);
  if (kind != "tree") ThrowInvalid("invalid manifest: kind '" + kind + "' is not file or tree");

  TreeManifest tree;
  tree.digest = StringField(json_manifest, "digest", where);
  const json& entries = ArrayField(json_manifest, "entries", where);
  tree.entries.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string at = "entries[" + std::to_string(i) + "]";
    TreeEntry entry;
    entry.path = StringField(entries[i], "path", at);
    std::string type = StringField(entries[i], "type", at);
    if (type == "dir") {
      entry.is_dir = true;
    } else if (type == "file") {
      entry.file = FileFromJson(entries[i], at);
    } else {
      ThrowInvalid("invalid manifest: " + at + ".type '" + type + "' is not file or dir");
    }
    tree.entries.push_back(std::move(entry));
  }
  CheckTreeEntries(tree.entries);
  if (!IsValidDigest(tree.digest)) {
    ThrowInvalid("invalid manifest: digest '" + tree.digest + "' is not 64 lowercase hex digits");
  }
  std::string expected = TreeDigest(tree.entries);
  if (tree.digest != expected) {
    ThrowInvalid("invalid manifest: digest " + tree.digest + " does not match its entries (" +
                 expected + ")");
  }
  return tree;
}

// ---------------------------------------------------------------------------
// Ingest: the objects one AddFile or AddTree writes.

// Writes the new chunks of one add into a pack in tmp/ and publishes it
// (Commit); deletes it if the add fails first. Thread-safe: the chunk workers
// of an add call StoreChunk concurrently.
class ContentStore::Ingest {
 public:
  explicit Ingest(ContentStore* store)
      : store_(store), pool_(kPipelineBuffers, store->options_.read_size) {
    store_->LoadNewPacks();  // what other processes published since Open
  }

  ~Ingest() {
    if (pack_fd_ >= 0) {
      ::close(pack_fd_);
      ::unlink(pack_temp_.c_str());
    }
  }

  Ingest(const Ingest&) = delete;
  Ingest& operator=(const Ingest&) = delete;

  // Chunks and hashes the file at `path` (named `shown` in errors) in one read
  // pass, storing the chunks not yet in the store. `progress` gets the bytes
  // read so far.
  FileManifest AddFile(const fs::path& path, const std::string& shown,
                       const std::function<void(uint64_t)>& progress);

  // Publishes the pack written so far: makes it and its index durable, then
  // renames both into packs/ (the index last) and syncs the folder. Runs the
  // gate first. The chunk workers may go on meanwhile; they start a new pack.
  void Commit();

  // Runs once before the first Commit that has objects to publish.
  void SetGate(std::function<void()> gate) { gate_ = std::move(gate); }

  AddStats stats() {
    std::lock_guard lock(mu_);
    return stats_;
  }

  uint64_t uncommitted_bytes() {
    std::lock_guard lock(mu_);
    return pack_size_;
  }

  // Hashes the chunks of `segment` and stores the new ones; appends their
  // references to `refs`. Thread-safe.
  void HashChunks(const Segment& segment, Sha256* hasher, std::vector<ChunkRef>* refs);

  // Stores one object unless the store has it. Thread-safe.
  void StoreChunk(const Sha256::Digest& digest, const std::string& hex, const uint8_t* data,
                  size_t size);

 private:
  class Pipeline;

  ContentStore* const store_;
  BufferPool pool_;
  std::mutex mu_;  // guards everything below
  // Digests this add has met (already stored or written to the pack).
  std::unordered_set<Sha256::Digest, DigestHash> seen_;
  // The pack being written (none while pack_fd_ < 0) and what it holds.
  fs::path pack_temp_;
  int pack_fd_ = -1;
  uint64_t pack_size_ = 0;
  uint64_t pack_flushed_ = 0;  // bytes handed to sync_file_range
  std::vector<IndexEntry> entries_;
  AddStats stats_;
  std::function<void()> gate_;  // used by the one thread that commits
};

void ContentStore::Ingest::StoreChunk(const Sha256::Digest& digest, const std::string& hex,
                                      const uint8_t* data, size_t size) {
  {
    std::lock_guard lock(mu_);
    if (!seen_.insert(digest).second) return;
  }
  if (store_->FindPacked(digest) || store_->HasLoose(hex)) return;
  // Appends under the lock: copying 64 KiB into the page cache takes a few
  // microseconds, against the hundred it takes to hash it outside the lock.
  std::lock_guard lock(mu_);
  if (pack_fd_ < 0) {
    pack_temp_ = store_->tmp_ / ("pack-" + UniqueFileSuffix());
    pack_fd_ = ::open(pack_temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (pack_fd_ < 0) ThrowIo("cannot create " + Quote(pack_temp_), errno);
    pack_size_ = 0;
    pack_flushed_ = 0;
  }
  // At an explicit offset: a write that fails halfway must not shift where
  // the next chunk lands, since a mid-add Commit may publish what came before.
  PwriteAll(pack_fd_, data, size, pack_size_, Quote(pack_temp_));
  entries_.push_back({digest, pack_size_, size});
  pack_size_ += size;
  if (store_->options_.durable && pack_size_ - pack_flushed_ >= kWriteBackBytes) {
    // Starts writing what is written so far to the disk without waiting for
    // it, so the fdatasync of Commit finds little left to do: the disk works
    // while the hashing goes on, rather than after it.
    ::sync_file_range(pack_fd_, static_cast<off_t>(pack_flushed_),
                      static_cast<off_t>(pack_size_ - pack_flushed_), SYNC_FILE_RANGE_WRITE);
    pack_flushed_ = pack_size_;
  }
  stats_.chunks_new += 1;
  stats_.bytes_new += size;
}

void ContentStore::Ingest::HashChunks(const Segment& segment, Sha256* hasher,
                                      std::vector<ChunkRef>* refs) {
  uint64_t start = segment.offset;
  for (uint64_t cut : segment.cuts) {
    const uint8_t* data = segment.data + (start - segment.offset);
    size_t size = cut - start;
    hasher->Update(data, size);
    Sha256::Digest digest = hasher->Finish();
    std::string hex = ToHex(digest);
    StoreChunk(digest, hex, data, size);
    refs->push_back({std::move(hex), start, size});
    start = cut;
  }
}

void ContentStore::Ingest::Commit() {
  {
    std::lock_guard lock(mu_);
    if (entries_.empty()) return;
  }
  if (gate_) {
    // If it throws, the pack stays ours and the destructor deletes it.
    std::function<void()> gate = std::move(gate_);
    gate_ = nullptr;
    gate();
  }
  fs::path pack_temp;
  std::vector<IndexEntry> entries;
  int fd;
  {
    std::lock_guard lock(mu_);
    pack_temp = std::move(pack_temp_);
    entries.swap(entries_);
    fd = std::exchange(pack_fd_, -1);
    pack_size_ = 0;
  }
  if (entries.empty()) {  // another thread committed meanwhile
    if (fd >= 0) ::close(fd);
    if (!pack_temp.empty()) ::unlink(pack_temp.c_str());
    return;
  }
  store_->PublishPack(fd, pack_temp, std::move(entries));
}

// The stages of one file's add. The caller's thread reads the file and finds
// chunk boundaries; one thread hashes the whole file; kChunkWorkers threads
// hash chunks and write new ones. Segments flow through two queues; a buffer
// returns to the pool when both stages have released it. Small files (one
// buffer) run every stage inline on the caller's thread instead.
class ContentStore::Ingest::Pipeline {
 public:
  Pipeline(Ingest* ingest, BufferPool* pool, bool threaded)
      : ingest_(ingest), pool_(pool), threaded_(threaded), refs_(threaded ? kChunkWorkers : 1) {
    if (!threaded_) return;
    try {
      threads_.emplace_back([this] { RunWholeHash(); });
      for (size_t i = 0; i < kChunkWorkers; ++i) {
        threads_.emplace_back([this, i] { RunChunkWorker(i); });
      }
    } catch (...) {
      Stop();
      throw;
    }
  }

  // After an error of the reader: the stages drop the queued segments.
  ~Pipeline() {
    failed_.store(true);
    Stop();
  }

  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  bool failed() const { return failed_.load(); }

  // Hands the reader's buffer of `segment` to the stages.
  void Push(Segment segment) {
    if (!threaded_) {
      whole_.Update(segment.data, segment.size);
      ingest_->HashChunks(segment, &chunk_hasher_, &refs_[0]);
      pool_->Release(segment.buffer);
      return;
    }
    segment.buffer->users.fetch_add(1);
    whole_queue_.Push({segment.buffer, segment.offset, segment.data, segment.size, {}});
    chunk_queue_.Push(std::move(segment));
  }

  // Waits for the stages; rethrows the first error of a stage. Returns the
  // whole-file digest and the chunks in order.
  std::pair<Sha256::Digest, std::vector<ChunkRef>> Finish() {
    Stop();
    if (error_) std::rethrow_exception(error_);
    std::vector<ChunkRef> refs = std::move(refs_[0]);
    for (size_t i = 1; i < refs_.size(); ++i) {
      refs.insert(refs.end(), refs_[i].begin(), refs_[i].end());
    }
    if (refs_.size() > 1) {
      std::sort(refs.begin(), refs.end(),
                [](const ChunkRef& a, const ChunkRef& b) { return a.offset < b.offset; });
    }
    return {whole_.Finish(), std::move(refs)};
  }

 private:
  void Stop() {
    whole_queue_.Close();
    chunk_queue_.Close();
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

  void Fail() {
    std::lock_guard lock(error_mu_);
    if (!error_) error_ = std::current_exception();
    failed_.store(true);
  }

  void RunWholeHash() {
    Segment segment;
    while (whole_queue_.Pop(&segment)) {
      if (!failed_.load()) {
        try {
          whole_.Update(segment.data, segment.size);
        } catch (...) {
          Fail();
        }
      }
      pool_->Release(segment.buffer);
    }
  }

  void RunChunkWorker(size_t worker) {
    std::unique_ptr<Sha256> hasher;
    Segment segment;
    while (chunk_queue_.Pop(&segment)) {
      if (!failed_.load()) {
        try {
          if (!hasher) hasher = std::make_unique<Sha256>();
          ingest_->HashChunks(segment, hasher.get(), &refs_[worker]);
        } catch (...) {
          Fail();
        }
      }
      pool_->Release(segment.buffer);
    }
  }

  Ingest* const ingest_;
  BufferPool* const pool_;
  const bool threaded_;
  Sha256 whole_;         // used by the whole-file stage only, until Finish
  Sha256 chunk_hasher_;  // inline mode only
  // One list per chunk worker, written by that worker only, until Finish.
  std::vector<std::vector<ChunkRef>> refs_;
  WorkQueue<Segment> whole_queue_;
  WorkQueue<Segment> chunk_queue_;
  std::atomic<bool> failed_{false};
  std::mutex error_mu_;  // guards error_ while the stages run
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
};

FileManifest ContentStore::Ingest::AddFile(const fs::path& path, const std::string& shown,
                                           const std::function<void(uint64_t)>& progress) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) ThrowCannotRead(shown, errno);
  struct stat info;
  if (::fstat(fd.get(), &info) != 0) ThrowCannotRead(shown, errno);
  if (S_ISDIR(info.st_mode)) ThrowInvalid("cannot add '" + shown + "' as a file: it is a folder");
  if (!S_ISREG(info.st_mode)) {
    ThrowInvalid("cannot add '" + shown + "': it is not a regular file (a device, FIFO or socket)");
  }
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);

  const size_t capacity = pool_.capacity();
  Chunker chunker(store_->options_.chunking);
  Pipeline pipeline(this, &pool_, static_cast<uint64_t>(info.st_size) > capacity);

  // `current` holds stream bytes [base, base + have): the tail of the previous
  // read that did not end a chunk, then the new bytes.
  Buffer* current = pool_.Acquire();
  size_t have = 0;
  uint64_t base = 0;
  bool eof = false;
  std::vector<uint64_t> cuts;
  try {
    while (!eof && !pipeline.failed()) {
      size_t fresh = have;
      while (have < capacity) {
        ssize_t n = ::read(fd.get(), current->bytes.get() + have, capacity - have);
        if (n < 0) {
          if (errno == EINTR) continue;
          ThrowCannotRead(shown, errno);
        }
        if (n == 0) {
          eof = true;
          break;
        }
        have += static_cast<size_t>(n);
      }
      cuts.clear();
      chunker.Feed({current->bytes.get() + fresh, have - fresh}, &cuts);
      if (eof) chunker.Finish(&cuts);
      const uint64_t end = cuts.empty() ? base : cuts.back();
      const size_t used = end - base;
      const size_t tail = have - used;
      // A full buffer (>= 2 * max_size) always ends at least one chunk.
      if (!eof && used == 0) throw Error(ErrorCode::kInternalError, "chunker made no progress");
      Buffer* next = nullptr;
      if (!eof) {
        next = pool_.Acquire();
        std::memcpy(next->bytes.get(), current->bytes.get() + used, tail);
      }
      if (used > 0) {
        pipeline.Push({current, base, current->bytes.get(), used, std::move(cuts)});
        cuts = {};
      } else {
        pool_.Release(current);
      }
      current = next;
      base = end;
      have = tail;
      if (progress) progress(base + have);
      if (uncommitted_bytes() >= store_->options_.commit_every_bytes) Commit();
    }
  } catch (...) {
    if (current != nullptr) pool_.Release(current);
    throw;
  }
  if (current != nullptr) pool_.Release(current);

  auto [whole, chunks] = pipeline.Finish();
  FileManifest manifest;
  manifest.sha256 = ToHex(whole);
  manifest.size = base;
  manifest.chunks = std::move(chunks);
  std::lock_guard lock(mu_);
  stats_.bytes_read += manifest.size;
  stats_.chunks_total += manifest.chunks.size();
  return manifest;
}

// ---------------------------------------------------------------------------
// ContentStore

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
// Packs

size_t ContentStore::DigestHash::operator()(const Sha256::Digest& digest) const {
  size_t hash;  // the bytes of a SHA-256 are as good a hash as any
  std::memcpy(&hash, digest.data(), sizeof hash);
  return hash;
}

void ContentStore::PublishPack(int pack_fd, const fs::path& pack_temp,
                               std::vector<IndexEntry> entries) {
  FileDescriptor pack(pack_fd);
  const bool durable = options_.durable;
  fs::path index_temp;
  fs::path pack_target;
  bool pack_moved = false;
  try {
    // Data first: once the index is in packs/, the pack must be whole even
    // after a crash.
    if (durable && ::fdatasync(pack.get()) != 0) ThrowIo("cannot sync " + Quote(pack_temp), errno);
    if (!pack.Close()) ThrowIo("cannot write " + Quote(pack_temp), errno);
    std::sort(entries.begin(), entries.end(),
              [](const IndexEntry& a, const IndexEntry& b) { return a.digest < b.digest; });
    std::string index = EncodePackIndex(entries);
    // Named by the digest of its index, which lists every object and where
    // it lies, so two packs never share a name unless they are the same.
    std::string name = Sha256::Hex(index);
    index_temp = tmp_ / (name + kIndexExtension);
    index_temp += "." + UniqueFileSuffix();
    {
      FileDescriptor fd(::open(index_temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
      if (fd.get() < 0) ThrowIo("cannot create " + Quote(index_temp), errno);
      WriteAll(fd.get(), reinterpret_cast<const uint8_t*>(index.data()), index.size(),
               Quote(index_temp));
      if (durable && ::fdatasync(fd.get()) != 0) ThrowIo("cannot sync " + Quote(index_temp), errno);
      if (!fd.Close()) ThrowIo("cannot write " + Quote(index_temp), errno);
    }
    pack_target = packs_ / (name + kPackExtension);
    fs::path index_target = packs_ / (name + kIndexExtension);
    struct stat info;
    if (::stat(index_target.c_str(), &info) == 0) {
      // The same pack (same objects at the same offsets) is published
      // already, e.g. by a retried upload: ours is not needed.
      ::unlink(pack_temp.c_str());
      ::unlink(index_temp.c_str());
      AddPack(name, entries);
      return;
    }
    if (::rename(pack_temp.c_str(), pack_target.c_str()) != 0) {
      ThrowIo("cannot move a pack into " + Quote(packs_), errno);
    }
    pack_moved = true;
    if (::rename(index_temp.c_str(), index_target.c_str()) != 0) {
      ThrowIo("cannot move a pack index into " + Quote(packs_), errno);
    }
    index_temp.clear();
    if (durable) SyncFolder(packs_);
    AddPack(name, entries);
  } catch (...) {
    ::unlink(pack_temp.c_str());
    if (!index_temp.empty()) {
      ::unlink(index_temp.c_str());
      if (pack_moved) ::unlink(pack_target.c_str());  // published nothing
    }
    throw;
  }
}

std::string ContentStore::EncodePackIndex(const std::vector<IndexEntry>& entries) {
  std::string bytes(kIndexMagic, 8);
  bytes.reserve(8 + 8 + entries.size() * kIndexEntryBytes + 32);
  PutU64(&bytes, entries.size());
  for (const IndexEntry& entry : entries) {
    bytes.append(reinterpret_cast<const char*>(entry.digest.data()), entry.digest.size());
    PutU64(&bytes, entry.offset);
    PutU64(&bytes, entry.size);
  }
  Sha256 hasher;
  hasher.Update(bytes.data(), bytes.size());
  Sha256::Digest check = hasher.Finish();
  bytes.append(reinterpret_cast<const char*>(check.data()), check.size());
  return bytes;
}

std::vector<ContentStore::IndexEntry> ContentStore::DecodePackIndex(std::string_view bytes,
                                                                    const fs::path& path) {
  auto corrupt = [&](const std::string& why) {
    throw Error(ErrorCode::kInternalError, "the pack index " + Quote(path) + " is corrupt: " + why);
  };
  if (bytes.size() < 8 + 8 + 32 || bytes.substr(0, 8) != std::string_view(kIndexMagic, 8)) {
    corrupt("it does not start with " + std::string(kIndexMagic));
  }
  uint64_t count = GetU64(bytes.data() + 8);
  if (count > (bytes.size() - 48) / kIndexEntryBytes ||
      bytes.size() != 16 + count * kIndexEntryBytes + 32) {
    corrupt(std::to_string(bytes.size()) + " bytes cannot hold " + std::to_string(count) +
            " entries");
  }
  Sha256 hasher;
  hasher.Update(bytes.data(), bytes.size() - 32);
  Sha256::Digest check = hasher.Finish();
  if (std::memcmp(check.data(), bytes.data() + bytes.size() - 32, 32) != 0) {
    corrupt("its checksum does not match");
  }
  std::vector<IndexEntry> entries(count);
  const char* at = bytes.data() + 16;
  for (IndexEntry& entry : entries) {
    std::memcpy(entry.digest.data(), at, 32);
    entry.offset = GetU64(at + 32);
    entry.size = GetU64(at + 40);
    at += kIndexEntryBytes;
  }
  return entries;
}

void ContentStore::AddPack(const std::string& name, const std::vector<IndexEntry>& entries) const {
  std::unique_lock lock(index_mu_);
  if (!loaded_packs_.insert(name).second) return;
  auto pack = static_cast<uint32_t>(pack_names_.size());
  pack_names_.push_back(name);
  packed_.reserve(packed_.size() + entries.size());
  for (const IndexEntry& entry : entries) {
    packed_.try_emplace(entry.digest, PackedObject{pack, entry.offset, entry.size});
  }
}

bool ContentStore::LoadNewPacks() const {
  std::vector<std::string> fresh;
  {
    std::error_code error;
    std::shared_lock lock(index_mu_);
    for (const auto& entry : fs::directory_iterator(packs_, error)) {
      if (entry.path().extension() != kIndexExtension) continue;
      std::string name = entry.path().stem().string();
      if (!loaded_packs_.count(name)) fresh.push_back(std::move(name));
    }
    if (error) ThrowIo("cannot list " + Quote(packs_), error.value());
  }
  // Another process may have renamed these in without having synced the
  // folder yet; an add here must not build on names a crash could undo.
  if (!fresh.empty() && options_.durable) SyncFolder(packs_);
  for (const std::string& name : fresh) {
    fs::path path = packs_ / (name + kIndexExtension);
    std::string text;
    if (!ReadWholeFile(path, &text)) continue;  // gone since the listing
    AddPack(name, DecodePackIndex(text, path));
  }
  return !fresh.empty();
}

std::optional<ContentStore::Location> ContentStore::FindPacked(const Sha256::Digest& digest) const {
  std::shared_lock lock(index_mu_);
  auto it = packed_.find(digest);
  if (it == packed_.end()) return std::nullopt;
  return Location{packs_ / (pack_names_[it->second.pack] + kPackExtension), it->second.offset,
                  it->second.size, true};
}

fs::path ContentStore::LoosePath(std::string_view digest) const {
  return objects_ / digest.substr(0, 2) / digest.substr(2);
}

bool ContentStore::HasLoose(std::string_view digest) const {
  struct stat info;
  if (::stat(LoosePath(digest).c_str(), &info) == 0) return true;
  if (errno == ENOENT) return false;
  ThrowIo("cannot look up object " + std::string(digest), errno);
}

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

std::string ContentStore::PutBlob(std::string_view bytes) {
  std::string digest = Sha256::Hex(bytes);
  if (Has(digest)) return digest;
  WriteFileDurably(LoosePath(digest), bytes,
                   {.temp_folder = tmp_, .mode = 0444, .sync = options_.durable});
  return digest;
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

AddFileResult ContentStore::AddFile(const fs::path& path, const ProgressCallback& progress,
                                    const std::function<void()>& before_commit) {
  Ingest ingest(this);
  if (before_commit) ingest.SetGate(before_commit);
  std::error_code error;
  uint64_t total = fs::file_size(path, error);
  if (error) total = 0;
  std::function<void(uint64_t)> report;
  if (progress) report = [&](uint64_t done) { progress(done, total); };
  AddFileResult result;
  result.manifest = ingest.AddFile(path, path.string(), report);
  ingest.Commit();
  result.stats = ingest.stats();
  return result;
}

AddTreeResult ContentStore::AddTree(const fs::path& path, const ProgressCallback& progress) {
  std::error_code error;
  fs::path folder = fs::canonical(path, error);
  if (error) ThrowCannotRead(path.string(), error.value());
  if (!fs::is_directory(folder))
    ThrowInvalid("cannot add '" + path.string() + "' as a folder: it is not a folder");

  struct Item {
    std::string relative;
    fs::path source;
    bool is_dir = false;
    uint64_t size = 0;
  };
  std::vector<Item> items;
  auto refuse = [&](const std::string& relative, const std::string& why) {
    ThrowInvalid("cannot add '" + (path / relative).string() + "': " + why);
  };
  auto walk_error = [&](const fs::path& where) { ThrowCannotRead(where.string(), error.value()); };
  fs::recursive_directory_iterator it(folder, fs::directory_options::none, error);
  // The error_code overloads end the walk on an error, so `error` is checked
  // before the end test.
  while (true) {
    if (error) walk_error(path);
    if (it == fs::recursive_directory_iterator()) break;
    const fs::path entry = it->path();
    std::string relative = entry.lexically_relative(folder).generic_string();
    fs::file_status status = it->symlink_status(error);
    if (error) walk_error(entry);
    if (fs::is_directory(status)) {
      if (entry == root_) {
        it.disable_recursion_pending();  // the store itself is not data
        it.increment(error);
        continue;
      }
      bool empty = fs::is_empty(entry, error);
      if (error) walk_error(entry);
      if (empty) {
        CheckEntryPath(relative, path.string());
        items.push_back({relative, entry, true, 0});
      }
    } else if (fs::is_regular_file(status)) {
      CheckEntryPath(relative, path.string());
      uint64_t size = fs::file_size(entry, error);
      if (error) walk_error(entry);
      items.push_back({relative, entry, false, size});
    } else if (fs::is_symlink(status)) {
      fs::path target = fs::canonical(entry, error);
      if (error) refuse(relative, "it is a symbolic link that points nowhere");
      auto [folder_end, target_end] =
          std::mismatch(folder.begin(), folder.end(), target.begin(), target.end());
      if (folder_end != folder.end()) {
        refuse(relative, "it is a symbolic link to '" + target.string() +
                             "', outside the folder being added");
      }
      fs::file_status target_status = fs::status(target, error);
      if (error) walk_error(target);
      if (fs::is_directory(target_status)) {
        refuse(relative, "it is a symbolic link to a folder; only links to files are followed");
      }
      if (!fs::is_regular_file(target_status)) {
        refuse(relative, "it is a symbolic link to a special file");
      }
      CheckEntryPath(relative, path.string());
      uint64_t size = fs::file_size(target, error);
      if (error) walk_error(target);
      items.push_back({relative, target, false, size});
    } else {
      refuse(relative,
             "it is a special file (a device, FIFO or socket); only regular files, "
             "folders and symbolic links to files can be added");
    }
    it.increment(error);
  }
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.relative < b.relative; });

  uint64_t total = 0;
  for (const Item& item : items) total += item.size;
  uint64_t done_before = 0;
  std::function<void(uint64_t)> report;
  if (progress) report = [&](uint64_t done) { progress(done_before + done, total); };

  Ingest ingest(this);
  AddTreeResult result;
  for (const Item& item : items) {
    TreeEntry entry;
    entry.path = item.relative;
    entry.is_dir = item.is_dir;
    if (!item.is_dir) {
      entry.file = ingest.AddFile(item.source, (path / item.relative).string(), report);
      done_before += entry.file.size;
    }
    result.manifest.entries.push_back(std::move(entry));
  }
  ingest.Commit();
  if (progress) progress(total, total);
  result.manifest.digest = TreeDigest(result.manifest.entries);
  result.stats = ingest.stats();
  return result;
}

ContentStore::ObjectWriter::ObjectWriter(ContentStore* store)
    : ingest_(std::make_unique<Ingest>(store)) {}

ContentStore::ObjectWriter::~ObjectWriter() = default;

void ContentStore::ObjectWriter::Put(std::string_view digest, std::string_view bytes,
                                     const std::string& what) {
  if (!IsValidDigest(digest)) {
    ThrowInvalid(what + ": invalid digest '" + std::string(digest.substr(0, 100)) +
                 "': a digest is 64 lowercase hex digits (SHA-256)");
  }
  Sha256 hasher;
  hasher.Update(bytes.data(), bytes.size());
  Sha256::Digest actual = hasher.Finish();
  std::string hex = ToHex(actual);
  if (hex != digest) {
    ThrowInvalid(what + ": its " + std::to_string(bytes.size()) + " bytes hash to " + hex +
                 ", not " + std::string(digest));
  }
  ingest_->StoreChunk(actual, hex, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

AddStats ContentStore::ObjectWriter::Commit() {
  ingest_->Commit();
  return ingest_->stats();
}

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
