// Authorization and audit in the domain: who acts, what they may do, and
// what the audit trail says they did.
//
// Every change and every read of a protected resource runs inside an
// Operation: the actor (a signed-in user, a background component acting on
// its own or for a user, or the machine's operator at the store file) and
// the action, installed on the calling thread by whoever started the work:
// the HTTP layer per request, a CLI command, a background worker. The
// services check permissions themselves, through the Authorizer the
// composition root gave them, against the current operation's actor
// (governance::Require), after resolving the resource to its canonical
// identity; and they name the resource they acted on (SetTarget), so the
// audit entry says what was touched, not what a request claimed. So the same
// check and the same audit entry follow an action whichever way it arrives.
//
// With no operation on the thread, an enforcing Authorizer refuses
// (INTERNAL_ERROR): forgetting to say who acts fails closed.
//
// AuditedOperation is the Operation of callers that are not HTTP requests:
// it appends the entry itself when the work ends, with the outcome as the
// HTTP status the same failure would get, so the trail reads alike.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/visibility.h"

namespace slipway::governance {

class AuditLog;

enum class Permission { kNoPermissions = 0, kRead = 1, kUse = 2, kEdit = 3, kManage = 4 };
std::string_view PermissionName(Permission permission);
// Throws INVALID_PARAMETER_VALUE listing the valid names.
Permission ParsePermission(std::string_view name);

enum class ResourceType { kExperiment, kRegisteredModel, kDataset, kDeployment };
// "experiment", "registered_model", as MLflow's permission APIs spell them,
// and Slipway's "dataset" and "deployment".
std::string_view ResourceTypeName(ResourceType type);
ResourceType ParseResourceType(std::string_view name);

// A signed-in user, as authentication found them.
struct Principal {
  int64_t user_id = 0;
  std::string username;
  bool is_admin = false;
};

// Who acts.
struct Actor {
  enum class Kind {
    kUser,      // a signed-in user: their grants
    kSystem,    // a background component: the grants of the user it acts for, else none
    kOperator,  // no sign-in to check: the server without --auth, or the
                // account that owns the store file (the CLI's --store): may do everything
  };
  Kind kind = Kind::kOperator;
  std::string name;               // as the audit trail records it
  std::optional<Principal> user;  // whose grants count (kUser, and kSystem on behalf of one)

  static Actor ForUser(Principal principal);
  // "system:<component>", or "system:<component>(<user>)" acting for a user.
  static Actor System(const std::string& component, std::optional<Principal> on_behalf_of = {});
  // "anonymous" for the server without --auth; "local:<account>" for the CLI.
  static Actor Operator(std::string name);
};

// The decision: which permission an actor holds on a resource. Resource ids
// are canonical (the spelling the resource's own store uses).
class Authorizer {
 public:
  virtual ~Authorizer() = default;

  // False for the authorizer of a server without access control: every
  // check passes, and the services skip the lookups a check would need.
  virtual bool enforcing() const = 0;
  virtual Permission PermissionOf(const Actor& actor, ResourceType type,
                                  const std::string& id) const = 0;
  virtual bool IsAdmin(const Actor& actor) const = 0;
  // Which ids of `type` the actor may at least read, for searches that
  // filter in the query.
  virtual Visibility Readable(const Actor& actor, ResourceType type) const = 0;

  // Ownership follows the resource: whoever creates one manages it, a
  // rename carries its grants, a delete drops them.
  virtual void Created(const Actor& actor, ResourceType type, const std::string& id) = 0;
  virtual void Renamed(ResourceType type, const std::string& from, const std::string& to) = 0;
  virtual void Deleted(ResourceType type, const std::string& id) = 0;

  // Allows everything and records nothing: no access control.
  static Authorizer& AllowAll();
};

// The operation under way on this thread. Not copyable; nests (the inner
// one is current until it ends). Lives on one thread.
class Operation {
 public:
  Operation(Actor actor, std::string action);
  ~Operation();
  Operation(const Operation&) = delete;
  Operation& operator=(const Operation&) = delete;

