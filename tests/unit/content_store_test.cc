#include "data/content_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "blob/local_blob_store.h"
#include "core/error.h"
#include "core/executor.h"
#include "test_util/executor_blocker.h"

namespace slipway::data {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    uint64_t value = random();
    std::memcpy(bytes.data() + i, &value, std::min<size_t>(8, size - i));
  }
  return bytes;
}

// Rows of a CSV-like table, about 70 bytes each.
std::string CsvRow(std::mt19937_64& random, uint64_t id) {
  static const char* kCategories[] = {"alpha", "beta", "gamma", "delta", "epsilon"};
  std::ostringstream row;
  row << id << ",2024-" << random() % 12 + 1 << "-" << random() % 28 + 1 << ","
      << (random() % 1000000) / 1000.0 << "," << (random() % 100000) / 100.0 << ","
      << kCategories[random() % 5] << "," << std::hex << random() << "\n";
  return row.str();
}

void WriteFile(const fs::path& path, std::string_view content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// The regular files under `folder`; none when it does not exist (the blob
// store keeps a folder only while something is in it).
size_t CountFiles(const fs::path& folder) {
  size_t count = 0;
  if (!fs::exists(folder)) return 0;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (entry.is_regular_file()) ++count;
  }
  return count;
}

// Runs `action`, which must throw slipway::Error with `code` and a message
// containing every string of `parts`.
template <typename Action>
void ExpectError(Action action, ErrorCode code, const std::vector<std::string>& parts) {
  try {
    action();
    ADD_FAILURE() << "no error; expected one mentioning " << parts.front();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), code) << error.what();
    for (const std::string& part : parts) {
      EXPECT_NE(std::string(error.what()).find(part), std::string::npos)
          << "'" << error.what() << "' does not mention '" << part << "'";
    }
  }
}

class ContentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    base_ = fs::temp_directory_path() /
            ("slipway-content-store-" + std::to_string(::getpid()) + "-" + test->name());
    fs::remove_all(base_);
    fs::create_directories(base_);
    store_ = ContentStore::Open(base_ / "store", Options());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(base_);
  }

  // Defaults, with the adds hashing on the test's executor as the App's do.
  ContentStore::Options Options() {
    ContentStore::Options options;
    options.executor = executor_.get();
    return options;
  }

  // The data pipeline's executor, as small as it gets on a 2-core machine.
  std::unique_ptr<core::Executor> executor_ =
      std::make_unique<core::Executor>(core::Executor::Options{"test-data", 2, 64});

  // The distinct objects the store holds: loose ones, and those the indexes
  // of published packs list (format in content_store.h).
  size_t ObjectCount() const {
    std::set<std::string> digests;
    std::error_code missing;  // a folder with nothing in it does not exist
    for (const auto& entry :
         fs::recursive_directory_iterator(base_ / "store" / "objects", missing)) {
      if (!entry.is_regular_file()) continue;
      digests.insert(entry.path().parent_path().filename().string() +
                     entry.path().filename().string());
    }
    for (const auto& entry : fs::directory_iterator(base_ / "store" / "packs", missing)) {
      if (entry.path().extension() != ".idx") continue;
      std::string index = ReadFile(entry.path());
      uint64_t count;
      std::memcpy(&count, index.data() + 8, sizeof count);
      for (uint64_t i = 0; i < count; ++i) {
        Sha256::Digest digest;
        std::memcpy(digest.data(), index.data() + 16 + i * 48, digest.size());
        digests.insert(ToHex(digest));
      }
    }
    return digests.size();
  }
  // Published packs and indexes (not the temporary files of writes).
  size_t PackCount() const {
    size_t count = 0;
    if (!fs::exists(base_ / "store" / "packs")) return 0;
    for (const auto& entry : fs::directory_iterator(base_ / "store" / "packs")) {
      if (entry.path().filename().string().find(".slipway-tmp-") == std::string::npos) ++count;
    }
    return count;
  }
  // What writes under way left: temporary files of blob writes (beside
  // their keys) and the scratch folder's files.
  size_t TempCount() const {
    size_t count = 0;
    for (const auto& entry : fs::recursive_directory_iterator(base_ / "store")) {
      if (!entry.is_regular_file()) continue;
      if (entry.path().filename().string().find(".slipway-tmp-") != std::string::npos ||
          entry.path().parent_path().filename() == "tmp") {
        ++count;
      }
    }
    return count;
  }
  // The file behind a location's key.
  fs::path FileOf(const ContentStore::Location& location) const {
    return base_ / "store" / location.key;
  }

  fs::path base_;
  std::unique_ptr<ContentStore> store_;
};

