#include "tracking/search_filter.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <set>
#include <span>
#include <utility>

#include "core/error.h"

namespace slipway::tracking {
namespace {

// ---------------------------------------------------------------------------
// Syntax. MLflow tokenizes with sqlparse; this parser accepts the same shapes:
// identifiers made of bare characters and `backtick` or "double" quoted
// pieces, comparison operators, numbers, quoted strings and ('a', 'b') lists,
// joined by AND. It knows nothing of entities; the Resolve* functions below
// check a clause against the rules of one search.

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

constexpr std::string_view OpText(CompareOp op) {
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

// MLflow's message for a key ordered twice, with `order_by` as Python prints a list.
[[noreturn]] void ThrowDuplicateOrderBy(const std::vector<std::string>& order_by) {
  std::string list;
  for (const auto& s : order_by) list += (list.empty() ? "" : ", ") + Quote(s);
  ThrowInvalid("`order_by` contains duplicate fields: [" + list + "]");
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

constexpr std::string_view kRunOrderAttributes[] = {"artifact_uri", "end_time",   "run_id",
                                                    "run_name",     "start_time", "status",
                                                    "user_id",      "created",    "Created"};
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

std::string CanonicalRunAttribute(std::string_view key) {
  if (key == "created" || key == "Created") return "start_time";
  if (key == "run name" || key == "Run name" || key == "Run Name") return "run_name";
  return std::string(key);
}

bool IsNumericRunAttribute(std::string_view key) {
  return key == "start_time" || key == "end_time";
}

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

// `attribute.<key>`, `tag.<key>`, `tags.<key>` or a bare attribute key, as
// experiments and the model registry spell them; attribute keys must be one of
// `attributes`.
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

constexpr std::string_view kLoggedModelAttributes[] = {"name",
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

std::string CanonicalLoggedModelAttribute(std::string_view key) {
  if (key == "creation_time" || key == "creation_timestamp_ms") return "creation_timestamp";
  if (key == "last_updated_time" || key == "last_updated_timestamp_ms") {
    return "last_updated_timestamp";
  }
  return std::string(key);
}

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
constexpr std::string_view kRegisteredModelOrderKeys[] = {"name", "timestamp",
                                                          "last_updated_timestamp"};
// What MLflow's message about a bad registered-model order key offers.
constexpr std::string_view kRecommendedRegisteredModelOrderKeys[] = {"name", "timestamp"};
constexpr std::string_view kModelVersionAttributes[] = {"name", "version_number", "run_id",
                                                        "source_path"};
constexpr std::string_view kModelVersionListKeys[] = {"name", "run_id"};
constexpr std::string_view kModelVersionNumericAttributes[] = {
    "version_number", "creation_timestamp", "last_updated_timestamp"};
constexpr std::string_view kModelVersionOrderKeys[] = {
    "name", "version_number", "creation_timestamp", "last_updated_timestamp"};
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
  for (const RawClause& clause : Parser(filter).ParseFilter()) {
    out.clauses.push_back(resolve(clause));
  }
  return out;
}

}  // namespace

Filter ParseRunFilter(std::string_view filter) { return ParseWith(filter, ResolveRunClause); }

std::vector<OrderTerm> ParseRunOrderBy(const std::vector<std::string>& order_by) {
  std::vector<OrderTerm> terms;
  for (const std::string& clause : order_by) {
    auto [id, ascending] = Parser(clause).ParseOrderTerm();
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

Filter ParseExperimentFilter(std::string_view filter) {
  return ParseWith(filter, ResolveExperimentClause);
}

std::vector<OrderTerm> ParseExperimentOrderBy(const std::vector<std::string>& order_by) {
  std::vector<OrderTerm> terms;
  for (const std::string& clause : order_by) {
    auto [id, ascending] = Parser(clause).ParseOrderTerm();
    auto [kind, key] = ResolveExperimentIdentifier(id);
    if (kind != EntityKind::kAttribute) {
      ThrowInvalid("Invalid order_by entity: " + std::string(EntityName(kind)) +
                   ". Experiments are ordered by attributes only.");
    }
    terms.push_back({kind, key, ascending});
  }
  return terms;
}

Filter ParseLoggedModelFilter(std::string_view filter) {
  return ParseWith(filter, ResolveLoggedModelClause);
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

Filter ParseRegisteredModelFilter(std::string_view filter) {
  return ParseWith(filter, ResolveRegisteredModelClause);
}

std::vector<OrderTerm> ParseRegisteredModelOrderBy(const std::vector<std::string>& order_by) {
  std::vector<OrderTerm> terms;
  for (const std::string& clause : order_by) {
    auto [id, ascending] = Parser(clause).ParseOrderTerm();
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

Filter ParseModelVersionFilter(std::string_view filter) {
  return ParseWith(filter, ResolveModelVersionClause);
}

std::vector<OrderTerm> ParseModelVersionOrderBy(const std::vector<std::string>& order_by) {
  std::vector<OrderTerm> terms;
  for (const std::string& clause : order_by) {
    auto [id, ascending] = Parser(clause).ParseOrderTerm();
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
