#include "data/chunker.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <random>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace slipway::data {
namespace {

std::vector<uint8_t> RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; i += 8) {
    uint64_t value = random();
    std::memcpy(bytes.data() + i, &value, std::min<size_t>(8, size - i));
  }
  return bytes;
}

std::vector<uint64_t> CutsOf(const std::vector<ChunkSpan>& chunks) {
  std::vector<uint64_t> cuts;
  for (const ChunkSpan& chunk : chunks) cuts.push_back(chunk.offset + chunk.size);
  return cuts;
}

// Feeds `data` in pieces whose sizes `next_size` picks, then finishes.
std::vector<uint64_t> CutsWhenSplit(const std::vector<uint8_t>& data,
                                    const Chunker::Options& options,
                                    const std::function<size_t()>& next_size) {
  Chunker chunker(options);
  std::vector<uint64_t> cuts;
  size_t position = 0;
  while (position < data.size()) {
    size_t size = std::min(next_size(), data.size() - position);
    chunker.Feed({data.data() + position, size}, &cuts);
    position += size;
  }
  chunker.Finish(&cuts);
  return cuts;
}

// Bytes of `after` that lie in chunks also found in `before`.
double SharedFraction(const std::vector<uint8_t>& before, const std::vector<uint8_t>& after) {
  auto chunk_text = [](const std::vector<uint8_t>& data, const ChunkSpan& chunk) {
    return std::string_view(reinterpret_cast<const char*>(data.data()) + chunk.offset, chunk.size);
  };
  std::set<std::string_view> known;
  for (const ChunkSpan& chunk : ChunkAll(before)) known.insert(chunk_text(before, chunk));
  uint64_t shared = 0;
  for (const ChunkSpan& chunk : ChunkAll(after)) {
    if (known.count(chunk_text(after, chunk))) shared += chunk.size;
  }
  return static_cast<double>(shared) / static_cast<double>(after.size());
}

void ExpectInvalid(const Chunker::Options& options, const std::string& field) {
  try {
    options.Validate();
    ADD_FAILURE() << "options accepted; expected an error about " << field;
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidParameterValue);
    EXPECT_NE(std::string(error.what()).find(field), std::string::npos) << error.what();
  }
}

TEST(ChunkerTest, RejectsInvalidOptions) {
  Chunker::Options options;
  EXPECT_NO_THROW(options.Validate());

  options = {};
  options.min_size = 32;
  ExpectInvalid(options, "min_size");
  options = {};
  options.avg_size = 60000;
  ExpectInvalid(options, "avg_size");
  options = {};
  options.min_size = 128 * 1024;
  ExpectInvalid(options, "avg_size");
  options = {};
  options.max_size = 32 * 1024;
  ExpectInvalid(options, "max_size");
  options = {};
  options.max_size = size_t{128} << 20;
  ExpectInvalid(options, "max_size");

  options = {};
  options.avg_size = 1000;
  EXPECT_THROW(Chunker{options}, Error);
}

TEST(ChunkerTest, ChunksCoverTheInputAndRespectMinAndMax) {
  Chunker::Options options;
  for (uint64_t seed : {1, 2, 3}) {
    std::vector<uint8_t> data = RandomBytes(8 << 20, seed);
    std::vector<ChunkSpan> chunks = ChunkAll(data, options);
    ASSERT_GT(chunks.size(), 10u);
    uint64_t offset = 0;
    for (size_t i = 0; i < chunks.size(); ++i) {
      EXPECT_EQ(chunks[i].offset, offset);
      EXPECT_LE(chunks[i].size, options.max_size);
      if (i + 1 < chunks.size()) {
        EXPECT_GE(chunks[i].size, options.min_size);
      }
      EXPECT_GT(chunks[i].size, 0u);
      offset += chunks[i].size;
    }
    EXPECT_EQ(offset, data.size());
  }
}

