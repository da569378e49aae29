#include "tracing/trace_search.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "tracking/search_parser.h"

namespace slipway::tracing {
namespace {

using tracking::CompareOp;
namespace si = tracking::search_internal;

const std::map<std::string, std::string>& AttributeNames() {
  static const std::map<std::string, std::string> names = {
      {"timestamp_ms", "timestamp_ms"},
      {"timestamp", "timestamp_ms"},
      {"execution_time_ms", "execution_time_ms"},
      {"execution_time", "execution_time_ms"},
      {"end_time_ms", "end_time_ms"},
      {"end_time", "end_time_ms"},
      {"status", "status"},
      {"state", "status"},
      {"request_id", "request_id"},
      {"trace_id", "request_id"},
      {"client_request_id", "client_request_id"},
      {"name", "name"},
      {"run_id", "run_id"},
      {"prompt", "prompt"},
      {"experiment_id", "experiment_id"},
  };
  return names;
}

bool IsNumericAttribute(const std::string& key) {
  return key == "timestamp_ms" || key == "execution_time_ms" || key == "end_time_ms";
}

std::string KeyList() {
  std::string out = "{";
  for (const auto& [name, canonical] : AttributeNames()) {
    if (name == "experiment_id") continue;
    if (out.size() > 1) out += ", ";
    out += si::Quote(name);
  }
  return out + "}";
}

TraceField FieldOf(const si::RawIdentifier& ident) {
  if (!ident.has_entity) return TraceField::kAttribute;
  const std::string entity = ident.entity;
  if (entity == "attributes" || entity == "attribute" || entity == "trace")
    return TraceField::kAttribute;
  if (entity == "tags" || entity == "tag") return TraceField::kTag;
  if (entity == "metadata" || entity == "request_metadata") return TraceField::kMetadata;
  if (entity == "span") return TraceField::kSpan;
  if (entity == "feedback") return TraceField::kFeedback;
  if (entity == "expectation") return TraceField::kExpectation;
  if (entity == "issue") return TraceField::kIssue;
  ThrowInvalid("Invalid entity type '" + entity +
               "'. Valid values are ['attribute', 'metadata', 'tag', 'span', 'feedback', "
               "'expectation', 'issue']");
}

[[noreturn]] void BadComparator(const si::RawClause& c, const char* allowed) {
  ThrowInvalid("Invalid comparator '" + c.op.text + "' for " + si::Quote(c.ident.source) +
               ": expected one of " + allowed);
}

bool IsOneOf(CompareOp op, std::initializer_list<CompareOp> ops) {
  return std::find(ops.begin(), ops.end(), op) != ops.end();
}

constexpr std::initializer_list<CompareOp> kNumericOps = {
    CompareOp::kEq, CompareOp::kNe, CompareOp::kGt, CompareOp::kGe, CompareOp::kLt, CompareOp::kLe};

// A quoted string, or a list of them for IN / NOT IN.
std::variant<double, std::string, std::vector<std::string>> StringValue(const si::RawClause& c) {
  const si::RawValue& v = c.value;
  const bool list_op = *c.op.op == CompareOp::kIn || *c.op.op == CompareOp::kNotIn;
  if (list_op) {
    if (v.kind != si::ValueKind::kList)
      ThrowInvalid("Expected a list of quoted string values such as ('a', 'b') after " + c.op.text +
                   " for " + si::Quote(c.ident.source) + ". Got value " + v.source);
    return v.list;
  }
  if (v.kind == si::ValueKind::kString) return v.str;
  if (v.kind == si::ValueKind::kBare || v.kind == si::ValueKind::kNumber)
    ThrowInvalid(
        "Parameter value is either not quoted or unidentified quote types used for string "
        "value " +
        v.source + ". Use either single or double quotes.");
  ThrowInvalid("Expected a quoted string value for " + si::Quote(c.ident.source) + ". Got value " +
               v.source);
}

TraceClause Attribute(const si::RawClause& c) {
  const auto it = AttributeNames().find(c.ident.key);
  if (it == AttributeNames().end() || it->second == "experiment_id")
    ThrowInvalid("Invalid attribute key '" + c.ident.key + "' specified. Valid keys are " +
                 KeyList());
  const std::string& key = it->second;
  const CompareOp op = *c.op.op;
  if (IsNumericAttribute(key)) {
    if (!IsOneOf(op, kNumericOps)) BadComparator(c, "=, !=, >, >=, <, <=");
    if (c.value.kind != si::ValueKind::kNumber && c.value.kind != si::ValueKind::kString)
      ThrowInvalid("Expected numeric value type for " + si::Quote(c.ident.source) + ". Found " +
                   c.value.source);
    double number = c.value.number;
    if (c.value.kind == si::ValueKind::kString) {
      try {
        size_t used = 0;
        number = std::stod(c.value.str, &used);
        if (used != c.value.str.size()) throw std::invalid_argument("");
      } catch (const std::exception&) {
        ThrowInvalid("Expected numeric value type for " + si::Quote(c.ident.source) + ". Found " +
                     c.value.source);
      }
    }
    return {TraceField::kAttribute, key, op, number};
  }
  if (c.value.kind == si::ValueKind::kNumber)
    ThrowInvalid(
        "Only the '{'end_time_ms', 'execution_time_ms', 'timestamp_ms'}' attributes "
        "support comparison with numeric values.");
  if (key == "run_id" || key == "prompt") {
    if (op != CompareOp::kEq) BadComparator(c, "=");
  } else if (!IsOneOf(op, {CompareOp::kEq, CompareOp::kNe, CompareOp::kLike, CompareOp::kILike,
                           CompareOp::kIn, CompareOp::kNotIn})) {
    BadComparator(c, "=, !=, LIKE, ILIKE, IN, NOT IN");
  }
  return {TraceField::kAttribute, key, op, StringValue(c)};
}

TraceClause KeyValue(TraceField field, const si::RawClause& c) {
  const CompareOp op = *c.op.op;
  if (op == CompareOp::kIsNull || op == CompareOp::kIsNotNull)
    return {field, c.ident.key, op, std::string()};
  if (!IsOneOf(op, {CompareOp::kEq, CompareOp::kNe, CompareOp::kLike, CompareOp::kILike}))
    BadComparator(c, "=, !=, LIKE, ILIKE, IS NULL, IS NOT NULL");
  return {field, c.ident.key, op, StringValue(c)};
}

TraceClause SpanClause(const si::RawClause& c) {
  const std::string& key = c.ident.key;
  if (key != "name" && key != "type" && key != "status")
    ThrowInvalid("Invalid span attribute '" + key +
                 "': span filters take span.name, span.type and span.status");
  if (!IsOneOf(*c.op.op, {CompareOp::kEq, CompareOp::kNe, CompareOp::kLike, CompareOp::kILike,
                          CompareOp::kIn, CompareOp::kNotIn}))
    BadComparator(c, "=, !=, LIKE, ILIKE, IN, NOT IN");
  return {TraceField::kSpan, key, *c.op.op, StringValue(c)};
}

// `text`: a pattern over each span's stored content (its name, attributes,
// inputs and outputs as MLflow's span JSON); one span must match.
TraceClause TextClause(const si::RawClause& c) {
  if (*c.op.op != CompareOp::kLike && *c.op.op != CompareOp::kILike)
    ThrowInvalid("span.content comparator '" + c.op.text + "' not one of '{'ILIKE', 'LIKE'}'");
  return {TraceField::kSpan, "content", *c.op.op, StringValue(c)};
}

TraceClause AssessmentClause(TraceField field, const si::RawClause& c) {
  const CompareOp op = *c.op.op;
  if (op == CompareOp::kIsNull || op == CompareOp::kIsNotNull)
    return {field, c.ident.key, op, std::string()};
  if (IsOneOf(op, {CompareOp::kGt, CompareOp::kGe, CompareOp::kLt, CompareOp::kLe})) {
    if (c.value.kind != si::ValueKind::kNumber)
      ThrowInvalid("Expected numeric value type for " + si::Quote(c.ident.source) + ". Found " +
                   c.value.source);
    return {field, c.ident.key, op, c.value.number};
  }
  if (!IsOneOf(op, {CompareOp::kEq, CompareOp::kNe, CompareOp::kLike, CompareOp::kILike}))
    BadComparator(c, "=, !=, >, >=, <, <=, LIKE, ILIKE, IS NULL, IS NOT NULL");
  // A number compares with the value's JSON text ("1.0"), a string with
  // its text bare or quoted.
  if (c.value.kind == si::ValueKind::kNumber) return {field, c.ident.key, op, c.value.source};
  return {field, c.ident.key, op, StringValue(c)};
}

// `issue.id = '<issue id>'`: the traces linked to that issue (an
// assessment of kind issue named by its id), MLflow's only issue clause.
TraceClause IssueClause(const si::RawClause& c) {
  if (c.ident.key != "id")
    ThrowInvalid("Invalid issue attribute '" + c.ident.key + "'. Supported attributes: id");
  if (*c.op.op != CompareOp::kEq)
    ThrowInvalid("issue.id comparator '" + c.op.text + "' not one of '{'='}'");
  if (c.value.kind != si::ValueKind::kString)
    ThrowInvalid("Expected a quoted string value for issue (e.g. 'my-value'). Got value " +
                 c.value.source);
  return {TraceField::kIssue, "id", CompareOp::kEq, c.value.str};
}

}  // namespace

TraceFilter ParseTraceFilter(std::string_view filter) {
  TraceFilter out;
  for (const si::RawClause& c : si::ParseFilterClauses(filter)) {
    if (!c.op.op) ThrowInvalid("Invalid comparator '" + c.op.text + "' in the trace filter");
    switch (FieldOf(c.ident)) {
      case TraceField::kAttribute:
        out.clauses.push_back(c.ident.key == "text" ? TextClause(c) : Attribute(c));
        break;
      case TraceField::kTag:
        out.clauses.push_back(KeyValue(TraceField::kTag, c));
        break;
      case TraceField::kMetadata:
        out.clauses.push_back(KeyValue(TraceField::kMetadata, c));
        break;
      case TraceField::kSpan:
        out.clauses.push_back(SpanClause(c));
        break;
      case TraceField::kFeedback:
        out.clauses.push_back(AssessmentClause(TraceField::kFeedback, c));
        break;
      case TraceField::kExpectation:
        out.clauses.push_back(AssessmentClause(TraceField::kExpectation, c));
        break;
      case TraceField::kIssue:
        out.clauses.push_back(IssueClause(c));
        break;
    }
  }
  return out;
}

std::vector<TraceOrder> ParseTraceOrderBy(const std::vector<std::string>& order_by) {
  std::vector<TraceOrder> out;
  std::set<std::pair<int, std::string>> seen;
  for (const std::string& text : order_by) {
    auto [ident, ascending] = si::ParseOrderTerm(text);
    const TraceField field = FieldOf(ident);
    TraceOrder term{field, ident.key, ascending};
    if (field == TraceField::kAttribute) {
      const auto it = AttributeNames().find(ident.key);
      if (it == AttributeNames().end() || it->second == "client_request_id" ||
          it->second == "prompt")
        ThrowInvalid("Invalid attribute key '" + ident.key + "' specified. Valid keys are " +
                     KeyList());
      term.key = it->second;
    } else if (field != TraceField::kTag && field != TraceField::kMetadata) {
      ThrowInvalid("Invalid order_by entity '" + ident.entity +
                   "': traces are ordered by attributes, tags or metadata");
    }
    if (!seen.insert({static_cast<int>(term.field), term.key}).second)
      ThrowInvalid("`order_by` contains duplicate fields: " + text);
    out.push_back(std::move(term));
  }
  if (!seen.count({static_cast<int>(TraceField::kAttribute), "timestamp_ms"}))
    out.push_back({TraceField::kAttribute, "timestamp_ms", false});
  if (!seen.count({static_cast<int>(TraceField::kAttribute), "request_id"}))
    out.push_back({TraceField::kAttribute, "request_id", true});
  return out;
}

}  // namespace slipway::tracing
