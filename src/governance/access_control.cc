#include "governance/access_control.h"

#include <openssl/hmac.h>

#include <algorithm>
#include <functional>
#include <map>

#include "core/clock.h"
#include "core/error.h"

namespace slipway::governance {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr size_t kMaxCachedCredentials = 10000;
constexpr auto kGenerationCheckInterval = std::chrono::seconds(1);
constexpr size_t kMaxUsernameLength = 256;

std::string GrantKey(ResourceType type, const std::string& resource_id, int64_t user_id) {
  std::string key = std::string(ResourceTypeName(type));
  key += '\0';
  key += resource_id;
  key += '\0';
  key += std::to_string(user_id);
  return key;
}

[[noreturn]] void ThrowUnauthenticated(const std::string& why) {
  throw Error(ErrorCode::kUnauthenticated, why);
}

}  // namespace

// The in-memory copy of AuthState, indexed for the per-request checks.
struct AccessControl::Snapshot {
  int64_t generation = 0;
  std::unordered_map<std::string, AuthState::UserRecord> users;                // by name
  std::unordered_map<int64_t, std::string> names;                              // user id -> name
  std::unordered_map<std::string, AuthState::TokenRecord> tokens;              // by token id
  std::unordered_map<std::string, Permission> grants;                          // by GrantKey
  std::unordered_map<int64_t, std::vector<AuthState::GrantRecord>> grants_of;  // by user id

  explicit Snapshot(AuthState state) : generation(state.generation) {
    for (auto& record : state.users) {
      names[record.user.id] = record.user.username;
      std::string name = record.user.username;
      users.emplace(std::move(name), std::move(record));
    }
    for (auto& record : state.tokens) {
      auto user = names.find(record.user_id);
      if (user == names.end()) continue;
      record.token.username = user->second;
      std::string id = record.token.id;
      tokens.emplace(std::move(id), std::move(record));
    }
    for (const auto& grant : state.grants) {
      grants[GrantKey(grant.type, grant.resource_id, grant.user_id)] = grant.permission;
      grants_of[grant.user_id].push_back(grant);
    }
  }
};

// Counts consecutive failed logins per (address, user name) and per address,
// and refuses attempts for an exponentially growing time once a count passes
// its threshold. Keyed by address as well as name, so that nobody can lock
// a user out from elsewhere by failing logins in their name.
//
// An attempt that will need a full password check reserves its place first
// (Reserve), and counts as pending until it ends: only as many may be in
// flight at once as there are failures left before the threshold (one once
// past it), so that concurrent guesses cannot all be checked before the
// first failure is counted.
class AccessControl::LoginThrottle {
 public:
  LoginThrottle(int per_user, int per_address, std::chrono::seconds max_backoff)
      : per_user_(per_user), per_address_(per_address), max_backoff_(max_backoff) {}

  // Seconds until `address` may try `username` again; 0 if it may now.
  int BlockedFor(const std::string& address, const std::string& username) {
    std::lock_guard lock(mu_);
    auto now = SteadyClock::now();
    int64_t wait = 0;
    for (const std::string& key : {UserKey(address, username), address}) {
      auto it = failures_.find(key);
      if (it != failures_.end() && it->second.blocked_until > now) {
        wait = std::max<int64_t>(
            wait, std::chrono::ceil<std::chrono::seconds>(it->second.blocked_until - now).count());
      }
    }
    return static_cast<int>(wait);
  }

  // Reserves an attempt of `address` at `username` that is about to check a
  // password: 0 if it may go ahead, else the seconds to wait. Every
  // reservation ends in Failed or Succeeded with `reserved` true.
  int Reserve(const std::string& address, const std::string& username) {
    std::lock_guard lock(mu_);
    auto now = SteadyClock::now();
    if (failures_.size() > kMaxEntries) Prune(now);
    const std::pair<std::string, int> keys[] = {{UserKey(address, username), per_user_},
                                                {address, per_address_}};
    int64_t wait = 0;
    for (const auto& [key, threshold] : keys) {
      Failures& entry = failures_[key];
      if (entry.pending == 0 && now - entry.last > kForgetAfter) entry.count = 0;
      if (entry.blocked_until > now) {
        wait = std::max<int64_t>(
            wait, std::chrono::ceil<std::chrono::seconds>(entry.blocked_until - now).count());
      } else if (entry.pending >= std::max(1, threshold - entry.count)) {
        wait = std::max<int64_t>(wait, 1);
      }
    }
    if (wait > 0) return static_cast<int>(wait);
    for (const auto& [key, threshold] : keys) {
      Failures& entry = failures_[key];
      ++entry.pending;
      entry.last = now;
    }
    return 0;
  }

