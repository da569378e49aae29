// Which resources of one kind a caller may see in a search or a listing.
//
// A Visibility is what the authorizer hands a search so that the store
// leaves out what the caller may not read in the query itself: a page then
// holds `max_results` readable items whenever that many exist, and page
// tokens count readable items only. It mirrors the two shapes of a caller's
// grants on one resource type:
//
//   - all_by_default = true: every id except those in `except` (a default
//     permission of READ, with explicit grants below READ on `except`);
//   - all_by_default = false: only the ids in `except` (a default of
//     NO_PERMISSIONS, with explicit READ grants on `except`).
//
// The default-constructed value lets everything through (no auth, an admin,
// a system principal). Ids are the canonical ids of the resource type:
// experiment ids as decimal text ("12", never "012"), registered-model and
// dataset names as stored; an entry that is not such an id names nothing.
// Model versions are visible as their registered model is.
//
// A plain value; the stores read it, never keep it.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace slipway {

struct Visibility {
  bool all_by_default = true;
  std::vector<std::string> except;

  static Visibility All() { return {}; }
  static Visibility AllExcept(std::vector<std::string> ids) { return {true, std::move(ids)}; }
  static Visibility Only(std::vector<std::string> ids) { return {false, std::move(ids)}; }

  // True when nothing is left out: no condition needs adding to a query.
  bool IsAll() const { return all_by_default && except.empty(); }

  // Whether `id` is visible. Linear in except.size(): for checking one id,
  // not for filtering a listing (a store does that in its query).
  bool Allows(const std::string& id) const {
    const bool listed = std::find(except.begin(), except.end(), id) != except.end();
    return all_by_default != listed;
  }
};

}  // namespace slipway
