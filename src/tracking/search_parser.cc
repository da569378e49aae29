// The syntax of search filters and order_by terms. MLflow tokenizes with
// sqlparse; this parser accepts the same shapes: identifiers made of bare
// characters and `backtick` or "double" quoted pieces, comparison operators,
// numbers, quoted strings and ('a', 'b') lists, joined by AND. It knows
// nothing of entities; the Resolve* functions of search_filter.cc and
// search_order_by.cc check a clause against the rules of one search. A Parser
// reads one input on one thread; the functions are thread-safe.
#include "tracking/search_parser.h"

#include <cctype>
#include <cstdlib>

#include "core/error.h"

namespace slipway::tracking::search_internal {

bool IsBareChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || c == '.' || c == '$' || u >= 0x80;
}

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

namespace {

[[noreturn]] void ThrowBadIdentifier(std::string_view source) {
  ThrowInvalid("Invalid identifier " + Quote(source) +
               ". Columns should be specified as 'attribute.<key>', 'metric.<key>', "
               "'tag.<key>', 'dataset.<key>', or 'param.<key>'; put keys with other "
               "characters in backticks, e.g. tags.`my key`.");
}

// One name from pieces: a single quoted piece, or bare text only.
std::optional<std::string> JoinNamePieces(const std::vector<IdentPiece>& pieces) {
  std::vector<IdentPiece> nonempty;
  for (const auto& p : pieces) {
    if (p.quoted || !p.text.empty()) nonempty.push_back(p);
  }
  if (nonempty.size() == 1 && nonempty[0].quoted) return nonempty[0].text;
  std::string out;
  for (const auto& p : nonempty) {
    if (p.quoted) return std::nullopt;
    out += p.text;
  }
  return out;
}

// Splits `entity.key` at the first dot outside quotes; keys may hold more dots.
RawIdentifier SplitIdentifier(const std::vector<IdentPiece>& pieces, std::string_view source) {
  RawIdentifier id;
  id.source = std::string(source);
  std::vector<IdentPiece> left;
  std::vector<IdentPiece> right;
  bool split = false;
  for (const auto& p : pieces) {
    if (split) {
      right.push_back(p);
      continue;
    }
    const size_t dot = p.quoted ? std::string::npos : p.text.find('.');
    if (dot == std::string::npos) {
      left.push_back(p);
    } else {
      left.push_back({p.text.substr(0, dot), false});
      right.push_back({p.text.substr(dot + 1), false});
      split = true;
    }
  }
  const auto left_name = JoinNamePieces(left);
  if (!left_name) ThrowBadIdentifier(source);
  if (split) {
    const auto right_name = JoinNamePieces(right);
    if (!right_name) ThrowBadIdentifier(source);
    id.has_entity = true;
    id.entity = *left_name;
    id.key = *right_name;
  } else {
    id.key = *left_name;
  }
  if (id.key.empty() || (id.has_entity && id.entity.empty())) ThrowBadIdentifier(source);
  return id;
}

class Parser {
 public:
  explicit Parser(std::string_view input) : in_(input) {}

  // `clause (AND clause)*`, or nothing.
  std::vector<RawClause> ParseFilter() {
    std::vector<RawClause> clauses;
    SkipSpace();
    if (AtEnd()) return clauses;
    while (true) {
      clauses.push_back(ParseClause());
      SkipSpace();
      if (AtEnd()) return clauses;
      CheckNoSemicolon();
      const size_t start = pos_;
      const std::string word = Upper(ScanWord());
      if (word != "AND") {
        pos_ = start;
        InvalidClause(NextToken(), word == "OR" ? "OR is not supported: join conditions with AND."
                                                : "Expected AND between conditions.");
      }
      SkipSpace();
      if (AtEnd()) InvalidClause("AND", "The filter ends with AND.");
    }
  }

  // `identifier [ASC|DESC]` for one order_by term.
  std::pair<RawIdentifier, bool> ParseOrderTerm() {
    const auto bad = [&]() {
      ThrowInvalid("Invalid order_by clause " + Quote(in_) + ". Could not be parsed.");
    };
    SkipSpace();
    const size_t start = pos_;
    const auto pieces = ScanIdentifierPieces();
    if (pieces.empty()) bad();
    RawIdentifier id = SplitIdentifier(pieces, in_.substr(start, pos_ - start));
    bool ascending = true;
    SkipSpace();
    if (!AtEnd()) {
      const std::string direction = Upper(ScanWord());
      if (direction.empty()) bad();
      if (direction != "ASC" && direction != "DESC") {
        ThrowInvalid("Invalid ordering key in order_by clause " + Quote(in_) +
                     ". Expected ASC or DESC.");
      }
      ascending = direction == "ASC";
      SkipSpace();
      if (!AtEnd()) bad();
    }
    return {std::move(id), ascending};
  }

