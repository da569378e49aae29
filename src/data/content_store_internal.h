// What the files of ContentStore share (content_store*.cc); no other code
// includes this header.
//
// ContentStore is implemented in five files along its seams:
//   content_store.cc            Open and the sweep of abandoned writes,
//                               lookups, reads, manifests as objects,
//                               Materialize
//   content_store_manifests.cc  digests, manifest JSON and its checks
//   content_store_ingest.cc     the chunk writer: AddFile, AddTree and
//                               ObjectWriter through one pack per add
//   content_store_packs.cc      pack blobs and their index
//   content_store_loose.cc      loose objects (one blob per object)
// Here: key suffixes, error helpers, a file descriptor that closes itself
// (for the user's files that adds read and Materialize writes), and the
// manifest checks the others call. Plain functions; thread-safe.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "core/error.h"
#include "data/content_store.h"

namespace slipway::data::content_store_internal {

inline constexpr char kPackExtension[] = ".pack";
inline constexpr char kIndexExtension[] = ".idx";

inline std::string ErrnoText(int error) { return std::generic_category().message(error); }

inline std::string Quote(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

[[noreturn]] inline void ThrowIo(const std::string& what, int error) {
  throw Error(ErrorCode::kInternalError, what + ": " + ErrnoText(error));
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

inline void WriteAll(int fd, const uint8_t* data, size_t size, const std::string& what) {
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

// Throws kInvalidParameterValue naming `path` unless it is a safe relative
// path: not empty, not absolute, no NUL, no empty, "." or ".." segment, and
// valid UTF-8 (manifests are JSON). `where` says where it came from.
void CheckEntryPath(std::string_view path, const std::string& where);

// Checks that the chunks of `file` are well formed and cover it exactly.
void CheckFileManifest(const FileManifest& file, const std::string& where);

// Checks the entries of a tree: safe paths, strictly sorted, no entry below a
// file or below a listed (hence empty) folder, files well formed.
void CheckTreeEntries(const std::vector<TreeEntry>& entries);

}  // namespace slipway::data::content_store_internal
