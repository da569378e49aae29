#include "governance/access_control.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <latch>
#include <thread>
#include <vector>

#include "core/error.h"
#include "governance/credentials.h"
#include "postgres_test_cluster.h"
#include "store/postgres/pg_auth_store.h"
#include "store/postgres/pg_schema.h"
#include "store/sqlite_auth_store.h"

namespace slipway::governance {
namespace {

// Few iterations: these tests check behaviour, not the work factor.
constexpr int kFastIterations = 1000;

TEST(CredentialsTest, PasswordHashesAreSaltedAndVerify) {
  std::string a = HashPassword("correct horse", kFastIterations);
  std::string b = HashPassword("correct horse", kFastIterations);
  EXPECT_NE(a, b);  // a fresh salt each time
  EXPECT_EQ(a.rfind("pbkdf2-sha256$1000$", 0), 0u);
  EXPECT_EQ(a.find("correct horse"), std::string::npos);
  EXPECT_TRUE(VerifyPassword("correct horse", a));
  EXPECT_TRUE(VerifyPassword("correct horse", b));
  EXPECT_FALSE(VerifyPassword("correct horsE", a));
  EXPECT_FALSE(VerifyPassword("", a));
}

TEST(CredentialsTest, MalformedHashesNeverVerify) {
  for (const char* hash : {"", "pbkdf2-sha256", "pbkdf2-sha256$x$AAAA$AAAA", "md5$1$AAAA$AAAA",
                           "pbkdf2-sha256$1000$!!!!$AAAA", "pbkdf2-sha256$0$AAAA$AAAA"}) {
    EXPECT_FALSE(VerifyPassword("anything", hash)) << hash;
  }
}

TEST(CredentialsTest, TokensParseAndVerifyOnlyWithTheirSecret) {
  IssuedToken issued = IssueToken();
  EXPECT_EQ(issued.token.rfind("slw_" + issued.id + "_", 0), 0u);
  EXPECT_EQ(issued.token.find(issued.secret_hash), std::string::npos);
  std::string id;
  std::string secret;
  ASSERT_TRUE(ParseToken(issued.token, &id, &secret));
  EXPECT_EQ(id, issued.id);
  EXPECT_EQ(secret.size(), 43u);  // 256 bits in unpadded base64url
  EXPECT_TRUE(VerifyTokenSecret(secret, issued.salt, issued.secret_hash));
  std::string tampered = secret;
  tampered[0] = tampered[0] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyTokenSecret(tampered, issued.salt, issued.secret_hash));
  EXPECT_NE(IssueToken().token, issued.token);
  for (const char* bad : {"", "slw_", "slw_short_x", "abc_0123456789abcdef_x",
                          "slw_0123456789ABCDEF_x", "slw_0123456789abcdef"}) {
    EXPECT_FALSE(ParseToken(bad, &id, &secret)) << bad;
  }
}

TEST(CredentialsTest, SecretsEqualComparesWhole) {
  EXPECT_TRUE(SecretsEqual("abc", "abc"));
  EXPECT_FALSE(SecretsEqual("abc", "abd"));
  EXPECT_FALSE(SecretsEqual("abc", "abcd"));
  EXPECT_FALSE(SecretsEqual("", "a"));
}

// On SQLite and on PostgreSQL (a database of its own from
// postgres_test_cluster.h; the PostgreSQL runs skip, saying why, without one).
enum class Engine { kSqlite, kPostgres };

class AccessControlTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    if (GetParam() == Engine::kPostgres) {
      std::string why_not;
      std::string uri = slipway::testing::FreshPostgresDatabase(&why_not);
      if (uri.empty()) GTEST_SKIP() << "no PostgreSQL for this test: " << why_not;
      auto db = std::shared_ptr<store::postgres::PgDb>(store::postgres::PgDb::Open({.uri = uri}));
      store::postgres::MigratePostgres(*db, store::SqliteMigrations());
      store_ = std::make_unique<store::postgres::PgAuthStore>(db);
    } else {
      std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::replace(name.begin(), name.end(), '/', '-');  // "Test/Sqlite"
      path_ = std::filesystem::temp_directory_path() /
              ("slipway-access-" + std::to_string(::getpid()) + "-" + name + ".db");
      std::filesystem::remove(path_);
      store_ =
          std::make_unique<store::SqliteAuthStore>(store::OpenMetadataDatabase(path_.string()));
    }
    access_ = Make(Permission::kRead);
  }
  void TearDown() override {
    access_.reset();
    store_.reset();
    if (path_.empty()) return;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path_.string() + suffix);
    }
  }

  std::unique_ptr<AccessControl> Make(Permission default_permission) {
    AccessControl::Options options;
    options.default_permission = default_permission;
    options.password_iterations = kFastIterations;
    options.failures_before_throttle = 3;
    options.address_failures_before_throttle = 6;
    return std::make_unique<AccessControl>(*store_, options);
  }

  static Credentials Basic(const std::string& user, const std::string& password) {
    Credentials c;
    c.kind = Credentials::Kind::kBasic;
    c.username = user;
    c.secret = password;
    return c;
  }
  // A Bearer token or a session cookie.
  static Credentials Presented(Credentials::Kind kind, const std::string& secret) {
    Credentials c;
    c.kind = kind;
    c.secret = secret;
    return c;
  }

  // Grants are changed by the operator (as the CLI's --store mode does).
  governance::Operation operator_{governance::Actor::Operator("local:test"), "test"};
  std::filesystem::path path_;  // SQLite's file
  std::unique_ptr<AuthStore> store_;
  std::unique_ptr<AccessControl> access_;
};

