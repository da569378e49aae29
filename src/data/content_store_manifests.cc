// Digests and manifests: the syntax of a digest, a manifest's JSON form, the
// checks that every manifest passes before the store writes or follows it,
// and the tree digest (declared in content_store.h). Plain values and pure
// functions; thread-safe.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "core/error.h"
#include "data/content_store.h"
#include "data/content_store_internal.h"

namespace slipway::data {
using nlohmann::json;

namespace content_store_internal {
namespace {

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<unsigned char>(text[i]);
    size_t length;
    uint32_t code;
    if (byte < 0x80) {
      ++i;
      continue;
    } else if ((byte & 0xe0) == 0xc0) {
      length = 2;
      code = byte & 0x1f;
    } else if ((byte & 0xf0) == 0xe0) {
      length = 3;
      code = byte & 0x0f;
    } else if ((byte & 0xf8) == 0xf0) {
      length = 4;
      code = byte & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return false;
    }
    i += length;
  }
  return true;
}

}  // namespace

// Throws kInvalidParameterValue naming `path` unless it is a safe relative
// path: not empty, not absolute, no NUL, no empty, "." or ".." segment, and
// valid UTF-8 (manifests are JSON). `where` says where it came from.
void CheckEntryPath(std::string_view path, const std::string& where) {
  auto reject = [&](const char* why) {
    ThrowInvalid("invalid entry path '" + std::string(path) + "' (" + where + "): " + why);
  };
  if (path.empty()) reject("it is empty");
  if (path.front() == '/') reject("absolute paths are not allowed");
  if (path.find('\0') != std::string_view::npos) reject("it contains a NUL byte");
  if (!IsValidUtf8(path)) reject("it is not valid UTF-8");
  size_t start = 0;
  while (true) {
    size_t end = path.find('/', start);
    std::string_view segment =
        path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (segment == "..") reject("'..' segments are not allowed");
    if (segment == ".") reject("'.' segments are not allowed");
    if (segment.empty()) reject("empty segments are not allowed");
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
}

// Checks that the chunks of `file` are well formed and cover it exactly.
void CheckFileManifest(const FileManifest& file, const std::string& where) {
  if (!IsValidDigest(file.sha256)) {
    ThrowInvalid("invalid manifest: " + where + ".sha256 '" + file.sha256 +
                 "' is not 64 lowercase hex digits");
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < file.chunks.size(); ++i) {
    const ChunkRef& chunk = file.chunks[i];
    std::string at = where + ".chunks[" + std::to_string(i) + "]";
    if (!IsValidDigest(chunk.digest)) {
      ThrowInvalid("invalid manifest: " + at + ".digest '" + chunk.digest +
                   "' is not 64 lowercase hex digits");
    }
    if (chunk.offset != offset) {
      ThrowInvalid("invalid manifest: " + at + ".offset is " + std::to_string(chunk.offset) +
                   ", expected " + std::to_string(offset));
    }
    if (chunk.size == 0 || chunk.size > file.size - offset) {
      ThrowInvalid("invalid manifest: " + at + ".size " + std::to_string(chunk.size) +
                   " is zero or runs past the file size " + std::to_string(file.size));
    }
    offset += chunk.size;
  }
  if (offset != file.size) {
    ThrowInvalid("invalid manifest: " + where + " chunks cover " + std::to_string(offset) +
                 " bytes but its size is " + std::to_string(file.size));
  }
}

// Checks the entries of a tree: safe paths, strictly sorted, no entry below a
// file or below a listed (hence empty) folder, files well formed.
void CheckTreeEntries(const std::vector<TreeEntry>& entries) {
  std::unordered_set<std::string_view> paths;
  for (size_t i = 0; i < entries.size(); ++i) {
    const TreeEntry& entry = entries[i];
    std::string where = "entries[" + std::to_string(i) + "]";
    CheckEntryPath(entry.path, where);
    if (i > 0 && !(entries[i - 1].path < entry.path)) {
      ThrowInvalid("invalid manifest: " + where + " '" + entry.path +
                   "' is not sorted after, or repeats, '" + entries[i - 1].path + "'");
    }
    if (!entry.is_dir) CheckFileManifest(entry.file, where);
    paths.insert(entry.path);
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string_view path = entries[i].path;
    for (size_t slash = path.find('/'); slash != std::string_view::npos;
         slash = path.find('/', slash + 1)) {
      std::string_view parent = path.substr(0, slash);
      if (paths.count(parent)) {
        ThrowInvalid("invalid manifest: entries[" + std::to_string(i) + "] '" + std::string(path) +
                     "' lies below the entry '" + std::string(parent) +
                     "', which is a file or an empty folder");
      }
    }
  }
}

}  // namespace content_store_internal

using content_store_internal::CheckFileManifest;
using content_store_internal::CheckTreeEntries;

