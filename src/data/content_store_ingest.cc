// The chunk writer: how AddFile, AddTree and ObjectWriter store new objects.
//
// An add reads each file once on the caller's thread, cuts it into chunks,
// and hands the buffers to the whole-file hash and the chunk hashing, run as
// tasks on the store's executor and on the caller's thread
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
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <unordered_set>
#include <utility>

#include "core/error.h"
#include "data/content_store.h"
#include "data/content_store_internal.h"
#include "data/task_group.h"

namespace slipway::data {
namespace fs = std::filesystem;
using content_store_internal::CheckEntryPath;
using content_store_internal::ErrnoText;
using content_store_internal::FileDescriptor;

namespace {

// Buffers of the add pipeline: one being read, the rest queued for hashing.
constexpr size_t kPipelineBuffers = 6;
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

  // A buffer with one user, or null while all are in use (the reader then
  // helps the stages that will give one back: Pipeline::Acquire).
  Buffer* TryAcquire() {
    std::lock_guard lock(mu_);
    if (free_.empty() && buffers_.size() < count_) {
      buffers_.push_back(std::make_unique<Buffer>());
      buffers_.back()->bytes = std::make_unique_for_overwrite<uint8_t[]>(capacity_);
      free_.push_back(buffers_.back().get());
    }
    if (free_.empty()) return nullptr;
    Buffer* buffer = free_.back();
    free_.pop_back();
    buffer->users.store(1);
    return buffer;
  }

  void Release(Buffer* buffer) {
    if (buffer->users.fetch_sub(1) != 1) return;
    std::lock_guard lock(mu_);
    free_.push_back(buffer);
  }

 private:
  const size_t count_;
  const size_t capacity_;
  std::mutex mu_;  // guards buffers_ and free_
  std::vector<std::unique_ptr<Buffer>> buffers_;
  std::vector<Buffer*> free_;
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
// hashing items of an add call StoreChunk concurrently.
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

// The stages of one file's add, as items of a TaskGroup on the store's
// executor (Options::executor). The caller's thread reads the file and finds
// chunk boundaries; each segment it reads becomes two items: hashing its
// chunks and storing the new ones (segments in any order, several at once),
// and its part of the whole-file hash (one segment at a time, in order: a
// chain in which each item queues the next). A buffer returns to the pool
// when both items have released it.
//
// No item waits for anything, and the reader waits only in Acquire, where it
// runs queued items itself before it sleeps; so it sleeps only while the
// items holding every buffer are running on other threads, and an add
// progresses however busy the executor is (with every thread taken, the
// reader does all the work). docs/architecture.md ("Threads") has why the
// stages were once threads of their own and why this arrangement cannot
// deadlock. Small files (one buffer) and stores without an executor run
// every item on the caller's thread.
class ContentStore::Ingest::Pipeline {
 public:
  Pipeline(Ingest* ingest, BufferPool* pool, core::Executor* executor)
      : ingest_(ingest), pool_(pool), group_(executor, kHelpers) {}

  // After an error of the reader: the queued items only release their
  // buffers. (group_, declared last, is destroyed first: it runs or waits
  // for every item while the members they use still exist.)
  ~Pipeline() { failed_.store(true); }

  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  bool failed() const { return failed_.load(); }

  // A buffer from the pool; while none is free, runs queued items here
  // (whose end gives one back), and sleeps only while all are running.
  Buffer* Acquire() {
    Buffer* buffer = nullptr;
    group_.WaitUntil([&] { return (buffer = pool_->TryAcquire()) != nullptr; });
    return buffer;
  }

  // Hands the reader's buffer of `segment` to the stages.
  void Push(Segment segment) {
    segment.buffer->users.fetch_add(1);  // the whole-file hash's
    bool start_chain = false;
    {
      std::lock_guard lock(whole_mu_);
      whole_pending_.push_back({segment.buffer, segment.offset, segment.data, segment.size, {}});
      start_chain = !whole_queued_;
      whole_queued_ = true;
    }
    if (start_chain) group_.Add([this] { HashWholeNext(); });
    group_.Add([this, segment = std::move(segment)] { HashChunks(segment); });
  }

  // Runs or waits for the items; rethrows the first error of one. Returns
  // the whole-file digest and the chunks in order.
  std::pair<Sha256::Digest, std::vector<ChunkRef>> Finish() {
    group_.Wait();
    if (error_) std::rethrow_exception(error_);
    std::sort(refs_.begin(), refs_.end(),
              [](const ChunkRef& a, const ChunkRef& b) { return a.offset < b.offset; });
    return {whole_.Finish(), std::move(refs_)};
  }

 private:
  // Helpers of one add on the executor: as many as there were threads
  // beside the reader (the whole-file hash and two chunk workers). The
  // whole-file SHA-256 is one sequential stream (about 0.5 s per GB here),
  // so it keeps one helper busy; the others hash chunks and append to the
  // pack.
  static constexpr int kHelpers = 3;

  void Fail() {
    std::lock_guard lock(error_mu_);
    if (!error_) error_ = std::current_exception();
    failed_.store(true);
  }

  // The next segment of the whole-file hash; queues the one after it, so
  // one link of the chain runs at a time.
  void HashWholeNext() {
    Segment segment;
    {
      std::lock_guard lock(whole_mu_);
      segment = std::move(whole_pending_.front());
      whole_pending_.pop_front();
    }
    if (!failed_.load()) {
      try {
        whole_.Update(segment.data, segment.size);
      } catch (...) {
        Fail();
      }
    }
    pool_->Release(segment.buffer);
    {
      std::lock_guard lock(whole_mu_);
      whole_queued_ = !whole_pending_.empty();
      if (!whole_queued_) return;
    }
    group_.Add([this] { HashWholeNext(); });
  }

  void HashChunks(const Segment& segment) {
    if (!failed_.load()) {
      try {
        Sha256 hasher;
        std::vector<ChunkRef> refs;
        ingest_->HashChunks(segment, &hasher, &refs);
        std::lock_guard lock(refs_mu_);
        refs_.insert(refs_.end(), std::make_move_iterator(refs.begin()),
                     std::make_move_iterator(refs.end()));
      } catch (...) {
        Fail();
      }
    }
    pool_->Release(segment.buffer);
  }

  Ingest* const ingest_;
  BufferPool* const pool_;
  Sha256 whole_;                       // one chain link at a time updates it, until Finish
  std::mutex whole_mu_;                // guards whole_pending_ and whole_queued_
  std::deque<Segment> whole_pending_;  // segments the whole-file hash has not taken
  bool whole_queued_ = false;          // a link of the chain is queued or running
  std::mutex refs_mu_;                 // guards refs_ until Finish
  std::vector<ChunkRef> refs_;         // the chunks hashed so far, in any order
  std::atomic<bool> failed_{false};
  std::mutex error_mu_;  // guards error_ while items run
  std::exception_ptr error_;
  TaskGroup group_;  // last: see the destructor
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
  // A file of one buffer is one segment: nothing to overlap.
  const bool parallel = static_cast<uint64_t>(info.st_size) > capacity;
  Pipeline pipeline(this, &pool_, parallel ? store_->options_.executor : nullptr);

  // `current` holds stream bytes [base, base + have): the tail of the previous
  // read that did not end a chunk, then the new bytes.
  Buffer* current = pipeline.Acquire();
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
        next = pipeline.Acquire();
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
