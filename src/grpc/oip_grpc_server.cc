#include "grpc/oip_grpc_server.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include <atomic>
#include <chrono>
#include <optional>

#include "core/base64.h"
#include "core/error.h"
#include "core/sha256.h"
#include "governance/audit_log.h"
#include "governance/authorization.h"
#include "governance/credentials.h"
#include "grpc/tensor_codec.h"
#include "inference.grpc.pb.h"
#include "serving/serving_service.h"

namespace slipway::grpc {
namespace {

constexpr const char* kRouteKeyMetadata = "x-slipway-route-key";

::grpc::StatusCode StatusCodeOf(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidParameterValue:
    case ErrorCode::kBadRequest:
    case ErrorCode::kUnsupportedMediaType:
      return ::grpc::StatusCode::INVALID_ARGUMENT;
    case ErrorCode::kResourceDoesNotExist:
    case ErrorCode::kEndpointNotFound:
      return ::grpc::StatusCode::NOT_FOUND;
    case ErrorCode::kResourceAlreadyExists:
      return ::grpc::StatusCode::ALREADY_EXISTS;
    case ErrorCode::kInvalidState:
    case ErrorCode::kResourceConflict:
      return ::grpc::StatusCode::FAILED_PRECONDITION;
    case ErrorCode::kPermissionDenied:
      return ::grpc::StatusCode::PERMISSION_DENIED;
    case ErrorCode::kUnauthenticated:
      return ::grpc::StatusCode::UNAUTHENTICATED;
    case ErrorCode::kRequestLimitExceeded:
    case ErrorCode::kPayloadTooLarge:
      return ::grpc::StatusCode::RESOURCE_EXHAUSTED;
    case ErrorCode::kNotImplemented:
      return ::grpc::StatusCode::UNIMPLEMENTED;
    case ErrorCode::kTemporarilyUnavailable:
      return ::grpc::StatusCode::UNAVAILABLE;
    case ErrorCode::kInternalError:
      break;
  }
  return ::grpc::StatusCode::INTERNAL;
}

std::string Metadata(const ::grpc::ServerContext& context, const char* key) {
  auto [begin, end] = context.client_metadata().equal_range(key);
  if (begin == end) return "";
  return std::string(begin->second.data(), begin->second.size());
}

// "ipv4:127.0.0.1:5000" -> "127.0.0.1", "ipv6:[::1]:5000" -> "::1": the
// address AccessControl throttles repeated failures by, as HTTP's.
std::string ClientAddress(const std::string& peer) {
  std::string address = peer;
  size_t scheme = address.find(':');
  if (scheme != std::string::npos &&
      (address.rfind("ipv4:", 0) == 0 || address.rfind("ipv6:", 0) == 0)) {
    address.erase(0, scheme + 1);
  }
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close != std::string::npos) return address.substr(1, close - 1);
  }
  size_t port = address.rfind(':');
  if (port != std::string::npos) address.erase(port);
  return address;
}

// The `authorization` metadata, read as HTTP reads its header.
governance::Credentials CredentialsOf(const std::string& header) {
  governance::Credentials credentials;
  auto scheme = [&](std::string_view name) {
    return header.size() > name.size() &&
           strncasecmp(header.c_str(), name.data(), name.size()) == 0;
  };
  if (scheme("Basic ")) {
    std::string encoded = header.substr(6);
    while (!encoded.empty() && encoded.front() == ' ') encoded.erase(0, 1);
    std::optional<std::string> decoded = Base64Decode(encoded);
    size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) {
      throw Error(ErrorCode::kUnauthenticated,
                  "Malformed Basic credentials in the authorization metadata.");
    }
    credentials.kind = governance::Credentials::Kind::kBasic;
    credentials.username = decoded->substr(0, colon);
    credentials.secret = decoded->substr(colon + 1);
  } else if (scheme("Bearer ")) {
    credentials.kind = governance::Credentials::Kind::kBearer;
    credentials.secret = header.substr(7);
    while (!credentials.secret.empty() && credentials.secret.front() == ' ') {
      credentials.secret.erase(0, 1);
    }
  } else if (!header.empty()) {
    throw Error(ErrorCode::kUnauthenticated,
                "Unsupported authorization scheme: use Basic or Bearer.");
  }
  return credentials;
}

// What a call refused before anyone was authenticated claimed to be, as
// the HTTP audit trail names it: "user:<name>", "token:<public id>" (never a
// secret), or "" when it sent no credentials.
std::string ClaimedIdentity(const std::string& header) {
  try {
    governance::Credentials credentials = CredentialsOf(header);
    if (credentials.kind == governance::Credentials::Kind::kBasic) {
      return "user:" + credentials.username;
    }
    if (credentials.kind == governance::Credentials::Kind::kBearer) {
      std::string id;
      std::string secret;
      return governance::ParseToken(credentials.secret, &id, &secret) ? "token:" + id
                                                                      : "token:<malformed>";
    }
    return "";
  } catch (const Error&) {
    return "credentials:<malformed>";
  }
}

