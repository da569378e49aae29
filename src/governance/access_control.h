// Who may do what: users, API tokens, and permissions on experiments and
// registered models, as MLflow's basic-auth app has them.
//
// A request presents Credentials (HTTP Basic or a Bearer token);
// Authenticate turns them into a Principal or refuses. A principal holds, on
// each experiment and registered model, the permission granted to it
// explicitly, else the server's default permission; admins hold MANAGE
// everywhere, and whoever creates a resource is granted MANAGE on it.
// Levels are ordered NO_PERMISSIONS < READ < USE < EDIT < MANAGE: reading
// needs READ, changing needs EDIT, deleting and managing permissions need
// MANAGE.
//
// The whole authorization state (it is small: users, tokens, grants) is held
// in memory as an immutable snapshot and replaced after every change, so a
// check costs a few hash lookups and a revoked token or deleted user stops
// working at once. Changes written to the store by another process (the CLI's
// --store mode) are picked up within a second. Passwords are verified with
// PBKDF2 once; the result is cached under an HMAC of the credentials with a
// per-process key, valid only while the user's stored hash is unchanged.
// Repeated failed logins from one address are throttled with exponential
// back-off; an attempt is counted before its password is checked, so
// concurrent guesses are throttled too. No secret is ever put in an error message.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "governance/authorization.h"
#include "governance/credentials.h"

namespace slipway::governance {

struct User {
  int64_t id = 0;
  std::string username;
  bool is_admin = false;
  int64_t created_ms = 0;
};

struct ApiToken {
  std::string id;
  std::string username;
  std::string name;
  int64_t created_ms = 0;
  std::optional<int64_t> expires_ms;
  // A browser session (StartSession) rather than an API token: presented only as
  // the session cookie, never as a Bearer token, and not listed as a token.
  bool session = false;
};

struct Grant {
  ResourceType type = ResourceType::kExperiment;
  std::string resource_id;
  std::string username;
  Permission permission = Permission::kNoPermissions;
};

// The persisted authorization state.
struct AuthState {
  struct UserRecord {
    User user;
    std::string password_hash;
  };
  struct TokenRecord {
    ApiToken token;
    int64_t user_id = 0;
    std::string salt;
    std::string secret_hash;
  };
  struct GrantRecord {
    ResourceType type = ResourceType::kExperiment;
    std::string resource_id;
    int64_t user_id = 0;
    Permission permission = Permission::kNoPermissions;
  };
  int64_t generation = 0;
  std::vector<UserRecord> users;
  std::vector<TokenRecord> tokens;  // those not revoked
  std::vector<GrantRecord> grants;
};

// Persistence of AuthState; SqliteAuthStore fills it. Every mutation commits
// atomically and advances the generation.
class AuthStore {
 public:
  virtual ~AuthStore() = default;
  virtual AuthState Load() = 0;
  virtual int64_t Generation() = 0;
  // RESOURCE_ALREADY_EXISTS if the name is taken.
  virtual User CreateUser(const std::string& username, const std::string& password_hash,
                          bool is_admin, int64_t now_ms) = 0;
  virtual void SetPasswordHash(int64_t user_id, const std::string& password_hash) = 0;
  virtual void SetAdmin(int64_t user_id, bool is_admin) = 0;
  // Deletes the user with its tokens and grants.
  virtual void DeleteUser(int64_t user_id) = 0;
  virtual void AddToken(const AuthState::TokenRecord& token) = 0;
  virtual void RevokeToken(const std::string& token_id, int64_t now_ms) = 0;
  // Deletes the sessions that expired or were signed out by `now_ms`.
  virtual void ForgetEndedSessions(int64_t now_ms) = 0;
  virtual void SetGrant(const AuthState::GrantRecord& grant) = 0;
  virtual void DeleteGrant(ResourceType type, const std::string& resource_id, int64_t user_id) = 0;
  virtual void RenameResource(ResourceType type, const std::string& from,
                              const std::string& to) = 0;
  virtual void DeleteResourceGrants(ResourceType type, const std::string& resource_id) = 0;
};

struct Credentials {
  enum class Kind { kNone, kBasic, kBearer, kSession };
  Kind kind = Kind::kNone;
  std::string username;  // Basic only
  std::string secret;    // the password, the whole bearer token, or the session cookie
  // Sessions only: a request that may change state must carry the session's
  // CSRF token (what StartSession returned), which a page of another site cannot
  // read, so that a browser's cookie alone never authorizes a change.
  bool changes_state = false;
  std::string csrf_token;
};

// A signed-in browser: `cookie` is the session's secret (shown once, kept
// by the browser as an HttpOnly cookie), `csrf_token` what the page sends
// back with every request that may change state.
struct Session {
  Principal principal;
  std::string cookie;
  std::string csrf_token;
  int64_t expires_ms = 0;
};

// AccessControl is the Authorizer of a server with --auth: users act with
// their grants (admins, and the operator, with MANAGE everywhere), system
// actors with the grants of the user they act for, or none.
class AccessControl final : public Authorizer {
 public:
  struct Options {
    Permission default_permission = Permission::kRead;
    int password_iterations = kPasswordIterations;
    int failures_before_throttle = 5;           // consecutive, per address and user name
    int address_failures_before_throttle = 20;  // per address, any user name
    std::chrono::seconds max_backoff{300};
    // How long a browser session lasts after sign-in.
    std::chrono::seconds session_lifetime{12 * 3600};
    // The canonical spelling of a resource id ("02" -> "2" for experiments),
    // so that a grant and the services' checks meet; throws for an id that
    // is not valid for its type. Given by the composition root, which knows
    // the resource types' rules; the identity when unset.
    std::function<std::string(ResourceType, const std::string&)> canonical_id;
  };

