#include "core/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <system_error>
#include <utility>

#include "core/error.h"

namespace slipway {
namespace fs = std::filesystem;
namespace {

std::string Quote(const fs::path& path) { return "'" + path.string() + "'"; }

[[noreturn]] void ThrowIo(const std::string& what, int error) {
  throw Error(ErrorCode::kInternalError, what + ": " + std::generic_category().message(error));
}

}  // namespace

DurableFile::DurableFile(fs::path target, const DurableWriteOptions& options)
    : target_(std::move(target)), options_(options) {
  const fs::path folder =
      options_.temp_folder.empty() ? target_.parent_path() : options_.temp_folder;
  temp_ = folder / ("." + target_.filename().string() + ".slipway-tmp-" + UniqueFileSuffix());
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, options_.mode);
  if (fd_ < 0) ThrowIo("cannot create " + Quote(temp_), errno);
}

DurableFile::~DurableFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void DurableFile::Write(const void* data, size_t size) {
  if (fd_ < 0) throw Error(ErrorCode::kInternalError, "cannot write " + Quote(temp_) + ": closed");
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, bytes, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowIo("cannot write " + Quote(temp_), errno);
    }
    bytes += n;
    size -= static_cast<size_t>(n);
  }
}

void DurableFile::Commit() {
  if (fd_ < 0) throw Error(ErrorCode::kInternalError, "cannot commit " + Quote(temp_) + ": closed");
  if (options_.sync && ::fdatasync(fd_) != 0) ThrowIo("cannot sync " + Quote(temp_), errno);
  // close() reports a delayed write error.
  if (::close(std::exchange(fd_, -1)) != 0) ThrowIo("cannot write " + Quote(temp_), errno);
  if (::rename(temp_.c_str(), target_.c_str()) != 0) {
    ThrowIo("cannot move " + Quote(temp_) + " to " + Quote(target_), errno);
  }
  committed_ = true;
  if (options_.sync) SyncFolder(target_.parent_path());
}

void WriteFileDurably(const fs::path& target, std::string_view bytes,
                      const DurableWriteOptions& options) {
  DurableFile file(target, options);
  file.Write(bytes.data(), bytes.size());
  file.Commit();
}

void SyncFolder(const fs::path& folder) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) ThrowIo("cannot open folder " + Quote(folder), errno);
  const bool synced = ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!synced) ThrowIo("cannot sync folder " + Quote(folder), error);
}

std::string UniqueFileSuffix() {
  static std::atomic<uint64_t> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

}  // namespace slipway
