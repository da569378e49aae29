// What each search allows in a filter: its entities and keys, the operators
// each takes and the values they compare with, checked clause by clause on
// what search_parser.h parsed, with MLflow's messages; and the identifier
// resolution that order_by shares (search_keys.h). Pure functions;
// thread-safe.
#include "tracking/search_filter.h"

#include <algorithm>
#include <set>
#include <span>
#include <utility>

#include "core/error.h"
#include "tracking/search_keys.h"
#include "tracking/search_parser.h"

namespace slipway::tracking {
namespace search_internal {
namespace {

// ---------------------------------------------------------------------------
// Rules shared by the searches.

std::string OpSet(std::span<const CompareOp> ops) {
  std::set<std::string> names;
  for (const CompareOp op : ops) names.insert(std::string(OpText(op)));
  std::string out = "{";
  for (const auto& name : names) {
    if (out.size() > 1) out += ", ";
    out += Quote(name);
  }
  return out + "}";
}

}  // namespace

std::string NameSet(std::span<const std::string_view> names) {
  std::set<std::string_view> sorted(names.begin(), names.end());
  std::string out = "{";
  for (const auto& name : sorted) {
    if (out.size() > 1) out += ", ";
    out += Quote(name);
  }
  return out + "}";
}

bool Contains(std::span<const std::string_view> set, std::string_view s) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

bool Contains(std::span<const CompareOp> set, CompareOp op) {
  return std::find(set.begin(), set.end(), op) != set.end();
}

namespace {

constexpr CompareOp kNumericOps[] = {CompareOp::kGt, CompareOp::kGe, CompareOp::kNe,
                                     CompareOp::kEq, CompareOp::kLt, CompareOp::kLe};

// Throws MLflow's "Invalid comparator" unless `op` is one of `allowed`.
void CheckComparator(const RawOp& op, std::span<const CompareOp> allowed) {
  if (!op.op || !Contains(allowed, *op.op)) {
    ThrowInvalid("Invalid comparator " + Quote(op.text) + " not one of " + Quote(OpSet(allowed)));
  }
}

bool IsListOp(CompareOp op) { return op == CompareOp::kIn || op == CompareOp::kNotIn; }

using Value = decltype(Comparison::value);

[[noreturn]] void ThrowUnquoted(const RawValue& v) {
  ThrowInvalid(
      "Parameter value is either not quoted or unidentified quote types used for string value " +
      v.source + ". Use either single or double quotes.");
}

// A quoted string, or a list for IN / NOT IN when `list_error` is empty (else
// `list_error` is the complaint about a list). `what` names the entity the
// way MLflow's messages do.
Value StringValue(const RawClause& c, std::string_view what, std::string_view list_error) {
  const RawValue& v = c.value;
  if (v.kind == ValueKind::kList && !list_error.empty()) ThrowInvalid(std::string(list_error));
  if (IsListOp(*c.op.op)) {
    if (v.kind != ValueKind::kList) {
      ThrowInvalid("Expected a list of quoted string values such as ('a', 'b') after " + c.op.text +
                   " for " + Quote(c.ident.source) + ". Got value " + v.source);
    }
    return v.list;
  }
  switch (v.kind) {
    case ValueKind::kString:
      return v.str;
    case ValueKind::kList:
      ThrowInvalid("Comparator " + Quote(c.op.text) +
                   " does not take a list of values; use IN or NOT IN. Got value " + v.source);
    case ValueKind::kBare:
      ThrowUnquoted(v);
    default:
      ThrowInvalid("Expected a quoted string value for " + std::string(what) +
                   " (e.g. 'my-value'). Got value " + v.source);
  }
}

double NumericValue(const RawClause& c, std::string_view what) {
  if (c.value.kind != ValueKind::kNumber) {
    ThrowInvalid("Expected numeric value type for " + std::string(what) + ". Found " +
                 c.value.source);
  }
  return c.value.number;
}

// ---------------------------------------------------------------------------
// Runs (SearchUtils).

constexpr std::string_view kRunSearchAttributes[] = {
    "artifact_uri", "end_time", "run_id",  "run_name", "start_time", "status",
    "user_id",      "created",  "Created", "run name", "Run name",   "Run Name"};
constexpr std::string_view kDatasetKeys[] = {"name", "digest", "context"};
constexpr CompareOp kRunStringAttributeOps[] = {CompareOp::kNe,   CompareOp::kEq,
                                                CompareOp::kLike, CompareOp::kILike,
                                                CompareOp::kIn,   CompareOp::kNotIn};
constexpr CompareOp kRunParamTagOps[] = {CompareOp::kNe,     CompareOp::kEq,
                                         CompareOp::kLike,   CompareOp::kILike,
                                         CompareOp::kIsNull, CompareOp::kIsNotNull};

}  // namespace

std::string_view EntityName(EntityKind kind) {
  switch (kind) {
    case EntityKind::kMetric:
      return "metric";
    case EntityKind::kParam:
      return "parameter";
    case EntityKind::kTag:
      return "tag";
    case EntityKind::kAttribute:
      return "attribute";
    case EntityKind::kDataset:
      return "dataset";
  }
  return "?";
}

namespace {

std::string CanonicalRunAttribute(std::string_view key) {
  if (key == "created" || key == "Created") return "start_time";
  if (key == "run name" || key == "Run name" || key == "Run Name") return "run_name";
  return std::string(key);
}

bool IsNumericRunAttribute(std::string_view key) {
  return key == "start_time" || key == "end_time";
}

}  // namespace

std::pair<EntityKind, std::string> ResolveRunIdentifier(
    const RawIdentifier& id, std::span<const std::string_view> attributes) {
  EntityKind kind = EntityKind::kAttribute;
  if (id.has_entity) {
    const std::string& e = id.entity;
    if (e == "metric" || e == "metrics") {
      kind = EntityKind::kMetric;
    } else if (e == "parameter" || e == "parameters" || e == "param" || e == "params") {
      kind = EntityKind::kParam;
    } else if (e == "tag" || e == "tags") {
      kind = EntityKind::kTag;
    } else if (e == "attribute" || e == "attributes" || e == "attr" || e == "run") {
      kind = EntityKind::kAttribute;
    } else if (e == "dataset" || e == "datasets") {
      kind = EntityKind::kDataset;
    } else {
      ThrowInvalid("Invalid entity type " + Quote(e) +
                   ". Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']");
    }
  }
  if (kind == EntityKind::kAttribute && !Contains(attributes, id.key)) {
    ThrowInvalid("Invalid attribute key " + Quote(id.key) + " specified. Valid keys are " +
                 Quote(NameSet(attributes)));
  }
  if (kind == EntityKind::kDataset && !Contains(kDatasetKeys, id.key)) {
    ThrowInvalid("Invalid dataset key " + Quote(id.key) + " specified. Valid keys are " +
                 Quote(NameSet(kDatasetKeys)));
  }
  if (kind == EntityKind::kAttribute) return {kind, CanonicalRunAttribute(id.key)};
  return {kind, id.key};
}

namespace {

Comparison ResolveRunClause(const RawClause& c) {
  auto [kind, key] = ResolveRunIdentifier(c.ident, kRunSearchAttributes);
  const bool is_null_test = c.op.op == CompareOp::kIsNull || c.op.op == CompareOp::kIsNotNull;
  if (is_null_test && kind != EntityKind::kParam && kind != EntityKind::kTag) {
    ThrowInvalid("IS NULL / IS NOT NULL is only supported for tags and params, not for " +
                 Quote(EntityName(kind)) + " " + Quote(c.ident.key));
  }
  Comparison out{kind, key, CompareOp::kEq, std::string()};
  switch (kind) {
    case EntityKind::kMetric:
      CheckComparator(c.op, kNumericOps);
      out.value = NumericValue(c, "metric");
      break;
    case EntityKind::kParam:
    case EntityKind::kTag:
      CheckComparator(c.op, kRunParamTagOps);
      if (!is_null_test) {
        out.value = StringValue(c, EntityName(kind),
                                "Only attributes support comparison with a list of quoted "
                                "string values.");
      }
      break;
    case EntityKind::kAttribute:
      if (IsNumericRunAttribute(key)) {
        CheckComparator(c.op, kNumericOps);
        out.value = NumericValue(c, "numeric attribute: " + key);
      } else {
        CheckComparator(c.op, kRunStringAttributeOps);
        out.value = StringValue(c, "attributes",
                                key == "run_id" ? ""
                                                : "Only ['run_id'] attributes support comparison "
                                                  "with a list of quoted string values.");
      }
      break;
    case EntityKind::kDataset:
      CheckComparator(c.op, kRunStringAttributeOps);
      out.value = StringValue(c, "dataset attributes", "");
      break;
  }
  out.op = *c.op.op;
  return out;
}

// ---------------------------------------------------------------------------
// Experiments (SearchExperimentsUtils).

constexpr std::string_view kExperimentAttributes[] = {"name", "experiment_id", "creation_time",
                                                      "last_update_time"};

}  // namespace

std::pair<EntityKind, std::string> ResolveAttributeOrTagIdentifier(
    const RawIdentifier& id, std::span<const std::string_view> attributes) {
  EntityKind kind = EntityKind::kAttribute;
  if (id.has_entity) {
    if (id.entity == "tag" || id.entity == "tags") {
      kind = EntityKind::kTag;
    } else if (id.entity != "attribute") {
      ThrowInvalid("Invalid entity type " + Quote(id.entity) +
                   ". Valid entity types are ('attribute', 'tag', 'tags')");
    }
  }
  if (kind == EntityKind::kAttribute && !Contains(attributes, id.key)) {
    ThrowInvalid("Invalid attribute key " + Quote(id.key) + " specified. Valid keys are " +
                 Quote(NameSet(attributes)));
  }
  return {kind, id.key};
}

std::pair<EntityKind, std::string> ResolveExperimentIdentifier(const RawIdentifier& id) {
  return ResolveAttributeOrTagIdentifier(id, kExperimentAttributes);
}

namespace {

bool IsInteger(std::string_view s) {
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  if (s.empty() || s.size() > 18) return false;
  return std::all_of(s.begin(), s.end(), IsDigit);
}

void CheckExperimentId(const std::string& id) {
  if (!IsInteger(id)) {
    ThrowInvalid("Invalid experiment ID " + Quote(id) + ". Experiment ID must be a valid integer.");
  }
}

Comparison ResolveExperimentClause(const RawClause& c) {
  auto [kind, key] = ResolveExperimentIdentifier(c.ident);
  const bool is_null_test = c.op.op == CompareOp::kIsNull || c.op.op == CompareOp::kIsNotNull;
  Comparison out{kind, key, CompareOp::kEq, std::string()};
  constexpr std::string_view kListError =
      "Only ['experiment_id'] attributes support comparison with a list of quoted string values.";
  if (kind == EntityKind::kTag) {
    CheckComparator(c.op, kRunParamTagOps);
    if (!is_null_test) out.value = StringValue(c, "tag", kListError);
  } else if (is_null_test) {
    ThrowInvalid("IS NULL / IS NOT NULL is only supported for tags, not for attribute " +
                 Quote(key));
  } else if (key == "name") {
    static constexpr CompareOp kNameOps[] = {CompareOp::kEq, CompareOp::kNe, CompareOp::kLike,
                                             CompareOp::kILike};
    CheckComparator(c.op, kNameOps);
    out.value = StringValue(c, "attributes", kListError);
  } else if (key == "experiment_id") {
    static constexpr CompareOp kIdOps[] = {CompareOp::kEq, CompareOp::kNe, CompareOp::kIn,
                                           CompareOp::kNotIn};
    CheckComparator(c.op, kIdOps);
    out.value = StringValue(c, "attributes", "");
    if (const auto* one = std::get_if<std::string>(&out.value)) CheckExperimentId(*one);
    if (const auto* list = std::get_if<std::vector<std::string>>(&out.value)) {
      for (const auto& id : *list) CheckExperimentId(id);
    }
  } else {
    CheckComparator(c.op, kNumericOps);
    out.value = NumericValue(c, "numeric attribute: " + key);
    if (!c.value.integral) {
      ThrowInvalid("Invalid value for numeric attribute " + Quote(key) + ": " +
                   Quote(c.value.source));
    }
  }
  out.op = *c.op.op;
  return out;
}

// ---------------------------------------------------------------------------
// Logged models (mlflow/utils/search_logged_model_utils.py).

}  // namespace

std::string CanonicalLoggedModelAttribute(std::string_view key) {
  if (key == "creation_time" || key == "creation_timestamp_ms") return "creation_timestamp";
  if (key == "last_updated_time" || key == "last_updated_timestamp_ms") {
    return "last_updated_timestamp";
  }
  return std::string(key);
}

namespace {

void CheckLoggedModelAttribute(std::string_view key) {
  if (!Contains(kLoggedModelAttributes, key)) {
    ThrowInvalid("Invalid attribute key " + Quote(key) + " specified. Valid keys are " +
                 Quote(NameSet(kLoggedModelAttributes)));
  }
}

std::pair<EntityKind, std::string> ResolveLoggedModelIdentifier(const RawIdentifier& id) {
  EntityKind kind = EntityKind::kAttribute;
  if (id.has_entity) {
    if (id.entity == "metrics") {
      kind = EntityKind::kMetric;
    } else if (id.entity == "params") {
      kind = EntityKind::kParam;
    } else if (id.entity == "tags") {
      kind = EntityKind::kTag;
    } else if (id.entity != "attributes") {
      ThrowInvalid("Invalid entity type: " + Quote(id.entity) +
                   ". Expected one of ['attributes', 'metrics', 'params', 'tags'].");
    }
  }
  if (kind != EntityKind::kAttribute) return {kind, id.key};
  CheckLoggedModelAttribute(id.key);
  return {kind, CanonicalLoggedModelAttribute(id.key)};
}

Comparison ResolveLoggedModelClause(const RawClause& c) {
  auto [kind, key] = ResolveLoggedModelIdentifier(c.ident);
  const bool numeric = kind == EntityKind::kMetric ||
                       (kind == EntityKind::kAttribute &&
                        (key == "creation_timestamp" || key == "last_updated_timestamp"));
  constexpr CompareOp kStringOps[] = {CompareOp::kEq,    CompareOp::kNe, CompareOp::kLike,
                                      CompareOp::kILike, CompareOp::kIn, CompareOp::kNotIn};
  const std::span<const CompareOp> allowed =
      numeric ? std::span<const CompareOp>(kNumericOps) : std::span<const CompareOp>(kStringOps);
  if (!c.op.op || !Contains(allowed, *c.op.op)) {
    std::string expected;
    for (const CompareOp op : allowed) {
      expected += (expected.empty() ? "" : ", ") + Quote(OpText(op));
    }
    ThrowInvalid("Invalid comparison operator for " + c.ident.source + ": " + Quote(c.op.text) +
                 ". Expected one of (" + expected + ").");
  }
  Comparison out{kind, key, *c.op.op, std::string()};
  if (numeric) {
    out.value =
        NumericValue(c, kind == EntityKind::kMetric ? "metric" : "numeric attribute: " + key);
  } else {
    out.value =
        StringValue(c, kind == EntityKind::kAttribute ? "attributes" : EntityName(kind), "");
  }
  return out;
}

// ---------------------------------------------------------------------------
// Model registry (SearchModelUtils and SearchModelVersionUtils, with the
// checks model_registry/sqlalchemy_store.py adds). MLflow looks at the value
// before the comparator, so a clause with both wrong gets the value's error.

constexpr std::string_view kRegisteredModelAttributes[] = {"name"};
constexpr std::string_view kRegisteredModelListKeys[] = {"name"};
constexpr std::string_view kModelVersionAttributes[] = {"name", "version_number", "run_id",
                                                        "source_path"};
constexpr std::string_view kModelVersionListKeys[] = {"name", "run_id"};
constexpr std::string_view kModelVersionNumericAttributes[] = {
    "version_number", "creation_timestamp", "last_updated_timestamp"};
constexpr CompareOp kRegistryTagOps[] = {CompareOp::kEq, CompareOp::kNe, CompareOp::kLike,
                                         CompareOp::kILike};
constexpr CompareOp kRegistryStringOps[] = {CompareOp::kEq,    CompareOp::kNe, CompareOp::kLike,
                                            CompareOp::kILike, CompareOp::kIn, CompareOp::kNotIn};

bool IsNullTest(const RawOp& op) {
  return op.op == CompareOp::kIsNull || op.op == CompareOp::kIsNotNull;
}

// "Only ['name', 'run_id'] attributes support ...", the keys sorted as
// MLflow sorts them.
std::string ListKeysError(std::span<const std::string_view> keys) {
  const std::set<std::string_view> sorted(keys.begin(), keys.end());
  std::string list;
  for (const auto& key : sorted) list += (list.empty() ? "" : ", ") + Quote(key);
  return "Only [" + list + "] attributes support comparison with a list of quoted string values.";
}

// `tags.<key>`: one quoted string, compared with = != LIKE ILIKE.
Comparison ResolveRegistryTag(const RawClause& c, const std::string& key) {
  if (IsNullTest(c.op)) ThrowInvalid("Invalid comparator for tag: " + c.op.text);
  if (c.value.kind == ValueKind::kBare) ThrowUnquoted(c.value);
  if (c.value.kind != ValueKind::kString) {
    ThrowInvalid("Expected a quoted string value for tag (e.g. 'my-value'). Got value " +
                 c.value.source);
  }
  if (!c.op.op || !Contains(kRegistryTagOps, *c.op.op)) {
    ThrowInvalid("Invalid comparator for tag: " + c.op.text);
  }
  return {EntityKind::kTag, key, *c.op.op, c.value.str};
}

// A string attribute: a quoted string, or a list for IN / NOT IN when `key`
// is one of `list_keys`. `number_error` is the complaint about a number.
Comparison ResolveRegistryStringAttribute(const RawClause& c, const std::string& key,
                                          std::span<const std::string_view> list_keys,
                                          const std::string& number_error) {
  if (IsNullTest(c.op)) ThrowInvalid("Invalid comparator for attribute: " + c.op.text);
  if (c.value.kind == ValueKind::kList && !Contains(list_keys, key)) {
    ThrowInvalid(ListKeysError(list_keys));
  }
  if (c.value.kind == ValueKind::kNumber) ThrowInvalid(number_error);
  if (c.value.kind == ValueKind::kBare) ThrowUnquoted(c.value);
  if (!c.op.op || !Contains(kRegistryStringOps, *c.op.op) ||
      (IsListOp(*c.op.op) && !Contains(list_keys, key))) {
    ThrowInvalid("Invalid comparator for attribute: " + c.op.text);
  }
  return {EntityKind::kAttribute, key, *c.op.op, StringValue(c, "attributes", "")};
}

// `version_number`: an integer, written as a number or as a quoted string.
Comparison ResolveVersionNumber(const RawClause& c) {
  const auto bad_comparator = [&] {
    ThrowInvalid("Invalid comparator for attribute version_number: " + c.op.text);
  };
  if (IsNullTest(c.op)) bad_comparator();
  if (c.value.kind == ValueKind::kList) ThrowInvalid(ListKeysError(kModelVersionListKeys));
  if (c.value.kind == ValueKind::kBare) ThrowUnquoted(c.value);
  if (!c.op.op || !Contains(kNumericOps, *c.op.op)) bad_comparator();
  const std::string invalid_value = "Invalid value for numeric attribute 'version_number': ";
  if (c.value.kind == ValueKind::kNumber) {
    if (!c.value.integral) ThrowInvalid(invalid_value + c.value.source);
    return {EntityKind::kAttribute, "version_number", *c.op.op, c.value.number};
  }
  std::string_view text = c.value.str;
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  if (!IsInteger(text)) ThrowInvalid(invalid_value + Quote(c.value.str));
  return {EntityKind::kAttribute, "version_number", *c.op.op,
          static_cast<double>(std::stoll(std::string(text)))};
}

Comparison ResolveRegisteredModelClause(const RawClause& c) {
  auto [kind, key] = ResolveAttributeOrTagIdentifier(c.ident, kRegisteredModelAttributes);
  if (kind == EntityKind::kTag) return ResolveRegistryTag(c, key);
  return ResolveRegistryStringAttribute(
      c, key, kRegisteredModelListKeys,
      "Expected a quoted string value or a list of quoted string values for attributes. Got "
      "value " +
          c.value.source);
}

Comparison ResolveModelVersionClause(const RawClause& c) {
  auto [kind, key] = ResolveAttributeOrTagIdentifier(c.ident, kModelVersionAttributes);
  if (kind == EntityKind::kTag) return ResolveRegistryTag(c, key);
  if (key == "version_number") return ResolveVersionNumber(c);
  return ResolveRegistryStringAttribute(c, key, kModelVersionListKeys,
                                        "Only the " +
                                            Quote(NameSet(kModelVersionNumericAttributes)) +
                                            " attributes support comparison with numeric values.");
}

template <typename Resolve>
Filter ParseWith(std::string_view filter, Resolve resolve) {
  Filter out;
  for (const RawClause& clause : ParseFilterClauses(filter)) {
    out.clauses.push_back(resolve(clause));
  }
  return out;
}

}  // namespace
}  // namespace search_internal

using search_internal::ParseWith;
using search_internal::ResolveExperimentClause;
using search_internal::ResolveLoggedModelClause;
using search_internal::ResolveModelVersionClause;
using search_internal::ResolveRegisteredModelClause;
using search_internal::ResolveRunClause;

Filter ParseRunFilter(std::string_view filter) { return ParseWith(filter, ResolveRunClause); }

Filter ParseExperimentFilter(std::string_view filter) {
  return ParseWith(filter, ResolveExperimentClause);
}

Filter ParseLoggedModelFilter(std::string_view filter) {
  return ParseWith(filter, ResolveLoggedModelClause);
}

Filter ParseRegisteredModelFilter(std::string_view filter) {
  return ParseWith(filter, ResolveRegisteredModelClause);
}

Filter ParseModelVersionFilter(std::string_view filter) {
  return ParseWith(filter, ResolveModelVersionClause);
}

}  // namespace slipway::tracking
