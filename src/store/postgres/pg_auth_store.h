// Users, API tokens and permissions on PostgreSQL.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "governance/access_control.h"
#include "store/postgres/pg_db.h"

namespace slipway::store::postgres {

// Implements governance::AuthStore over a PgDb shared with the other stores,
// with SqliteAuthStore's behaviour. Every mutation is one transaction that
// also advances auth_generation, so every server on the database sees that
// something changed and reloads. Thread-safe.
class PgAuthStore : public governance::AuthStore {
 public:
  explicit PgAuthStore(std::shared_ptr<PgDb> db) : db_(std::move(db)) {}

  governance::AuthState Load() override;
  int64_t Generation() override;
  governance::User CreateUser(const std::string& username, const std::string& password_hash,
                              bool is_admin, int64_t now_ms) override;
  void SetPasswordHash(int64_t user_id, const std::string& password_hash) override;
  void SetAdmin(int64_t user_id, bool is_admin) override;
  void DeleteUser(int64_t user_id) override;
  void AddToken(const governance::AuthState::TokenRecord& token) override;
  void RevokeToken(const std::string& token_id, int64_t now_ms) override;
  void ForgetEndedSessions(int64_t now_ms) override;
  void SetGrant(const governance::AuthState::GrantRecord& grant) override;
  void DeleteGrant(governance::ResourceType type, const std::string& resource_id,
                   int64_t user_id) override;
  void RenameResource(governance::ResourceType type, const std::string& from,
                      const std::string& to) override;
  void DeleteResourceGrants(governance::ResourceType type, const std::string& resource_id) override;

 private:
  // Runs `change` and advances the generation in the same transaction.
  void Change(const std::function<void(PgConnection&)>& change);

  std::shared_ptr<PgDb> db_;
};

}  // namespace slipway::store::postgres