  void Failed(const std::string& address, const std::string& username, bool reserved) {
    std::lock_guard lock(mu_);
    auto now = SteadyClock::now();
    if (failures_.size() > kMaxEntries) Prune(now);
    Count(UserKey(address, username), per_user_, now, reserved);
    Count(address, per_address_, now, reserved);
  }

  void Succeeded(const std::string& address, const std::string& username, bool reserved) {
    std::lock_guard lock(mu_);
    auto now = SteadyClock::now();
    for (const std::string& key : {UserKey(address, username), address}) {
      auto it = failures_.find(key);
      if (it == failures_.end()) continue;
      Failures& entry = it->second;
      if (reserved && entry.pending > 0) --entry.pending;
      // A success clears the user's count, and the address's unless it is blocked.
      if (key == address && entry.blocked_until > now) continue;
      entry.count = 0;
      entry.blocked_until = {};
      if (entry.pending == 0) failures_.erase(it);
    }
  }

 private:
  struct Failures {
    int count = 0;
    int pending = 0;  // reserved attempts still checking a password
    SteadyClock::time_point last;
    SteadyClock::time_point blocked_until;
  };
  static constexpr size_t kMaxEntries = 100000;
  static constexpr auto kForgetAfter = std::chrono::minutes(15);

  static std::string UserKey(const std::string& address, const std::string& username) {
    return address + '\0' + username;
  }

  void Count(const std::string& key, int threshold, SteadyClock::time_point now, bool reserved) {
    Failures& entry = failures_[key];
    if (reserved && entry.pending > 0) --entry.pending;
    if (now - entry.last > kForgetAfter) entry.count = 0;
    entry.last = now;
    ++entry.count;
    if (entry.count >= threshold) {
      int doublings = std::min(entry.count - threshold, 20);
      auto backoff = std::min<std::chrono::seconds>(std::chrono::seconds(int64_t{1} << doublings),
                                                    max_backoff_);
      entry.blocked_until = now + backoff;
    }
  }

  void Prune(SteadyClock::time_point now) {
    std::erase_if(failures_, [&](const auto& item) {
      return now - item.second.last > kForgetAfter && item.second.blocked_until <= now &&
             item.second.pending == 0;
    });
  }

  const int per_user_;
  const int per_address_;
  const std::chrono::seconds max_backoff_;
  std::mutex mu_;  // guards failures_
  std::unordered_map<std::string, Failures> failures_;
};

AccessControl::AccessControl(AuthStore& store, Options options)
    : store_(store),
      options_(options),
      cache_key_(RandomBytes(32)),
      throttle_(std::make_unique<LoginThrottle>(options.failures_before_throttle,
                                                options.address_failures_before_throttle,
                                                options.max_backoff)) {
  Reload();
}

AccessControl::~AccessControl() = default;

void AccessControl::Reload() const {
  auto fresh = std::make_shared<const Snapshot>(store_.Load());
  std::lock_guard lock(snapshot_mu_);
  if (!snapshot_ || fresh->generation >= snapshot_->generation) snapshot_ = std::move(fresh);
  last_generation_check_ = SteadyClock::now();
}

std::shared_ptr<const AccessControl::Snapshot> AccessControl::Current() const {
  std::shared_ptr<const Snapshot> snapshot;
  bool check = false;
  {
    std::lock_guard lock(snapshot_mu_);
    snapshot = snapshot_;
    auto now = SteadyClock::now();
    if (now - last_generation_check_ >= kGenerationCheckInterval) {
      last_generation_check_ = now;
      check = true;
    }
  }
  if (check && store_.Generation() != snapshot->generation) {
    Reload();
    std::lock_guard lock(snapshot_mu_);
    snapshot = snapshot_;
  }
  return snapshot;
}

