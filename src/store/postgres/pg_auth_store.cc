#include "store/postgres/pg_auth_store.h"

#include "core/error.h"

namespace slipway::store::postgres {

using governance::AuthState;
using governance::ResourceType;

namespace {

std::string TypeName(ResourceType type) { return std::string(governance::ResourceTypeName(type)); }

[[noreturn]] void ThrowUserExists(const std::string& username) {
  throw Error(ErrorCode::kResourceAlreadyExists, "User '" + username + "' already exists.");
}

}  // namespace

void PgAuthStore::Change(const std::function<void(PgConnection&)>& change) {
  db_->Write([&](PgConnection& db) {
    change(db);
    db.Exec("UPDATE auth_generation SET generation = generation + 1 WHERE id = 1");
  });
}

int64_t PgAuthStore::Generation() {
  return db_->Read([](PgConnection& db) {
    PgResult row = db.Exec("SELECT generation FROM auth_generation WHERE id = 1");
    return row.Rows() > 0 ? row.Int(0, 0) : int64_t{0};
  });
}

AuthState PgAuthStore::Load() {
  return db_->Read([](PgConnection& db) {
    AuthState state;
    PgResult generation = db.Exec("SELECT generation FROM auth_generation WHERE id = 1");
    if (generation.Rows() > 0) state.generation = generation.Int(0, 0);
    PgResult users = db.Exec("SELECT id, username, password_hash, is_admin, created_ms FROM users");
    for (int r = 0; r < users.Rows(); ++r) {
      AuthState::UserRecord record;
      record.user.id = users.Int(r, 0);
      record.user.username = users.Text(r, 1);
      record.password_hash = users.Text(r, 2);
      record.user.is_admin = users.Bool(r, 3);
      record.user.created_ms = users.Int(r, 4);
      state.users.push_back(std::move(record));
    }
    PgResult tokens = db.Exec(
        "SELECT id, user_id, name, salt, secret_hash, created_ms, expires_ms, kind FROM "
        "api_tokens WHERE revoked_ms IS NULL");
    for (int r = 0; r < tokens.Rows(); ++r) {
      AuthState::TokenRecord record;
      record.token.id = tokens.Text(r, 0);
      record.user_id = tokens.Int(r, 1);
      record.token.name = tokens.Text(r, 2);
      record.salt = tokens.Text(r, 3);
      record.secret_hash = tokens.Text(r, 4);
      record.token.created_ms = tokens.Int(r, 5);
      if (!tokens.IsNull(r, 6)) record.token.expires_ms = tokens.Int(r, 6);
      record.token.session = tokens.Text(r, 7) == "session";
      state.tokens.push_back(std::move(record));
    }
    PgResult grants =
        db.Exec("SELECT resource_type, resource_id, user_id, permission FROM resource_permissions");
    for (int r = 0; r < grants.Rows(); ++r) {
      AuthState::GrantRecord record;
      record.type = governance::ParseResourceType(std::string(grants.Text(r, 0)));
      record.resource_id = grants.Text(r, 1);
      record.user_id = grants.Int(r, 2);
      record.permission = governance::ParsePermission(std::string(grants.Text(r, 3)));
      state.grants.push_back(std::move(record));
    }
    return state;
  });
}

governance::User PgAuthStore::CreateUser(const std::string& username,
                                         const std::string& password_hash, bool is_admin,
                                         int64_t now_ms) {
  governance::User user{0, username, is_admin, now_ms};
  try {
    Change([&](PgConnection& db) {
      if (db.Exec("SELECT 1 FROM users WHERE username = $1", PgParams().Add(username)).Rows() > 0) {
        ThrowUserExists(username);
      }
      user.id = db.Exec(
                      "INSERT INTO users (username, password_hash, is_admin, created_ms) VALUES "
                      "($1, $2, $3, $4) RETURNING id",
                      PgParams().Add(username).Add(password_hash).Add(is_admin).Add(now_ms))
                    .Int(0, 0);
    });
  } catch (const PgError& e) {
    // Two creates of one name at once: the second meets the first's row.
    if (!e.IsUniqueViolation()) throw;
    ThrowUserExists(username);
  }
  return user;
}

void PgAuthStore::SetPasswordHash(int64_t user_id, const std::string& password_hash) {
  Change([&](PgConnection& db) {
    db.Exec("UPDATE users SET password_hash = $1 WHERE id = $2",
            PgParams().Add(password_hash).Add(user_id));
  });
}

void PgAuthStore::SetAdmin(int64_t user_id, bool is_admin) {
  Change([&](PgConnection& db) {
    db.Exec("UPDATE users SET is_admin = $1 WHERE id = $2", PgParams().Add(is_admin).Add(user_id));
  });
}

void PgAuthStore::DeleteUser(int64_t user_id) {
  Change([&](PgConnection& db) {
    for (const char* sql : {"DELETE FROM api_tokens WHERE user_id = $1",
                            "DELETE FROM resource_permissions WHERE user_id = $1",
                            "DELETE FROM users WHERE id = $1"}) {
      db.Exec(sql, PgParams().Add(user_id));
    }
  });
}

void PgAuthStore::AddToken(const AuthState::TokenRecord& token) {
  Change([&](PgConnection& db) {
    PgParams params;
    params.Add(token.token.id)
        .Add(token.user_id)
        .Add(token.token.name)
        .Add(token.salt)
        .Add(token.secret_hash)
        .Add(token.token.created_ms);
    if (token.token.expires_ms) {
      params.Add(*token.token.expires_ms);
    } else {
      params.AddNull(PgType::kInt8);
    }
    params.Add(token.token.session ? "session" : "api");
    db.Exec(
        "INSERT INTO api_tokens (id, user_id, name, salt, secret_hash, created_ms, expires_ms, "
        "kind) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        params);
  });
}

void PgAuthStore::RevokeToken(const std::string& token_id, int64_t now_ms) {
  Change([&](PgConnection& db) {
    db.Exec("UPDATE api_tokens SET revoked_ms = $1 WHERE id = $2 AND revoked_ms IS NULL",
            PgParams().Add(now_ms).Add(token_id));
  });
}

void PgAuthStore::ForgetEndedSessions(int64_t now_ms) {
  Change([&](PgConnection& db) {
    db.Exec(
        "DELETE FROM api_tokens WHERE kind = 'session' AND (revoked_ms IS NOT NULL OR "
        "expires_ms <= $1)",
        PgParams().Add(now_ms));
  });
}

void PgAuthStore::SetGrant(const AuthState::GrantRecord& grant) {
  Change([&](PgConnection& db) {
    db.Exec(
        "INSERT INTO resource_permissions (resource_type, resource_id, user_id, permission) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (resource_type, resource_id, user_id) "
        "DO UPDATE SET permission = excluded.permission",
        PgParams()
            .Add(TypeName(grant.type))
            .Add(grant.resource_id)
            .Add(grant.user_id)
            .Add(std::string(governance::PermissionName(grant.permission))));
  });
}

void PgAuthStore::DeleteGrant(ResourceType type, const std::string& resource_id, int64_t user_id) {
  Change([&](PgConnection& db) {
    db.Exec(
        "DELETE FROM resource_permissions WHERE resource_type = $1 AND resource_id = $2 "
        "AND user_id = $3",
        PgParams().Add(TypeName(type)).Add(resource_id).Add(user_id));
  });
}

void PgAuthStore::RenameResource(ResourceType type, const std::string& from,
                                 const std::string& to) {
  Change([&](PgConnection& db) {
    db.Exec(
        "UPDATE resource_permissions SET resource_id = $1 WHERE resource_type = $2 AND "
        "resource_id = $3",
        PgParams().Add(to).Add(TypeName(type)).Add(from));
  });
}

void PgAuthStore::DeleteResourceGrants(ResourceType type, const std::string& resource_id) {
  Change([&](PgConnection& db) {
    db.Exec("DELETE FROM resource_permissions WHERE resource_type = $1 AND resource_id = $2",
            PgParams().Add(TypeName(type)).Add(resource_id));
  });
}

}  // namespace slipway::store::postgres