TEST_F(ContentStoreTest, PutBlobStoresOnceUnderItsDigest) {
  std::string digest = store_->PutBlob("abc");
  EXPECT_EQ(digest, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  fs::path expected = base_ / "store" / "objects" / "ba" /
                      "7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  std::optional<ContentStore::Location> location = store_->Locate(digest);
  ASSERT_TRUE(location.has_value());
  EXPECT_EQ(location->key,
            "objects/ba/7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(FileOf(*location), expected);
  EXPECT_FALSE(location->packed);
  EXPECT_EQ(location->size, 3u);
  EXPECT_EQ(ReadFile(expected), "abc");
  EXPECT_TRUE(store_->Has(digest));
  EXPECT_EQ(store_->ReadBlob(digest), "abc");

  EXPECT_EQ(store_->PutBlob("abc"), digest);
  EXPECT_EQ(ObjectCount(), 1u);
  EXPECT_EQ(TempCount(), 0u);

  std::string empty = store_->PutBlob("");
  EXPECT_EQ(store_->ReadBlob(empty), "");
}

TEST_F(ContentStoreTest, InvalidDigestsAreRefused) {
  std::string valid = Sha256::Hex("x");
  std::string upper = valid;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  for (const std::string& digest :
       {std::string(), std::string("abc"), upper, valid.substr(1), valid + "0",
        std::string("../../../../etc/passwd") + std::string(42, '0'), std::string(63, 'a') + "g",
        std::string(62, 'a') + "/a"}) {
    SCOPED_TRACE(digest);
    ExpectError([&] { store_->Locate(digest); }, ErrorCode::kInvalidParameterValue,
                {"invalid digest"});
    ExpectError([&] { store_->Has(digest); }, ErrorCode::kInvalidParameterValue, {"digest"});
    ExpectError([&] { store_->ReadBlob(digest); }, ErrorCode::kInvalidParameterValue, {"digest"});
    ExpectError(
        [&] {
          store_->Missing({valid, digest});
        },
        ErrorCode::kInvalidParameterValue, {"digest"});
    ExpectError([&] { store_->GetManifest(digest); }, ErrorCode::kInvalidParameterValue,
                {"digest"});
  }
  EXPECT_FALSE(IsValidDigest(upper));
  EXPECT_TRUE(IsValidDigest(valid));
}

TEST_F(ContentStoreTest, MissingAndReadOfAbsentObjects) {
  std::string present = store_->PutBlob("present");
  std::string absent = Sha256::Hex("absent");
  std::string other = Sha256::Hex("other");
  EXPECT_EQ(store_->Missing({present, absent, other, absent, present}),
            (std::vector<std::string>{absent, other}));
  EXPECT_FALSE(store_->Has(absent));
  ExpectError([&] { store_->ReadBlob(absent); }, ErrorCode::kResourceDoesNotExist, {absent});
}

TEST_F(ContentStoreTest, CorruptObjectIsDetectedOnRead) {
  std::string content = RandomBytes(100000, 1);
  std::string digest = store_->PutBlob(content);
  fs::path object = FileOf(*store_->Locate(digest));
  fs::permissions(object, fs::perms::owner_write, fs::perm_options::add);
  content[5000] ^= 1;
  WriteFile(object, content);
  ExpectError([&] { store_->ReadBlob(digest); }, ErrorCode::kInternalError, {digest, "corrupt"});
}

TEST_F(ContentStoreTest, MaterializeNamesACorruptChunkAndLeavesNoOutput) {
  WriteFile(base_ / "in.bin", RandomBytes(1 << 20, 2));
  FileManifest manifest = store_->AddFile(base_ / "in.bin").manifest;
  ASSERT_GT(manifest.chunks.size(), 3u);
  const ChunkRef& victim = manifest.chunks[2];
  ContentStore::Location location = *store_->Locate(victim.digest);
  EXPECT_TRUE(location.packed);
  EXPECT_EQ(location.size, victim.size);
  std::string bytes = ReadFile(FileOf(location));
  bytes[location.offset + 10] ^= 0x40;
  fs::permissions(FileOf(location), fs::perms::owner_write, fs::perm_options::add);
  WriteFile(FileOf(location), bytes);
  ExpectError([&] { store_->ReadBlob(victim.digest); }, ErrorCode::kInternalError,
              {victim.digest, "corrupt"});

  ExpectError([&] { store_->Materialize(manifest, base_ / "out" / "copy.bin"); },
              ErrorCode::kInternalError, {victim.digest});
  EXPECT_EQ(CountFiles(base_ / "out"), 0u);  // neither the file nor its temp
}

TEST_F(ContentStoreTest, MaterializeReportsAMissingChunk) {
  WriteFile(base_ / "in.bin", RandomBytes(300000, 3));
  FileManifest manifest = store_->AddFile(base_ / "in.bin").manifest;
  // The pack is gone but its index is not: a damaged store, naming the object.
  fs::path pack = FileOf(*store_->Locate(manifest.chunks.front().digest));
  fs::remove(pack);
  ExpectError([&] { store_->Materialize(manifest, base_ / "copy.bin"); }, ErrorCode::kInternalError,
              {manifest.chunks.front().digest, "pack", "missing"});
  EXPECT_FALSE(fs::exists(base_ / "copy.bin"));
  // Reopened alone, the store drops the index: the chunk is simply absent,
  // and an add stores it again.
  store_.reset();
  store_ = ContentStore::Open(base_ / "store");
  EXPECT_EQ(PackCount(), 0u);
  EXPECT_FALSE(store_->Has(manifest.chunks.front().digest));
  ExpectError([&] { store_->Materialize(manifest, base_ / "copy.bin"); },
              ErrorCode::kResourceDoesNotExist,
              {"chunk " + manifest.chunks.front().digest + " does not exist"});
  EXPECT_FALSE(fs::exists(base_ / "copy.bin"));
  EXPECT_EQ(store_->AddFile(base_ / "in.bin").stats.chunks_new, manifest.chunks.size());
  store_->Materialize(manifest, base_ / "copy.bin");
}

TEST_F(ContentStoreTest, AnAddWritesOnePackAndItsIndex) {
  WriteFile(base_ / "a" / "one.bin", RandomBytes(2 << 20, 31));
  WriteFile(base_ / "a" / "two.bin", RandomBytes(1 << 20, 32));
  AddTreeResult result = store_->AddTree(base_ / "a");
  EXPECT_EQ(PackCount(), 2u);  // one .pack, one .idx for the whole folder
  EXPECT_EQ(CountFiles(base_ / "store" / "objects"), 0u);
  uint64_t packed_bytes = 0;
  for (const TreeEntry& entry : result.manifest.entries) {
    for (const ChunkRef& chunk : entry.file.chunks) {
      ContentStore::Location location = *store_->Locate(chunk.digest);
      EXPECT_TRUE(location.packed);
      EXPECT_EQ(location.size, chunk.size);
      packed_bytes += chunk.size;
    }
  }
  EXPECT_EQ(packed_bytes, 3u << 20);
  // Nothing new: no pack at all.
  store_->AddTree(base_ / "a");
  EXPECT_EQ(PackCount(), 2u);
}

TEST_F(ContentStoreTest, APackPublishedByAnotherProcessIsFoundOnTheNextLookup) {
  // Two stores on one root stand for two processes.
  auto other = ContentStore::Open(base_ / "store");
  WriteFile(base_ / "in.bin", RandomBytes(1 << 20, 33));
  FileManifest manifest = other->AddFile(base_ / "in.bin").manifest;
  std::vector<std::string> digests;
  for (const ChunkRef& chunk : manifest.chunks) digests.push_back(chunk.digest);
  EXPECT_TRUE(store_->Missing(digests).empty());
  EXPECT_TRUE(store_->Has(digests.back()));
  store_->Materialize(manifest, base_ / "copy.bin");
  EXPECT_EQ(Sha256::Hex(ReadFile(base_ / "copy.bin")), manifest.sha256);
  // And an add here stores none of it again.
  EXPECT_EQ(store_->AddFile(base_ / "in.bin").stats.bytes_new, 0u);
}

TEST_F(ContentStoreTest, ACorruptPackIndexIsReportedByName) {
  WriteFile(base_ / "in.bin", RandomBytes(1 << 20, 34));
  FileManifest manifest = store_->AddFile(base_ / "in.bin").manifest;
  fs::path index = FileOf(*store_->Locate(manifest.chunks.front().digest));
  index.replace_extension(".idx");
  std::string bytes = ReadFile(index);
  bytes[20] ^= 1;
  fs::permissions(index, fs::perms::owner_write, fs::perm_options::add);
  WriteFile(index, bytes);
  store_.reset();
  ExpectError([&] { ContentStore::Open(base_ / "store"); }, ErrorCode::kInternalError,
              {index.filename().string(), "corrupt", "checksum"});
  WriteFile(index, bytes.substr(0, bytes.size() - 7));  // torn
  ExpectError([&] { ContentStore::Open(base_ / "store"); }, ErrorCode::kInternalError,
              {index.filename().string(), "corrupt"});
  fs::remove(index);
  store_ = ContentStore::Open(base_ / "store");
}

// Sets the modification time of `path` to `age` ago.
void MakeOld(const fs::path& path, std::chrono::seconds age) {
  fs::last_write_time(path, fs::file_time_type::clock::now() - age);
}

TEST_F(ContentStoreTest, OpenDeletesWhatInterruptedWritesLeftOnceItIsOld) {
  // What a killed process leaves: a scratch copy, the temporary file of a
  // pack being written, and a pack published without its index (an add that
  // died between its two publishes).
  const fs::path scratch = base_ / "store" / "tmp" / "validate-1.csv";
  const fs::path writing = base_ / "store" / "packs" / ".a1.pack.slipway-tmp-1234-0";
  const fs::path orphan = base_ / "store" / "packs" / (Sha256::Hex("x") + ".pack");
  WriteFile(scratch, "half a copy");
  WriteFile(writing, "half a pack");
  WriteFile(orphan, "orphan");
  // Recent: they may belong to a writer still at work (no lock says
  // otherwise any more), so another Open leaves them.
  auto second = ContentStore::Open(base_ / "store");
  EXPECT_EQ(TempCount(), 2u);
  EXPECT_EQ(PackCount(), 1u);
  // Older than abandoned_after: nobody is writing them.
  for (const fs::path& path : {scratch, writing, orphan}) MakeOld(path, std::chrono::hours(2));
  // A pack published long ago whose index is there stays, of course.
  WriteFile(base_ / "in.bin", RandomBytes(300000, 36));
  FileManifest kept = store_->AddFile(base_ / "in.bin").manifest;
  for (const auto& entry : fs::directory_iterator(base_ / "store" / "packs")) {
    MakeOld(entry.path(), std::chrono::hours(2));
  }
  auto third = ContentStore::Open(base_ / "store");  // while the others are open
  EXPECT_EQ(TempCount(), 0u);
  EXPECT_EQ(PackCount(), 2u);  // the add's pack and its index
  EXPECT_EQ(ObjectCount(), kept.chunks.size());
  third->Materialize(kept, base_ / "copy.bin");
  EXPECT_EQ(Sha256::Hex(ReadFile(base_ / "copy.bin")), kept.sha256);
  // A shorter age for the sweep, as an option.
  ContentStore::Options quick;
  quick.abandoned_after_ms = 1000;
  WriteFile(writing, "half a pack");
  MakeOld(writing, std::chrono::seconds(5));
  EXPECT_EQ(ContentStore::Open(base_ / "store", quick)->SweepAbandoned(), 0u);  // Open swept it
  EXPECT_EQ(TempCount(), 0u);
  quick.abandoned_after_ms = 0;
  ExpectError([&] { ContentStore::Open(base_ / "store", quick); },
              ErrorCode::kInvalidParameterValue, {"abandoned_after_ms"});
}

// A BlobStore that forwards to a local one and lets a test act when a
// writer opens: stands in for another process at a chosen moment.
class HookedBlobStore final : public blob::BlobStore {
 public:
  HookedBlobStore(std::unique_ptr<blob::BlobStore> inner,
                  std::function<void(blob::BlobStore&, std::string_view)> on_write)
      : inner_(std::move(inner)), on_write_(std::move(on_write)) {}
  std::string Describe() const override { return inner_->Describe(); }
  std::unique_ptr<blob::BlobWriter> OpenWriter(std::string_view key,
                                               const blob::WriterOptions& options) override {
    on_write_(*inner_, key);
    return inner_->OpenWriter(key, options);
  }
  std::unique_ptr<blob::BlobReader> Open(std::string_view key) override {
    std::lock_guard lock(mu_);
    ++opens_[std::string(key)];
    return inner_->Open(key);
  }
  // How often each key was opened for reading.
  std::map<std::string, int> opens() {
    std::lock_guard lock(mu_);
    return opens_;
  }
  std::optional<blob::BlobInfo> Stat(std::string_view key) override { return inner_->Stat(key); }
  blob::ListPage List(const blob::ListOptions& options) override { return inner_->List(options); }
  bool Delete(std::string_view key) override { return inner_->Delete(key); }
  uint64_t DeletePrefix(std::string_view folder) override { return inner_->DeletePrefix(folder); }
  uint64_t SweepAbandoned(std::string_view folder, int64_t cutoff_ms) override {
    return inner_->SweepAbandoned(folder, cutoff_ms);
  }
  void MakeDurable(std::string_view folder) override { inner_->MakeDurable(folder); }

 private:
  std::unique_ptr<blob::BlobStore> inner_;
  std::function<void(blob::BlobStore&, std::string_view)> on_write_;
  std::mutex mu_;  // guards opens_
  std::map<std::string, int> opens_;
};

TEST_F(ContentStoreTest, ReadsOpenEachPackOnceAndUseNothingButTheBlobStore) {
  auto hooked = std::make_unique<HookedBlobStore>(
      blob::LocalBlobStore::Create({base_ / "hooked", false}), [](blob::BlobStore&, auto) {});
  HookedBlobStore* blobs = hooked.get();
  ContentStore::Options options;
  options.scratch_folder = base_ / "scratch";
  auto store = ContentStore::Open(std::move(hooked), options);
  WriteFile(base_ / "in.bin", RandomBytes(2 << 20, 38));
  FileManifest manifest = store->AddFile(base_ / "in.bin").manifest;
  ASSERT_GT(manifest.chunks.size(), 8u);
  store->Materialize(manifest, base_ / "copy.bin");
  for (const ChunkRef& chunk : manifest.chunks) store->ReadBlob(chunk.digest);
  EXPECT_EQ(Sha256::Hex(ReadFile(base_ / "copy.bin")), manifest.sha256);
  std::map<std::string, int> opens = blobs->opens();
  int pack_opens = 0;
  for (const auto& [key, count] : opens) {
    if (key.ends_with(".pack")) pack_opens += count;
  }
  EXPECT_EQ(pack_opens, 1);  // one reader, cached, for every chunk read
  // The store's blobs are all it wrote: its keys, nothing beside them.
  std::set<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(base_ / "hooked")) {
    if (entry.is_regular_file()) files.insert(entry.path().lexically_relative(base_ / "hooked"));
  }
  ASSERT_EQ(files.size(), 2u);
  EXPECT_TRUE(files.begin()->starts_with("packs/") && files.begin()->ends_with(".idx"));
  EXPECT_TRUE(files.rbegin()->ends_with(".pack"));
  EXPECT_TRUE(fs::is_empty(base_ / "scratch"));
}

TEST_F(ContentStoreTest, ACommitWhosePackWasSweptFailsRatherThanAcknowledge) {
  // A writer stalled between publishing its pack and its index for longer
  // than the sweep's age: a sweep elsewhere deletes the pack. The commit must
  // then fail and leave no index, not report objects that are gone.
  std::vector<std::string> written;
  auto hooked = std::make_unique<HookedBlobStore>(
      blob::LocalBlobStore::Create({base_ / "hooked", false}),
      [&](blob::BlobStore& inner, std::string_view key) {
        written.emplace_back(key);
        if (key.ends_with(".idx")) {
          std::string pack(key.substr(0, key.size() - 4));
          EXPECT_TRUE(inner.Delete(pack + ".pack"));  // published just before
        }
      });
  ContentStore::Options options;
  options.durable = false;
  auto store = ContentStore::Open(std::move(hooked), options);
  WriteFile(base_ / "in.bin", RandomBytes(300000, 37));
  ExpectError([&] { store->AddFile(base_ / "in.bin"); }, ErrorCode::kInternalError,
              {"swept as abandoned"});
  ASSERT_EQ(written.size(), 2u);  // the pack (named when it started), then its index
  EXPECT_TRUE(written[0].starts_with("packs/") && written[0].ends_with(".pack")) << written[0];
  EXPECT_EQ(written[1], written[0].substr(0, written[0].size() - 5) + ".idx");
  EXPECT_FALSE(fs::exists(base_ / "hooked" / "packs"));  // nothing left, not even the folder
  // The next add stores it all again.
  EXPECT_EQ(ContentStore::Open(base_ / "hooked")->AddFile(base_ / "in.bin").stats.bytes_new,
            300000u);
}

TEST_F(ContentStoreTest, AddFileChunksHashesAndStoresOnlyNewChunks) {
  std::string content = RandomBytes(5 << 20, 4);
  WriteFile(base_ / "data.bin", content);
  std::vector<std::pair<uint64_t, uint64_t>> progress;
  AddFileResult first = store_->AddFile(base_ / "data.bin", [&](uint64_t done, uint64_t total) {
    progress.emplace_back(done, total);
  });
  const FileManifest& manifest = first.manifest;
  EXPECT_EQ(manifest.sha256, Sha256::Hex(content));
  EXPECT_EQ(manifest.size, content.size());
  std::vector<std::string> digests;
  uint64_t offset = 0;
  for (const ChunkRef& chunk : manifest.chunks) {
    EXPECT_EQ(chunk.offset, offset);
    EXPECT_EQ(chunk.digest, Sha256::Hex(std::string_view(content).substr(offset, chunk.size)));
    offset += chunk.size;
    digests.push_back(chunk.digest);
  }
  EXPECT_EQ(offset, content.size());
  EXPECT_TRUE(store_->Missing(digests).empty());
  EXPECT_EQ(first.stats.bytes_read, content.size());
  EXPECT_EQ(first.stats.chunks_total, manifest.chunks.size());
  EXPECT_EQ(first.stats.chunks_new, manifest.chunks.size());
  EXPECT_EQ(first.stats.bytes_new, content.size());
  EXPECT_EQ(ObjectCount(), manifest.chunks.size());
  EXPECT_EQ(TempCount(), 0u);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), std::make_pair(uint64_t{content.size()}, uint64_t{content.size()}));
  for (size_t i = 1; i < progress.size(); ++i) EXPECT_GE(progress[i].first, progress[i - 1].first);

  AddFileResult second = store_->AddFile(base_ / "data.bin");
  EXPECT_EQ(second.manifest, manifest);
  EXPECT_EQ(second.stats.chunks_new, 0u);
  EXPECT_EQ(second.stats.bytes_new, 0u);
  EXPECT_EQ(second.stats.bytes_read, content.size());
  EXPECT_EQ(ObjectCount(), manifest.chunks.size());
}

