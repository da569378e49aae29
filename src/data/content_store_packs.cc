// Pack files and their index: how the objects of one add are published
// together and found again.
//
// A pack is the chunks of one add back to back, in the blob
// packs/<name>.pack; its index, packs/<name>.idx, lists digest, offset and
// size per chunk, sorted, with a checksum. The name is random and chosen
// when the pack starts. PublishPack publishes the pack and then the index
// (each durably, by the blob store): the index's arrival publishes the pack.
// LoadNewPacks reads the indexes of packs published since (by this or
// another process) into the in-memory map that FindPacked consults, under
// ContentStore::index_mu_. Thread-safe as ContentStore is.
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <shared_mutex>

#include "core/error.h"
#include "data/content_store.h"
#include "data/content_store_internal.h"

namespace slipway::data {
using content_store_internal::kIndexExtension;
using content_store_internal::kPackExtension;

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

}  // namespace

size_t ContentStore::DigestHash::operator()(const Sha256::Digest& digest) const {
  size_t hash;  // the bytes of a SHA-256 are as good a hash as any
  std::memcpy(&hash, digest.data(), sizeof hash);
  return hash;
}

std::string ContentStore::PackKey(const std::string& name) {
  return "packs/" + name + kPackExtension;
}

std::string ContentStore::IndexKey(const std::string& name) {
  return "packs/" + name + kIndexExtension;
}

std::string ContentStore::NewPackName() {
  // 128 bits from the kernel for each pack: unique across threads,
  // processes (a forked child too, which a seeded generator would repeat)
  // and machines sharing a store, without any coordination.
  unsigned char bits[16];
  size_t have = 0;
  while (have < sizeof bits) {
    ssize_t n = ::getrandom(bits + have, sizeof bits - have, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw Error(ErrorCode::kInternalError,
                  "cannot name a new pack: getrandom: " + std::string(std::strerror(errno)));
    }
    have += static_cast<size_t>(n);
  }
  return ToHex(std::string_view(reinterpret_cast<const char*>(bits), sizeof bits));
}

void ContentStore::PublishPack(std::unique_ptr<blob::BlobWriter> pack, const std::string& name,
                               std::vector<IndexEntry> entries) {
  // The pack first: once the index is published, the pack must be there
  // whole, even after a crash.
  pack->Publish();
  pack.reset();
  std::sort(entries.begin(), entries.end(),
            [](const IndexEntry& a, const IndexEntry& b) { return a.digest < b.digest; });
  try {
    blobs_->Put(IndexKey(name), EncodePackIndex(entries));
    // A sweep deletes a pack without an index only once it is old; a writer
    // stalled that long between its two publishes finds out here, before it
    // acknowledges anything.
    if (!blobs_->Stat(PackKey(name))) {
      blobs_->Delete(IndexKey(name));
      throw Error(ErrorCode::kInternalError,
                  "the pack " + PackKey(name) + " in " + Where() +
                      " was swept as abandoned before its index was published");
    }
  } catch (...) {
    try {
      blobs_->Delete(PackKey(name));  // published nothing
    } catch (const Error&) {
      // Left for SweepAbandoned: without its index the pack counts for nothing.
    }
    throw;
  }
  AddPack(name, entries);
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
                                                                    const std::string& key) {
  auto corrupt = [&](const std::string& why) {
    throw Error(ErrorCode::kInternalError, "the pack index " + key + " is corrupt: " + why);
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
  blob::ListOptions list;
  list.prefix = "packs/";
  list.max_entries = 100000;  // one page here; a backend pages as it must
  std::vector<blob::ListEntry> listed = blobs_->ListAll(list);
  {
    std::shared_lock lock(index_mu_);
    for (const blob::ListEntry& entry : listed) {
      std::string_view name = std::string_view(entry.key).substr(list.prefix.size());
      if (entry.is_prefix || !name.ends_with(kIndexExtension)) continue;
      name.remove_suffix(std::strlen(kIndexExtension));
      if (!loaded_packs_.count(std::string(name))) fresh.emplace_back(name);
    }
  }
  // Another process may have published these without its publication being
  // durable yet; an add here must not build on packs a crash could undo.
  if (!fresh.empty()) blobs_->MakeDurable(list.prefix);
  for (const std::string& name : fresh) {
    const std::string key = IndexKey(name);
    std::optional<std::string> text = blobs_->Get(key);
    if (!text) continue;  // gone since the listing
    AddPack(name, DecodePackIndex(*text, key));
  }
  return !fresh.empty();
}

std::optional<ContentStore::Location> ContentStore::FindPacked(const Sha256::Digest& digest) const {
  std::shared_lock lock(index_mu_);
  auto it = packed_.find(digest);
  if (it == packed_.end()) return std::nullopt;
  return Location{PackKey(pack_names_[it->second.pack]), it->second.offset, it->second.size, true};
}

}  // namespace slipway::data