// The HTTP status a refusal has in the audit trail; 0 for other errors.
int RefusalOutcome(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kRequestLimitExceeded:
      return 429;
    default:
      return 0;
  }
}

std::string Platform(const serving::Servable& servable) {
  return std::string(servable.model->flavor()) + (servable.model->native() ? "_native" : "_python");
}

class ServingDirectoryImpl final : public DeploymentDirectory {
 public:
  explicit ServingDirectoryImpl(serving::ServingService& serving) : serving_(serving) {}
  std::shared_ptr<serving::Deployment> Find(const std::string& name) override {
    return serving_.Find(name);
  }

 private:
  serving::ServingService& serving_;
};

class SingleDeploymentImpl final : public DeploymentDirectory {
 public:
  SingleDeploymentImpl(std::shared_ptr<serving::Deployment> deployment, std::string name)
      : deployment_(std::move(deployment)), name_(std::move(name)) {}
  std::shared_ptr<serving::Deployment> Find(const std::string& name) override {
    if (name != name_) {
      throw Error(ErrorCode::kResourceDoesNotExist,
                  "Model '" + name + "' is not served here (this serves '" + name_ + "').");
    }
    return deployment_;
  }

 private:
  std::shared_ptr<serving::Deployment> deployment_;
  std::string name_;
};

}  // namespace

std::unique_ptr<DeploymentDirectory> ServingDirectory(serving::ServingService& serving) {
  return std::make_unique<ServingDirectoryImpl>(serving);
}

std::unique_ptr<DeploymentDirectory> SingleDeployment(
    std::shared_ptr<serving::Deployment> deployment, std::string name) {
  return std::make_unique<SingleDeploymentImpl>(std::move(deployment), std::move(name));
}

class OipGrpcServer::Service final : public inference::GRPCInferenceService::Service {
 public:
  Service(governance::AccessControl* access, governance::AuditLog* audit,
          DeploymentDirectory& directory)
      : access_(access), audit_(audit), directory_(directory) {}

  ::grpc::Status ServerLive(::grpc::ServerContext* context, const inference::ServerLiveRequest*,
                            inference::ServerLiveResponse* reply) override {
    return Call(*context, "oip/live", [&] { reply->set_live(true); });
  }

  ::grpc::Status ServerReady(::grpc::ServerContext* context, const inference::ServerReadyRequest*,
                             inference::ServerReadyResponse* reply) override {
    return Call(*context, "oip/ready", [&] { reply->set_ready(true); });
  }

  ::grpc::Status ServerMetadata(::grpc::ServerContext* context,
                                const inference::ServerMetadataRequest*,
                                inference::ServerMetadataResponse* reply) override {
    return Call(*context, "oip/server-metadata", [&] {
      reply->set_name("slipway");
      reply->set_version(SLIPWAY_VERSION_STRING);
    });
  }

  ::grpc::Status ModelReady(::grpc::ServerContext* context,
                            const inference::ModelReadyRequest* request,
                            inference::ModelReadyResponse* reply) override {
    return Call(*context, "oip/model-ready", [&] {
      std::shared_ptr<serving::Deployment> deployment = directory_.Find(request->name());
      std::shared_ptr<const serving::Routing> routing = deployment->routing();
      const std::string& version = request->version();
      reply->set_ready(routing && routing->primary &&
                       (version.empty() || routing->Version(version)));
    });
  }

  ::grpc::Status ModelMetadata(::grpc::ServerContext* context,
                               const inference::ModelMetadataRequest* request,
                               inference::ModelMetadataResponse* reply) override {
    return Call(*context, "oip/model-metadata", [&] {
      const std::string& name = request->name();
      const std::string& version = request->version();
      std::shared_ptr<const serving::Routing> routing = directory_.Find(name)->routing();
      if (!routing || !routing->primary) {
        throw Error(ErrorCode::kTemporarilyUnavailable,
                    "Model '" + name + "' has no version loaded yet; retry later.");
      }
      std::shared_ptr<const serving::Servable> servable =
          version.empty() ? routing->primary : routing->Version(version);
      if (!servable) {
        throw Error(ErrorCode::kResourceDoesNotExist,
                    "Model '" + name + "' has no version " + version + " loaded.");
      }
      reply->set_name(name);
      for (const std::string& label : routing->VersionLabels()) reply->add_versions(label);
      reply->set_platform(Platform(*servable));
      const ml::MlModel& mlmodel = servable->model->mlmodel();
      if (mlmodel.signature) {
        DescribeTensors(&mlmodel.signature->inputs, false, reply->mutable_inputs());
        DescribeTensors(&mlmodel.signature->outputs, true, reply->mutable_outputs());
      }
    });
  }

