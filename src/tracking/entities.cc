#include "tracking/entities.h"

namespace slipway::tracking {

bool IsValidRunStatus(const std::string& status) {
  return status == "RUNNING" || status == "SCHEDULED" || status == "FINISHED" ||
         status == "FAILED" || status == "KILLED";
}

}  // namespace slipway::tracking
