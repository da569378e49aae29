// Files written whole or not at all, and durably: write-then-rename.
//
// A DurableFile writes to a temporary file (beside the target, or in a
// folder the caller names on the same file system) and Commit makes it
// durable (fdatasync), renames it over the target and syncs the target's
// folder (fsync). After a crash the target holds its old content or all of
// the new; once Commit returns, the new content survives a power cut too.
// Abandoned without Commit (an error, an exception) it deletes its temporary
// file, so a reader never sees half a file. WriteFileDurably does all that
// for bytes in memory.
//
// Used by the artifact store and the dataset content store; nothing else
// writes a file in place. A DurableFile belongs to one thread; the free
// functions are thread-safe. Errors are INTERNAL_ERROR naming the file and
// the system's reason.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace slipway {

struct DurableWriteOptions {
  // Where the temporary file is made; empty for the target's own folder.
  // Must be on the target's file system (rename(2) does not cross them).
  std::filesystem::path temp_folder;
  // Permission bits of the new file (before the umask).
  unsigned mode = 0644;
  // fdatasync the file before the rename and fsync the folder after it. Off
  // only for tests and benchmarks that measure something else.
  bool sync = true;
};

class DurableFile {
 public:
  // Creates the temporary file.
  explicit DurableFile(std::filesystem::path target, const DurableWriteOptions& options = {});
  // Deletes the temporary file unless Commit renamed it.
  ~DurableFile();
  DurableFile(const DurableFile&) = delete;
  DurableFile& operator=(const DurableFile&) = delete;

  // Appends `size` bytes to the temporary file.
  void Write(const void* data, size_t size);
  // Syncs, closes and renames the temporary file over the target, then syncs
  // the target's folder. Call once; after a failure the file is abandoned.
  void Commit();

  const std::filesystem::path& target() const { return target_; }
  const std::filesystem::path& temp_path() const { return temp_; }

 private:
  const std::filesystem::path target_;
  const DurableWriteOptions options_;
  std::filesystem::path temp_;
  int fd_ = -1;             // the temporary file while it is open
  bool committed_ = false;  // renamed into place: nothing to delete
};

// `bytes` as the whole content of `target`, through a DurableFile.
void WriteFileDurably(const std::filesystem::path& target, std::string_view bytes,
                      const DurableWriteOptions& options = {});

// fsync of a folder, which makes the renames and creations in it durable.
void SyncFolder(const std::filesystem::path& folder);

// A part of a file name that no other writer (thread or process) uses at the
// same time: "<pid>-<counter>".
std::string UniqueFileSuffix();

}  // namespace slipway