std::string AccessControl::CacheKey(const Credentials& credentials) const {
  std::string message = credentials.username;
  message += '\0';
  message += credentials.secret;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), cache_key_.data(), static_cast<int>(cache_key_.size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &length)) {
    throw Error(ErrorCode::kInternalError, "HMAC failed");
  }
  return std::string(reinterpret_cast<char*>(mac), length);
}

std::optional<Principal> AccessControl::CheckBasic(const Snapshot& snapshot,
                                                   const Credentials& credentials,
                                                   const std::function<void()>& reserve) {
  auto user = snapshot.users.find(credentials.username);
  if (user == snapshot.users.end()) {
    reserve();
    // Spend the same time as for a real user, so that timing does not tell
    // which names exist.
    static const std::string kDecoy = HashPassword("decoy", options_.password_iterations);
    VerifyPassword(credentials.secret, kDecoy);
    return std::nullopt;
  }
  const AuthState::UserRecord& record = user->second;
  std::string key = CacheKey(credentials);
  {
    std::lock_guard lock(cache_mu_);
    auto hit = verified_.find(key);
    if (hit != verified_.end() && hit->second == record.password_hash) {
      return Principal{record.user.id, record.user.username, record.user.is_admin};
    }
  }
  reserve();
  if (!VerifyPassword(credentials.secret, record.password_hash)) return std::nullopt;
  {
    std::lock_guard lock(cache_mu_);
    if (verified_.size() >= kMaxCachedCredentials) verified_.clear();
    verified_[key] = record.password_hash;
  }
  return Principal{record.user.id, record.user.username, record.user.is_admin};
}

std::optional<Principal> AccessControl::CheckBearer(const Snapshot& snapshot,
                                                    const Credentials& credentials,
                                                    const std::function<void()>& reserve) {
  std::string id;
  std::string secret;
  if (!ParseToken(credentials.secret, &id, &secret)) return std::nullopt;
  auto token = snapshot.tokens.find(id);
  if (token == snapshot.tokens.end()) return std::nullopt;
  const AuthState::TokenRecord& record = token->second;
  // A session's cookie is no API token, and an API token no session.
  if (record.token.session != (credentials.kind == Credentials::Kind::kSession))
    return std::nullopt;
  reserve();
  if (!VerifyTokenSecret(secret, record.salt, record.secret_hash)) return std::nullopt;
  if (record.token.expires_ms && *record.token.expires_ms <= NowMillis()) return std::nullopt;
  auto user = snapshot.users.find(record.token.username);
  if (user == snapshot.users.end()) return std::nullopt;
  return Principal{user->second.user.id, user->second.user.username, user->second.user.is_admin};
}

Principal AccessControl::Authenticate(const Credentials& credentials,
                                      const std::string& client_address, int* retry_after_seconds) {
  if (credentials.kind == Credentials::Kind::kNone) {
    ThrowUnauthenticated(
        "Authentication required: send HTTP Basic credentials (MLFLOW_TRACKING_USERNAME and "
        "MLFLOW_TRACKING_PASSWORD) or a Bearer token (MLFLOW_TRACKING_TOKEN).");
  }
  // Bearer tokens are throttled under their public id, never their secret.
  std::string throttle_name = credentials.username;
  std::string token_id;
  std::string ignored;
  if (credentials.kind == Credentials::Kind::kBearer ||
      credentials.kind == Credentials::Kind::kSession) {
    throttle_name = ParseToken(credentials.secret, &token_id, &ignored) ? "token:" + token_id
                                                                        : "token:malformed";
  }
  auto refuse = [&](int wait) {
    if (retry_after_seconds) *retry_after_seconds = wait;
    throw Error(ErrorCode::kRequestLimitExceeded, "Too many failed logins from " + client_address +
                                                      "; retry in " + std::to_string(wait) + " s.");
  };
  if (int wait = throttle_->BlockedFor(client_address, throttle_name); wait > 0) refuse(wait);
  // Taken before the slow check, so that concurrent attempts are counted
  // before any of them has finished.
  bool reserved = false;
  auto reserve = [&] {
    if (int wait = throttle_->Reserve(client_address, throttle_name); wait > 0) refuse(wait);
    reserved = true;
  };
  std::shared_ptr<const Snapshot> snapshot = Current();
  std::optional<Principal> principal;
  try {
    principal = credentials.kind == Credentials::Kind::kBasic
                    ? CheckBasic(*snapshot, credentials, reserve)
                    : CheckBearer(*snapshot, credentials, reserve);
  } catch (...) {
    if (reserved) throttle_->Failed(client_address, throttle_name, true);
    throw;
  }
  if (!principal) {
    throttle_->Failed(client_address, throttle_name, reserved);
    ThrowUnauthenticated(credentials.kind == Credentials::Kind::kBasic
                             ? "Invalid user name or password."
                         : credentials.kind == Credentials::Kind::kSession
                             ? "Your session has ended or is not valid: sign in again."
                             : "Invalid, expired or revoked API token.");
  }
  throttle_->Succeeded(client_address, throttle_name, reserved);
  if (credentials.kind == Credentials::Kind::kSession && credentials.changes_state &&
      !SecretsEqual(credentials.csrf_token, CsrfTokenOf(credentials.secret)))
    throw Error(ErrorCode::kPermissionDenied,
                "Missing or wrong CSRF token: a signed-in browser sends the X-CSRF-Token its "
                "sign-in returned with every request that may change something.");
  return *principal;
}

