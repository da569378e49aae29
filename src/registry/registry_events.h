// What the registry announces after a change is committed.
//
// Serving follows aliases and stages through these (hot swap when
// `@production` moves), monitoring and the UI can too; the registry does not
// know its listeners. Events are published on the thread of the request that
// made the change, after it is durable (see core::EventBus).
#pragma once

#include <cstdint>
#include <string>

#include "core/event_bus.h"

namespace slipway::registry {

struct RegistryEvent {
  enum class Kind {
    kModelCreated,    // model
    kModelRenamed,    // model (the old name), new_name; its aliases and versions follow it
    kModelDeleted,    // model; with every version and alias
    kVersionCreated,  // model, version
    kVersionDeleted,  // model, version; aliases that pointed at it are gone
    kStageChanged,    // model, version, stage; with archive_existing_versions, other
                      // versions in that stage moved to Archived in the same change
    kAliasSet,        // model, alias, version (the alias may have pointed elsewhere)
    kAliasDeleted,    // model, alias
  };
  Kind kind = Kind::kModelCreated;
  std::string model{};
  int64_t version = 0;
  std::string alias{};
  std::string stage{};
  std::string new_name{};
};

using RegistryEventBus = core::EventBus<RegistryEvent>;

}  // namespace slipway::registry