INSTANTIATE_TEST_SUITE_P(Engines, AccessControlTest,
                         ::testing::Values(Engine::kSqlite, Engine::kPostgres),
                         [](const ::testing::TestParamInfo<Engine>& info) {
                           return info.param == Engine::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST_P(AccessControlTest, AuthenticatesUsersByPassword) {
  EXPECT_FALSE(access_->HasUsers());
  User alice = access_->CreateUser("alice", "pw-a", false);
  EXPECT_TRUE(access_->HasUsers());
  Principal p = access_->Authenticate(Basic("alice", "pw-a"), "10.0.0.1");
  EXPECT_EQ(p.user_id, alice.id);
  EXPECT_EQ(p.username, "alice");
  EXPECT_FALSE(p.is_admin);
  // cached the second time, still correct
  EXPECT_EQ(access_->Authenticate(Basic("alice", "pw-a"), "10.0.0.1").user_id, alice.id);
  try {
    access_->Authenticate(Basic("alice", "pw-b"), "10.0.0.1");
    FAIL() << "a wrong password was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kUnauthenticated);
    EXPECT_EQ(std::string(error.what()).find("pw-b"), std::string::npos);
  }
  EXPECT_THROW(access_->Authenticate({}, "10.0.0.1"), Error);
  EXPECT_THROW(access_->Authenticate(Basic("nobody", "pw-a"), "10.0.0.1"), Error);
}

TEST_P(AccessControlTest, PasswordChangeAndDeletionTakeEffectAtOnceDespiteTheCache) {
  access_->CreateUser("alice", "old", false);
  access_->Authenticate(Basic("alice", "old"), "a");  // now cached
  access_->UpdatePassword("alice", "new");
  EXPECT_THROW(access_->Authenticate(Basic("alice", "old"), "a"), Error);
  EXPECT_EQ(access_->Authenticate(Basic("alice", "new"), "a").username, "alice");
  access_->DeleteUser("alice");
  EXPECT_THROW(access_->Authenticate(Basic("alice", "new"), "a"), Error);
  EXPECT_THROW(access_->GetUser("alice"), Error);
}

TEST_P(AccessControlTest, TokensAuthenticateUntilRevokedOrExpired) {
  access_->CreateUser("bob", "pw", false);
  auto [token, secret] = access_->CreateToken("bob", "ci", std::nullopt);
  Credentials bearer = Presented(Credentials::Kind::kBearer, secret);
  EXPECT_EQ(access_->Authenticate(bearer, "a").username, "bob");
  ASSERT_EQ(access_->ListTokens("bob").size(), 1u);
  EXPECT_EQ(access_->ListTokens("bob")[0].name, "ci");
  access_->RevokeToken(token.id);
  EXPECT_THROW(access_->Authenticate(bearer, "a"), Error);
  EXPECT_TRUE(access_->ListTokens("bob").empty());
  EXPECT_THROW(access_->RevokeToken(token.id), Error);

  auto [expired, expired_secret] = access_->CreateToken("bob", "old", int64_t{1});
  EXPECT_THROW(access_->Authenticate(Presented(Credentials::Kind::kBearer, expired_secret), "a"),
               Error);
  // A token dies with its user.
  auto [live, live_secret] = access_->CreateToken("bob", "live", std::nullopt);
  access_->DeleteUser("bob");
  EXPECT_THROW(access_->Authenticate(Presented(Credentials::Kind::kBearer, live_secret), "a"),
               Error);
}

TEST_P(AccessControlTest, SessionsNeedTheirCsrfTokenToChangeAndEndAtSignOut) {
  access_->CreateUser("carol", "pw", false);
  const Session session = access_->StartSession(access_->Authenticate(Basic("carol", "pw"), "b"));
  EXPECT_EQ(session.principal.username, "carol");
  EXPECT_EQ(session.csrf_token, AccessControl::CsrfTokenOf(session.cookie));
  EXPECT_EQ(session.csrf_token.size(), 64u);
  EXPECT_GT(session.expires_ms, 0);
  Credentials cookie = Presented(Credentials::Kind::kSession, session.cookie);
  EXPECT_EQ(access_->Authenticate(cookie, "b").username, "carol");  // a read needs no token
  cookie.changes_state = true;
  for (const std::string& csrf :
       {std::string(),
        std::string(session.csrf_token[0] == '0' ? "1" : "0") + session.csrf_token.substr(1),
        AccessControl::CsrfTokenOf("another cookie")}) {
    cookie.csrf_token = csrf;
    try {
      access_->Authenticate(cookie, "b");
      FAIL() << "a change without the session's CSRF token was accepted";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::kPermissionDenied);
    }
  }
  cookie.csrf_token = session.csrf_token;
  EXPECT_EQ(access_->Authenticate(cookie, "b").username, "carol");
  // A session is no API token, and an API token no session.
  EXPECT_THROW(access_->Authenticate(Presented(Credentials::Kind::kBearer, session.cookie), "b"),
               Error);
  auto [token, secret] = access_->CreateToken("carol", "ci", std::nullopt);
  EXPECT_THROW(access_->Authenticate(Presented(Credentials::Kind::kSession, secret), "b"), Error);
  ASSERT_EQ(access_->ListTokens("carol").size(), 1u);  // sessions are not listed
  // Two sessions are independent; signing out ends one.
  const Session other = access_->StartSession(session.principal);
  access_->SignOut(cookie);
  EXPECT_THROW(access_->Authenticate(cookie, "b"), Error);
  EXPECT_EQ(
      access_->Authenticate(Presented(Credentials::Kind::kSession, other.cookie), "b").username,
      "carol");
  access_->SignOut(cookie);  // twice is fine
  // A session ends with its lifetime.
  AccessControl::Options brief;
  brief.password_iterations = kFastIterations;
  brief.session_lifetime = std::chrono::seconds(-1);
  AccessControl expiring(*store_, brief);
  const Session ended = expiring.StartSession(session.principal);
  EXPECT_THROW(expiring.Authenticate(Presented(Credentials::Kind::kSession, ended.cookie), "c"),
               Error);
}

TEST_P(AccessControlTest, PermissionsFollowGrantsDefaultsOwnershipAndAdmins) {
  User alice = access_->CreateUser("alice", "pw", false);
  User root = access_->CreateUser("root", "pw", true);
  Principal a{alice.id, "alice", false};
  Principal r{root.id, "root", true};
  EXPECT_EQ(access_->PermissionOf(a, ResourceType::kExperiment, "1"), Permission::kRead);
  EXPECT_EQ(access_->PermissionOf(r, ResourceType::kExperiment, "1"), Permission::kManage);
  access_->SetPermission("alice", ResourceType::kExperiment, "1", Permission::kEdit);
  EXPECT_EQ(access_->PermissionOf(a, ResourceType::kExperiment, "1"), Permission::kEdit);
  // same id, other resource type: unaffected
  EXPECT_EQ(access_->PermissionOf(a, ResourceType::kRegisteredModel, "1"), Permission::kRead);
  EXPECT_NO_THROW(access_->Require(a, ResourceType::kExperiment, "1", Permission::kEdit));
  try {
    access_->Require(a, ResourceType::kExperiment, "1", Permission::kManage);
    FAIL() << "EDIT satisfied MANAGE";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kPermissionDenied);
    EXPECT_NE(std::string(error.what()).find("has EDIT on experiment '1'; this needs MANAGE"),
              std::string::npos)
        << error.what();
  }
  access_->GrantOwner(a, ResourceType::kRegisteredModel, "churn");
  EXPECT_EQ(access_->PermissionOf(a, ResourceType::kRegisteredModel, "churn"), Permission::kManage);
  access_->RenameResource(ResourceType::kRegisteredModel, "churn", "churn-v2");
  EXPECT_EQ(access_->PermissionOf(a, ResourceType::kRegisteredModel, "churn"), Permission::kRead);
  EXPECT_EQ(access_->PermissionOf(a, ResourceType::kRegisteredModel, "churn-v2"),
            Permission::kManage);
  access_->ForgetResource(ResourceType::kRegisteredModel, "churn-v2");
  EXPECT_EQ(access_->PermissionOf(a, ResourceType::kRegisteredModel, "churn-v2"),
            Permission::kRead);
  access_->RemovePermission("alice", ResourceType::kExperiment, "1");
  EXPECT_EQ(access_->PermissionOf(a, ResourceType::kExperiment, "1"), Permission::kRead);
  EXPECT_THROW(access_->RemovePermission("alice", ResourceType::kExperiment, "1"), Error);

  auto strict = Make(Permission::kNoPermissions);
  EXPECT_EQ(strict->PermissionOf(a, ResourceType::kExperiment, "9"), Permission::kNoPermissions);
}