Session AccessControl::StartSession(const Principal& principal) {
  Session session;
  session.principal = principal;
  const std::string& username = principal.username;
  SetTarget("user:" + username);
  const int64_t now = NowMillis();
  IssuedToken issued = IssueToken();
  AuthState::TokenRecord record;
  record.token.id = issued.id;
  record.token.username = username;
  record.token.name = "browser session";
  record.token.created_ms = now;
  record.token.expires_ms =
      now +
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.session_lifetime).count();
  record.token.session = true;
  record.user_id = session.principal.user_id;
  record.salt = issued.salt;
  record.secret_hash = issued.secret_hash;
  store_.ForgetEndedSessions(now);
  store_.AddToken(record);
  Reload();
  session.cookie = issued.token;
  session.csrf_token = CsrfTokenOf(issued.token);
  session.expires_ms = *record.token.expires_ms;
  return session;
}

void AccessControl::SignOut(const Credentials& credentials) {
  std::string id;
  std::string secret;
  if (credentials.kind != Credentials::Kind::kSession ||
      !ParseToken(credentials.secret, &id, &secret))
    return;
  std::shared_ptr<const Snapshot> snapshot = Current();
  auto token = snapshot->tokens.find(id);
  if (token == snapshot->tokens.end() || !token->second.token.session ||
      !VerifyTokenSecret(secret, token->second.salt, token->second.secret_hash))
    return;
  store_.RevokeToken(id, NowMillis());
  Reload();
}

std::string AccessControl::CsrfTokenOf(const std::string& cookie) {
  // Derived from the session's secret, so it needs no storage and changes
  // with every sign-in; without the cookie it cannot be computed.
  static constexpr std::string_view kPurpose = "slipway csrf token";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), cookie.data(), static_cast<int>(cookie.size()),
            reinterpret_cast<const unsigned char*>(kPurpose.data()), kPurpose.size(), mac, &length))
    throw Error(ErrorCode::kInternalError, "HMAC failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 0xF];
  }
  return out;
}

Permission AccessControl::PermissionOf(const Principal& principal, ResourceType type,
                                       const std::string& resource_id) const {
  if (principal.is_admin) return Permission::kManage;
  std::shared_ptr<const Snapshot> snapshot = Current();
  // The admin flag may have changed since the principal was authenticated.
  auto user = snapshot->users.find(principal.username);
  if (user != snapshot->users.end() && user->second.user.is_admin) return Permission::kManage;
  auto grant = snapshot->grants.find(GrantKey(type, resource_id, principal.user_id));
  return grant == snapshot->grants.end() ? options_.default_permission : grant->second;
}

void AccessControl::Require(const Principal& principal, ResourceType type,
                            const std::string& resource_id, Permission needed) const {
  Permission held = PermissionOf(principal, type, resource_id);
  if (held >= needed) return;
  throw Error(ErrorCode::kPermissionDenied, "Permission denied: user '" + principal.username +
                                                "' has " + std::string(PermissionName(held)) +
                                                " on " + std::string(ResourceTypeName(type)) +
                                                " '" + resource_id + "'; this needs " +
                                                std::string(PermissionName(needed)) + ".");
}

