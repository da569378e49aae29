// What a search's filter and its order_by share: the keys each search knows
// and how an identifier written in either resolves to an entity and a key,
// with MLflow's messages when it does not. Defined in search_filter.cc; for
// the files of the search grammar only.
//
// Pure functions; thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "tracking/search_filter.h"
#include "tracking/search_parser.h"

namespace slipway::tracking::search_internal {

// "{'a', 'b'}", sorted, as Python prints a set.
std::string NameSet(std::span<const std::string_view> names);
bool Contains(std::span<const std::string_view> set, std::string_view s);
bool Contains(std::span<const CompareOp> set, CompareOp op);

// "metric", "parameter", ... as MLflow's messages name an entity.
std::string_view EntityName(EntityKind kind);

// Runs: `<entity>.<key>` with MLflow's entity spellings (metric(s),
// param(s)/parameter(s), tag(s), attribute(s)/attr/run, dataset(s)) or a
// bare attribute; attribute keys must be one of `attributes` and come back
// canonical (`created` -> `start_time`).
std::pair<EntityKind, std::string> ResolveRunIdentifier(
    const RawIdentifier& id, std::span<const std::string_view> attributes);

// `attribute.<key>`, `tag.<key>`, `tags.<key>` or a bare attribute key, as
// experiments and the model registry spell them; attribute keys must be one of
// `attributes`.
std::pair<EntityKind, std::string> ResolveAttributeOrTagIdentifier(
    const RawIdentifier& id, std::span<const std::string_view> attributes);
// Experiments: ResolveAttributeOrTagIdentifier with the experiment attributes.
std::pair<EntityKind, std::string> ResolveExperimentIdentifier(const RawIdentifier& id);

// Logged models' attribute keys, aliases included, and the canonical name of one.
inline constexpr std::string_view kLoggedModelAttributes[] = {"name",
                                                              "model_id",
                                                              "model_type",
                                                              "status",
                                                              "source_run_id",
                                                              "creation_timestamp",
                                                              "creation_time",
                                                              "creation_timestamp_ms",
                                                              "last_updated_timestamp",
                                                              "last_updated_time",
                                                              "last_updated_timestamp_ms"};
std::string CanonicalLoggedModelAttribute(std::string_view key);

}  // namespace slipway::tracking::search_internal