TEST(ChunkerTest, CutsAtMaxSizeWhenTheContentNeverMatches) {
  // Zeros give a constant Gear hash, which never meets the cut condition
  // (the test checks that it really hits the limit).
  std::vector<uint8_t> zeros(3 * 256 * 1024 + 1000, 0);
  std::vector<ChunkSpan> chunks = ChunkAll(zeros);
  ASSERT_EQ(chunks.size(), 4u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(chunks[i].size, 256u * 1024);
  EXPECT_EQ(chunks[3].size, 1000u);

  // min_size == avg_size == max_size: fixed-size chunks.
  Chunker::Options fixed{.min_size = 4096, .avg_size = 4096, .max_size = 4096};
  std::vector<uint8_t> data = RandomBytes(10000, 9);
  std::vector<ChunkSpan> pieces = ChunkAll(data, fixed);
  EXPECT_EQ(pieces, (std::vector<ChunkSpan>{{0, 4096}, {4096, 4096}, {8192, 1808}}));
}

TEST(ChunkerTest, SmallAndEmptyInputs) {
  EXPECT_TRUE(ChunkAll({}).empty());
  std::vector<uint8_t> small = RandomBytes(100, 4);
  EXPECT_EQ(ChunkAll(small), (std::vector<ChunkSpan>{{0, 100}}));

  Chunker chunker;
  std::vector<uint64_t> cuts;
  chunker.Finish(&cuts);
  EXPECT_TRUE(cuts.empty());
}

TEST(ChunkerTest, BoundariesDoNotDependOnHowTheInputIsSplit) {
  std::vector<uint8_t> data = RandomBytes(3 << 20, 5);
  Chunker::Options options;
  const std::vector<uint64_t> expected = CutsOf(ChunkAll(data, options));
  ASSERT_GT(expected.size(), 20u);

  std::mt19937_64 random(6);
  for (size_t largest : {1u << 4, 1u << 12, 1u << 17, 1u << 21}) {
    std::uniform_int_distribution<size_t> size(0, largest);
    EXPECT_EQ(CutsWhenSplit(data, options, [&] { return size(random); }), expected)
        << "pieces of up to " << largest << " bytes";
  }
  // Exactly at and around the chunk limits.
  for (size_t piece : {options.min_size, options.avg_size, options.max_size, options.max_size + 1,
                       options.min_size - 1}) {
    EXPECT_EQ(CutsWhenSplit(data, options, [&] { return piece; }), expected) << piece;
  }
  // One byte at a time, with small chunks so that many boundaries fall inside.
  Chunker::Options small{.min_size = 256, .avg_size = 1024, .max_size = 4096};
  std::vector<uint8_t> part(data.begin(), data.begin() + (256 << 10));
  EXPECT_EQ(CutsWhenSplit(part, small, [] { return size_t{1}; }), CutsOf(ChunkAll(part, small)));
}

TEST(ChunkerTest, FinishStartsANewStream) {
  std::vector<uint8_t> first = RandomBytes(1 << 20, 7);
  std::vector<uint8_t> second = RandomBytes(700 << 10, 8);
  Chunker chunker;
  std::vector<uint64_t> cuts;
  chunker.Feed(first, &cuts);
  chunker.Finish(&cuts);
  EXPECT_EQ(chunker.offset(), 0u);
  cuts.clear();
  chunker.Feed(second, &cuts);
  chunker.Finish(&cuts);
  EXPECT_EQ(cuts, CutsOf(ChunkAll(second)));
}

TEST(ChunkerTest, AnInsertionNearTheStartLeavesMostChunksShared) {
  std::vector<uint8_t> before = RandomBytes(20 << 20, 10);
  std::vector<uint8_t> after = before;
  const uint8_t inserted[] = {'s', 'l', 'i', 'p', 'w', 'a', 'y'};
  after.insert(after.begin() + 5000, std::begin(inserted), std::end(inserted));
  EXPECT_GT(SharedFraction(before, after), 0.90);

  // And a deletion of a few bytes a little further in.
  std::vector<uint8_t> deleted = before;
  deleted.erase(deleted.begin() + 100000, deleted.begin() + 100003);
  EXPECT_GT(SharedFraction(before, deleted), 0.90);
}

TEST(ChunkerTest, AverageChunkSizeIsNearAvgSizeOnRandomData) {
  std::vector<uint8_t> data = RandomBytes(64 << 20, 11);
  for (const Chunker::Options& options :
       {Chunker::Options{},
        Chunker::Options{.min_size = 2048, .avg_size = 8192, .max_size = 65536}}) {
    std::vector<ChunkSpan> chunks = ChunkAll(data, options);
    double average = static_cast<double>(data.size()) / static_cast<double>(chunks.size());
    EXPECT_GT(average, 0.75 * static_cast<double>(options.avg_size)) << options.avg_size;
    EXPECT_LT(average, 1.5 * static_cast<double>(options.avg_size)) << options.avg_size;
    // Normalized chunking keeps most chunks within a factor of two of the average.
    size_t near = std::count_if(chunks.begin(), chunks.end(), [&](const ChunkSpan& chunk) {
      return chunk.size >= options.avg_size / 2 && chunk.size <= options.avg_size * 2;
    });
    EXPECT_GT(static_cast<double>(near), 0.75 * static_cast<double>(chunks.size()));
  }
}

TEST(ChunkerTest, BoundariesAreStableAcrossVersions) {
  // Stored data was cut with these boundaries; if this test fails, the gear
  // table, the masks or the cut rule changed, and new adds would share no
  // chunk with existing stores.
  std::vector<uint8_t> data = RandomBytes(1 << 20, 12);
  std::vector<uint64_t> cuts = CutsOf(ChunkAll(data));
  EXPECT_EQ(cuts,
            (std::vector<uint64_t>{49316, 137912, 206847, 297955, 393278, 474837, 527445, 561435,
                                   628406, 705432, 754922, 833316, 918288, 1004915, 1048576}));
}

}  // namespace
}  // namespace slipway::data
