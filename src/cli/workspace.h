// The local dataset workspace: `.slipway/` with a content store (objects/)
// and a metadata database, like DVC's .dvc/cache. Found from --workspace,
// $SLIPWAY_WORKSPACE, or the nearest `.slipway` folder above the current one.
// `slipway data` keeps versions there; `slipway train` reads them from it.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "app/app.h"
#include "data/dataset_service.h"

namespace slipway::cli {

class Workspace {
 public:
  // The workspace for `flag` (--workspace, or "" to look for one); with
  // `create`, made where it would be found. INVALID_PARAMETER_VALUE if there
  // is none and `create` is false.
  static std::unique_ptr<Workspace> Open(const std::string& flag, bool create);

  data::DatasetService& service() { return app_->datasets(); }
  const std::filesystem::path& root() const { return root_; }

 private:
  explicit Workspace(std::filesystem::path root);

  std::filesystem::path root_;
  std::unique_ptr<app::App> app_;
};

}  // namespace slipway::cli
