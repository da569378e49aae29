// Base64 as RFC 4648 section 4 defines it: the standard alphabet
// (A-Z a-z 0-9 + /) with `=` padding, no line breaks. Page tokens, HTTP Basic
// credentials, password hashes and serialized sketches in profiles all use
// this one form.
//
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace slipway {

// The padded encoding of `bytes` ("" for no bytes).
std::string Base64Encode(std::string_view bytes);

// The bytes `text` encodes, or nothing unless `text` is padded base64: a
// multiple of 4 characters of the alphabet, with `=` only as the last one or
// two. "" decodes to no bytes. Whitespace is not skipped.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace slipway
