// The versioned schema of Slipway's SQLite metadata store.
//
// Each migration is applied once, in order, inside one transaction, and its
// number is recorded in `schema_migrations`; a store written by an older
// Slipway is brought forward on open, and a store newer than this binary is
// refused. Later subsystems append migrations here; never edit a released one.
#pragma once

#include <span>

namespace slipway::store {

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

std::span<const Migration> SqliteMigrations();

}  // namespace slipway::store