namespace {

constexpr int kManifestVersion = 1;

// Field access for ManifestFromJson, with errors that name the field.
const json& Field(const json& object, const char* key, const std::string& where) {
  if (!object.is_object()) ThrowInvalid("invalid manifest: " + where + " is not an object");
  auto it = object.find(key);
  if (it == object.end()) ThrowInvalid("invalid manifest: " + where + "." + key + " is missing");
  return *it;
}

std::string StringField(const json& object, const char* key, const std::string& where) {
  const json& value = Field(object, key, where);
  if (!value.is_string())
    ThrowInvalid("invalid manifest: " + where + "." + key + " is not a string");
  return value.get<std::string>();
}

uint64_t UintField(const json& object, const char* key, const std::string& where) {
  const json& value = Field(object, key, where);
  if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<int64_t>() >= 0)) {
    ThrowInvalid("invalid manifest: " + where + "." + key + " is not a non-negative integer");
  }
  return value.get<uint64_t>();
}

const json& ArrayField(const json& object, const char* key, const std::string& where) {
  const json& value = Field(object, key, where);
  if (!value.is_array())
    ThrowInvalid("invalid manifest: " + where + "." + key + " is not an array");
  return value;
}

json FileToJson(const FileManifest& file) {
  json chunks = json::array();
  for (const ChunkRef& chunk : file.chunks) {
    chunks.push_back({{"digest", chunk.digest}, {"offset", chunk.offset}, {"size", chunk.size}});
  }
  return {{"sha256", file.sha256}, {"size", file.size}, {"chunks", std::move(chunks)}};
}

FileManifest FileFromJson(const json& object, const std::string& where) {
  FileManifest file;
  file.sha256 = StringField(object, "sha256", where);
  file.size = UintField(object, "size", where);
  const json& chunks = ArrayField(object, "chunks", where);
  file.chunks.reserve(chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) {
    std::string at = where + ".chunks[" + std::to_string(i) + "]";
    file.chunks.push_back({StringField(chunks[i], "digest", at), UintField(chunks[i], "offset", at),
                           UintField(chunks[i], "size", at)});
  }
  CheckFileManifest(file, where);
  return file;
}

}  // namespace

// ---------------------------------------------------------------------------
// Digests

bool IsValidDigest(std::string_view digest) {
  return digest.size() == 64 && std::all_of(digest.begin(), digest.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Sha256::Digest FromHex(std::string_view hex) {
  auto nibble = [](char c) { return static_cast<uint8_t>(c <= '9' ? c - '0' : c - 'a' + 10); };
  Sha256::Digest digest;
  for (size_t i = 0; i < digest.size(); ++i) {
    digest[i] = static_cast<uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return digest;
}

// ---------------------------------------------------------------------------
// Manifests

std::string TreeDigest(const std::vector<TreeEntry>& entries) {
  Sha256 hasher;
  for (const TreeEntry& entry : entries) {
    std::string line = entry.is_dir ? "D " + entry.path
                                    : "F " + entry.file.sha256 + " " +
                                          std::to_string(entry.file.size) + " " + entry.path;
    hasher.Update(line.data(), line.size() + 1);  // with the terminating NUL
  }
  return ToHex(hasher.Finish());
}

json ManifestToJson(const Manifest& manifest) {
  if (const auto* file = std::get_if<FileManifest>(&manifest)) {
    json result = FileToJson(*file);
    result["version"] = kManifestVersion;
    result["kind"] = "file";
    return result;
  }
  const auto& tree = std::get<TreeManifest>(manifest);
  json entries = json::array();
  for (const TreeEntry& entry : tree.entries) {
    json item = entry.is_dir ? json::object() : FileToJson(entry.file);
    item["path"] = entry.path;
    item["type"] = entry.is_dir ? "dir" : "file";
    entries.push_back(std::move(item));
  }
  return {{"version", kManifestVersion},
          {"kind", "tree"},
          {"digest", tree.digest},
          {"entries", std::move(entries)}};
}

Manifest ManifestFromJson(const json& json_manifest) {
  const std::string where = "manifest";
  uint64_t version = UintField(json_manifest, "version", where);
  if (version != kManifestVersion) {
    ThrowInvalid("invalid manifest: version " + std::to_string(version) + " is not supported");
  }
  std::string kind = StringField(json_manifest, "kind", where);
  if (kind == "file") return FileFromJson(json_manifest, where);
  if (kind != "tree") ThrowInvalid("invalid manifest: kind '" + kind + "' is not file or tree");

  TreeManifest tree;
  tree.digest = StringField(json_manifest, "digest", where);
  const json& entries = ArrayField(json_manifest, "entries", where);
  tree.entries.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string at = "entries[" + std::to_string(i) + "]";
    TreeEntry entry;
    entry.path = StringField(entries[i], "path", at);
    std::string type = StringField(entries[i], "type", at);
    if (type == "dir") {
      entry.is_dir = true;
    } else if (type == "file") {
      entry.file = FileFromJson(entries[i], at);
    } else {
      ThrowInvalid("invalid manifest: " + at + ".type '" + type + "' is not file or dir");
    }
    tree.entries.push_back(std::move(entry));
  }
  CheckTreeEntries(tree.entries);
  if (!IsValidDigest(tree.digest)) {
    ThrowInvalid("invalid manifest: digest '" + tree.digest + "' is not 64 lowercase hex digits");
  }
  std::string expected = TreeDigest(tree.entries);
  if (tree.digest != expected) {
    ThrowInvalid("invalid manifest: digest " + tree.digest + " does not match its entries (" +
                 expected + ")");
  }
  return tree;
}

}  // namespace slipway::data
