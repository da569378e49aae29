// A PostgreSQL server for the unit tests that need one.
//
// SLIPWAY_TEST_POSTGRES_URI, when set, names a server to use (any database
// on it; the tests create databases of their own there, so its user needs
// CREATEDB). Otherwise the first test that asks starts a throw-away cluster
// the way tests/integration/pg.py does: initdb and pg_ctl from Debian's
// postgresql package (SLIPWAY_POSTGRES_BIN, else the newest
// /usr/lib/postgresql/*/bin) on a temporary folder and a free loopback
// port, run as the `postgres` user through runuser when the tests run as
// root (PostgreSQL refuses root); it is stopped and removed when the test
// program exits. With neither, the tests skip, printing why.
#pragma once

#include <string>

namespace slipway::testing {

// The URI of a new, empty database of the caller's own (created from
// template0), or "" when no PostgreSQL is available; `*why_not` then says
// why.
std::string FreshPostgresDatabase(std::string* why_not);

}  // namespace slipway::testing

// In a test body: the URI of a fresh database, or skip the test saying why.
#define SLIPWAY_POSTGRES_DATABASE_OR_SKIP(uri)                                    \
  std::string uri;                                                                \
  {                                                                               \
    std::string why_not_;                                                         \
    uri = ::slipway::testing::FreshPostgresDatabase(&why_not_);                   \
    if (uri.empty()) GTEST_SKIP() << "no PostgreSQL for this test: " << why_not_; \
  }
