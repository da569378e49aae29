// The web UI's files as compiled into the binary.
//
// At build time, `npm run build` writes ui/dist and slipway_webui_embed
// turns it into a C++ source (webui_assets.cc in the build folder) that
// defines EmbeddedAssets(): each file's bytes, its gzip form (compressed
// once, at build time), its Content-Type and its ETag. Built with
// SLIPWAY_BUILD_UI=OFF, no_assets.cc defines it instead, empty.
//
// Everything here is static storage: views stay valid for the life of the
// process, and reading them is thread-safe.
#pragma once

#include <span>
#include <string_view>

namespace slipway::webui {

struct EmbeddedAsset {
  std::string_view path;          // as requested: "/index.html", "/static/index-1a2b.js"
  std::string_view content_type;  // with its charset for text
  std::string_view etag;          // quoted, from the SHA-256 of `identity`
  std::string_view identity;      // the file's bytes
  std::string_view gzip;          // the same, gzip-compressed; empty when it would not be smaller
};

// The files of this build's UI; empty when the UI was not built.
std::span<const EmbeddedAsset> EmbeddedAssets();

}  // namespace slipway::webui
