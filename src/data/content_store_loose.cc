// Loose objects: one blob per object under objects/<2 hex>/<62 hex>, for
// manifests and for objects put one at a time (PutBlob). The blob store
// publishes a blob whole or not at all; two writers of the same object write
// the same bytes. Thread-safe as ContentStore is.
#include "data/content_store.h"

namespace slipway::data {

std::string ContentStore::LooseKey(std::string_view digest) {
  std::string key = "objects/";
  key.append(digest.substr(0, 2));
  key += '/';
  key.append(digest.substr(2));
  return key;
}

bool ContentStore::HasLoose(std::string_view digest) const {
  return blobs_->Stat(LooseKey(digest)).has_value();
}

std::string ContentStore::PutBlob(std::string_view bytes) {
  std::string digest = Sha256::Hex(bytes);
  if (Has(digest)) return digest;
  blobs_->Put(LooseKey(digest), bytes);
  return digest;
}

}  // namespace slipway::data
