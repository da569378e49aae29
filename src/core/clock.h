// Wall-clock time in the units MLflow uses on the wire.
#pragma once

#include <cstdint>
#include <string>

namespace slipway {

// Milliseconds since the Unix epoch.
int64_t NowMillis();

// "2026-11-26T22:35:54Z" for a time in milliseconds since the epoch.
std::string FormatIso8601(int64_t millis);

}  // namespace slipway