void AccessControl::RequireAdmin(const Principal& principal, std::string_view what) const {
  if (principal.is_admin) return;
  throw Error(ErrorCode::kPermissionDenied, "Permission denied: only admins may " +
                                                std::string(what) + " (user '" +
                                                principal.username + "' is not an admin).");
}

Permission AccessControl::PermissionOf(const Actor& actor, ResourceType type,
                                       const std::string& id) const {
  if (actor.kind == Actor::Kind::kOperator) return Permission::kManage;
  // A system actor holds nothing of its own: only what its user holds.
  if (!actor.user) return Permission::kNoPermissions;
  return PermissionOf(*actor.user, type, id);
}

bool AccessControl::IsAdmin(const Actor& actor) const {
  if (actor.kind == Actor::Kind::kOperator) return true;
  if (!actor.user) return false;
  if (actor.user->is_admin) return true;
  std::shared_ptr<const Snapshot> snapshot = Current();
  auto user = snapshot->users.find(actor.user->username);
  return user != snapshot->users.end() && user->second.user.is_admin;
}

Visibility AccessControl::Readable(const Actor& actor, ResourceType type) const {
  if (IsAdmin(actor)) return {};
  Visibility visible;
  visible.all_by_default = actor.user && options_.default_permission >= Permission::kRead;
  if (!actor.user) return visible;
  std::shared_ptr<const Snapshot> snapshot = Current();
  auto grants = snapshot->grants_of.find(actor.user->user_id);
  if (grants == snapshot->grants_of.end()) return visible;
  for (const AuthState::GrantRecord& grant : grants->second) {
    if (grant.type != type) continue;
    // The exceptions to the default: hidden ids when all are visible,
    // visible ones otherwise.
    if ((grant.permission >= Permission::kRead) != visible.all_by_default) {
      visible.except.push_back(grant.resource_id);
    }
  }
  return visible;
}

void AccessControl::Created(const Actor& actor, ResourceType type, const std::string& id) {
  // A user's resource, whether they made it or a component acting for them
  // did (the loop's feedback dataset: its owner may then add versions and
  // grant it, as if they had pushed it). The operator and a component
  // acting for nobody own nothing: with --auth, an admin grants those.
  if (actor.kind == Actor::Kind::kOperator || !actor.user) return;
  GrantOwner(*actor.user, type, id);
}

bool AccessControl::HasUsers() const { return !Current()->users.empty(); }

const AuthState::UserRecord& AccessControl::RequireUser(const Snapshot& snapshot,
                                                        const std::string& username) const {
  auto user = snapshot.users.find(username);
  if (user == snapshot.users.end()) {
    ThrowNotFound("User with username=" + username + " not found");
  }
  return user->second;
}

User AccessControl::CreateUser(const std::string& username, const std::string& password,
                               bool is_admin) {
  SetTarget("user:" + username);
  governance::RequireAdmin(*this, "create users");
  if (username.empty() || password.empty()) {
    ThrowInvalid("Username and password cannot be empty.");
  }
  if (username.size() > kMaxUsernameLength) {
    ThrowInvalid("Username is " + std::to_string(username.size()) +
                 " characters long; the limit is " + std::to_string(kMaxUsernameLength) + ".");
  }
  for (unsigned char c : username) {
    if (c < 0x20 || c == 0x7f || c == ':') {
      ThrowInvalid("Username must not contain ':' or control characters.");
    }
  }
  User user = store_.CreateUser(username, HashPassword(password, options_.password_iterations),
                                is_admin, NowMillis());
  Reload();
  return user;
}

User AccessControl::GetUser(const std::string& username) const {
  return RequireUser(*Current(), username).user;
}

User AccessControl::ReadUser(const std::string& username) const {
  RequireSelfOrAdmin(username, "read other users");
  return GetUser(username);
}

std::vector<User> AccessControl::ListUsers() const {
  governance::RequireAdmin(*this, "list users");
  std::vector<User> users;
  for (const auto& [name, record] : Current()->users) users.push_back(record.user);
  std::sort(users.begin(), users.end(), [](const User& a, const User& b) { return a.id < b.id; });
  return users;
}

