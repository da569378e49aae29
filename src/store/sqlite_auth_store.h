// Users, API tokens and permissions on the embedded SQLite database.
#pragma once

#include <memory>
#include <string>

#include "governance/access_control.h"
#include "store/sqlite_db.h"

namespace slipway::store {

// Implements governance::AuthStore over the shared SqliteDb. Every mutation
// is one write transaction that also advances auth_generation.
class SqliteAuthStore : public governance::AuthStore {
 public:
  explicit SqliteAuthStore(std::shared_ptr<SqliteDb> db) : db_(std::move(db)) {}

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
  void Change(const std::function<void(Connection&)>& change);

  std::shared_ptr<SqliteDb> db_;
};

}  // namespace slipway::store
