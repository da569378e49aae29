// The versioned schema of Slipway's SQLite metadata store.
//
// Each migration is applied once, in order, inside one transaction, and its
// number is recorded in `schema_migrations`; a store written by an older
// Slipway is brought forward on open, and a store newer than this binary is
// refused. Later subsystems append migrations here; never edit a released one.
//
// The same list is PostgreSQL's schema: store/postgres/pg_schema.h renders
// each migration's SQLite text for it (INTEGER to BIGINT, ...), so write
// migrations in the subset it renders, or give one its PostgreSQL text.
#pragma once

#include <span>

namespace slipway::store {

struct Migration {
  int version;
  const char* description;
  const char* sql;
  // PostgreSQL's text when the rendering of `sql` cannot serve
  // (postgres/pg_schema.h); null: rendered.
  const char* postgres_sql = nullptr;
};

std::span<const Migration> SqliteMigrations();

}  // namespace slipway::store
