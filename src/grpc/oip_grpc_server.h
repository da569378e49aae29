// The Open Inference Protocol v2 over gRPC (inference.proto), beside the
// HTTP server, so tritonclient.grpc and other v2 clients work unchanged.
//
// Serves ServerLive, ServerReady, ServerMetadata, ModelReady, ModelMetadata
// and ModelInfer; a model is a deployment, looked up through a
// DeploymentDirectory so that the server (every deployment, through
// ServingService, which checks USE) and `slipway serve` (its one model) plug
// in alike. Each call mirrors its HTTP route (http/serving_routes.cc): the
// same Deployment::Predict with version pinning, the same tensor rules
// (tensor_codec.h), the same refusals as gRPC status codes (INVALID_ARGUMENT,
// NOT_FOUND, PERMISSION_DENIED, UNAUTHENTICATED, UNAVAILABLE, ...).
//
// Authentication: with an AccessControl, every call must carry Basic or
// Bearer credentials in its `authorization` metadata, as HTTP requests do in
// their header, else UNAUTHENTICATED; the call then runs under a
// governance::Operation of the caller, so the services check the caller's
// grants. Without one, calls run as the "anonymous" operator, as HTTP
// requests of a server without --auth do. Refused calls are written to the
// audit trail like HTTP refusals (action "oip/infer" etc., outcome 401, 403
// or 429); successful calls only read and are not.
//
// The canary stickiness key travels in the `x-slipway-route-key` metadata,
// as the HTTP header of that name.
//
// Start() listens (throws INTERNAL_ERROR when the address is taken);
// Stop() refuses new calls, lets calls under way finish for a moment, and
// waits. Thread-safe; calls run on gRPC's own thread pool.
#pragma once

#include <memory>
#include <string>

#include "governance/access_control.h"
#include "governance/audit_log.h"
#include "serving/deployment.h"

namespace slipway::serving {
class ServingService;
}

namespace slipway::grpc {

// Where the gRPC calls find the deployment a model name means.
class DeploymentDirectory {
 public:
  virtual ~DeploymentDirectory() = default;
  // Runs under the call's governance::Operation. Throws
  // RESOURCE_DOES_NOT_EXIST for a name it does not serve, and what the
  // lookup's permission check throws.
  virtual std::shared_ptr<serving::Deployment> Find(const std::string& name) = 0;
};

// Every deployment of a running server (USE checked by ServingService).
std::unique_ptr<DeploymentDirectory> ServingDirectory(serving::ServingService& serving);
// `slipway serve`: one deployment under one name.
std::unique_ptr<DeploymentDirectory> SingleDeployment(
    std::shared_ptr<serving::Deployment> deployment, std::string name);

class OipGrpcServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 0;
    // Largest request accepted (RESOURCE_EXHAUSTED beyond), as the HTTP
    // server's JSON body limit.
    int max_receive_bytes = 16 * 1024 * 1024;
    // Null: no authentication (the server without --auth, `slipway serve`).
    governance::AccessControl* access = nullptr;
    // Threads gRPC may run calls on; beyond, new calls get RESOURCE_EXHAUSTED
    // (each deployment's own queue bound applies first).
    int max_threads = 64;
    // Where refused calls (401, 403, 429 in HTTP terms) are recorded; may be null.
    governance::AuditLog* audit = nullptr;
  };

  OipGrpcServer(Options options, std::unique_ptr<DeploymentDirectory> directory);
  ~OipGrpcServer();
  OipGrpcServer(const OipGrpcServer&) = delete;
  OipGrpcServer& operator=(const OipGrpcServer&) = delete;

  void Start();
  void Stop();
  // The port listened on (the one chosen when Options::port is 0), after Start.
  int port() const;

 private:
  class Service;
  Options options_;
  std::unique_ptr<DeploymentDirectory> directory_;
  std::unique_ptr<Service> service_;
  struct Running;
  std::unique_ptr<Running> running_;
};

}  // namespace slipway::grpc
