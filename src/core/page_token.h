// The opaque page tokens that searches hand out: tracking (runs,
// experiments, logged models, metric history), the model registry and the
// audit log.
//
// A token is base64 of a small JSON object holding the offset into the
// ordered result, byte-for-byte what MLflow makes
// (base64(json.dumps({"offset": 100})) = "eyJvZmZzZXQiOiAxMDB9"), so a token
// from either server works on the other and tokens handed out by earlier
// Slipway versions stay valid. Decoding takes MLflow's variants too: a
// numeric string offset, and other fields beside it (logged-model tokens).
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace slipway {

std::string EncodePageToken(int64_t offset);

// The offset `token` holds; 0 for an empty token. A token that is not base64
// of a JSON object with a non-negative integer `offset` throws
// INVALID_PARAMETER_VALUE with MLflow's wording.
int64_t DecodePageToken(std::string_view token);

}  // namespace slipway