bool AccessControl::CheckPassword(const std::string& username, const std::string& password) const {
  return VerifyPassword(password, RequireUser(*Current(), username).password_hash);
}

void AccessControl::UpdatePassword(const std::string& username, const std::string& password,
                                   const std::string& current_password) {
  SetTarget("user:" + username);
  if (IsSelf(username)) {
    // Changing one's own password asks for the current one again.
    if (current_password.empty()) {
      ThrowInvalid("Current password is required when changing your own password.");
    }
    if (!CheckPassword(username, current_password))
      ThrowInvalid("Current password does not match.");
    if (password == current_password) {
      ThrowInvalid("New password must differ from the current password.");
    }
  } else {
    governance::RequireAdmin(*this, "change other users' passwords");
  }
  if (password.empty()) ThrowInvalid("Password cannot be empty.");
  int64_t id = RequireUser(*Current(), username).user.id;
  store_.SetPasswordHash(id, HashPassword(password, options_.password_iterations));
  Reload();
}

void AccessControl::SetAdmin(const std::string& username, bool is_admin) {
  SetTarget("user:" + username);
  governance::RequireAdmin(*this, "grant or remove admin rights");
  if (!is_admin && IsSelf(username)) {
    throw Error(ErrorCode::kBadRequest,
                "Admins cannot remove their own admin rights; ask another admin.");
  }
  store_.SetAdmin(RequireUser(*Current(), username).user.id, is_admin);
  Reload();
}

void AccessControl::DeleteUser(const std::string& username) {
  SetTarget("user:" + username);
  governance::RequireAdmin(*this, "delete users");
  if (IsSelf(username)) {
    throw Error(ErrorCode::kBadRequest,
                "Users cannot delete their own account. Ask another admin to delete this user "
                "instead.");
  }
  store_.DeleteUser(RequireUser(*Current(), username).user.id);
  Reload();
}

std::pair<ApiToken, std::string> AccessControl::CreateToken(const std::string& username,
                                                            const std::string& name,
                                                            std::optional<int64_t> expires_ms) {
  RequireSelfOrAdmin(username, "create tokens for other users");
  const AuthState::UserRecord& user = RequireUser(*Current(), username);
  IssuedToken issued = IssueToken();
  AuthState::TokenRecord record;
  record.token.id = issued.id;
  record.token.username = username;
  record.token.name = name;
  record.token.created_ms = NowMillis();
  record.token.expires_ms = expires_ms;
  record.user_id = user.user.id;
  record.salt = issued.salt;
  record.secret_hash = issued.secret_hash;
  store_.AddToken(record);
  Reload();
  // Never the token itself: its public id only.
  SetTarget("token:" + record.token.id);
  return {record.token, issued.token};
}

std::vector<ApiToken> AccessControl::ListTokens(const std::string& username) const {
  if (username.empty()) {
    governance::RequireAdmin(*this, "list every user's tokens");
  } else {
    RequireSelfOrAdmin(username, "list other users' tokens");
  }
  std::vector<ApiToken> tokens;
  for (const auto& [id, record] : Current()->tokens) {
    if (record.token.session) continue;
    if (username.empty() || record.token.username == username) tokens.push_back(record.token);
  }
  std::sort(tokens.begin(), tokens.end(), [](const ApiToken& a, const ApiToken& b) {
    return std::tie(a.created_ms, a.id) < std::tie(b.created_ms, b.id);
  });
  return tokens;
}

ApiToken AccessControl::GetToken(const std::string& token_id) const {
  std::shared_ptr<const Snapshot> snapshot = Current();
  auto token = snapshot->tokens.find(token_id);
  if (token == snapshot->tokens.end() || token->second.token.session) {
    ThrowNotFound("API token '" + token_id + "' does not exist or was revoked.");
  }
  return token->second.token;
}

void AccessControl::RevokeToken(const std::string& token_id) {
  SetTarget("token:" + token_id);
  RequireSelfOrAdmin(GetToken(token_id).username, "revoke other users' tokens");
  store_.RevokeToken(token_id, NowMillis());
  Reload();
}

void AccessControl::RequireSelfOrAdmin(const std::string& username, std::string_view what) const {
  if (!IsSelf(username)) governance::RequireAdmin(*this, what);
}

