// The UI's files when the build left it out (SLIPWAY_BUILD_UI=OFF): none, so
// the server answers its pages with a note saying so.
#include "webui/embedded_asset.h"

namespace slipway::webui {

std::span<const EmbeddedAsset> EmbeddedAssets() { return {}; }

}  // namespace slipway::webui
