// Many content-store objects in one request body, so push and pull move a
// dataset in a few large requests rather than one request per ~64 KiB chunk.
//
// A bundle is a sequence of objects, each a header line
// "<64 lowercase hex digest> <size in decimal>\n" followed by exactly `size`
// bytes. Nothing precedes the first header or follows the last object.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace slipway::data {

struct BundleObject {
  std::string_view digest;
  std::string_view bytes;  // into the parsed body
};

// Appends one object to `bundle`.
void AppendToBundle(std::string* bundle, std::string_view digest, std::string_view bytes);

// The objects of `body`, in order, pointing into it. Checks the framing only
// (the store checks each object's bytes against its digest); throws
// kInvalidParameterValue naming the object's number and byte offset for a
// malformed header or a body that ends early.
std::vector<BundleObject> ParseBundle(std::string_view body);

}  // namespace slipway::data
