#include "http/graphql_schema.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

#include "core/error.h"

namespace slipway::http::graphql {
namespace {

using Kind = TypeDefinition::Kind;

bool IsLeaf(const TypeDefinition& type) {
  return type.kind == Kind::kScalar || type.kind == Kind::kEnum;
}

bool IsInput(const TypeDefinition& type) { return type.kind != Kind::kObject; }

const InputValueDefinition* FindInputValue(const std::vector<InputValueDefinition>& values,
                                           std::string_view name) {
  for (const InputValueDefinition& value : values) {
    if (value.name == name) return &value;
  }
  return nullptr;
}

// A literal as GraphQL prints it (for messages).
std::string Print(const Value& value) {
  switch (value.kind) {
    case Value::Kind::kVariable:
      return "$" + value.text;
    case Value::Kind::kString:
      return Json(value.text).dump(-1, ' ', false, Json::error_handler_t::replace);
    case Value::Kind::kNull:
      return "null";
    case Value::Kind::kList: {
      std::string out = "[";
      for (size_t i = 0; i < value.items.size(); ++i) {
        out += (i > 0 ? ", " : "") + Print(value.items[i]);
      }
      return out + "]";
    }
    case Value::Kind::kObject: {
      std::string out = "{";
      for (size_t i = 0; i < value.fields.size(); ++i) {
        out += (i > 0 ? ", " : "") + value.fields[i].first + ": " + Print(value.fields[i].second);
      }
      return out + "}";
    }
    default:
      return value.text;
  }
}

// A JSON value as graphql-core's inspect() prints a Python value.
std::string Inspect(const Json& value) {
  switch (value.type()) {
    case Json::value_t::string:
      return "'" + value.get<std::string>() + "'";
    case Json::value_t::null:
      return "None";
    case Json::value_t::boolean:
      return value.get<bool>() ? "True" : "False";
    case Json::value_t::array: {
      std::string out = "[";
      for (size_t i = 0; i < value.size(); ++i) out += (i > 0 ? ", " : "") + Inspect(value[i]);
      return out + "]";
    }
    case Json::value_t::object: {
      std::string out = "{";
      bool first = true;
      for (const auto& [key, item] : value.items()) {
        out += (first ? "'" : ", '") + key + "': " + Inspect(item);
        first = false;
      }
      return out + "}";
    }
    default:
      return value.dump();
  }
}

[[noreturn]] void Fail(std::string message) {
  throw Error(ErrorCode::kInvalidParameterValue, std::move(message));
}

std::optional<int64_t> ParseInt64(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// ---- Input coercion --------------------------------------------------------

// A built-in or custom scalar from a JSON value (a variable's value), or the
// reason it cannot be one.
Json CoerceScalarValue(const std::string& scalar, const Json& value) {
  if (scalar == "String" || scalar == "ID") {
    if (value.is_string()) return value;
    if (scalar == "ID" && value.is_number_integer()) return value.dump();
    Fail(scalar + " cannot represent a non string value: " + Inspect(value));
  }
  if (scalar == "Int") {
    if (value.is_number_integer() ||
        (value.is_number_float() && std::isfinite(value.get<double>()) &&
         std::trunc(value.get<double>()) == value.get<double>())) {
      double number = value.get<double>();
      if (number < std::numeric_limits<int32_t>::min() ||
          number > std::numeric_limits<int32_t>::max()) {
        Fail("Int cannot represent non 32-bit signed integer value: " + Inspect(value));
      }
      return static_cast<int64_t>(number);
    }
    Fail("Int cannot represent non-integer value: " + Inspect(value));
  }
  if (scalar == "Float") {
    if (value.is_number()) return value.get<double>();
    Fail("Float cannot represent non numeric value: " + Inspect(value));
  }
  if (scalar == "Boolean") {
    if (value.is_boolean()) return value;
    Fail("Boolean cannot represent a non boolean value: " + Inspect(value));
  }
  if (scalar == "LongString") {  // MLflow's: int(value)
    if (value.is_number_integer()) return value.get<int64_t>();
    if (value.is_number_float() && std::isfinite(value.get<double>()) &&
        std::fabs(value.get<double>()) < 9.2e18) {
      return static_cast<int64_t>(value.get<double>());
    }
    if (value.is_string()) {
      if (auto number = ParseInt64(value.get_ref<const std::string&>())) return *number;
    }
    Fail("LongString cannot represent non-integer value: " + Inspect(value));
  }
  return value;  // a scalar this code does not know: passed through
}

class InputCoercion {
 public:
  explicit InputCoercion(const Schema& schema) : schema_(schema) {}

  // A variable's JSON value to `type` (graphql-core's coerce_input_value);
  // `path` names the place in the variable for messages.
  Json FromJson(const Json& value, const TypeRef& type, std::string& path) const {
    if (value.is_null()) {
      if (type.non_null)
        Fail("Expected non-nullable type '" + type.ToString() + "' not to be null.");
      return nullptr;
    }
    if (type.is_list()) {
      Json out = Json::array();
      if (!value.is_array()) {
        out.push_back(FromJson(value, type.item.front(), path));
        return out;
      }
      for (size_t i = 0; i < value.size(); ++i) {
        const size_t mark = path.size();
        path += "[" + std::to_string(i) + "]";
        out.push_back(FromJson(value[i], type.item.front(), path));
        path.resize(mark);
      }
      return out;
    }
    const TypeDefinition* named = schema_.FindType(type.name);
    if (named == nullptr) Fail("Unknown type '" + type.name + "'.");
    switch (named->kind) {
      case Kind::kScalar:
        return CoerceScalarValue(named->name, value);
      case Kind::kEnum:
        if (value.is_string()) {
          for (const std::string& name : named->enum_values) {
            if (name == value.get_ref<const std::string&>()) return value;
          }
          Fail("Value '" + value.get<std::string>() + "' does not exist in '" + named->name +
               "' enum.");
        }
        Fail("Enum '" + named->name + "' cannot represent non-string value: " + Inspect(value) +
             ".");
      case Kind::kInputObject: {
        if (!value.is_object()) Fail("Expected type '" + named->name + "' to be a mapping.");
        Json out = Json::object();
        for (const auto& [key, item] : value.items()) {
          if (FindInputValue(named->input_fields, key) == nullptr) {
            Fail("Field '" + key + "' is not defined by type '" + named->name + "'.");
          }
        }
        for (const InputValueDefinition& field : named->input_fields) {
          auto it = value.find(field.name);
          if (it == value.end()) {
            if (field.default_value) {
              out[field.name] = FromLiteral(*field.default_value, field.type, nullptr).value();
            } else if (field.type.non_null) {
              Fail("Field '" + field.name + "' of required type '" + field.type.ToString() +
                   "' was not provided.");
            }
            continue;
          }
          const size_t mark = path.size();
          path += "." + field.name;
          out[field.name] = FromJson(*it, field.type, path);
          path.resize(mark);
        }
        return out;
      }
      case Kind::kObject:
        break;
    }
    Fail("Type '" + named->name + "' is not an input type.");
  }

  // A literal to `type`. Variables are taken from `variables` and coerced
  // again to the type of the place they are used in; nullopt when the
  // variable has no value (the argument or field is then left out). With
  // `variables` null (validation), a variable stands for a valid value.
  std::optional<Json> FromLiteral(const Value& value, const TypeRef& type,
                                  const Json* variables) const {
    if (value.kind == Value::Kind::kVariable) {
      if (variables == nullptr) return Json();
      auto it = variables->find(value.text);
      if (it == variables->end()) return std::nullopt;
      std::string path;
      try {
        return FromJson(*it, type, path);
      } catch (const Error& error) {
        Fail("Variable '$" + value.text + "' got invalid value " + Inspect(*it) + "; " +
             error.what());
      }
    }
    if (value.kind == Value::Kind::kNull) {
      if (type.non_null) Fail("Expected value of type '" + type.ToString() + "', found null.");
      return Json();
    }
    if (type.is_list()) {
      Json out = Json::array();
      if (value.kind != Value::Kind::kList) {
        out.push_back(FromLiteral(value, type.item.front(), variables).value_or(nullptr));
        return out;
      }
      for (const Value& item : value.items) {
        out.push_back(FromLiteral(item, type.item.front(), variables).value_or(nullptr));
      }
      return out;
    }
    const TypeDefinition* named = schema_.FindType(type.name);
    if (named == nullptr) Fail("Unknown type '" + type.name + "'.");
    const std::string printed = Print(value);
    switch (named->kind) {
      case Kind::kScalar:
        return ScalarLiteral(named->name, value, printed);
      case Kind::kEnum:
        if (value.kind != Value::Kind::kEnum) {
          Fail("Enum '" + named->name + "' cannot represent non-enum value: " + printed + ".");
        }
        for (const std::string& name : named->enum_values) {
          if (name == value.text) return Json(name);
        }
        Fail("Value '" + value.text + "' does not exist in '" + named->name + "' enum.");
      case Kind::kInputObject: {
        if (value.kind != Value::Kind::kObject) {
          Fail("Expected value of type '" + named->name + "', found " + printed + ".");
        }
        Json out = Json::object();
        for (const auto& [name, item] : value.fields) {
          const InputValueDefinition* field = FindInputValue(named->input_fields, name);
          if (field == nullptr) {
            Fail("Field '" + name + "' is not defined by type '" + named->name + "'.");
          }
          if (auto coerced = FromLiteral(item, field->type, variables)) out[name] = *coerced;
        }
        for (const InputValueDefinition& field : named->input_fields) {
          if (out.contains(field.name)) continue;
          if (field.default_value) {
            out[field.name] = FromLiteral(*field.default_value, field.type, nullptr).value();
          } else if (field.type.non_null) {
            Fail("Field '" + named->name + "." + field.name + "' of required type '" +
                 field.type.ToString() + "' was not provided.");
          }
        }
        return out;
      }
      case Kind::kObject:
        break;
    }
    Fail("Type '" + named->name + "' is not an input type.");
  }

 private:
  static Json ScalarLiteral(const std::string& scalar, const Value& value,
                            const std::string& printed) {
    using VK = Value::Kind;
    if (scalar == "String") {
      if (value.kind == VK::kString) return value.text;
      Fail("String cannot represent a non string value: " + printed);
    }
    if (scalar == "ID") {
      if (value.kind == VK::kString || value.kind == VK::kInt) return value.text;
      Fail("ID cannot represent a non-string and non-integer value: " + printed);
    }
    if (scalar == "Int") {
      if (value.kind == VK::kInt) {
        auto number = ParseInt64(value.text);
        if (!number || *number < std::numeric_limits<int32_t>::min() ||
            *number > std::numeric_limits<int32_t>::max()) {
          Fail("Int cannot represent non 32-bit signed integer value: " + printed);
        }
        return *number;
      }
      Fail("Int cannot represent non-integer value: " + printed);
    }
    if (scalar == "Float") {
      if (value.kind == VK::kInt || value.kind == VK::kFloat) return std::stod(value.text);
      Fail("Float cannot represent non numeric value: " + printed);
    }
    if (scalar == "Boolean") {
      if (value.kind == VK::kBoolean) return value.text == "true";
      Fail("Boolean cannot represent a non boolean value: " + printed);
    }
    if (scalar == "LongString") {  // MLflow's parse_literal: an IntValue only
      if (value.kind == VK::kInt) {
        if (auto number = ParseInt64(value.text)) return *number;
      }
      Fail("Expected value of type 'LongString', found " + printed + ".");
    }
    Fail("Unknown scalar type '" + scalar + "'.");
  }

  const Schema& schema_;
};

// ---- Validation ------------------------------------------------------------

// @component is MLflow's (its UI sends it on operations; ignored). MLflow's
// schema lists only it, so graphene refuses @skip and @include; Slipway
// serves them, a superset no MLflow client can depend on.
bool KnownDirective(std::string_view name) {
  return name == "skip" || name == "include" || name == "component";
}

class Validator {
 public:
  Validator(const Schema& schema, const Document& document)
      : schema_(schema), document_(document), coercion_(schema) {}

  std::vector<std::string> Run() {
    for (const Operation& operation : document_.operations) CheckOperation(operation);
    for (const Fragment& fragment : document_.fragments) CheckFragment(fragment);
    CheckFragmentCycles();
    return std::move(errors_);
  }

 private:
  void CheckOperation(const Operation& operation) {
    CheckDirectives(operation.directives);
    const TypeDefinition* root = schema_.RootType(operation.type);
    if (root == nullptr) {
      errors_.push_back("Schema is not configured to execute " + operation.type + " operation.");
      return;
    }
    std::set<std::string, std::less<>> defined;
    for (const VariableDefinition& variable : operation.variables) {
      if (!defined.insert(variable.name).second) {
        errors_.push_back("There can be only one variable named '$" + variable.name + "'.");
      }
      const TypeDefinition* type = schema_.FindType(variable.type.NamedType());
      if (type == nullptr) {
        errors_.push_back("Unknown type '" + variable.type.NamedType() + "'.");
      } else if (!IsInput(*type)) {
        errors_.push_back("Variable '$" + variable.name + "' cannot be non-input type '" +
                          variable.type.ToString() + "'.");
      } else if (variable.default_value) {
        CheckLiteral(*variable.default_value, variable.type);
      }
    }
    CheckSelections(operation.selections, *root);
    CheckVariableUses(operation, defined);
  }

  // Every variable the operation uses (also in the fragments it spreads) is
  // defined, and every one it defines is used.
  void CheckVariableUses(const Operation& operation,
                         const std::set<std::string, std::less<>>& defined) {
    std::vector<std::string> used;
    std::set<std::string_view> fragments;
    CollectVariables(operation.directives, used);
    CollectVariables(operation.selections, used, fragments);
    const std::string in_operation =
        operation.name.empty() ? "" : " by operation '" + operation.name + "'";
    std::set<std::string_view> reported;
    for (const std::string& name : used) {
      if (defined.count(name) == 0 && reported.insert(name).second) {
        errors_.push_back("Variable '$" + name + "' is not defined" + in_operation + ".");
      }
    }
    for (const VariableDefinition& variable : operation.variables) {
      if (std::find(used.begin(), used.end(), variable.name) == used.end()) {
        errors_.push_back("Variable '$" + variable.name + "' is never used" +
                          (operation.name.empty() ? "" : " in operation '" + operation.name + "'") +
                          ".");
      }
    }
  }

  static void CollectVariables(const Value& value, std::vector<std::string>& used) {
    if (value.kind == Value::Kind::kVariable) used.push_back(value.text);
    for (const Value& item : value.items) CollectVariables(item, used);
    for (const auto& field : value.fields) CollectVariables(field.second, used);
  }

  static void CollectVariables(const std::vector<Directive>& directives,
                               std::vector<std::string>& used) {
    for (const Directive& directive : directives) {
      for (const Argument& argument : directive.arguments) CollectVariables(argument.value, used);
    }
  }

  void CollectVariables(const std::vector<Selection>& selections, std::vector<std::string>& used,
                        std::set<std::string_view>& fragments) const {
    for (const Selection& selection : selections) {
      CollectVariables(selection.directives, used);
      for (const Argument& argument : selection.arguments) CollectVariables(argument.value, used);
      CollectVariables(selection.selections, used, fragments);
      if (selection.kind == Selection::Kind::kFragmentSpread &&
          fragments.insert(selection.name).second) {
        if (const Fragment* fragment = document_.FindFragment(selection.name)) {
          CollectVariables(fragment->directives, used);
          CollectVariables(fragment->selections, used, fragments);
        }
      }
    }
  }

  void CheckFragment(const Fragment& fragment) {
    CheckDirectives(fragment.directives);
    const TypeDefinition* type = schema_.FindType(fragment.type_condition);
    if (type == nullptr) {
      errors_.push_back("Unknown type '" + fragment.type_condition + "'.");
      return;
    }
    if (type->kind != Kind::kObject) {
      errors_.push_back("Fragment '" + fragment.name +
                        "' cannot condition on non composite type '" + type->name + "'.");
      return;
    }
    CheckSelections(fragment.selections, *type);
  }

  void CheckDirectives(const std::vector<Directive>& directives) {
    for (const Directive& directive : directives) {
      if (!KnownDirective(directive.name)) {
        errors_.push_back("Unknown directive '@" + directive.name + "'.");
        continue;
      }
      if (directive.name == "skip" || directive.name == "include") {
        bool has_if = false;
        for (const Argument& argument : directive.arguments) {
          if (argument.name != "if") {
            errors_.push_back("Unknown argument '" + argument.name + "' on directive '@" +
                              directive.name + "'.");
            continue;
          }
          has_if = true;
          TypeRef boolean{"Boolean", {}, true};
          CheckLiteral(argument.value, boolean);
        }
        if (!has_if) {
          errors_.push_back("Directive '@" + directive.name +
                            "' argument 'if' of type 'Boolean!' is required, but it was not "
                            "provided.");
        }
      }
    }
  }

  void CheckLiteral(const Value& value, const TypeRef& type) {
    try {
      coercion_.FromLiteral(value, type, nullptr);
    } catch (const Error& error) {
      errors_.push_back(error.what());
    }
  }

  void CheckSelections(const std::vector<Selection>& selections, const TypeDefinition& parent) {
    for (const Selection& selection : selections) {
      CheckDirectives(selection.directives);
      switch (selection.kind) {
        case Selection::Kind::kField:
          CheckField(selection, parent);
          break;
        case Selection::Kind::kFragmentSpread: {
          const Fragment* fragment = document_.FindFragment(selection.name);
          if (fragment == nullptr) {
            errors_.push_back("Unknown fragment '" + selection.name + "'.");
          } else if (fragment->type_condition != parent.name &&
                     schema_.FindType(fragment->type_condition) != nullptr) {
            errors_.push_back("Fragment '" + selection.name +
                              "' cannot be spread here as objects of type '" + parent.name +
                              "' can never be of type '" + fragment->type_condition + "'.");
          }
          break;
        }
        case Selection::Kind::kInlineFragment: {
          const TypeDefinition* type = &parent;
          if (!selection.type_condition.empty()) {
            type = schema_.FindType(selection.type_condition);
            if (type == nullptr) {
              errors_.push_back("Unknown type '" + selection.type_condition + "'.");
              break;
            }
            if (type != &parent) {
              errors_.push_back("Fragment cannot be spread here as objects of type '" +
                                parent.name + "' can never be of type '" + type->name + "'.");
              break;
            }
          }
          CheckSelections(selection.selections, *type);
          break;
        }
      }
    }
  }

  void CheckField(const Selection& field, const TypeDefinition& parent) {
    if (field.name == "__typename") {
      for (const Argument& argument : field.arguments) {
        errors_.push_back("Unknown argument '" + argument.name + "' on field '" + parent.name +
                          ".__typename'.");
      }
      if (field.has_selections) {
        errors_.push_back(
            "Field '__typename' must not have a selection since type 'String!' has no "
            "subfields.");
      }
      return;
    }
    const FieldDefinition* definition = Schema::FindField(parent, field.name);
    if (definition == nullptr) {
      errors_.push_back("Cannot query field '" + field.name + "' on type '" + parent.name + "'.");
      return;
    }
    std::set<std::string_view> given;
    for (const Argument& argument : field.arguments) {
      const InputValueDefinition* declared = FindInputValue(definition->arguments, argument.name);
      if (declared == nullptr) {
        errors_.push_back("Unknown argument '" + argument.name + "' on field '" + parent.name +
                          "." + field.name + "'.");
        continue;
      }
      given.insert(argument.name);
      CheckLiteral(argument.value, declared->type);
    }
    for (const InputValueDefinition& declared : definition->arguments) {
      if (declared.type.non_null && !declared.default_value && given.count(declared.name) == 0) {
        errors_.push_back("Field '" + field.name + "' argument '" + declared.name + "' of type '" +
                          declared.type.ToString() + "' is required, but it was not provided.");
      }
    }
    const TypeDefinition* type = schema_.FindType(definition->type.NamedType());
    if (type == nullptr) return;  // FromText checked every reference
    if (IsLeaf(*type) && field.has_selections) {
      errors_.push_back("Field '" + field.name + "' must not have a selection since type '" +
                        definition->type.ToString() + "' has no subfields.");
    } else if (!IsLeaf(*type) && !field.has_selections) {
      errors_.push_back("Field '" + field.name + "' of type '" + definition->type.ToString() +
                        "' must have a selection of subfields. Did you mean '" + field.name +
                        " { ... }'?");
    } else if (!IsLeaf(*type)) {
      CheckSelections(field.selections, *type);
    }
  }

  // A fragment that spreads itself, directly or through others, would make
  // execution loop.
  void CheckFragmentCycles() {
    std::set<std::string_view> done;
    for (const Fragment& fragment : document_.fragments) {
      std::vector<std::string_view> path;
      FindCycle(fragment, path, done);
    }
  }

  void FindCycle(const Fragment& fragment, std::vector<std::string_view>& path,
                 std::set<std::string_view>& done) {
    if (done.count(fragment.name) != 0) return;
    for (size_t i = 0; i < path.size(); ++i) {
      if (path[i] != fragment.name) continue;
      std::string via;
      for (size_t j = i + 1; j < path.size(); ++j) {
        via += (via.empty() ? " via " : ", ") + std::string(path[j]);
      }
      errors_.push_back("Cannot spread fragment '" + fragment.name + "' within itself" + via + ".");
      return;
    }
    path.push_back(fragment.name);
    std::vector<const Selection*> spreads;
    CollectSpreads(fragment.selections, spreads);
    for (const Selection* spread : spreads) {
      if (const Fragment* next = document_.FindFragment(spread->name)) {
        FindCycle(*next, path, done);
      }
    }
    path.pop_back();
    done.insert(fragment.name);
  }

  static void CollectSpreads(const std::vector<Selection>& selections,
                             std::vector<const Selection*>& spreads) {
    for (const Selection& selection : selections) {
      if (selection.kind == Selection::Kind::kFragmentSpread) spreads.push_back(&selection);
      CollectSpreads(selection.selections, spreads);
    }
  }

  const Schema& schema_;
  const Document& document_;
  InputCoercion coercion_;
  std::vector<std::string> errors_;
};

// ---- Execution -------------------------------------------------------------

// The value of a field whose parent leaves it out, as a proto3 message reads
// an unset field.
Json DefaultValue(const Schema& schema, const TypeRef& type) {
  if (type.is_list()) return Json::array();
  const TypeDefinition* named = schema.FindType(type.name);
  if (named == nullptr || named->kind == Kind::kEnum) return nullptr;
  if (named->kind == Kind::kObject) return Json::object();
  if (named->name == "String" || named->name == "ID") return "";
  if (named->name == "Boolean") return false;
  if (named->name == "Float") return 0.0;
  return 0;  // Int, LongString
}

OrderedJson SerializeScalar(const std::string& scalar, const Json& value) {
  if (value.is_null()) return nullptr;
  if (scalar == "Float") {
    if (value.is_number()) {
      double number = value.get<double>();
      if (!std::isfinite(number)) return nullptr;
      return number;
    }
    return nullptr;  // "NaN", "Infinity", "-Infinity": graphene cannot represent them
  }
  if (scalar == "LongString" || scalar == "ID") {
    if (value.is_number_integer()) return value.dump();
    if (value.is_number_float()) return std::to_string(static_cast<int64_t>(value.get<double>()));
    if (value.is_string()) return value.get<std::string>();
    return value.dump();
  }
  if (scalar == "String") {
    if (value.is_string()) return value.get<std::string>();
    return value.dump();
  }
  if (scalar == "Int") {
    if (value.is_number()) return static_cast<int64_t>(value.get<double>());
    return nullptr;
  }
  if (scalar == "Boolean") {
    if (value.is_boolean()) return value.get<bool>();
    return nullptr;
  }
  return OrderedJson::parse(value.dump());
}

class Executor {
 public:
  Executor(const Schema& schema, const Document& document, Json variables,
           std::vector<std::string>& errors)
      : schema_(schema),
        document_(document),
        variables_(std::move(variables)),
        coercion_(schema),
        errors_(errors) {}

  OrderedJson Object(const std::vector<const std::vector<Selection>*>& selection_sets,
                     const TypeDefinition& type, const Json& source) {
    std::vector<std::pair<std::string, std::vector<const Selection*>>> grouped;
    for (const std::vector<Selection>* selections : selection_sets) {
      std::set<std::string_view> visited;
      Collect(*selections, type, grouped, visited);
    }
    OrderedJson out = OrderedJson::object();
    for (const auto& [key, nodes] : grouped) out[key] = Field(type, source, nodes);
    return out;
  }

 private:
  void Collect(const std::vector<Selection>& selections, const TypeDefinition& type,
               std::vector<std::pair<std::string, std::vector<const Selection*>>>& grouped,
               std::set<std::string_view>& visited) {
    for (const Selection& selection : selections) {
      if (!Included(selection.directives)) continue;
      switch (selection.kind) {
        case Selection::Kind::kField: {
          const std::string& key = selection.ResponseKey();
          auto it = std::find_if(grouped.begin(), grouped.end(),
                                 [&key](const auto& entry) { return entry.first == key; });
          if (it == grouped.end()) {
            grouped.push_back({key, {&selection}});
          } else {
            it->second.push_back(&selection);
          }
          break;
        }
        case Selection::Kind::kInlineFragment:
          if (selection.type_condition.empty() || selection.type_condition == type.name) {
            Collect(selection.selections, type, grouped, visited);
          }
          break;
        case Selection::Kind::kFragmentSpread: {
          if (!visited.insert(selection.name).second) break;
          const Fragment* fragment = document_.FindFragment(selection.name);
          if (fragment != nullptr && fragment->type_condition == type.name) {
            Collect(fragment->selections, type, grouped, visited);
          }
          break;
        }
      }
    }
  }

  // @skip(if:) and @include(if:).
  bool Included(const std::vector<Directive>& directives) const {
    for (const Directive& directive : directives) {
      if (directive.name != "skip" && directive.name != "include") continue;
      for (const Argument& argument : directive.arguments) {
        if (argument.name != "if") continue;
        TypeRef boolean{"Boolean", {}, true};
        std::optional<Json> value;
        try {
          value = coercion_.FromLiteral(argument.value, boolean, &variables_);
        } catch (const Error& error) {
          errors_.push_back(error.what());
          return false;
        }
        const bool condition = value && value->is_boolean() && value->get<bool>();
        if (directive.name == "skip" && condition) return false;
        if (directive.name == "include" && !condition) return false;
      }
    }
    return true;
  }

  OrderedJson Field(const TypeDefinition& parent, const Json& source,
                    const std::vector<const Selection*>& nodes) {
    const Selection& node = *nodes.front();
    if (node.name == "__typename") return parent.name;
    const FieldDefinition* definition = Schema::FindField(parent, node.name);
    if (definition == nullptr) return nullptr;  // validation has reported it
    Json value;
    try {
      if (const Resolver* resolver = schema_.FindResolver(parent.name, node.name)) {
        value = (*resolver)(source, Arguments(*definition, node));
      } else {
        auto it = source.is_object() ? source.find(SnakeCase(node.name)) : source.end();
        value = source.is_object() && it != source.end() ? *it
                                                         : DefaultValue(schema_, definition->type);
      }
    } catch (const Error& error) {
      errors_.push_back(error.what());
      return nullptr;
    }
    return Complete(definition->type, value, nodes);
  }

  Json Arguments(const FieldDefinition& definition, const Selection& node) const {
    Json arguments = Json::object();
    for (const Argument& argument : node.arguments) {
      const InputValueDefinition* declared = FindInputValue(definition.arguments, argument.name);
      if (declared == nullptr) continue;
      if (auto value = coercion_.FromLiteral(argument.value, declared->type, &variables_)) {
        arguments[argument.name] = std::move(*value);
      }
    }
    for (const InputValueDefinition& declared : definition.arguments) {
      if (!arguments.contains(declared.name) && declared.default_value) {
        arguments[declared.name] =
            coercion_.FromLiteral(*declared.default_value, declared.type, nullptr).value();
      }
    }
    return arguments;
  }

  OrderedJson Complete(const TypeRef& type, const Json& value,
                       const std::vector<const Selection*>& nodes) {
    if (value.is_null()) return nullptr;
    if (type.is_list()) {
      OrderedJson out = OrderedJson::array();
      if (!value.is_array()) {
        out.push_back(Complete(type.item.front(), value, nodes));
        return out;
      }
      for (const Json& item : value) out.push_back(Complete(type.item.front(), item, nodes));
      return out;
    }
    const TypeDefinition* named = schema_.FindType(type.name);
    if (named == nullptr) return nullptr;
    switch (named->kind) {
      case Kind::kScalar:
        return SerializeScalar(named->name, value);
      case Kind::kEnum:
        return value.is_string() ? OrderedJson(value.get<std::string>()) : OrderedJson();
      case Kind::kObject: {
        std::vector<const std::vector<Selection>*> selection_sets;
        for (const Selection* node : nodes) selection_sets.push_back(&node->selections);
        return Object(selection_sets, *named, value);
      }
      case Kind::kInputObject:
        break;
    }
    return nullptr;
  }

  const Schema& schema_;
  const Document& document_;
  const Json variables_;
  InputCoercion coercion_;
  std::vector<std::string>& errors_;
};

// The operation's variables from the request's, with defaults applied
// (graphql-core's get_variable_values and its messages).
Json CoerceVariables(const Schema& schema, const Operation& operation, const Json& provided,
                     std::vector<std::string>& errors) {
  InputCoercion coercion(schema);
  Json values = Json::object();
  for (const VariableDefinition& variable : operation.variables) {
    const std::string type = variable.type.ToString();
    auto it = provided.is_object() ? provided.find(variable.name) : provided.end();
    const bool given = provided.is_object() && it != provided.end();
    try {
      if (!given) {
        if (variable.default_value) {
          values[variable.name] =
              coercion.FromLiteral(*variable.default_value, variable.type, nullptr).value();
        } else if (variable.type.non_null) {
          errors.push_back("Variable '$" + variable.name + "' of required type '" + type +
                           "' was not provided.");
        }
        continue;
      }
      if (it->is_null() && variable.type.non_null) {
        errors.push_back("Variable '$" + variable.name + "' of non-null type '" + type +
                         "' must not be null.");
        continue;
      }
      std::string path = variable.name;
      try {
        values[variable.name] = coercion.FromJson(*it, variable.type, path);
      } catch (const Error& error) {
        std::string at = path == variable.name ? "" : " at '" + path + "'";
        errors.push_back("Variable '$" + variable.name + "' got invalid value " + Inspect(*it) +
                         at + "; " + error.what());
      }
    } catch (const Error& error) {
      errors.push_back(error.what());
    }
  }
  return values;
}

}  // namespace

Schema Schema::FromText(std::string_view sdl) {
  Schema schema;
  std::vector<TypeDefinition> definitions;
  try {
    definitions = ParseTypeSystem(sdl);
  } catch (const Error& error) {
    throw std::logic_error(std::string("GraphQL schema text: ") + error.what());
  }
  for (const char* builtin : {"String", "Int", "Float", "Boolean", "ID"}) {
    TypeDefinition scalar;
    scalar.name = builtin;
    schema.types_.emplace(builtin, std::move(scalar));
  }
  for (TypeDefinition& definition : definitions) {
    std::string name = definition.name;
    if (!schema.types_.emplace(name, std::move(definition)).second) {
      throw std::logic_error("GraphQL schema text defines '" + name + "' twice");
    }
  }
  auto require = [&schema](const TypeRef& type, const std::string& where) {
    if (schema.FindType(type.NamedType()) == nullptr) {
      throw std::logic_error("GraphQL schema text: " + where + " names unknown type '" +
                             type.NamedType() + "'");
    }
  };
  for (const auto& [name, type] : schema.types_) {
    for (const FieldDefinition& field : type.fields) {
      require(field.type, name + "." + field.name);
      for (const InputValueDefinition& argument : field.arguments) {
        require(argument.type, name + "." + field.name + "(" + argument.name + ")");
      }
    }
    for (const InputValueDefinition& field : type.input_fields) {
      require(field.type, name + "." + field.name);
    }
  }
  if (schema.RootType("query") == nullptr) {
    throw std::logic_error("GraphQL schema text has no Query type");
  }
  return schema;
}

const TypeDefinition* Schema::FindType(std::string_view name) const {
  auto it = types_.find(name);
  return it == types_.end() ? nullptr : &it->second;
}

const FieldDefinition* Schema::FindField(const TypeDefinition& type, std::string_view name) {
  for (const FieldDefinition& field : type.fields) {
    if (field.name == name) return &field;
  }
  return nullptr;
}

const TypeDefinition* Schema::RootType(std::string_view operation_type) const {
  const TypeDefinition* type = nullptr;
  if (operation_type == "query") type = FindType("Query");
  if (operation_type == "mutation") type = FindType("Mutation");
  return type != nullptr && type->kind == Kind::kObject ? type : nullptr;
}

void Schema::SetResolver(const std::string& type, const std::string& field, Resolver resolver) {
  const TypeDefinition* definition = FindType(type);
  if (definition == nullptr || FindField(*definition, field) == nullptr) {
    throw std::logic_error("GraphQL resolver for unknown field " + type + "." + field);
  }
  resolvers_[{type, field}] = std::move(resolver);
}

const Resolver* Schema::FindResolver(std::string_view type, std::string_view field) const {
  auto it = resolvers_.find(std::pair<std::string, std::string>(type, field));
  return it == resolvers_.end() ? nullptr : &it->second;
}

std::vector<std::string> Validate(const Schema& schema, const Document& document) {
  return Validator(schema, document).Run();
}

ExecutionResult Execute(const Schema& schema, const Document& document,
                        const std::string& operation_name, const Json& variables) {
  ExecutionResult result;
  result.errors = Validate(schema, document);
  if (!result.errors.empty()) return result;
  const Operation* operation = nullptr;
  if (operation_name.empty()) {
    if (document.operations.size() == 1) {
      operation = &document.operations.front();
    } else if (document.operations.empty()) {
      result.errors.push_back("Must provide an operation.");
    } else {
      result.errors.push_back("Must provide operation name if query contains multiple operations.");
    }
  } else {
    for (const Operation& candidate : document.operations) {
      if (candidate.name == operation_name) operation = &candidate;
    }
    if (operation == nullptr) {
      result.errors.push_back("Unknown operation named '" + operation_name + "'.");
    }
  }
  if (operation == nullptr) return result;
  Json values = CoerceVariables(schema, *operation, variables, result.errors);
  if (!result.errors.empty()) return result;
  Executor executor(schema, document, std::move(values), result.errors);
  result.data =
      executor.Object({&operation->selections}, *schema.RootType(operation->type), Json::object());
  return result;
}

OrderedJson Respond(const Schema& schema, std::string_view query, const Json& variables,
                    const std::string& operation_name, const SafetyLimits& limits,
                    const ParseOptions& parse_options) {
  Document document = ParseDocument(query, parse_options);
  ExecutionResult result;
  if (std::optional<std::string> unsafe = CheckQuerySafety(document, limits)) {
    result.errors.push_back(std::move(*unsafe));
  } else {
    result = Execute(schema, document, operation_name, variables);
  }
  OrderedJson body = OrderedJson::object();
  body["data"] = std::move(result.data);
  body["errors"] = result.errors.empty() ? OrderedJson() : OrderedJson(result.errors);
  return body;
}

std::string SnakeCase(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 4);
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') {
      out += '_';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace slipway::http::graphql
