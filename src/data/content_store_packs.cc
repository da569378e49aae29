// Pack files and their index: how the objects of one add are published
// together and found again.
//
// A pack is the chunks of one add back to back; its index lists digest,
// offset and size per chunk, sorted, with a checksum, and is named by the
// SHA-256 of its bytes. PublishPack makes both durable and renames the pack
// and then the index into packs/: the index's arrival publishes the pack.
// LoadNewPacks reads the indexes of packs published since (by this or
// another process) into the in-memory map that FindPacked consults, under
// ContentStore::index_mu_. Thread-safe as ContentStore is.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <shared_mutex>

#include "core/durable_file.h"
#include "core/error.h"
#include "data/content_store.h"
#include "data/content_store_internal.h"

namespace slipway::data {
namespace fs = std::filesystem;
using content_store_internal::FileDescriptor;
using content_store_internal::kIndexExtension;
using content_store_internal::kPackExtension;
using content_store_internal::Quote;
using content_store_internal::ThrowIo;
using content_store_internal::WriteAll;

namespace {

constexpr char kIndexMagic[] = "SLWIDX01";  // 8 bytes, no NUL
constexpr size_t kIndexEntryBytes = 32 + 8 + 8;

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

}  // namespace

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

}  // namespace slipway::data
