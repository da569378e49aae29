// Content-defined chunking (FastCDC with normalized chunking).
//
// Splits a byte stream into chunks whose boundaries depend on the content
// around them, not on their offsets, so an insertion or deletion moves only
// the boundaries next to it and the chunks after it are found again. This is
// what lets the data store keep one copy of the unchanged parts of a dataset.
//
// The algorithm is FastCDC (Xia et al., "FastCDC: a Fast and Efficient
// Content-Defined Chunking Approach for Data Deduplication", USENIX ATC 2016):
// a Gear rolling hash, no cut before `min_size`, a harder cut condition
// (more mask bits) before `avg_size` and an easier one after it (normalized
// chunking, level 2), and a forced cut at `max_size`.
//
// The boundaries are part of the store's format: a different gear table, mask
// or size would cut the same data differently and share nothing with what is
// already stored. Change them only with a new store format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace slipway::data {

// A stream offset and a length, in bytes.
struct ChunkSpan {
  uint64_t offset = 0;
  uint64_t size = 0;

  friend bool operator==(const ChunkSpan&, const ChunkSpan&) = default;
};

// Finds chunk boundaries in a stream fed in buffers of any size. The result
// does not depend on how the stream is split into buffers: the chunker keeps
// the rolling hash and the length of the current chunk from one Feed to the
// next. One Chunker serves one stream at a time and is not thread-safe; it
// holds no pointer into the data it is fed.
class Chunker {
 public:
  struct Options {
    // No cut before min_size bytes; a cut at max_size bytes at the latest.
    // avg_size (a power of two) is where the cut condition becomes easier.
    size_t min_size = 16 * 1024;
    size_t avg_size = 64 * 1024;
    size_t max_size = 256 * 1024;

    // Throws kInvalidParameterValue naming the field unless
    // 64 <= min_size <= avg_size <= max_size <= 64 MiB and avg_size is a power
    // of two.
    void Validate() const;
  };

  // The default Options.
  Chunker();
  // Throws kInvalidParameterValue if `options` are invalid.
  explicit Chunker(const Options& options);

  const Options& options() const { return options_; }

  // Consumes the next bytes of the stream. For every chunk that ends within
  // `data`, appends to `cuts` the stream offset just past its last byte.
  void Feed(std::span<const uint8_t> data, std::vector<uint64_t>* cuts);

  // Ends the stream: if bytes after the last cut are pending, appends the
  // end of the stream as the last cut. The chunker then starts a new stream
  // at offset 0.
  void Finish(std::vector<uint64_t>* cuts);

  // Bytes fed since the stream began.
  uint64_t offset() const { return offset_; }

 private:
  Options options_;
  uint64_t mask_small_;  // the harder condition, before avg_size
  uint64_t mask_large_;  // the easier condition, from avg_size on
  uint64_t hash_ = 0;    // Gear hash of the current chunk's bytes from min_size on
  size_t chunk_length_ = 0;
  uint64_t offset_ = 0;
};

// The chunks of a whole buffer, in order; they cover `data` exactly (none if
// it is empty). Throws kInvalidParameterValue if `options` are invalid.
std::vector<ChunkSpan> ChunkAll(std::span<const uint8_t> data,
                                const Chunker::Options& options = Chunker::Options());

}  // namespace slipway::data
