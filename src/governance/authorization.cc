#include "governance/authorization.h"

#include "core/sha256.h"
#include "governance/audit_log.h"

namespace slipway::governance {
namespace {

constexpr Permission kAllPermissions[] = {Permission::kNoPermissions, Permission::kRead,
                                          Permission::kUse, Permission::kEdit, Permission::kManage};

thread_local Operation* current_operation = nullptr;

class AllowEverything final : public Authorizer {
 public:
  bool enforcing() const override { return false; }
  Permission PermissionOf(const Actor&, ResourceType, const std::string&) const override {
    return Permission::kManage;
  }
  bool IsAdmin(const Actor&) const override { return true; }
  Visibility Readable(const Actor&, ResourceType) const override { return {}; }
  void Created(const Actor&, ResourceType, const std::string&) override {}
  void Renamed(ResourceType, const std::string&, const std::string&) override {}
  void Deleted(ResourceType, const std::string&) override {}
};

// The operation a check is made in; INTERNAL_ERROR without one.
Operation& Enforced() {
  if (current_operation == nullptr) {
    throw Error(ErrorCode::kInternalError,
                "an access check was made outside any operation: no actor to check");
  }
  return *current_operation;
}

}  // namespace

std::string_view PermissionName(Permission permission) {
  switch (permission) {
    case Permission::kNoPermissions:
      return "NO_PERMISSIONS";
    case Permission::kRead:
      return "READ";
    case Permission::kUse:
      return "USE";
    case Permission::kEdit:
      return "EDIT";
    case Permission::kManage:
      return "MANAGE";
  }
  return "NO_PERMISSIONS";
}

Permission ParsePermission(std::string_view name) {
  for (Permission permission : kAllPermissions) {
    if (PermissionName(permission) == name) return permission;
  }
  ThrowInvalid("Invalid permission '" + std::string(name) +
               "'. Valid permissions are: ('READ', 'USE', 'EDIT', 'MANAGE', 'NO_PERMISSIONS')");
}

std::string_view ResourceTypeName(ResourceType type) {
  switch (type) {
    case ResourceType::kExperiment:
      return "experiment";
    case ResourceType::kRegisteredModel:
      return "registered_model";
    case ResourceType::kDataset:
      return "dataset";
    case ResourceType::kDeployment:
      return "deployment";
  }
  return "unknown";
}

ResourceType ParseResourceType(std::string_view name) {
  if (name == "experiment") return ResourceType::kExperiment;
  if (name == "registered_model") return ResourceType::kRegisteredModel;
  if (name == "dataset") return ResourceType::kDataset;
  if (name == "deployment") return ResourceType::kDeployment;
  ThrowInvalid("Invalid resource type '" + std::string(name) +
               "'. Valid resource types are: ('experiment', 'registered_model', 'dataset', "
               "'deployment')");
}

namespace {

std::string Describe(ResourceType type, const std::string& id) {
  return std::string(ResourceTypeName(type)) + ":" + id;
}

}  // namespace

Permission PermissionHeld(const Authorizer& authorizer, const Actor& actor, ResourceType type,
                          const std::string& id) {
  // The operator is not a user of the system but its owner: whatever the
  // authorizer's grants say.
  if (actor.kind == Actor::Kind::kOperator || !authorizer.enforcing()) return Permission::kManage;
  return authorizer.PermissionOf(actor, type, id);
}

Actor Actor::ForUser(Principal principal) {
  Actor actor;
  actor.kind = Kind::kUser;
  actor.name = principal.username;
  actor.user = std::move(principal);
  return actor;
}

Actor Actor::System(const std::string& component, std::optional<Principal> on_behalf_of) {
  Actor actor;
  actor.kind = Kind::kSystem;
  actor.name = "system:" + component;
  if (on_behalf_of) actor.name += "(" + on_behalf_of->username + ")";
  actor.user = std::move(on_behalf_of);
  return actor;
}

Actor Actor::Operator(std::string name) {
  Actor actor;
  actor.kind = Kind::kOperator;
  actor.name = std::move(name);
  return actor;
}

Authorizer& Authorizer::AllowAll() {
  static AllowEverything allow;
  return allow;
}

Operation::Operation(Actor actor, std::string action)
    : actor_(std::move(actor)), action_(std::move(action)), enclosing_(current_operation) {
  current_operation = this;
}

Operation::~Operation() { current_operation = enclosing_; }

Operation* Operation::Current() { return current_operation; }

void Require(const Authorizer& authorizer, Permission needed, ResourceType type,
             const std::string& id) {
  Operation* operation = current_operation;
  if (operation != nullptr) {
    operation->RecordCheck({type, needed});
    if (operation->target().empty()) operation->set_target(Describe(type, id));
  }
  if (!authorizer.enforcing()) return;
  const Actor& actor = Enforced().actor();
  Permission held = PermissionHeld(authorizer, actor, type, id);
  if (held >= needed) return;
  throw Error(ErrorCode::kPermissionDenied,
              "Permission denied: user '" + actor.name + "' has " +
                  std::string(PermissionName(held)) + " on " + std::string(ResourceTypeName(type)) +
                  " '" + id + "'; this needs " + std::string(PermissionName(needed)) + ".");
}

void RequireWithin(const Authorizer& authorizer, Permission needed, ResourceType parent_type,
                   const std::optional<std::string>& parent, std::string_view what,
                   const std::string& id) {
  Operation* operation = current_operation;
  if (operation != nullptr) operation->RecordCheck({parent_type, needed});
  if (!authorizer.enforcing()) return;
  const Actor& actor = Enforced().actor();
  if (parent && PermissionHeld(authorizer, actor, parent_type, *parent) >= needed) return;
  // Admins may see that it does not exist.
  if (!parent && (actor.kind == Actor::Kind::kOperator || authorizer.IsAdmin(actor))) return;
  throw Error(ErrorCode::kPermissionDenied,
              "Permission denied: user '" + actor.name + "' may not use " + std::string(what) +
                  " '" + id + "': that needs " + std::string(PermissionName(needed)) + " on its " +
                  std::string(ResourceTypeName(parent_type)) + ".");
}

bool Allows(const Authorizer& authorizer, Permission needed, ResourceType type,
            const std::string& id) {
  if (!authorizer.enforcing()) return true;
  return PermissionHeld(authorizer, Enforced().actor(), type, id) >= needed;
}

void RequireAdmin(const Authorizer& authorizer, std::string_view what) {
  Operation* operation = current_operation;
  if (operation != nullptr)
    operation->RecordCheck({ResourceType::kExperiment, Permission::kManage, true});
  if (!authorizer.enforcing()) return;
  const Actor& actor = Enforced().actor();
  if (actor.kind == Actor::Kind::kOperator || authorizer.IsAdmin(actor)) return;
  throw Error(ErrorCode::kPermissionDenied, "Permission denied: only admins may " +
                                                std::string(what) + " (user '" + actor.name +
                                                "' is not an admin).");
}

Visibility Readable(const Authorizer& authorizer, ResourceType type) {
  if (!authorizer.enforcing()) return {};
  const Actor& actor = Enforced().actor();
  if (actor.kind == Actor::Kind::kOperator) return {};
  return authorizer.Readable(actor, type);
}

bool IsAdmin(const Authorizer& authorizer) {
  if (!authorizer.enforcing()) return true;
  const Actor& actor = Enforced().actor();
  return actor.kind == Actor::Kind::kOperator || authorizer.IsAdmin(actor);
}

void NameTarget(std::string target) {
  if (current_operation != nullptr && current_operation->target().empty()) {
    current_operation->set_target(std::move(target));
  }
}

void SetTarget(std::string target) {
  if (current_operation != nullptr) current_operation->set_target(std::move(target));
}

std::string CurrentActorName() {
  return current_operation != nullptr ? current_operation->actor().name : "anonymous";
}

const Actor& CurrentActor() { return Enforced().actor(); }

int AuditOutcome(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidParameterValue:
    case ErrorCode::kResourceAlreadyExists:
    case ErrorCode::kBadRequest:
    case ErrorCode::kInvalidState:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kResourceDoesNotExist:
    case ErrorCode::kEndpointNotFound:
      return 404;
    case ErrorCode::kResourceConflict:
      return 409;
    case ErrorCode::kPayloadTooLarge:
      return 413;
    case ErrorCode::kUnsupportedMediaType:
      return 415;
    case ErrorCode::kRequestLimitExceeded:
      return 429;
    case ErrorCode::kNotImplemented:
      return 501;
    case ErrorCode::kTemporarilyUnavailable:
      return 503;
    case ErrorCode::kInternalError:
      return 500;
  }
  return 500;
}

AuditedOperation::AuditedOperation(AuditLog& log, Actor actor, std::string action,
                                   std::string source, std::string description)
    : log_(log),
      actor_(std::move(actor)),
      action_(std::move(action)),
      source_(std::move(source)),
      description_(std::move(description)) {}

void AuditedOperation::Run(const std::function<void()>& work) {
  Operation operation(actor_, action_);
  AuditEntry entry;
  entry.principal = actor_.name;
  entry.action = action_;
  entry.source = source_;
  entry.request_digest = Sha256::Hex(description_);
  try {
    work();
    entry.outcome = 200;
  } catch (const Error& error) {
    entry.outcome = AuditOutcome(error.code());
    entry.target = operation.target();
    log_.Append(std::move(entry));
    throw;
  } catch (...) {
    entry.outcome = 500;
    entry.target = operation.target();
    log_.Append(std::move(entry));
    throw;
  }
  entry.target = operation.target();
  log_.Append(std::move(entry));
}

}  // namespace slipway::governance
