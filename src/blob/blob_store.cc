#include "blob/blob_store.h"

#include <algorithm>
#include <iterator>

#include "core/error.h"

namespace slipway::blob {

std::string KeyProblem(std::string_view key) {
  if (key.empty()) return "a key cannot be empty";
  if (key.size() > kMaxKeyBytes) {
    return "keys are at most " + std::to_string(kMaxKeyBytes) + " bytes";
  }
  if (key.find('\0') != std::string_view::npos) return "NUL byte";
  if (key.find('\\') != std::string_view::npos) return "backslash";
  if (key.front() == '/') return "absolute keys are not allowed";
  size_t start = 0;
  while (true) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    std::string_view segment = key.substr(start, end - start);
    // An empty segment ("a//b", a trailing '/') would name the same file as
    // the key without it locally, and a different object in S3.
    if (segment.empty()) return "empty segments are not allowed";
    if (segment == "." || segment == "..") return "'.' and '..' segments are not allowed";
    if (segment.size() > kMaxSegmentBytes) {
      return "segments are at most " + std::to_string(kMaxSegmentBytes) + " bytes";
    }
    if (segment.find(kTemporaryMarker) != std::string_view::npos) {
      return "'" + std::string(kTemporaryMarker) + "' is reserved for temporary files";
    }
    if (end == key.size()) break;
    start = end + 1;
  }
  return {};
}

KeyError::KeyError(std::string_view key, std::string reason)
    : Error(ErrorCode::kInvalidParameterValue,
            "Invalid blob key '" + std::string(key) + "': " + reason),
      reason_(std::move(reason)) {}

void CheckKey(std::string_view key) {
  std::string problem = KeyProblem(key);
  if (!problem.empty()) throw KeyError(key, std::move(problem));
}

void BlobStore::Put(std::string_view key, std::string_view bytes) {
  std::unique_ptr<BlobWriter> writer = OpenWriter(key);
  writer->Append(bytes.data(), bytes.size());
  writer->Publish();
}

void BlobStore::Put(std::string_view key, const BlobSource& source) {
  std::unique_ptr<BlobWriter> writer = OpenWriter(key);
  std::string buffer(1 << 20, '\0');
  while (size_t n = source(buffer.data(), buffer.size())) writer->Append(buffer.data(), n);
  writer->Publish();
}

std::optional<std::string> BlobStore::Get(std::string_view key, uint64_t offset, uint64_t length) {
  std::unique_ptr<BlobReader> reader = Open(key);
  if (!reader) return std::nullopt;
  std::string out;
  const uint64_t size = reader->info().size;
  if (offset >= size) return out;
  uint64_t want = std::min(length, size - offset);
  out.reserve(static_cast<size_t>(want));
  while (want > 0) {
    size_t n = reader->ReadAt(offset, static_cast<size_t>(std::min<uint64_t>(want, 1 << 20)), out);
    if (n == 0) break;  // the version we opened was shorter than its size said
    offset += n;
    want -= n;
  }
  return out;
}

std::vector<ListEntry> BlobStore::ListAll(ListOptions options) {
  std::vector<ListEntry> all;
  while (true) {
    ListPage page = List(options);
    std::move(page.entries.begin(), page.entries.end(), std::back_inserter(all));
    if (page.next_start_after.empty()) return all;
    options.start_after = std::move(page.next_start_after);
  }
}

}  // namespace slipway::blob