TEST_P(AccessControlTest, WhatAUserOrAComponentActingForThemCreatesIsTheirs) {
  User alice = access_->CreateUser("alice", "pw", false);
  Principal a{alice.id, "alice", false};
  access_->Created(Actor::ForUser(a), ResourceType::kDataset, "made-by-alice");
  EXPECT_EQ(access_->PermissionOf(a, ResourceType::kDataset, "made-by-alice"), Permission::kManage);
  // The retraining loop acting for alice: the dataset it makes is hers.
  access_->Created(Actor::System("loop", a), ResourceType::kDataset, "made-for-alice");
  EXPECT_EQ(access_->PermissionOf(a, ResourceType::kDataset, "made-for-alice"),
            Permission::kManage);
  // The operator and a component acting for nobody own nothing.
  access_->Created(Actor::System("monitoring"), ResourceType::kDataset, "made-by-nobody");
  access_->Created(Actor::Operator("local:test"), ResourceType::kDataset, "made-by-operator");
  EXPECT_EQ(access_->PermissionOf(a, ResourceType::kDataset, "made-by-nobody"), Permission::kRead);
  EXPECT_EQ(access_->PermissionOf(a, ResourceType::kDataset, "made-by-operator"),
            Permission::kRead);
}

TEST_P(AccessControlTest, RepeatedFailuresAreThrottledPerAddressAndUser) {
  access_->CreateUser("alice", "pw", false);
  for (int i = 0; i < 3; ++i) {
    EXPECT_THROW(access_->Authenticate(Basic("alice", "guess"), "10.0.0.9"), Error);
  }
  int retry_after = 0;
  try {
    access_->Authenticate(Basic("alice", "pw"), "10.0.0.9", &retry_after);
    FAIL() << "not throttled";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kRequestLimitExceeded);
  }
  EXPECT_GE(retry_after, 1);
  // Someone else's address is not locked out by these failures.
  EXPECT_EQ(access_->Authenticate(Basic("alice", "pw"), "10.0.0.10").username, "alice");
}

