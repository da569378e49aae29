// The chunk writer: how AddFile, AddTree and ObjectWriter store new objects.
//
// An add reads each file once on the caller's thread, cuts it into chunks,
// and hands the buffers to a whole-file hasher thread and two chunk workers
// (ContentStore::Ingest::Pipeline), which hash the chunks and append the new
// ones to one pack blob being written; Commit publishes the pack
// (content_store_packs.cc). The Ingest owns its pack writer until then, and
// dropping it unpublished leaves nothing if the add fails. The
// buffers come from a fixed pool, so an add holds at most kPipelineBuffers
// read buffers however large the file. ObjectWriter feeds objects that
// arrive from elsewhere into the same Ingest. Thread-safety is described on
// each class below.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <utility>

#include "core/error.h"
#include "data/content_store.h"
#include "data/content_store_internal.h"

namespace slipway::data {
namespace fs = std::filesystem;
using content_store_internal::CheckEntryPath;
using content_store_internal::ErrnoText;
using content_store_internal::FileDescriptor;

namespace {

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

// "cannot read 'x.csv': No such file or directory", with the code the
// cause deserves.
[[noreturn]] void ThrowCannotRead(const std::string& shown, int error) {
  std::string message = "cannot read '" + shown + "': " + ErrnoText(error);
  if (error == ENOENT || error == ENOTDIR) throw Error(ErrorCode::kResourceDoesNotExist, message);
  throw Error(ErrorCode::kInvalidParameterValue, message);
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
// Ingest: the objects one AddFile or AddTree writes.

// Writes the new chunks of one add into a pack blob and publishes it
// (Commit); abandons it if the add fails first. Thread-safe: the chunk
// workers of an add call StoreChunk concurrently.
class ContentStore::Ingest {
 public:
  explicit Ingest(ContentStore* store)
      : store_(store), pool_(kPipelineBuffers, store->options_.read_size) {
    store_->LoadNewPacks();  // what other processes published since Open
  }

  ~Ingest() = default;  // an unpublished pack writer leaves nothing

  Ingest(const Ingest&) = delete;
  Ingest& operator=(const Ingest&) = delete;

  // Chunks and hashes the file at `path` (named `shown` in errors) in one read
  // pass, storing the chunks not yet in the store. `progress` gets the bytes
  // read so far.
  FileManifest AddFile(const fs::path& path, const std::string& shown,
                       const std::function<void(uint64_t)>& progress);

  // Publishes the pack written so far, then its index (each durably). Runs
  // the gate first. The chunk workers may go on meanwhile; they start a new pack.
  void Commit();

  // Runs once before the first Commit that has objects to publish.
  void SetGate(std::function<void()> gate) { gate_ = std::move(gate); }

  AddStats stats() {
    std::lock_guard lock(mu_);
    return stats_;
  }

  uint64_t uncommitted_bytes() {
    std::lock_guard lock(mu_);
    return pack_ ? pack_->size() : 0;
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
  // The pack being written (none while null), its name and what it holds.
  std::unique_ptr<blob::BlobWriter> pack_;
  std::string pack_name_;
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
  if (!pack_) {
    pack_name_ = NewPackName();
    blob::WriterOptions options;
    // The disk works while the hashing goes on, rather than after it: the
    // publish then finds little left to sync.
    if (store_->options_.durable) options.write_back_bytes = kWriteBackBytes;
    pack_ = store_->blobs_->OpenWriter(PackKey(pack_name_), options);
  }
  // An append that fails breaks the writer (blob_store.h), so a mid-add
  // Commit can never publish a pack whose offsets the failure shifted.
  const uint64_t offset = pack_->size();
  pack_->Append(data, size);
  entries_.push_back({digest, offset, size});
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
    // If it throws, the pack stays ours and the destructor abandons it.
    std::function<void()> gate = std::move(gate_);
    gate_ = nullptr;
    gate();
  }
  std::unique_ptr<blob::BlobWriter> pack;
  std::string name;
  std::vector<IndexEntry> entries;
  {
    std::lock_guard lock(mu_);
    pack = std::move(pack_);
    name = std::move(pack_name_);
    entries.swap(entries_);
  }
  if (entries.empty()) return;  // another thread committed meanwhile
  store_->PublishPack(std::move(pack), name, std::move(entries));
}

// The stages of one file's add. The caller's thread reads the file and finds
// chunk boundaries; one thread hashes the whole file; kChunkWorkers threads
// hash chunks and write new ones. Segments flow through two queues; a buffer
// returns to the pool when both stages have released it. Small files (one
// buffer) run every stage inline on the caller's thread instead.
//
// These threads are the add's own, not tasks on the App's shared background
// executor: the stages wait for the reader's segments and the reader for the
// buffers the stages give back, and tasks that wait on each other in a
// bounded pool can deadlock (two adds whose readers run on the pool fill it
// with readers and half their stages; the other stages never start).
// docs/architecture.md ("Threads") has the argument and what moving them
// would take.
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
      if (!options_.own_folder.empty() && entry == options_.own_folder) {
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

}  // namespace slipway::data