  AccessControl(AuthStore& store, Options options);
  ~AccessControl();

  // UNAUTHENTICATED for missing or wrong credentials, REQUEST_LIMIT_EXCEEDED
  // while `client_address` is throttled after repeated failures (the
  // message says when to retry; `retry_after_seconds` is set when non-null).
  Principal Authenticate(const Credentials& credentials, const std::string& client_address,
                         int* retry_after_seconds = nullptr);

  // A browser session for `principal`, whom the caller has authenticated
  // (the HTTP layer: by password); sessions that have ended are forgotten.
  Session StartSession(const Principal& principal);
  // Ends the session `credentials` presents (kind kSession); no error if it
  // has already ended.
  void SignOut(const Credentials& credentials);
  // The CSRF token of the session whose cookie is `cookie`.
  static std::string CsrfTokenOf(const std::string& cookie);

  Permission PermissionOf(const Principal& principal, ResourceType type,
                          const std::string& resource_id) const;
  // PERMISSION_DENIED naming the user, the resource, and both levels.
  void Require(const Principal& principal, ResourceType type, const std::string& resource_id,
               Permission needed) const;
  // PERMISSION_DENIED unless `principal` is an admin; `what` names the action.
  void RequireAdmin(const Principal& principal, std::string_view what) const;

  bool HasUsers() const;
  // Creating, deleting and making admins need an admin (or the operator) as
  // the current governance::Operation's actor; nobody deletes or demotes
  // themselves (BAD_REQUEST).
  User CreateUser(const std::string& username, const std::string& password, bool is_admin);
  //
  // Reading a user, their grants or tokens, and managing tokens, is for the
  // user themselves or an admin (PERMISSION_DENIED otherwise); listing users
  // and every token is for admins. A user changing their own password gives
  // the current one (INVALID_PARAMETER_VALUE when missing, wrong, or equal to
  // the new one); only admins change other users' passwords.
  User GetUser(const std::string& username) const;   // RESOURCE_DOES_NOT_EXIST; no check
  User ReadUser(const std::string& username) const;  // self or admin
  std::vector<User> ListUsers() const;
  bool CheckPassword(const std::string& username, const std::string& password) const;
  void UpdatePassword(const std::string& username, const std::string& password,
                      const std::string& current_password = "");
  void SetAdmin(const std::string& username, bool is_admin);
  void DeleteUser(const std::string& username);