TEST_P(AccessControlTest, ConcurrentWrongPasswordsAreCountedBeforeTheyAreChecked) {
  // A slow hash, so that the attempts overlap as they do on a real server.
  AccessControl::Options options;
  options.password_iterations = 200000;
  options.failures_before_throttle = 3;
  options.address_failures_before_throttle = 6;
  AccessControl slow(*store_, options);
  slow.CreateUser("alice", "pw", false);
  constexpr int kAttempts = 60;
  std::atomic<int> checked{0};  // a full password check ran and failed
  std::atomic<int> throttled{0};
  std::latch start(kAttempts);
  std::vector<std::thread> threads;
  for (int i = 0; i < kAttempts; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      try {
        slow.Authenticate(Basic("alice", "guess"), "10.0.0.7");
      } catch (const Error& error) {
        if (error.code() == ErrorCode::kUnauthenticated) ++checked;
        if (error.code() == ErrorCode::kRequestLimitExceeded) ++throttled;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(checked + throttled, kAttempts);
  // No more checks than failures allowed before the throttle (plus one
  // attempt per second of back-off, should the hashes outlast it).
  EXPECT_LE(checked.load(), 3 + 2);
  EXPECT_GE(throttled.load(), kAttempts - 5);
}

TEST_P(AccessControlTest, ChangesByAnotherProcessArePickedUp) {
  access_->CreateUser("alice", "pw", false);
  // A second AccessControl on the same store stands for the CLI's --store mode.
  auto other = Make(Permission::kRead);
  other->CreateUser("carol", "pw", false);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(access_->Authenticate(Basic("carol", "pw"), "a").username, "carol");
}

TEST_P(AccessControlTest, BadNamesAndPermissionsAreRefused) {
  EXPECT_THROW(access_->CreateUser("", "pw", false), Error);
  EXPECT_THROW(access_->CreateUser("a:b", "pw", false), Error);
  EXPECT_THROW(access_->CreateUser(std::string(300, 'x'), "pw", false), Error);
  EXPECT_THROW(access_->CreateUser("ok", "", false), Error);
  access_->CreateUser("ok", "pw", false);
  try {
    access_->CreateUser("ok", "pw2", false);
    FAIL() << "duplicate user";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kResourceAlreadyExists);
  }
  EXPECT_THROW(ParsePermission("ADMIN"), Error);
  EXPECT_EQ(ParsePermission("MANAGE"), Permission::kManage);
  EXPECT_THROW(ParseResourceType("scorer"), Error);
  EXPECT_EQ(ParseResourceType("dataset"), ResourceType::kDataset);
  EXPECT_EQ(ResourceTypeName(ResourceType::kDataset), "dataset");
}

}  // namespace
}  // namespace slipway::governance

