// order_by of each search: which keys it orders by, with MLflow's messages
// for the others (declared in search_filter.h). Pure functions; thread-safe.
#include <string>
#include <vector>

#include "core/error.h"
#include "tracking/search_filter.h"
#include "tracking/search_keys.h"
#include "tracking/search_parser.h"

namespace slipway::tracking {
namespace {

using search_internal::CanonicalLoggedModelAttribute;
using search_internal::Contains;
using search_internal::EntityName;
using search_internal::IsSpace;
using search_internal::kLoggedModelAttributes;
using search_internal::NameSet;
using search_internal::ParseOrderTerm;
using search_internal::Quote;
using search_internal::ResolveAttributeOrTagIdentifier;
using search_internal::ResolveExperimentIdentifier;
using search_internal::ResolveRunIdentifier;

constexpr std::string_view kRunOrderAttributes[] = {"artifact_uri", "end_time",   "run_id",
                                                    "run_name",     "start_time", "status",
                                                    "user_id",      "created",    "Created"};
constexpr std::string_view kRegisteredModelOrderKeys[] = {"name", "timestamp",
                                                          "last_updated_timestamp"};
// What MLflow's message about a bad registered-model order key offers.
constexpr std::string_view kRecommendedRegisteredModelOrderKeys[] = {"name", "timestamp"};
constexpr std::string_view kModelVersionOrderKeys[] = {
    "name", "version_number", "creation_timestamp", "last_updated_timestamp"};

// MLflow's message for a key ordered twice, with `order_by` as Python prints a list.
[[noreturn]] void ThrowDuplicateOrderBy(const std::vector<std::string>& order_by) {
  std::string list;
  for (const auto& s : order_by) list += (list.empty() ? "" : ", ") + Quote(s);
  ThrowInvalid("`order_by` contains duplicate fields: [" + list + "]");
}

}  // namespace

std::vector<OrderTerm> ParseRunOrderBy(const std::vector<std::string>& order_by) {
  std::vector<OrderTerm> terms;
  for (const std::string& clause : order_by) {
    auto [id, ascending] = ParseOrderTerm(clause);
    auto [kind, key] = ResolveRunIdentifier(id, kRunOrderAttributes);
    if (kind == EntityKind::kDataset) {
      ThrowInvalid("Invalid identifier type 'dataset' in order_by clause " + Quote(clause) +
                   ": runs are ordered by attributes, metrics, params or tags.");
    }
    for (const OrderTerm& seen : terms) {
      if (seen.kind == kind && seen.key == key) ThrowDuplicateOrderBy(order_by);
    }
    terms.push_back({kind, key, ascending});
  }
  return terms;
}

std::vector<OrderTerm> ParseExperimentOrderBy(const std::vector<std::string>& order_by) {
  std::vector<OrderTerm> terms;
  for (const std::string& clause : order_by) {
    auto [id, ascending] = ParseOrderTerm(clause);
    auto [kind, key] = ResolveExperimentIdentifier(id);
    if (kind != EntityKind::kAttribute) {
      ThrowInvalid("Invalid order_by entity: " + std::string(EntityName(kind)) +
                   ". Experiments are ordered by attributes only.");
    }
    terms.push_back({kind, key, ascending});
  }
  return terms;
}

OrderTerm ParseLoggedModelOrderBy(std::string_view field_name, bool ascending) {
  const size_t dot = field_name.find('.');
  if (dot != std::string_view::npos) {
    const std::string_view entity = field_name.substr(0, dot);
    if (entity != "metrics") {
      ThrowInvalid("Invalid order by field name: " + std::string(entity) +
                   ", only `metrics.<name>` is allowed.");
    }
    std::string key(field_name.substr(dot + 1));
    if (key.size() >= 2 && key.front() == '`' && key.back() == '`') {
      key = key.substr(1, key.size() - 2);
    }
    if (key.empty()) ThrowInvalid("Invalid order by field name: " + std::string(field_name) + ".");
    return {EntityKind::kMetric, key, ascending};
  }
  std::string_view name = field_name;
  while (!name.empty() && IsSpace(name.front())) name.remove_prefix(1);
  while (!name.empty() && IsSpace(name.back())) name.remove_suffix(1);
  if (!Contains(kLoggedModelAttributes, name)) {
    ThrowInvalid("Invalid order by field name: " + std::string(field_name) + ".");
  }
  return {EntityKind::kAttribute, CanonicalLoggedModelAttribute(name), ascending};
}

std::vector<OrderTerm> ParseRegisteredModelOrderBy(const std::vector<std::string>& order_by) {
  std::vector<OrderTerm> terms;
  for (const std::string& clause : order_by) {
    auto [id, ascending] = ParseOrderTerm(clause);
    const std::string field = id.has_entity ? id.entity + "." + id.key : id.key;
    if (!Contains(kRegisteredModelOrderKeys, field)) {
      ThrowInvalid("Invalid order by key " + Quote(field) + " specified. Valid keys are " +
                   Quote(NameSet(kRecommendedRegisteredModelOrderKeys)));
    }
    const std::string key = field == "timestamp" ? "last_updated_timestamp" : field;
    for (const OrderTerm& seen : terms) {
      if (seen.key == key) ThrowDuplicateOrderBy(order_by);
    }
    terms.push_back({EntityKind::kAttribute, key, ascending});
  }
  return terms;
}

std::vector<OrderTerm> ParseModelVersionOrderBy(const std::vector<std::string>& order_by) {
  std::vector<OrderTerm> terms;
  for (const std::string& clause : order_by) {
    auto [id, ascending] = ParseOrderTerm(clause);
    auto [kind, key] = ResolveAttributeOrTagIdentifier(id, kModelVersionOrderKeys);
    // As in MLflow, `tags.<key>` orders by the attribute <key>; there is no tag order.
    if (kind == EntityKind::kTag && !Contains(kModelVersionOrderKeys, key)) {
      ThrowInvalid("Invalid order by key " + Quote(key) + " specified. Valid keys are " +
                   NameSet(kModelVersionOrderKeys));
    }
    for (const OrderTerm& seen : terms) {
      if (seen.key == key) ThrowDuplicateOrderBy(order_by);
    }
    terms.push_back({EntityKind::kAttribute, key, ascending});
  }
  return terms;
}

}  // namespace slipway::tracking
