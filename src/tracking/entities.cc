#include "tracking/entities.h"

#include "core/error.h"

namespace slipway::tracking {

bool IsValidRunStatus(const std::string& status) {
  return status == "RUNNING" || status == "SCHEDULED" || status == "FINISHED" ||
         status == "FAILED" || status == "KILLED";
}

std::optional<int64_t> ParseExperimentId(std::string_view text) {
  if (text.empty() || (text.size() > 1 && text.front() == '0')) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    int digit = c - '0';
    if (value > (INT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

const std::string& CanonicalExperimentId(const std::string& text) {
  if (!ParseExperimentId(text)) ThrowNotFound("No Experiment with id=" + text + " exists");
  return text;
}

}  // namespace slipway::tracking