 private:
  bool AtEnd() const { return pos_ >= in_.size(); }
  char Peek() const { return AtEnd() ? '\0' : in_[pos_]; }

  void SkipSpace() {
    while (!AtEnd() && IsSpace(in_[pos_])) ++pos_;
  }

  // The text from here to the next space, for error messages.
  std::string NextToken() const {
    size_t end = pos_;
    while (end < in_.size() && !IsSpace(in_[end])) ++end;
    return std::string(in_.substr(pos_, end - pos_));
  }

  std::string ScanWord() {
    const size_t start = pos_;
    while (!AtEnd() && std::isalpha(static_cast<unsigned char>(in_[pos_]))) ++pos_;
    return std::string(in_.substr(start, pos_ - start));
  }

  [[noreturn]] void InvalidClause(std::string_view token, std::string_view why) {
    ThrowInvalid("Invalid clause(s) in filter string: " + Quote(token) + ". " + std::string(why));
  }

  void CheckNoSemicolon() {
    if (Peek() == ';') {
      ThrowInvalid("Search filter contained multiple expression " + Quote(in_) +
                   ". Provide AND-ed expression list.");
    }
  }

  // Quoted text from the opening quote here. A doubled quote, or a backslash
  // before the quote, stands for the quote itself.
  std::string ScanQuoted() {
    const size_t start = pos_;
    const char q = in_[pos_++];
    std::string out;
    while (true) {
      if (AtEnd()) {
        ThrowInvalid("Invalid filter " + Quote(in_) + ": the quoted text " +
                     std::string(in_.substr(start)) + " is not closed.");
      }
      const char c = in_[pos_++];
      if (c == '\\' && Peek() == q) {
        out += q;
        ++pos_;
      } else if (c == q) {
        if (Peek() != q) return out;
        out += q;
        ++pos_;
      } else {
        out += c;
      }
    }
  }

  // Bare characters and quoted pieces with no space between them, e.g.
  // metrics.rmse, tags.`my key`, `run name`.
  std::vector<IdentPiece> ScanIdentifierPieces() {
    std::vector<IdentPiece> pieces;
    while (!AtEnd()) {
      const char c = in_[pos_];
      if (c == '`' || c == '"') {
        pieces.push_back({ScanQuoted(), true});
      } else if (IsBareChar(c)) {
        const size_t start = pos_;
        while (!AtEnd() && IsBareChar(in_[pos_])) ++pos_;
        pieces.push_back({std::string(in_.substr(start, pos_ - start)), false});
      } else {
        break;
      }
    }
    return pieces;
  }

  RawClause ParseClause() {
    CheckNoSemicolon();
    RawClause clause;
    const size_t start = pos_;
    const auto pieces = ScanIdentifierPieces();
    if (pieces.empty()) {
      InvalidClause(NextToken(), "Expected a condition such as metrics.rmse < 0.5.");
    }
    if (pieces.size() == 1 && !pieces[0].quoted) {
      const std::string word = Upper(pieces[0].text);
      if (word == "AND" || word == "OR" || word == "NOT") {
        InvalidClause(pieces[0].text, "Expected a condition such as metrics.rmse < 0.5.");
      }
    }
    clause.ident = SplitIdentifier(pieces, in_.substr(start, pos_ - start));
    SkipSpace();
    clause.op = ParseOp(clause.ident.source);
    if (clause.op.op == CompareOp::kIsNull || clause.op.op == CompareOp::kIsNotNull) return clause;
    SkipSpace();
    clause.value = ParseValue(clause.ident.source, clause.op.text);
    return clause;
  }

  RawOp ParseOp(const std::string& ident) {
    const size_t start = pos_;
    while (!AtEnd() && std::string_view("<>=!").find(Peek()) != std::string_view::npos) ++pos_;
    if (pos_ > start) {
      RawOp op{std::nullopt, std::string(in_.substr(start, pos_ - start))};
      for (const CompareOp c : {CompareOp::kEq, CompareOp::kNe, CompareOp::kLt, CompareOp::kLe,
                                CompareOp::kGt, CompareOp::kGe}) {
        if (op.text == OpText(c)) op.op = c;
      }
      return op;
    }
    const std::string word = Upper(ScanWord());
    if (word == "LIKE") return {CompareOp::kLike, word};
    if (word == "ILIKE") return {CompareOp::kILike, word};
    if (word == "IN") return {CompareOp::kIn, word};
    if (word == "NOT") {
      SkipSpace();
      if (Upper(ScanWord()) == "IN") return {CompareOp::kNotIn, "NOT IN"};
    } else if (word == "IS") {
      SkipSpace();
      std::string next = Upper(ScanWord());
      const bool negated = next == "NOT";
      if (negated) {
        SkipSpace();
        next = Upper(ScanWord());
      }
      if (next == "NULL") {
        return negated ? RawOp{CompareOp::kIsNotNull, "IS NOT NULL"}
                       : RawOp{CompareOp::kIsNull, "IS NULL"};
      }
    }
    pos_ = start;
    if (AtEnd()) InvalidClause(ident, "Expected a comparison operator and a value after it.");
    ThrowInvalid("Invalid comparison clause. Expected a comparison operator after " + Quote(ident) +
                 ", found " + Quote(NextToken()) + ".");
  }