TEST_F(ContentStoreTest, AddFileThroughThePipelineCutsLikeTheChunker) {
  // Reads of 1 MiB make a 21 MB file go through the threaded pipeline with
  // many buffer boundaries; the chunks must be those of ChunkAll.
  ContentStore::Options options = Options();
  options.read_size = 1 << 20;
  store_.reset();
  store_ = ContentStore::Open(base_ / "store", options);
  std::string content = RandomBytes((21 << 20) + 12345, 5);
  // Repeated blocks: chunks that occur twice in one file are stored once.
  content.replace(10 << 20, 3 << 20, content.substr(2 << 20, 3 << 20));
  WriteFile(base_ / "big.bin", content);

  AddFileResult result = store_->AddFile(base_ / "big.bin");
  auto bytes = std::span(reinterpret_cast<const uint8_t*>(content.data()), content.size());
  std::vector<ChunkSpan> expected = ChunkAll(bytes);
  ASSERT_EQ(result.manifest.chunks.size(), expected.size());
  std::set<std::string> distinct;
  for (size_t i = 0; i < expected.size(); ++i) {
    const ChunkRef& chunk = result.manifest.chunks[i];
    EXPECT_EQ(chunk.offset, expected[i].offset);
    EXPECT_EQ(chunk.size, expected[i].size);
    EXPECT_EQ(chunk.digest,
              Sha256::Hex(std::string_view(content).substr(chunk.offset, chunk.size)));
    distinct.insert(chunk.digest);
  }
  EXPECT_LT(distinct.size(), expected.size());
  EXPECT_EQ(result.stats.chunks_new, distinct.size());
  EXPECT_EQ(ObjectCount(), distinct.size());
  EXPECT_EQ(result.manifest.sha256, Sha256::Hex(content));

  store_->Materialize(result.manifest, base_ / "copy.bin");
  EXPECT_TRUE(ReadFile(base_ / "copy.bin") == content);
}