  // Null when no operation is under way on this thread.
  static Operation* Current();

  const Actor& actor() const { return actor_; }
  const std::string& action() const { return action_; }
  // What the audit entry names: "run:<id>", "experiment:<id>", ...; "" until
  // a service names it.
  const std::string& target() const { return target_; }
  void set_target(std::string target) { target_ = std::move(target); }

  // The permission checks made so far (passed or not), so that a route can
  // be held to the check it declares.
  struct Check {
    ResourceType type;
    Permission needed;
    bool admin = false;  // an admin-only action
  };
  const std::vector<Check>& checks() const { return checks_; }
  void RecordCheck(Check check) { checks_.push_back(check); }

 private:
  Actor actor_;
  std::string action_;
  std::string target_;
  std::vector<Check> checks_;
  Operation* enclosing_;
};

// The permission `actor` holds: MANAGE for the operator and when the
// authorizer is not enforcing, else what the authorizer says.
Permission PermissionHeld(const Authorizer& authorizer, const Actor& actor, ResourceType type,
                          const std::string& id);

// What services call. Each uses the current operation's actor; with an
// enforcing authorizer and no operation they throw INTERNAL_ERROR.

// PERMISSION_DENIED unless the actor holds `needed` on the resource; names
// it as the operation's target unless one is named already.
void Require(const Authorizer& authorizer, Permission needed, ResourceType type,
             const std::string& id);
// As Require, for what lives inside a resource (a run in an experiment):
// `what` and `id` name it in the error ("run 'abc'"); `parent` is nullopt
// when it does not exist, which is refused like a hidden one so that the
// answer tells nothing of which ids exist.
void RequireWithin(const Authorizer& authorizer, Permission needed, ResourceType parent_type,
                   const std::optional<std::string>& parent, std::string_view what,
                   const std::string& id);
bool Allows(const Authorizer& authorizer, Permission needed, ResourceType type,
            const std::string& id);
// PERMISSION_DENIED unless the actor is an admin (or the operator); `what`
// names the action ("create users").
void RequireAdmin(const Authorizer& authorizer, std::string_view what);
// Which ids of `type` the current actor may read (everything when the
// authorizer is not enforcing).
Visibility Readable(const Authorizer& authorizer, ResourceType type);
// Whether the actor is an admin (or the operator): true when not enforcing.
bool IsAdmin(const Authorizer& authorizer);
// Names what the current operation acted on (no-op without one).
void SetTarget(std::string target);
// Names it unless a target is named already.
void NameTarget(std::string target);
// The current actor's name for records ("anonymous" without an operation).
std::string CurrentActorName();
// The current actor; PERMISSION_DENIED-free accessor for services that
// record who did something. Throws INTERNAL_ERROR without an operation.
const Actor& CurrentActor();

// The audit outcome of a failure: the HTTP status the same error gets over
// the API (403 for PERMISSION_DENIED, 404 for RESOURCE_DOES_NOT_EXIST, ...),
// so entries read alike whichever way the action came. The same table as
// http::HttpStatusFor, written twice because governance may not depend on
// http; governance_test holds the two equal for every code.
int AuditOutcome(ErrorCode code);

// An operation started outside HTTP (a CLI command, a background worker):
// Run() performs the work as `actor` and appends one audit entry for it,
// outcome 200 or the failure's, with `source` ("cli", "scheduler", ...) and a
// digest of `description` (the command as run, without secrets). Failures
// are rethrown after they are recorded.
class AuditedOperation {
 public:
  AuditedOperation(AuditLog& log, Actor actor, std::string action, std::string source,
                   std::string description);
  void Run(const std::function<void()>& work);

 private:
  AuditLog& log_;
  Actor actor_;
  std::string action_;
  std::string source_;
  std::string description_;
};

}  // namespace slipway::governance
