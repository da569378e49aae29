#include "core/error.h"

namespace slipway {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInternalError:
      return "INTERNAL_ERROR";
    case ErrorCode::kInvalidParameterValue:
      return "INVALID_PARAMETER_VALUE";
    case ErrorCode::kResourceAlreadyExists:
      return "RESOURCE_ALREADY_EXISTS";
    case ErrorCode::kResourceDoesNotExist:
      return "RESOURCE_DOES_NOT_EXIST";
    case ErrorCode::kBadRequest:
      return "BAD_REQUEST";
    case ErrorCode::kEndpointNotFound:
      return "ENDPOINT_NOT_FOUND";
    case ErrorCode::kInvalidState:
      return "INVALID_STATE";
    case ErrorCode::kResourceConflict:
      return "RESOURCE_CONFLICT";
    case ErrorCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case ErrorCode::kUnauthenticated:
      return "UNAUTHENTICATED";
    case ErrorCode::kRequestLimitExceeded:
      return "REQUEST_LIMIT_EXCEEDED";
    case ErrorCode::kPayloadTooLarge:
    case ErrorCode::kUnsupportedMediaType:
      return "BAD_REQUEST";
    case ErrorCode::kNotImplemented:
      return "NOT_IMPLEMENTED";
    case ErrorCode::kTemporarilyUnavailable:
      return "TEMPORARILY_UNAVAILABLE";
  }
  return "INTERNAL_ERROR";
}

void ThrowInvalid(std::string message) {
  throw Error(ErrorCode::kInvalidParameterValue, std::move(message));
}

void ThrowNotFound(std::string message) {
  throw Error(ErrorCode::kResourceDoesNotExist, std::move(message));
}

}  // namespace slipway
