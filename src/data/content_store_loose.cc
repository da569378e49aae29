// Loose objects: one file per object under objects/<2 hex>/<62 hex>, for
// manifests and for objects put one at a time (PutBlob). A loose object is
// written through a temporary file in tmp/ and renamed into place
// (core/durable_file.h), so it appears whole or not at all; two writers of
// the same object write the same bytes. Thread-safe as ContentStore is.
#include <sys/stat.h>

#include "core/durable_file.h"
#include "data/content_store.h"
#include "data/content_store_internal.h"

namespace slipway::data {
namespace fs = std::filesystem;
using content_store_internal::ThrowIo;

fs::path ContentStore::LoosePath(std::string_view digest) const {
  return objects_ / digest.substr(0, 2) / digest.substr(2);
}

bool ContentStore::HasLoose(std::string_view digest) const {
  struct stat info;
  if (::stat(LoosePath(digest).c_str(), &info) == 0) return true;
  if (errno == ENOENT) return false;
  ThrowIo("cannot look up object " + std::string(digest), errno);
}

std::string ContentStore::PutBlob(std::string_view bytes) {
  std::string digest = Sha256::Hex(bytes);
  if (Has(digest)) return digest;
  WriteFileDurably(LoosePath(digest), bytes,
                   {.temp_folder = tmp_, .mode = 0444, .sync = options_.durable});
  return digest;
}

}  // namespace slipway::data
