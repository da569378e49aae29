#include "store/sqlite_auth_store.h"

#include "core/error.h"

namespace slipway::store {

using governance::AuthState;
using governance::ResourceType;

namespace {

std::string TypeName(ResourceType type) { return std::string(governance::ResourceTypeName(type)); }

}  // namespace

void SqliteAuthStore::Change(const std::function<void(Connection&)>& change) {
  db_->Write([&](Connection& db) {
    change(db);
    db.Exec("UPDATE auth_generation SET generation = generation + 1 WHERE id = 1");
  });
}

int64_t SqliteAuthStore::Generation() {
  return db_->Read([](Connection& db) {
    Statement row = db.Prepare("SELECT generation FROM auth_generation WHERE id = 1");
    return row.Step() ? row.Int(0) : int64_t{0};
  });
}

AuthState SqliteAuthStore::Load() {
  return db_->Read([](Connection& db) {
    AuthState state;
    {
      Statement row = db.Prepare("SELECT generation FROM auth_generation WHERE id = 1");
      if (row.Step()) state.generation = row.Int(0);
    }
    Statement users =
        db.Prepare("SELECT id, username, password_hash, is_admin, created_ms FROM users");
    while (users.Step()) {
      AuthState::UserRecord record;
      record.user.id = users.Int(0);
      record.user.username = users.Text(1);
      record.password_hash = users.Text(2);
      record.user.is_admin = users.Int(3) != 0;
      record.user.created_ms = users.Int(4);
      state.users.push_back(std::move(record));
    }
    Statement tokens = db.Prepare(
        "SELECT id, user_id, name, salt, secret_hash, created_ms, expires_ms, kind FROM "
        "api_tokens WHERE revoked_ms IS NULL");
    while (tokens.Step()) {
      AuthState::TokenRecord record;
      record.token.id = tokens.Text(0);
      record.user_id = tokens.Int(1);
      record.token.name = tokens.Text(2);
      record.salt = tokens.Text(3);
      record.secret_hash = tokens.Text(4);
      record.token.created_ms = tokens.Int(5);
      if (!tokens.IsNull(6)) record.token.expires_ms = tokens.Int(6);
      record.token.session = tokens.Text(7) == "session";
      state.tokens.push_back(std::move(record));
    }
    Statement grants = db.Prepare(
        "SELECT resource_type, resource_id, user_id, permission FROM resource_permissions");
    while (grants.Step()) {
      AuthState::GrantRecord record;
      record.type = governance::ParseResourceType(grants.Text(0));
      record.resource_id = grants.Text(1);
      record.user_id = grants.Int(2);
      record.permission = governance::ParsePermission(grants.Text(3));
      state.grants.push_back(std::move(record));
    }
    return state;
  });
}

governance::User SqliteAuthStore::CreateUser(const std::string& username,
                                             const std::string& password_hash, bool is_admin,
                                             int64_t now_ms) {
  governance::User user{0, username, is_admin, now_ms};
  Change([&](Connection& db) {
    Statement existing = db.Prepare("SELECT 1 FROM users WHERE username = ?");
    existing.Bind(1, username);
    if (existing.Step()) {
      throw Error(ErrorCode::kResourceAlreadyExists, "User '" + username + "' already exists.");
    }
    db.Prepare(
          "INSERT INTO users (username, password_hash, is_admin, created_ms) VALUES (?, ?, ?, ?)")
        .Bind(1, username)
        .Bind(2, password_hash)
        .Bind(3, is_admin ? 1 : 0)
        .Bind(4, now_ms)
        .Run();
    user.id = db.LastInsertRowid();
  });
  return user;
}

void SqliteAuthStore::SetPasswordHash(int64_t user_id, const std::string& password_hash) {
  Change([&](Connection& db) {
    db.Prepare("UPDATE users SET password_hash = ? WHERE id = ?")
        .Bind(1, password_hash)
        .Bind(2, user_id)
        .Run();
  });
}

void SqliteAuthStore::SetAdmin(int64_t user_id, bool is_admin) {
  Change([&](Connection& db) {
    db.Prepare("UPDATE users SET is_admin = ? WHERE id = ?")
        .Bind(1, is_admin ? 1 : 0)
        .Bind(2, user_id)
        .Run();
  });
}

void SqliteAuthStore::DeleteUser(int64_t user_id) {
  Change([&](Connection& db) {
    for (const char* sql :
         {"DELETE FROM api_tokens WHERE user_id = ?",
          "DELETE FROM resource_permissions WHERE user_id = ?", "DELETE FROM users WHERE id = ?"}) {
      db.Prepare(sql).Bind(1, user_id).Run();
    }
  });
}

void SqliteAuthStore::AddToken(const AuthState::TokenRecord& token) {
  Change([&](Connection& db) {
    Statement insert = db.Prepare(
        "INSERT INTO api_tokens (id, user_id, name, salt, secret_hash, created_ms, expires_ms, "
        "kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    insert.Bind(1, token.token.id)
        .Bind(2, token.user_id)
        .Bind(3, token.token.name)
        .Bind(4, token.salt)
        .Bind(5, token.secret_hash)
        .Bind(6, token.token.created_ms);
    if (token.token.expires_ms) {
      insert.Bind(7, *token.token.expires_ms);
    } else {
      insert.BindNull(7);
    }
    insert.Bind(8, std::string(token.token.session ? "session" : "api"));
    insert.Run();
  });
}

void SqliteAuthStore::RevokeToken(const std::string& token_id, int64_t now_ms) {
  Change([&](Connection& db) {
    db.Prepare("UPDATE api_tokens SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL")
        .Bind(1, now_ms)
        .Bind(2, token_id)
        .Run();
  });
}

void SqliteAuthStore::ForgetEndedSessions(int64_t now_ms) {
  Change([&](Connection& db) {
    db.Prepare(
          "DELETE FROM api_tokens WHERE kind = 'session' AND (revoked_ms IS NOT NULL OR "
          "expires_ms <= ?)")
        .Bind(1, now_ms)
        .Run();
  });
}

void SqliteAuthStore::SetGrant(const AuthState::GrantRecord& grant) {
  Change([&](Connection& db) {
    db.Prepare(
          "INSERT INTO resource_permissions (resource_type, resource_id, user_id, permission) "
          "VALUES (?, ?, ?, ?) ON CONFLICT (resource_type, resource_id, user_id) "
          "DO UPDATE SET permission = excluded.permission")
        .Bind(1, TypeName(grant.type))
        .Bind(2, grant.resource_id)
        .Bind(3, grant.user_id)
        .Bind(4, governance::PermissionName(grant.permission))
        .Run();
  });
}

void SqliteAuthStore::DeleteGrant(ResourceType type, const std::string& resource_id,
                                  int64_t user_id) {
  Change([&](Connection& db) {
    db.Prepare(
          "DELETE FROM resource_permissions WHERE resource_type = ? AND resource_id = ? "
          "AND user_id = ?")
        .Bind(1, TypeName(type))
        .Bind(2, resource_id)
        .Bind(3, user_id)
        .Run();
  });
}

void SqliteAuthStore::RenameResource(ResourceType type, const std::string& from,
                                     const std::string& to) {
  Change([&](Connection& db) {
    db.Prepare(
          "UPDATE resource_permissions SET resource_id = ? WHERE resource_type = ? AND "
          "resource_id = ?")
        .Bind(1, to)
        .Bind(2, TypeName(type))
        .Bind(3, from)
        .Run();
  });
}

void SqliteAuthStore::DeleteResourceGrants(ResourceType type, const std::string& resource_id) {
  Change([&](Connection& db) {
    db.Prepare("DELETE FROM resource_permissions WHERE resource_type = ? AND resource_id = ?")
        .Bind(1, TypeName(type))
        .Bind(2, resource_id)
        .Run();
  });
}

}  // namespace slipway::store
