// Build-time half of the web UI: turns the files `npm run build` wrote
// (ui/dist) into a C++ source that defines EmbeddedAssets() (see
// embedded_asset.h), so `slipway server` serves the UI with no file beside
// it. Used by the slipway_webui_embed program that CMake runs after npm;
// nothing here runs in the server.
//
// The output depends only on the files' paths and bytes (gzip without a
// name or a time stamp), so an unchanged UI gives an unchanged source and
// nothing is recompiled. Pure functions; thread-safe. ContentTypeFor is
// also what the server answers MLflow's UI files with (mlflow_ui.h).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::webui {

struct AssetFile {
  std::string path;   // as served: "/index.html", "/static/index-1a2b.js"
  std::string bytes;  // the file's content
};

// Content-Type by extension, with a charset for text; application/octet-stream otherwise.
std::string_view ContentTypeFor(std::string_view path);
// A C++ expression for `bytes`: adjacent string literals of at most ~100
// columns each, printable ASCII kept as is, every other byte an octal escape.
std::string CStringLiteral(std::string_view bytes);
// The whole generated source for these files (sorted by path).
std::string AssetSource(std::vector<AssetFile> files);
// Every regular file under `dist`, served at "/" + its relative path.
// Throws std::runtime_error if the folder cannot be read or has no index.html.
std::vector<AssetFile> ReadDist(const std::filesystem::path& dist);

}  // namespace slipway::webui
