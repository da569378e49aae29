// slipway_webui_embed DIST OUTPUT: writes the C++ source that embeds the
// UI's built files (see asset_embedder.h). Run by CMake after
// `npm run build`; leaves OUTPUT untouched when its text would not change.
#include <fstream>
#include <iostream>
#include <sstream>

#include "webui/asset_embedder.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: slipway_webui_embed DIST_DIR OUTPUT.cc\n";
    return 2;
  }
  try {
    std::string source = slipway::webui::AssetSource(slipway::webui::ReadDist(argv[1]));
    std::ifstream existing(argv[2], std::ios::binary);
    std::ostringstream previous;
    previous << existing.rdbuf();
    if (existing && previous.str() == source) return 0;
    std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
    out << source;
    out.close();
    if (!out) {
      std::cerr << "slipway_webui_embed: cannot write " << argv[2] << "\n";
      return 1;
    }
  } catch (const std::exception& error) {
    std::cerr << "slipway_webui_embed: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