TEST_F(ContentStoreTest, ChangingOnePercentOfCsvRowsStoresFewNewBytes) {
  std::mt19937_64 random(6);
  std::vector<std::string> rows;
  size_t size = 0;
  while (size < (50 << 20)) {
    rows.push_back(CsvRow(random, rows.size()));
    size += rows.back().size();
  }
  auto join = [&] {
    std::string text;
    text.reserve(size + (1 << 20));
    for (const std::string& row : rows) text += row;
    return text;
  };
  std::string before = join();
  WriteFile(base_ / "table.csv", before);
  AddFileResult first = store_->AddFile(base_ / "table.csv");
  EXPECT_EQ(first.stats.bytes_new, before.size());

  // 1% of the rows, in 5 contiguous regions, get new values (and lengths).
  const size_t per_region = rows.size() / 100 / 5;
  for (size_t region = 0; region < 5; ++region) {
    size_t start = rows.size() / 5 * region + rows.size() / 13;
    for (size_t i = start; i < start + per_region; ++i) rows[i] = CsvRow(random, i);
  }
  std::string after = join();
  ASSERT_NE(after, before);
  WriteFile(base_ / "table.csv", after);
  AddFileResult second = store_->AddFile(base_ / "table.csv");
  EXPECT_LT(static_cast<double>(second.stats.bytes_new), 0.05 * static_cast<double>(after.size()));
  EXPECT_GT(second.stats.bytes_new, 0u);

  store_->Materialize(second.manifest, base_ / "v2.csv");
  store_->Materialize(first.manifest, base_ / "v1.csv");
  EXPECT_TRUE(ReadFile(base_ / "v2.csv") == after);
  EXPECT_TRUE(ReadFile(base_ / "v1.csv") == before);
}