  RawValue ParseValue(const std::string& ident, const std::string& op) {
    RawValue v;
    const size_t start = pos_;
    const char c = Peek();
    if (c == '\'' || c == '"') {
      v.kind = ValueKind::kString;
      v.str = ScanQuoted();
    } else if (c == '(') {
      v.kind = ValueKind::kList;
      ParseList(&v);
    } else if (ScanNumber(&v)) {
      v.kind = ValueKind::kNumber;
    } else if (IsBareChar(c) || c == '`') {
      v.kind = ValueKind::kBare;
      ScanIdentifierPieces();
    } else {
      InvalidClause(ident + " " + op, AtEnd() ? "Expected a value after " + Quote(op) + "."
                                              : "Expected a value after " + Quote(op) + ", found " +
                                                    Quote(NextToken()) + ".");
    }
    v.source = std::string(in_.substr(start, pos_ - start));
    return v;
  }

  // [+-]digits[.digits][e[+-]digits] or [+-].digits[e...], not followed by a
  // bare character (`1abc` is a bare word, not a number).
  bool ScanNumber(RawValue* v) {
    size_t i = pos_;
    if (i < in_.size() && (in_[i] == '+' || in_[i] == '-')) ++i;
    size_t digits = 0;
    for (; i < in_.size() && IsDigit(in_[i]); ++i) ++digits;
    bool integral = true;
    if (i < in_.size() && in_[i] == '.') {
      integral = false;
      for (++i; i < in_.size() && IsDigit(in_[i]); ++i) ++digits;
    }
    if (digits == 0) return false;
    if (i < in_.size() && (in_[i] == 'e' || in_[i] == 'E')) {
      size_t j = i + 1;
      if (j < in_.size() && (in_[j] == '+' || in_[j] == '-')) ++j;
      size_t exp_digits = 0;
      for (; j < in_.size() && IsDigit(in_[j]); ++j) ++exp_digits;
      if (exp_digits == 0) return false;
      integral = false;
      i = j;
    }
    if (i < in_.size() && IsBareChar(in_[i])) return false;
    const std::string text(in_.substr(pos_, i - pos_));
    v->number = std::strtod(text.c_str(), nullptr);
    v->integral = integral;
    pos_ = i;
    return true;
  }

  void ParseList(RawValue* v) {
    const size_t start = pos_++;
    bool non_string = false;
    bool expect_item = true;
    while (true) {
      SkipSpace();
      if (AtEnd()) IllFormedList();
      const char c = Peek();
      if (c == ')') {
        ++pos_;
        break;
      }
      if (c == ',') {
        if (expect_item) IllFormedList();
        expect_item = true;
        ++pos_;
        continue;
      }
      if (!expect_item) IllFormedList();
      expect_item = false;
      if (c == '\'' || c == '"') {
        v->list.push_back(ScanQuoted());
        continue;
      }
      RawValue ignored;
      if (!ScanNumber(&ignored)) IllFormedList();
      non_string = true;
    }
    if (non_string) {
      ThrowInvalid(
          "While parsing a list in the query, expected string value, punctuation, or "
          "whitespace, but got different type in list: " +
          std::string(in_.substr(start, pos_ - start)));
    }
    if (v->list.empty()) {
      ThrowInvalid(
          "While parsing a list in the query, expected a non-empty list of string values, but "
          "got empty list");
    }
  }

  [[noreturn]] static void IllFormedList() {
    ThrowInvalid(
        "While parsing a list in the query, expected a non-empty list of string values, but got "
        "ill-formed list.");
  }

  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<RawClause> ParseFilterClauses(std::string_view filter) {
  return Parser(filter).ParseFilter();
}

std::pair<RawIdentifier, bool> ParseOrderTerm(std::string_view clause) {
  return Parser(clause).ParseOrderTerm();
}

}  // namespace slipway::tracking::search_internal