void AccessControl::RequireGrantChange(const std::string& username, ResourceType type,
                                       const std::string& resource_id) const {
  governance::SetTarget(std::string(ResourceTypeName(type)) + ":" + resource_id +
                        "/user:" + username);
  governance::Require(*this, Permission::kManage, type, resource_id);
}

void AccessControl::RequireSelfOrManager(const std::string& username, ResourceType type,
                                         const std::string& resource_id) const {
  if (!IsSelf(username)) RequireGrantChange(username, type, resource_id);
}

Permission AccessControl::PermissionOfUser(const std::string& username, ResourceType type,
                                           const std::string& resource_id) const {
  User user = GetUser(username);
  RequireSelfOrManager(username, type, resource_id);
  return PermissionOf(Principal{user.id, user.username, user.is_admin}, type, resource_id);
}

bool AccessControl::IsSelf(const std::string& username) {
  const Operation* operation = Operation::Current();
  return operation != nullptr && operation->actor().user &&
         operation->actor().user->username == username;
}

std::string AccessControl::CanonicalId(ResourceType type, const std::string& id) const {
  return options_.canonical_id ? options_.canonical_id(type, id) : id;
}

void AccessControl::SetPermission(const std::string& username, ResourceType type,
                                  const std::string& given_id, Permission permission) {
  if (given_id.empty()) ThrowInvalid("Missing value for required parameter 'resource_id'.");
  std::string resource_id = CanonicalId(type, given_id);
  SetTarget(std::string(ResourceTypeName(type)) + ":" + resource_id + "/user:" + username);
  // Admins, and whoever manages the resource, may change who else can use it.
  governance::Require(*this, Permission::kManage, type, resource_id);
  if (resource_id.empty()) ThrowInvalid("Missing value for required parameter 'resource_id'.");
  AuthState::GrantRecord grant{type, resource_id, RequireUser(*Current(), username).user.id,
                               permission};
  store_.SetGrant(grant);
  Reload();
}

void AccessControl::RemovePermission(const std::string& username, ResourceType type,
                                     const std::string& given_id) {
  std::string resource_id = CanonicalId(type, given_id);
  SetTarget(std::string(ResourceTypeName(type)) + ":" + resource_id + "/user:" + username);
  governance::Require(*this, Permission::kManage, type, resource_id);
  if (!ExplicitPermission(username, type, resource_id)) {
    ThrowNotFound("No permission for user '" + username + "' on " +
                  std::string(ResourceTypeName(type)) + " '" + resource_id + "'.");
  }
  store_.DeleteGrant(type, resource_id, RequireUser(*Current(), username).user.id);
  Reload();
}

std::optional<Permission> AccessControl::ExplicitPermission(const std::string& username,
                                                            ResourceType type,
                                                            const std::string& resource_id) const {
  RequireSelfOrManager(username, type, resource_id);
  std::shared_ptr<const Snapshot> snapshot = Current();
  auto grant =
      snapshot->grants.find(GrantKey(type, resource_id, RequireUser(*snapshot, username).user.id));
  if (grant == snapshot->grants.end()) return std::nullopt;
  return grant->second;
}

std::vector<Grant> AccessControl::GrantsOf(const std::string& username) const {
  RequireSelfOrAdmin(username, "list other users' permissions");
  AuthState state = store_.Load();
  int64_t user_id = RequireUser(*Current(), username).user.id;
  std::vector<Grant> grants;
  for (const auto& record : state.grants) {
    if (record.user_id != user_id) continue;
    grants.push_back({record.type, record.resource_id, username, record.permission});
  }
  return grants;
}

void AccessControl::GrantOwner(const Principal& creator, ResourceType type,
                               const std::string& resource_id) {
  if (creator.is_admin) return;
  store_.SetGrant({type, resource_id, creator.user_id, Permission::kManage});
  Reload();
}

void AccessControl::RenameResource(ResourceType type, const std::string& from,
                                   const std::string& to) {
  store_.RenameResource(type, from, to);
  Reload();
}

void AccessControl::ForgetResource(ResourceType type, const std::string& resource_id) {
  store_.DeleteResourceGrants(type, resource_id);
  Reload();
}

}  // namespace slipway::governance
