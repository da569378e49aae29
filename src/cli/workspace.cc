#include "cli/workspace.h"

#include <cstdlib>

#include "core/error.h"

namespace slipway::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kWorkspaceFolder = ".slipway";

// The workspace's backends come from the composition root like the server's:
// its metadata in datasets.db, its content store in store/, and the data
// pipeline's executor that adds and profiles run on.
std::unique_ptr<app::App> OpenApp(const fs::path& root) {
  app::App::Options options;
  options.data_dir = root.string();
  options.store = "sqlite:///" + (root / "datasets.db").string();
  options.datasets = (root / "store").string();
  return app::App::Create(std::move(options));
}

}  // namespace

std::unique_ptr<Workspace> Workspace::Open(const std::string& flag, bool create) {
  fs::path root;
  if (!flag.empty()) {
    root = fs::path(flag) / kWorkspaceFolder;
  } else if (const char* env = std::getenv("SLIPWAY_WORKSPACE"); env && *env) {
    root = fs::path(env) / kWorkspaceFolder;
  } else {
    for (fs::path at = fs::current_path(); !at.empty(); at = at.parent_path()) {
      if (fs::is_directory(at / kWorkspaceFolder)) {
        root = at / kWorkspaceFolder;
        break;
      }
      if (at == at.parent_path()) break;
    }
    if (root.empty()) root = fs::current_path() / kWorkspaceFolder;
  }
  if (!fs::is_directory(root)) {
    if (!create) {
      ThrowInvalid("no dataset workspace here: `slipway data add` makes one (" +
                   std::string(kWorkspaceFolder) + "/), or pass --workspace DIR");
    }
    fs::create_directories(root);
  }
  return std::unique_ptr<Workspace>(new Workspace(root));
}

Workspace::Workspace(std::filesystem::path root) : root_(std::move(root)), app_(OpenApp(root_)) {}

}  // namespace slipway::cli
