// GraphQL executable documents: the syntax tree, the parser, and MLflow's
// safety scan of a parsed document.
//
// Debian 12 packages no C++ GraphQL library (only Go, Python, JavaScript,
// Perl, Ruby and elisp ones), so Slipway parses the language itself. The
// parser reads what the October 2021 specification calls an executable
// document: operations (query, mutation, subscription; named or the `{...}`
// shorthand) with variable definitions and directives, fragment definitions,
// selection sets of fields (aliases, arguments, directives, sub-selections),
// fragment spreads and inline fragments, and every value literal (variables,
// Int, Float, strings and block strings, booleans, null, enums, lists,
// objects). ParseTypeSystem reads the schema's own text. Syntax errors throw slipway::Error
// (INVALID_PARAMETER_VALUE) with a message that names the line and column,
// as graphql-core words them: "Syntax Error: Expected Name, found '}'.
// (line 2, column 5)".
//
// Parsing is bounded: nesting deeper than ParseOptions::max_nesting (selection
// sets, lists, objects and types together) is a syntax error, so a hostile
// document cannot exhaust the stack. The caller bounds the size of the text.
//
// Pure functions over plain values: no HTTP, no I/O, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slipway::http::graphql {

struct Location {
  int line = 1;
  int column = 1;
};

// A value as written in the document: a literal or a variable reference.
struct Value {
  enum class Kind { kVariable, kInt, kFloat, kString, kBoolean, kNull, kEnum, kList, kObject };
  Kind kind = Kind::kNull;
  // The variable's name (without `$`), the number as written, the string's
  // content (escapes decoded), "true"/"false", or the enum value's name.
  std::string text;
  std::vector<Value> items;                           // kList
  std::vector<std::pair<std::string, Value>> fields;  // kObject, in document order
  Location location;
};

// A type reference: `Name`, `[Type]`, either followed by `!`.
struct TypeRef {
  std::string name;           // the named type; empty for a list
  std::vector<TypeRef> item;  // one element for a list type
  bool non_null = false;

  bool is_list() const { return !item.empty(); }
  // The innermost named type ("[String!]!" -> "String").
  const std::string& NamedType() const { return is_list() ? item.front().NamedType() : name; }
  // As written in GraphQL ("[String!]!").
  std::string ToString() const;
};

struct Argument {
  std::string name;
  Value value;
  Location location;
};

struct Directive {
  std::string name;
  std::vector<Argument> arguments;
  Location location;
};

// One selection of a selection set.
struct Selection {
  enum class Kind { kField, kFragmentSpread, kInlineFragment };
  Kind kind = Kind::kField;
  std::string alias;           // kField: empty when there is none
  std::string name;            // kField: the field; kFragmentSpread: the fragment
  std::string type_condition;  // kInlineFragment: empty when there is none
  std::vector<Argument> arguments;
  std::vector<Directive> directives;
  bool has_selections = false;  // kField: written with `{...}`
  std::vector<Selection> selections;
  Location location;

  // The key the field's value has in the response.
  const std::string& ResponseKey() const { return alias.empty() ? name : alias; }
};

struct VariableDefinition {
  std::string name;  // without `$`
  TypeRef type;
  std::optional<Value> default_value;
  Location location;
};

struct Operation {
  std::string type = "query";  // "query", "mutation" or "subscription"
  std::string name;            // empty when anonymous
  std::vector<VariableDefinition> variables;
  std::vector<Directive> directives;
  std::vector<Selection> selections;
  Location location;
};

struct Fragment {
  std::string name;
  std::string type_condition;
  std::vector<Directive> directives;
  std::vector<Selection> selections;
  Location location;
};

struct Document {
  std::vector<Operation> operations;  // in document order
  std::vector<Fragment> fragments;

  const Fragment* FindFragment(std::string_view name) const;
};

struct ParseOptions {
  // Selection sets, list and object values and list types nested in one
  // another, counted together. MLflow's UI nests selections 6 deep.
  int max_nesting = 64;
  // Operations and fragments together. Fragments spread one another, and
  // validation and execution follow a chain of them recursively.
  int max_definitions = 500;
};

// Parses an executable document; throws slipway::Error on a syntax error.
Document ParseDocument(std::string_view text, const ParseOptions& options = {});

// Type system definitions, as the schema's text is written (graphql_schema.h
// builds the schema from them). Descriptions and directive definitions are
// read and dropped.
struct InputValueDefinition {
  std::string name;
  TypeRef type;
  std::optional<Value> default_value;
};

struct FieldDefinition {
  std::string name;
  TypeRef type;
  std::vector<InputValueDefinition> arguments;
};

struct TypeDefinition {
  enum class Kind { kScalar, kEnum, kObject, kInputObject };
  Kind kind = Kind::kScalar;
  std::string name;
  std::vector<FieldDefinition> fields;             // kObject
  std::vector<InputValueDefinition> input_fields;  // kInputObject
  std::vector<std::string> enum_values;            // kEnum
};

// Parses `scalar`, `type`, `input`, `enum` and `directive` definitions;
// throws slipway::Error on a syntax error or anything else.
std::vector<TypeDefinition> ParseTypeSystem(std::string_view text);

// MLflow's limits on a query's shape (mlflow/server/graphql/
// graphql_no_batching.py): depth and total selections are fixed, root
// fields and aliases configurable.
struct SafetyLimits {
  static constexpr int kMaxDepth = 10;
  static constexpr int kMaxSelections = 1000;
  int max_root_fields = 10;
  int max_aliases = 10;

  // MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS and MLFLOW_SERVER_GRAPHQL_MAX_ALIASES
  // when set to a positive integer, 10 otherwise.
  static SafetyLimits FromEnvironment();
};

// MLflow's scan_query, run before validation: over every operation (and the
// fragments they spread), each level's fields collected with the inline
// fragments and spreads at that level flattened in. Returns MLflow's message
// for the first limit exceeded, nullopt when the document is within them.
std::optional<std::string> CheckQuerySafety(const Document& document, const SafetyLimits& limits);

}  // namespace slipway::http::graphql