  // Returns the token's record and its secret, which is never available again.
  std::pair<ApiToken, std::string> CreateToken(const std::string& username, const std::string& name,
                                               std::optional<int64_t> expires_ms);
  std::vector<ApiToken> ListTokens(const std::string& username) const;  // "" lists all (admins)
  ApiToken GetToken(const std::string& token_id) const;                 // RESOURCE_DOES_NOT_EXIST
  void RevokeToken(const std::string& token_id);

  // Changing a grant needs MANAGE on the resource (the current
  // governance::Operation's actor; admins and the operator have it).
  // RequireGrantChange is that check alone (naming the grant as the target),
  // for callers that must refuse before saying whether the grant exists.
  void RequireGrantChange(const std::string& username, ResourceType type,
                          const std::string& resource_id) const;
  void SetPermission(const std::string& username, ResourceType type, const std::string& resource_id,
                     Permission permission);
  // RESOURCE_DOES_NOT_EXIST if the user holds no explicit grant there.
  void RemovePermission(const std::string& username, ResourceType type,
                        const std::string& resource_id);
  // Another user's grant is read by whoever manages the resource.
  std::optional<Permission> ExplicitPermission(const std::string& username, ResourceType type,
                                               const std::string& resource_id) const;
  // What `username` holds on the resource, explicit or default; another
  // user's is read by whoever manages the resource.
  Permission PermissionOfUser(const std::string& username, ResourceType type,
                              const std::string& resource_id) const;
  std::vector<Grant> GrantsOf(const std::string& username) const;  // self or admin
  // The creator of a resource manages it (no-op for admins, who already do).
  void GrantOwner(const Principal& creator, ResourceType type, const std::string& resource_id);
  void RenameResource(ResourceType type, const std::string& from, const std::string& to);
  void ForgetResource(ResourceType type, const std::string& resource_id);

  Permission default_permission() const { return options_.default_permission; }
  // The id grants are kept under (Options::canonical_id).
  std::string CanonicalId(ResourceType type, const std::string& id) const;

  // Authorizer.
  bool enforcing() const override { return true; }
  Permission PermissionOf(const Actor& actor, ResourceType type,
                          const std::string& id) const override;
  bool IsAdmin(const Actor& actor) const override;
  Visibility Readable(const Actor& actor, ResourceType type) const override;
  void Created(const Actor& actor, ResourceType type, const std::string& id) override;
  void Renamed(ResourceType type, const std::string& from, const std::string& to) override {
    RenameResource(type, from, to);
  }
  void Deleted(ResourceType type, const std::string& id) override { ForgetResource(type, id); }

 private:
  struct Snapshot;
  class LoginThrottle;

  std::shared_ptr<const Snapshot> Current() const;
  void Reload() const;
  const AuthState::UserRecord& RequireUser(const Snapshot& snapshot,
                                           const std::string& username) const;
  // `reserve` is called just before the slow check of a secret (it may throw).
  // Whether the current operation's actor is the user `username`.
  static bool IsSelf(const std::string& username);
  void RequireSelfOrAdmin(const std::string& username, std::string_view what) const;
  // Names the grant as the target and requires MANAGE on the resource,
  // unless `username` is the current actor.
  void RequireSelfOrManager(const std::string& username, ResourceType type,
                            const std::string& resource_id) const;
  std::optional<Principal> CheckBasic(const Snapshot& snapshot, const Credentials& credentials,
                                      const std::function<void()>& reserve);
  // Bearer tokens and session cookies (`session` says which is presented).
  std::optional<Principal> CheckBearer(const Snapshot& snapshot, const Credentials& credentials,
                                       const std::function<void()>& reserve);
  std::string CacheKey(const Credentials& credentials) const;

  AuthStore& store_;
  Options options_;
  std::string cache_key_;  // random per process; keys the credential cache's HMAC

  mutable std::mutex snapshot_mu_;  // guards snapshot_ and last_generation_check_
  mutable std::shared_ptr<const Snapshot> snapshot_;
  mutable std::chrono::steady_clock::time_point last_generation_check_;

  std::mutex cache_mu_;  // guards verified_
  // HMAC of verified Basic credentials -> the password hash they matched.
  std::unordered_map<std::string, std::string> verified_;

  std::unique_ptr<LoginThrottle> throttle_;
};

}  // namespace slipway::governance