TEST_F(ContentStoreTest, MaterializeRoundTripsFiles) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{16 << 10}, size_t{3 << 20}}) {
    SCOPED_TRACE(size);
    std::string content = RandomBytes(size, size + 7);
    fs::path in = base_ / ("in-" + std::to_string(size));
    WriteFile(in, content);
    FileManifest manifest = store_->AddFile(in).manifest;
    EXPECT_EQ(manifest.chunks.empty(), size == 0);
    fs::path out = base_ / "out" / ("copy-" + std::to_string(size));
    store_->Materialize(manifest, out);
    EXPECT_TRUE(ReadFile(out) == content);
    EXPECT_EQ(fs::file_size(out), size);
    // Replacing an existing file works too.
    WriteFile(out, "old content");
    store_->Materialize(manifest, out);
    EXPECT_TRUE(ReadFile(out) == content);
  }
  EXPECT_EQ(CountFiles(base_ / "out"), 4u);  // no temp file left beside them
}

TEST_F(ContentStoreTest, AddTreeAndMaterializeRoundTrip) {
  fs::path data = base_ / "data";
  WriteFile(data / "train" / "part-0.csv", RandomBytes(400000, 8));
  WriteFile(data / "train" / "part-1.csv", RandomBytes(20000, 9));
  WriteFile(data / "README", "hello");
  WriteFile(data / "empty.txt", "");
  WriteFile(data / "a b" / "c.d", "spaces");
  fs::create_directories(data / "scratch" / "nested-empty");
  fs::create_symlink("train/part-1.csv", data / "latest.csv");

  AddTreeResult result = store_->AddTree(data);
  std::vector<std::string> paths;
  for (const TreeEntry& entry : result.manifest.entries) paths.push_back(entry.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"README", "a b/c.d", "empty.txt", "latest.csv",
                                             "scratch/nested-empty", "train/part-0.csv",
                                             "train/part-1.csv"}));
  EXPECT_TRUE(result.manifest.entries[4].is_dir);
  EXPECT_EQ(result.manifest.entries[3].file, result.manifest.entries[6].file);  // the link's target
  EXPECT_EQ(result.manifest.digest, TreeDigest(result.manifest.entries));
  EXPECT_EQ(result.stats.bytes_read, 400000u + 20000 + 5 + 0 + 6 + 20000);

  std::string version = store_->PutManifest(result.manifest);
  Manifest loaded = store_->GetManifest(version);
  ASSERT_TRUE(std::holds_alternative<TreeManifest>(loaded));
  EXPECT_EQ(std::get<TreeManifest>(loaded), result.manifest);
  EXPECT_EQ(store_->PutManifest(result.manifest), version);

  store_->Materialize(loaded, base_ / "checkout");
  fs::path out = base_ / "checkout";
  for (const char* file :
       {"train/part-0.csv", "train/part-1.csv", "README", "empty.txt", "a b/c.d", "latest.csv"}) {
    EXPECT_TRUE(ReadFile(out / file) == ReadFile(data / file)) << file;
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(out / file))) << file;
  }
  EXPECT_TRUE(fs::is_directory(out / "scratch" / "nested-empty"));
  EXPECT_TRUE(fs::is_empty(out / "scratch" / "nested-empty"));
  // Nothing but the checkout beside it (no temp folder).
  size_t siblings = 0;
  for (const auto& entry : fs::directory_iterator(base_)) siblings += entry.path() != data;
  EXPECT_EQ(siblings, 2u);  // the store and the checkout

  // The same content added again: same digest, nothing new.
  AddTreeResult again = store_->AddTree(out);
  EXPECT_EQ(again.manifest.digest, result.manifest.digest);
  EXPECT_EQ(again.stats.chunks_new, 0u);

  // An empty folder is a tree with no entries.
  fs::create_directories(base_ / "void");
  AddTreeResult empty = store_->AddTree(base_ / "void");
  EXPECT_TRUE(empty.manifest.entries.empty());
  store_->Materialize(empty.manifest, base_ / "void-copy");
  EXPECT_TRUE(fs::is_directory(base_ / "void-copy") && fs::is_empty(base_ / "void-copy"));
}