namespace slipway::governance {
namespace {

// The rules of reading and changing users, tokens and grants hold for any
// caller of AccessControl, not only for the HTTP routes.
TEST_P(AccessControlTest, UsersTokensAndGrantsAreForThemselvesOrAdmins) {
  User alice = access_->CreateUser("alice", "pw-a", false);
  User bob = access_->CreateUser("bob", "pw-b", false);
  auto [bob_token, secret] = access_->CreateToken("bob", "ci", std::nullopt);
  access_->SetPermission("bob", ResourceType::kExperiment, "7", Permission::kEdit);
  auto denied = [](const std::function<void()>& call) {
    try {
      call();
      ADD_FAILURE() << "allowed";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kPermissionDenied) << e.what();
    }
  };
  {
    Operation as_alice(Actor::ForUser({alice.id, "alice", false}), "test");
    EXPECT_EQ(access_->ReadUser("alice").id, alice.id);
    denied([&] { access_->ReadUser("bob"); });
    denied([&] { access_->ListUsers(); });
    denied([&] { access_->UpdatePassword("bob", "new-b"); });
    denied([&] { access_->CreateToken("bob", "mine-now", std::nullopt); });
    denied([&] { access_->ListTokens("bob"); });
    denied([&] { access_->ListTokens(""); });
    denied([&] { access_->RevokeToken(bob_token.id); });
    denied([&] { access_->GrantsOf("bob"); });
    denied([&] { access_->PermissionOfUser("bob", ResourceType::kExperiment, "7"); });
    denied([&] { access_->ExplicitPermission("bob", ResourceType::kExperiment, "7"); });
    denied([&] { access_->RequireGrantChange("bob", ResourceType::kExperiment, "7"); });
    EXPECT_TRUE(access_->GrantsOf("alice").empty());
    // Her own password, only with the current one.
    EXPECT_THROW(access_->UpdatePassword("alice", "pw-new"), Error);
    EXPECT_THROW(access_->UpdatePassword("alice", "pw-new", "wrong"), Error);
    EXPECT_THROW(access_->UpdatePassword("alice", "pw-a", "pw-a"), Error);
    access_->UpdatePassword("alice", "pw-new", "pw-a");
  }
  {
    Operation as_bob(Actor::ForUser({bob.id, "bob", false}), "test");
    EXPECT_EQ(access_->ListTokens("bob").size(), 1u);
    EXPECT_EQ(access_->PermissionOfUser("bob", ResourceType::kExperiment, "7"), Permission::kEdit);
    access_->RevokeToken(bob_token.id);
  }
  EXPECT_EQ(access_->Authenticate(Basic("alice", "pw-new"), "x").username, "alice");
}

}  // namespace
}  // namespace slipway::governance
