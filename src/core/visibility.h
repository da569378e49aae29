// Which ids of one kind of resource a caller may see, as a search filters
// them in its query (so pages stay full).
#pragma once

#include <string>
#include <vector>

namespace slipway {

// All ids except `except` when `all_by_default`; otherwise only the ids in
// `except`. (A default permission of READ with some lower grants is the
// first; NO_PERMISSIONS with some READ grants the second.)
struct Visibility {
  bool all_by_default = true;
  std::vector<std::string> except;
};

}  // namespace slipway