TEST_F(ContentStoreTest, AddTreeSkipsTheStoreInsideTheFolder) {
  store_.reset();
  store_ = ContentStore::Open(base_ / "project" / ".slipway");
  WriteFile(base_ / "project" / "x.csv", "1,2\n");
  AddTreeResult result = store_->AddTree(base_ / "project");
  ASSERT_EQ(result.manifest.entries.size(), 1u);
  EXPECT_EQ(result.manifest.entries[0].path, "x.csv");
}

TEST_F(ContentStoreTest, AddTreeRefusesLinksOutOfTheFolderAndSpecialFiles) {
  WriteFile(base_ / "secret", "password");
  WriteFile(base_ / "data" / "ok.csv", "1\n");
  fs::create_symlink(base_ / "secret", base_ / "data" / "leak");
  ExpectError([&] { store_->AddTree(base_ / "data"); }, ErrorCode::kInvalidParameterValue,
              {"leak", "outside"});
  fs::remove(base_ / "data" / "leak");

  fs::create_symlink("../secret", base_ / "data" / "relative-leak");
  ExpectError([&] { store_->AddTree(base_ / "data"); }, ErrorCode::kInvalidParameterValue,
              {"relative-leak", "outside"});
  fs::remove(base_ / "data" / "relative-leak");

  fs::create_symlink("nowhere", base_ / "data" / "dangling");
  ExpectError([&] { store_->AddTree(base_ / "data"); }, ErrorCode::kInvalidParameterValue,
              {"dangling"});
  fs::remove(base_ / "data" / "dangling");

  ASSERT_EQ(::mkfifo((base_ / "data" / "pipe").c_str(), 0600), 0);
  ExpectError([&] { store_->AddTree(base_ / "data"); }, ErrorCode::kInvalidParameterValue,
              {"pipe", "special file"});
  ExpectError([&] { store_->AddFile(base_ / "data" / "pipe"); }, ErrorCode::kInvalidParameterValue,
              {"pipe", "not a regular file"});
  fs::remove(base_ / "data" / "pipe");

  EXPECT_EQ(ObjectCount(), 0u);  // every refusal came before any write
  EXPECT_EQ(store_->AddTree(base_ / "data").manifest.entries.size(), 1u);
}

TEST_F(ContentStoreTest, ErrorsSayWhatAndWhere) {
  fs::path missing = base_ / "x.csv";
  ExpectError([&] { store_->AddFile(missing); }, ErrorCode::kResourceDoesNotExist,
              {"cannot read '" + missing.string() + "': No such file or directory"});
  ExpectError([&] { store_->AddTree(base_ / "no-such-folder"); }, ErrorCode::kResourceDoesNotExist,
              {"no-such-folder", "No such file or directory"});
  fs::create_directories(base_ / "folder");
  ExpectError([&] { store_->AddFile(base_ / "folder"); }, ErrorCode::kInvalidParameterValue,
              {"folder", "is a folder"});
  WriteFile(base_ / "file", "x");
  ExpectError([&] { store_->AddTree(base_ / "file"); }, ErrorCode::kInvalidParameterValue,
              {"file", "not a folder"});
}

TEST_F(ContentStoreTest, OpenRejectsInvalidOptions) {
  ContentStore::Options options;
  options.read_size = 256 * 1024;
  ExpectError([&] { ContentStore::Open(base_ / "other", options); },
              ErrorCode::kInvalidParameterValue, {"read_size"});
  options = {};
  options.chunking.avg_size = 3000;
  ExpectError([&] { ContentStore::Open(base_ / "other", options); },
              ErrorCode::kInvalidParameterValue, {"avg_size"});
}

TEST_F(ContentStoreTest, AFailedAddLeavesNoObjectAndNoTempFile) {
  ContentStore::Options options = Options();
  options.read_size = 1 << 20;
  store_.reset();
  store_ = ContentStore::Open(base_ / "store", options);
  WriteFile(base_ / "big.bin", RandomBytes(12 << 20, 10));
  // The progress callback runs on the adding thread: throwing from it
  // interrupts the add half way, after chunks were written to tmp/.
  ExpectError(
      [&] {
        store_->AddFile(base_ / "big.bin", [](uint64_t done, uint64_t) {
          if (done > (6 << 20)) throw Error(ErrorCode::kInternalError, "interrupted by the test");
        });
      },
      ErrorCode::kInternalError, {"interrupted by the test"});
  EXPECT_EQ(ObjectCount(), 0u);
  EXPECT_EQ(TempCount(), 0u);
  // The next add stores everything.
  AddFileResult result = store_->AddFile(base_ / "big.bin");
  EXPECT_EQ(result.stats.bytes_new, 12u << 20);
}

