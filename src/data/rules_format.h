// How rules and their results write values: numbers, shares, drift metrics,
// quoted field texts and bounds. Shared by the files of the rules (rules.cc
// reads and writes YAML, rules_validation.cc evaluates, rules_inference.cc
// infers), and yaml_reader.cc quotes with it; no other code includes this
// header. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace slipway::data::rules_internal {

// Shortest text that parses back to the same double.
std::string FormatNumber(double value);
// A share in [0, 1] as a percentage with 4 significant digits: "2.5%".
std::string FormatShare(double share);
// A drift metric with 4 significant digits.
std::string FormatMetric(double value);
// A value quoted for a message: control characters escaped, long texts cut.
std::string Quote(std::string_view text, size_t limit = 60);
// "[min, max]", ">= min" or "<= max"; at least one bound must be set.
std::string Bounds(const std::optional<double>& min, const std::optional<double>& max);
std::string Bounds(const std::optional<int64_t>& min, const std::optional<int64_t>& max);

}  // namespace slipway::data::rules_internal
