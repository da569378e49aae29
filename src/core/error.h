// Errors that end an operation.
//
// Slipway reports failures by throwing `slipway::Error`, which carries one of
// MLflow's error codes and a message written for the user. Each request (an
// HTTP call, a CLI command) catches it at exactly one boundary and turns it
// into the wire form: `{"error_code": ..., "message": ...}` with the HTTP
// status MLflow uses for that code (http::HttpStatusFor: statuses are the
// HTTP layer's business). Programmer errors are asserts, not Errors.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace slipway {

// The codes of mlflow/protos/databricks.proto that Slipway produces.
enum class ErrorCode {
  kInternalError,
  kInvalidParameterValue,
  kResourceAlreadyExists,
  kResourceDoesNotExist,
  kBadRequest,
  kEndpointNotFound,
  kInvalidState,
  kResourceConflict,
  kPermissionDenied,
  kUnauthenticated,
  kRequestLimitExceeded,
  kPayloadTooLarge,
  kUnsupportedMediaType,  // a body in a format the endpoint does not take (415)
  kNotImplemented,
  kTemporarilyUnavailable,
};

// "INVALID_PARAMETER_VALUE" etc., as MLflow spells them on the wire.
std::string_view ErrorCodeName(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message)
      : std::runtime_error(std::move(message)), code_(code) {}

  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Shorthands for the errors raised most often.
[[noreturn]] void ThrowInvalid(std::string message);
[[noreturn]] void ThrowNotFound(std::string message);

}  // namespace slipway