TEST_F(ContentStoreTest, TheCommitGateRunsOnceBeforeAnythingIsVisibleAndCanStopTheAdd) {
  WriteFile(base_ / "data.bin", RandomBytes(3 << 20, 11));
  int calls = 0;
  size_t visible_at_gate = 99;
  ExpectError(
      [&] {
        store_->AddFile(base_ / "data.bin", nullptr, [&] {
          ++calls;
          visible_at_gate = ObjectCount();
          throw Error(ErrorCode::kInvalidParameterValue, "refused by the gate");
        });
      },
      ErrorCode::kInvalidParameterValue, {"refused by the gate"});
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(visible_at_gate, 0u);
  EXPECT_EQ(ObjectCount(), 0u);
  EXPECT_EQ(TempCount(), 0u);
  // A gate that passes: everything is stored, the gate ran once.
  AddFileResult result = store_->AddFile(base_ / "data.bin", nullptr, [&] { ++calls; });
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(ObjectCount(), result.manifest.chunks.size());
  // Nothing new to publish: the gate is not needed and does not run.
  store_->AddFile(base_ / "data.bin", nullptr, [&] { ++calls; });
  EXPECT_EQ(calls, 2);
}

TEST_F(ContentStoreTest, ALargeAddCommitsAsItGoes) {
  ContentStore::Options options = Options();
  options.read_size = 1 << 20;
  options.commit_every_bytes = 2 << 20;
  store_.reset();
  store_ = ContentStore::Open(base_ / "store", options);
  std::string content = RandomBytes(12 << 20, 15);
  WriteFile(base_ / "big.bin", content);
  size_t visible_during_add = 0;
  AddFileResult result = store_->AddFile(base_ / "big.bin", [&](uint64_t, uint64_t) {
    visible_during_add = std::max(visible_during_add, ObjectCount());
  });
  EXPECT_GT(visible_during_add, 0u);  // objects were committed before the end
  EXPECT_EQ(result.stats.chunks_new, result.manifest.chunks.size());
  EXPECT_EQ(ObjectCount(), result.manifest.chunks.size());
  EXPECT_EQ(TempCount(), 0u);
  store_->Materialize(result.manifest, base_ / "copy.bin");
  EXPECT_TRUE(ReadFile(base_ / "copy.bin") == content);
}

TEST_F(ContentStoreTest, ConcurrentAddsOfTheSameFileAgree) {
  WriteFile(base_ / "shared.bin", RandomBytes(9 << 20, 11));
  std::vector<AddFileResult> results(3);
  std::vector<std::thread> threads;
  for (auto& result : results) {
    threads.emplace_back([&] { result = store_->AddFile(base_ / "shared.bin"); });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) EXPECT_EQ(result.manifest, results[0].manifest);
  for (const ChunkRef& chunk : results[0].manifest.chunks) {
    EXPECT_NO_THROW(store_->ReadBlob(chunk.digest));
  }
  EXPECT_EQ(ObjectCount(), results[0].manifest.chunks.size());
  EXPECT_EQ(TempCount(), 0u);
}

// Four adds at once on a 2-thread executor whose threads are all taken:
// each add's hashing waits in the executor's queue, so the adds must make
// progress on their own threads (stages as threads of a bounded pool that
// wait on each other would never finish here).
TEST_F(ContentStoreTest, ConcurrentAddsFinishWhenTheExecutorHasNoThreadToGive) {
  ContentStore::Options options = Options();
  options.read_size = 1 << 20;
  store_.reset();
  store_ = ContentStore::Open(base_ / "store", options);
  std::vector<std::string> contents;
  for (int i = 0; i < 4; ++i) {
    contents.push_back(RandomBytes((6 << 20) + 1000 * i, 40 + i));
    WriteFile(base_ / ("in" + std::to_string(i) + ".bin"), contents.back());
  }
  test_util::ExecutorBlocker blocker(*executor_);
  std::vector<std::future<AddFileResult>> adds;
  for (int i = 0; i < 4; ++i) {
    adds.push_back(std::async(std::launch::async, [this, i] {
      return store_->AddFile(base_ / ("in" + std::to_string(i) + ".bin"));
    }));
  }
  for (auto& add : adds) EXPECT_TRUE(test_util::ReadyWithin(add, 120)) << "deadlock";
  blocker.Release();
  for (int i = 0; i < 4; ++i) {
    FileManifest manifest = adds[i].get().manifest;
    EXPECT_EQ(manifest.sha256, Sha256::Hex(contents[i]));
    store_->Materialize(manifest, base_ / ("out" + std::to_string(i) + ".bin"));
    EXPECT_TRUE(ReadFile(base_ / ("out" + std::to_string(i) + ".bin")) == contents[i]);
  }
}

// An add whose caller is itself the executor's only thread: the stages it
// waits for can only run on that thread, so the caller runs them.
TEST_F(ContentStoreTest, AnAddFromTheExecutorsOnlyThreadFinishes) {
  core::Executor one({"test-one", 1, 16});
  ContentStore::Options options = Options();
  options.read_size = 1 << 20;
  options.executor = &one;
  store_.reset();
  store_ = ContentStore::Open(base_ / "store", options);
  std::string content = RandomBytes(5 << 20, 50);
  WriteFile(base_ / "in.bin", content);
  std::promise<FileManifest> added;
  std::future<FileManifest> manifest = added.get_future();
  ASSERT_TRUE(one.TrySubmit([&] {
    try {
      added.set_value(store_->AddFile(base_ / "in.bin").manifest);
    } catch (...) {
      added.set_exception(std::current_exception());
    }
  }));
  ASSERT_TRUE(test_util::ReadyWithin(manifest, 120)) << "deadlock";
  EXPECT_EQ(manifest.get().sha256, Sha256::Hex(content));
}

// The executor changes where the hashing runs, not what is stored.
TEST_F(ContentStoreTest, AnAddStoresTheSameWithAndWithoutAnExecutor) {
  ContentStore::Options options = Options();
  options.read_size = 1 << 20;
  options.durable = false;
  ContentStore::Options inline_options = options;
  inline_options.executor = nullptr;
  std::string content = RandomBytes((9 << 20) + 777, 51);
  content.replace(6 << 20, 1 << 20, content.substr(1 << 20, 1 << 20));
  WriteFile(base_ / "in.bin", content);
  AddFileResult parallel = ContentStore::Open(base_ / "a", options)->AddFile(base_ / "in.bin");
  AddFileResult alone = ContentStore::Open(base_ / "b", inline_options)->AddFile(base_ / "in.bin");
  EXPECT_EQ(parallel.manifest, alone.manifest);
  EXPECT_EQ(parallel.stats.chunks_new, alone.stats.chunks_new);
  EXPECT_EQ(parallel.stats.bytes_new, alone.stats.bytes_new);
  EXPECT_EQ(parallel.manifest.sha256, Sha256::Hex(content));
}