  ::grpc::Status ModelInfer(::grpc::ServerContext* context,
                            const inference::ModelInferRequest* request,
                            inference::ModelInferResponse* reply) override {
    return Call(*context, "oip/infer", [&] {
      std::shared_ptr<serving::Deployment> deployment = directory_.Find(request->model_name());
      DecodedRequest decoded = DecodeInferRequest(*request);
      // The prediction log's request id: the client's when it gave one.
      std::string request_id = request->id().empty()
                                   ? "grpc-" + std::to_string(next_request_.fetch_add(1) + 1)
                                   : request->id();
      serving::Deployment::Answer answer = deployment->Predict(
          std::move(decoded.inputs), decoded.parameters_json, Metadata(*context, kRouteKeyMetadata),
          request_id, request->model_version());
      reply->set_model_name(request->model_name());
      reply->set_model_version(answer.servable->version);
      reply->set_id(request->id());
      EncodeInferResponse(answer.predictions, *request, reply);
      context->AddTrailingMetadata("x-model-version", answer.servable->version);
    });
  }

 private:
  // Runs `work` under the caller's governance::Operation, mapping
  // slipway::Error onto the gRPC status of the same meaning. Refusals are
  // audited as HTTP's are (AuditLog rate-limits them); the calls themselves
  // only read, and reads are not audited.
  template <typename F>
  ::grpc::Status Call(::grpc::ServerContext& context, const char* action, F&& work) {
    std::optional<governance::Operation> operation;
    try {
      governance::Actor actor = governance::Actor::Operator("anonymous");
      if (access_ != nullptr) {
        actor = governance::Actor::ForUser(access_->Authenticate(
            CredentialsOf(Metadata(context, "authorization")), ClientAddress(context.peer())));
      }
      operation.emplace(std::move(actor), action);
      work();
      return ::grpc::Status::OK;
    } catch (const Error& e) {
      if (int outcome = RefusalOutcome(e.code())) {
        AuditRefusal(context, action, outcome, operation ? &*operation : nullptr);
      }
      return ::grpc::Status(StatusCodeOf(e.code()), e.what());
    } catch (const std::exception& e) {
      spdlog::error("gRPC {} failed: {}", action, e.what());
      return ::grpc::Status(::grpc::StatusCode::INTERNAL, e.what());
    }
  }

  void AuditRefusal(const ::grpc::ServerContext& context, const char* action, int outcome,
                    const governance::Operation* operation) {
    if (audit_ == nullptr) return;
    governance::AuditEntry entry;
    entry.action = action;
    entry.principal = operation != nullptr ? operation->actor().name : "anonymous";
    entry.target = operation != nullptr ? operation->target() : std::string();
    if (outcome != 403) {
      if (std::string claimed = ClaimedIdentity(Metadata(context, "authorization"));
          !claimed.empty()) {
        entry.target = claimed;
      }
    }
    if (entry.target.empty()) entry.target = std::string("grpc:") + action;
    entry.outcome = outcome;
    entry.source = ClientAddress(context.peer());
    entry.request_digest = Sha256::Hex(std::string("GRPC ") + action);
    try {
      audit_->Append(std::move(entry));
    } catch (const std::exception& e) {
      spdlog::error("could not audit a refused gRPC {}: {}", action, e.what());
    }
  }

  governance::AccessControl* access_;
  governance::AuditLog* audit_;
  DeploymentDirectory& directory_;
  std::atomic<uint64_t> next_request_{0};
};

struct OipGrpcServer::Running {
  std::unique_ptr<::grpc::Server> server;
  int port = 0;
};

OipGrpcServer::OipGrpcServer(Options options, std::unique_ptr<DeploymentDirectory> directory)
    : options_(std::move(options)),
      directory_(std::move(directory)),
      service_(std::make_unique<Service>(options_.access, options_.audit, *directory_)) {}

OipGrpcServer::~OipGrpcServer() { Stop(); }

void OipGrpcServer::Start() {
  auto running = std::make_unique<Running>();
  ::grpc::ServerBuilder builder;
  const std::string address =
      (options_.host.find(':') != std::string::npos ? "[" + options_.host + "]" : options_.host) +
      ":" + std::to_string(options_.port);
  builder.AddListeningPort(address, ::grpc::InsecureServerCredentials(), &running->port);
  builder.SetMaxReceiveMessageSize(options_.max_receive_bytes);
  // Replies may be as large as the requests they answer (and larger).
  builder.SetMaxSendMessageSize(-1);
  ::grpc::ResourceQuota quota("slipway-grpc");
  quota.SetMaxThreads(options_.max_threads);
  builder.SetResourceQuota(quota);
  builder.RegisterService(service_.get());
  running->server = builder.BuildAndStart();
  if (!running->server || running->port == 0) {
    throw Error(ErrorCode::kInternalError,
                "cannot listen for gRPC on " + address + " (address in use or not available)");
  }
  running_ = std::move(running);
}

void OipGrpcServer::Stop() {
  if (!running_) return;
  // Calls under way get a moment to finish; then they are cancelled.
  running_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  running_->server->Wait();
  running_.reset();
}

int OipGrpcServer::port() const { return running_ ? running_->port : 0; }

}  // namespace slipway::grpc
