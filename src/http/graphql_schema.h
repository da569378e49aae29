// A GraphQL schema and the execution of documents against it: validation,
// variable coercion, field resolution, and the response MLflow's /graphql
// gives.
//
// The schema is a static table of types built once from its text (SDL, as
// ParseTypeSystem reads it) plus the resolvers its owner attaches to some
// fields. A field without a resolver reads its value from the parent's JSON
// under the field's snake_case name, the way MLflow's graphene types read
// proto messages with getattr: a value the JSON leaves out is the default of
// its type, as a proto3 message would give it ("" for String, "0" for
// LongString, false, 0, 0.0, [] for lists, and an object whose fields are
// their defaults), not null. Values are serialized as graphene does:
// LongString as a decimal string, Float NaN and infinities (also written as
// "NaN", "Infinity", "-Infinity") as null, enums by name.
//
// What is validated (graphql-core's messages, one string each): unknown
// fields, arguments, types, directives and fragments; leaf fields with a
// selection and object fields without one; argument literals against their
// types; fragment type conditions and cycles; undefined, unused and
// non-input variables. Not validated (no schema of this subset needs it):
// field merging, unused fragments, and variable positions, which are checked
// when the value is coerced instead. Directives: @component (MLflow's, ignored),
// @skip and @include.
// Introspection (__schema, __type) is not served; __typename is.
//
// Build the schema and attach resolvers before serving; afterwards it is
// read-only and Respond may be called from any thread at once.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/graphql_document.h"

namespace slipway::http::graphql {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// A field's value from its parent's value and its arguments (keyed by
// argument name; input objects keyed by their GraphQL field names; an
// argument not given is absent). Throws slipway::Error to fail the field:
// the field becomes null and the error's message joins the response's errors.
using Resolver = std::function<Json(const Json& parent, const Json& arguments)>;

class Schema {
 public:
  // The types of `sdl`, with `Query` and (if defined) `Mutation` as root
  // types. Throws std::logic_error when the text does not parse or names
  // a type it does not define: the text is part of the program.
  static Schema FromText(std::string_view sdl);

  const TypeDefinition* FindType(std::string_view name) const;
  static const FieldDefinition* FindField(const TypeDefinition& type, std::string_view name);
  // The root type of "query" or "mutation"; nullptr for other operations.
  const TypeDefinition* RootType(std::string_view operation_type) const;
  // Every type, by name.
  const std::map<std::string, TypeDefinition, std::less<>>& types() const { return types_; }

  // Throws std::logic_error when the type has no such field.
  void SetResolver(const std::string& type, const std::string& field, Resolver resolver);
  const Resolver* FindResolver(std::string_view type, std::string_view field) const;

 private:
  std::map<std::string, TypeDefinition, std::less<>> types_;
  std::map<std::pair<std::string, std::string>, Resolver, std::less<>> resolvers_;
};

// The messages of every validation error of `document`; empty when valid.
std::vector<std::string> Validate(const Schema& schema, const Document& document);

// The result of executing one operation.
struct ExecutionResult {
  OrderedJson data;  // null when nothing was executed
  std::vector<std::string> errors;
};

// Validates `document`, picks the operation (`operation_name` may be empty
// when there is one), coerces `variables` (a JSON object or null) against
// its definitions and executes it. Field errors null the field and add a
// message; the other errors leave `data` null.
ExecutionResult Execute(const Schema& schema, const Document& document,
                        const std::string& operation_name, const Json& variables);

// One request, in MLflow's order: parse (a syntax error throws
// slipway::Error), the safety scan, then Execute. Returns the response body,
// `{"data": ..., "errors": [messages] or null}`.
OrderedJson Respond(const Schema& schema, std::string_view query, const Json& variables,
                    const std::string& operation_name, const SafetyLimits& limits,
                    const ParseOptions& parse_options = {});

// "experimentId" -> "experiment_id": the JSON name a field is read from.
std::string SnakeCase(std::string_view name);

}  // namespace slipway::http::graphql