TEST_F(ContentStoreTest, MaterializeRefusesEntryPathsThatEscape) {
  WriteFile(base_ / "in", "payload");
  FileManifest file = store_->AddFile(base_ / "in").manifest;
  for (const std::string& path :
       {std::string("../evil"), std::string("/tmp/evil"), std::string("a/../../evil"),
        std::string("a/.."), std::string("a//evil"), std::string("./evil"), std::string(""),
        std::string("a/\xff")}) {
    SCOPED_TRACE(path);
    TreeManifest tree;
    tree.entries.push_back({path, false, file});
    tree.digest = TreeDigest(tree.entries);
    ExpectError([&] { store_->Materialize(tree, base_ / "out" / "tree"); },
                ErrorCode::kInvalidParameterValue, {"'" + path + "'"});
    // A manifest loaded from JSON is checked the same way.
    json text = ManifestToJson(tree);
    ExpectError([&] { ManifestFromJson(text); }, ErrorCode::kInvalidParameterValue,
                {"'" + path + "'"});
  }
  EXPECT_FALSE(fs::exists(base_ / "evil"));
  EXPECT_FALSE(fs::exists(base_ / "out" / "evil"));
  EXPECT_FALSE(fs::exists("/tmp/evil"));
  EXPECT_FALSE(fs::exists(base_ / "out" / "tree"));
}

TEST_F(ContentStoreTest, MaterializeTreeNeedsAFreshOrEmptyTarget) {
  WriteFile(base_ / "data" / "f", "x");
  TreeManifest tree = store_->AddTree(base_ / "data").manifest;
  WriteFile(base_ / "busy" / "keep", "mine");
  ExpectError([&] { store_->Materialize(tree, base_ / "busy"); }, ErrorCode::kInvalidParameterValue,
              {"busy", "not an empty folder"});
  EXPECT_EQ(ReadFile(base_ / "busy" / "keep"), "mine");
  fs::create_directories(base_ / "empty");
  store_->Materialize(tree, base_ / "empty");
  EXPECT_EQ(ReadFile(base_ / "empty" / "f"), "x");
}

TEST_F(ContentStoreTest, ManifestsRoundTripThroughJsonAndAreChecked) {
  WriteFile(base_ / "in", RandomBytes(200000, 12));
  FileManifest file = store_->AddFile(base_ / "in").manifest;
  json text = ManifestToJson(file);
  EXPECT_EQ(text["kind"], "file");
  EXPECT_EQ(std::get<FileManifest>(ManifestFromJson(json::parse(text.dump()))), file);
  std::string version = store_->PutManifest(file);
  EXPECT_EQ(version, Sha256::Hex(text.dump()));
  EXPECT_EQ(std::get<FileManifest>(store_->GetManifest(version)), file);

  auto expect_rejected = [&](json broken, const std::string& field) {
    ExpectError([&] { ManifestFromJson(broken); }, ErrorCode::kInvalidParameterValue, {field});
  };
  json gap = text;
  gap["chunks"][1]["offset"] = gap["chunks"][1]["offset"].get<uint64_t>() + 1;
  expect_rejected(gap, "chunks[1].offset");
  json short_size = text;
  short_size["size"] = file.size + 1;
  expect_rejected(short_size, "size");
  json bad_digest = text;
  bad_digest["chunks"][0]["digest"] = "ABC";
  expect_rejected(bad_digest, "chunks[0].digest");
  json wrong_type = text;
  wrong_type["size"] = "12";
  expect_rejected(wrong_type, "manifest.size");
  json negative = text;
  negative["chunks"][0]["size"] = -1;
  expect_rejected(negative, "chunks[0].size");
  json no_kind = text;
  no_kind.erase("kind");
  expect_rejected(no_kind, "kind");

  TreeManifest tree;
  tree.entries = {{"b", false, file}, {"a", false, file}};
  tree.digest = TreeDigest(tree.entries);
  expect_rejected(ManifestToJson(tree), "not sorted");
  tree.entries = {{"a", false, file}, {"a", false, file}};
  tree.digest = TreeDigest(tree.entries);
  expect_rejected(ManifestToJson(tree), "repeats");
  tree.entries = {{"a", false, file}, {"a/b", false, file}};
  tree.digest = TreeDigest(tree.entries);
  expect_rejected(ManifestToJson(tree), "lies below");
  tree.entries = {{"a", false, file}, {"b", true, {}}};
  tree.digest = Sha256::Hex("something else");
  expect_rejected(ManifestToJson(tree), "does not match");
  tree.digest = TreeDigest(tree.entries);
  EXPECT_EQ(std::get<TreeManifest>(ManifestFromJson(ManifestToJson(tree))), tree);

  // An object that is not a manifest.
  std::string blob = store_->PutBlob("not json");
  ExpectError([&] { store_->GetManifest(blob); }, ErrorCode::kInvalidParameterValue,
              {blob, "not a manifest"});
  std::string other = store_->PutBlob(R"({"version": 1, "kind": "file"})");
  ExpectError([&] { store_->GetManifest(other); }, ErrorCode::kInvalidParameterValue, {"sha256"});
}

TEST_F(ContentStoreTest, TreeDigestDependsOnContentNotChunking) {
  WriteFile(base_ / "data" / "a", RandomBytes(300000, 13));
  TreeManifest default_cut = store_->AddTree(base_ / "data").manifest;
  ContentStore::Options options;
  options.chunking = {.min_size = 1024, .avg_size = 4096, .max_size = 16384};
  auto fine = ContentStore::Open(base_ / "fine-store", options);
  TreeManifest fine_cut = fine->AddTree(base_ / "data").manifest;
  EXPECT_NE(fine_cut.entries[0].file.chunks.size(), default_cut.entries[0].file.chunks.size());
  EXPECT_EQ(fine_cut.digest, default_cut.digest);

  WriteFile(base_ / "data" / "a", RandomBytes(300000, 14));
  EXPECT_NE(store_->AddTree(base_ / "data").manifest.digest, default_cut.digest);
}

}  // namespace
}  // namespace slipway::data
