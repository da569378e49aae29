#include "cli/db_commands.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "store/metadata_store.h"

namespace slipway::cli {
namespace {

struct DbOptions {
  std::string store;
};

void DbUpgrade(const DbOptions& options) {
  store::SchemaUpgradeReport report = store::UpgradeMetadataSchema(options.store);
  if (report.from == report.to) {
    std::cout << fmt::format("{}: schema version {}, up to date\n", report.description, report.to);
  } else {
    std::cout << fmt::format("{}: schema upgraded from version {} to {}\n", report.description,
                             report.from, report.to);
  }
}

}  // namespace

void AddDbCommands(CLI::App& app) {
  CLI::App* db = app.add_subcommand("db", "The metadata store's schema");
  db->require_subcommand(1);
  auto options = std::make_shared<DbOptions>();
  CLI::App* upgrade = db->add_subcommand(
      "upgrade", "Create the metadata store if missing and bring its schema to this version");
  upgrade
      ->add_option("--store", options->store,
                   "Metadata store URI: sqlite:///PATH or postgresql://USER@HOST[:PORT]/DATABASE")
      ->required();
  upgrade->callback([options] { DbUpgrade(*options); });
}

}  // namespace slipway::cli
