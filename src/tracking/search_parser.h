// The syntax of MLflow's search filters and order_by terms, without their
// meaning: a hand-written tokenizer and parser that turn text into raw
// clauses (an identifier, an operator, a value). What each search allows is
// checked afterwards (search_filter.cc, search_order_by.cc). For the files of
// the search grammar only; other code includes tracking/search_filter.h.
//
// Plain values and pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tracking/search_filter.h"

namespace slipway::tracking::search_internal {

// Characters of identifiers, outside quotes: letters, digits, _ . $ and
// any byte >= 0x80.
bool IsBareChar(char c);
bool IsSpace(char c);
bool IsDigit(char c);
std::string Upper(std::string_view s);
// 's' in single quotes, as MLflow's messages quote values.
std::string Quote(std::string_view s);

// A piece of an identifier: a run of bare characters or one quoted part.
struct IdentPiece {
  std::string text;  // unescaped
  bool quoted = false;
};

struct RawIdentifier {
  std::string source;  // as written
  bool has_entity = false;
  std::string entity;
  std::string key;
};

struct RawOp {
  std::optional<CompareOp> op;  // empty for text that is no operator we know (`==`, `<>`)
  std::string text;             // as MLflow names it: `=`, `LIKE`, `NOT IN`, ...
};

enum class ValueKind { kNone, kNumber, kString, kList, kBare };

struct RawValue {
  ValueKind kind = ValueKind::kNone;
  std::string source;  // as written
  double number = 0;
  bool integral = false;  // a number written without `.` or exponent
  std::string str;
  std::vector<std::string> list;
};

struct RawClause {
  RawIdentifier ident;
  RawOp op;
  RawValue value;
};

inline constexpr std::string_view OpText(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return "=";
    case CompareOp::kNe:
      return "!=";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
    case CompareOp::kLike:
      return "LIKE";
    case CompareOp::kILike:
      return "ILIKE";
    case CompareOp::kIn:
      return "IN";
    case CompareOp::kNotIn:
      return "NOT IN";
    case CompareOp::kIsNull:
      return "IS NULL";
    case CompareOp::kIsNotNull:
      return "IS NOT NULL";
  }
  return "?";
}

// `clause (AND clause)*`, or nothing; throws INVALID_PARAMETER_VALUE with
// MLflow's wording for text that is not one.
std::vector<RawClause> ParseFilterClauses(std::string_view filter);
// `identifier [ASC|DESC]` for one order_by term; true for ascending.
std::pair<RawIdentifier, bool> ParseOrderTerm(std::string_view clause);

}  // namespace slipway::tracking::search_internal
