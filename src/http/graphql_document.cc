#include "http/graphql_document.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "core/error.h"

namespace slipway::http::graphql {
namespace {

struct Token {
  enum class Kind { kEnd, kPunctuator, kName, kInt, kFloat, kString, kBlockString };
  Kind kind = Kind::kEnd;
  std::string text;  // the punctuator, name, number as written, or decoded string
  Location location;
};

[[noreturn]] void SyntaxError(const std::string& message, Location at) {
  throw Error(ErrorCode::kInvalidParameterValue, "Syntax Error: " + message + " (line " +
                                                     std::to_string(at.line) + ", column " +
                                                     std::to_string(at.column) + ")");
}

// How graphql-core names a token in its messages.
std::string Describe(const Token& token) {
  switch (token.kind) {
    case Token::Kind::kEnd:
      return "<EOF>";
    case Token::Kind::kPunctuator:
      return "'" + token.text + "'";
    case Token::Kind::kName:
      return "Name '" + token.text + "'";
    case Token::Kind::kInt:
      return "Int '" + token.text + "'";
    case Token::Kind::kFloat:
      return "Float '" + token.text + "'";
    case Token::Kind::kString:
    case Token::Kind::kBlockString:
      return "String \"" + token.text + "\"";
  }
  return "?";
}

bool IsNameStart(char c) { return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsNameContinue(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

void AppendUtf8(std::string& out, uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

// Splits source text into tokens (spec section 2.1), skipping whitespace,
// line terminators, commas, comments and a byte-order mark.
class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Token Next() {
    SkipIgnored();
    Token token;
    token.location = Here();
    if (pos_ >= text_.size()) return token;
    const char c = text_[pos_];
    if (c == '.' && text_.substr(pos_, 3) == "...") {
      token.kind = Token::Kind::kPunctuator;
      token.text = "...";
      pos_ += 3;
      return token;
    }
    if (std::string_view("!$&():=@[]{|}").find(c) != std::string_view::npos) {
      token.kind = Token::Kind::kPunctuator;
      token.text = std::string(1, c);
      ++pos_;
      return token;
    }
    if (IsNameStart(c)) {
      size_t start = pos_;
      while (pos_ < text_.size() && IsNameContinue(text_[pos_])) ++pos_;
      token.kind = Token::Kind::kName;
      token.text = std::string(text_.substr(start, pos_ - start));
      return token;
    }
    if (c == '-' || IsDigit(c)) {
      ReadNumber(token);
      return token;
    }
    if (c == '"') {
      if (text_.substr(pos_, 3) == "\"\"\"") {
        ReadBlockString(token);
      } else {
        ReadString(token);
      }
      return token;
    }
    if (c == '\'')
      SyntaxError("Unexpected single quote character ('), did you mean to use a double quote (\")?",
                  Here());
    SyntaxError("Unexpected character: " + Printable(c) + ".", Here());
  }

 private:
  static std::string Printable(char c) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F) return std::string("'") + c + "'";
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "U+%04X", byte);
    return buffer;
  }

  Location Here() const { return {line_, static_cast<int>(pos_ - line_start_) + 1}; }

  void NewLine() {
    ++line_;
    line_start_ = pos_;
  }

  void SkipIgnored() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == ',') {
        ++pos_;
      } else if (c == '\n') {
        ++pos_;
        NewLine();
      } else if (c == '\r') {
        ++pos_;
        if (pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
        NewLine();
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n' && text_[pos_] != '\r') ++pos_;
      } else if (text_.substr(pos_, 3) == "\xEF\xBB\xBF") {
        pos_ += 3;
      } else {
        return;
      }
    }
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, not followed by a name
  // or a dot.
  void ReadNumber(Token& token) {
    const size_t start = pos_;
    bool is_float = false;
    auto digits = [this]() {
      if (pos_ >= text_.size() || !IsDigit(text_[pos_])) {
        SyntaxError("Invalid number, expected digit but got: " + Got() + ".", Here());
      }
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    };
    if (text_[pos_] == '-') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '0') {
      ++pos_;
      if (pos_ < text_.size() && IsDigit(text_[pos_])) {
        SyntaxError("Invalid number, unexpected digit after 0: " + Got() + ".", Here());
      }
    } else {
      digits();
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      is_float = true;
      ++pos_;
      digits();
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      is_float = true;
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      digits();
    }
    if (pos_ < text_.size() && (text_[pos_] == '.' || IsNameStart(text_[pos_]))) {
      SyntaxError("Invalid number, expected digit but got: " + Got() + ".", Here());
    }
    token.kind = is_float ? Token::Kind::kFloat : Token::Kind::kInt;
    token.text = std::string(text_.substr(start, pos_ - start));
  }

  std::string Got() const { return pos_ >= text_.size() ? "<EOF>" : Printable(text_[pos_]); }

  int HexDigit(size_t at) const {
    if (at >= text_.size()) return -1;
    const char c = text_[at];
    if (IsDigit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // Four hex digits after `\u` at `pos_`; advances past them.
  uint32_t ReadHex4(Location escape) {
    uint32_t code = 0;
    for (int i = 0; i < 4; ++i) {
      int digit = HexDigit(pos_ + i);
      if (digit < 0) {
        SyntaxError("Invalid Unicode escape sequence: '\\u" +
                        std::string(text_.substr(pos_, std::min<size_t>(4, text_.size() - pos_))) +
                        "'.",
                    escape);
      }
      code = code * 16 + static_cast<uint32_t>(digit);
    }
    pos_ += 4;
    return code;
  }

  void ReadString(Token& token) {
    const Location start = Here();
    ++pos_;  // the opening quote
    std::string value;
    while (true) {
      if (pos_ >= text_.size() || text_[pos_] == '\n' || text_[pos_] == '\r') {
        SyntaxError("Unterminated string.", start);
      }
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        break;
      }
      if (c != '\\') {
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
          SyntaxError("Invalid character within String: " + Printable(c) + ".", Here());
        }
        value += c;
        ++pos_;
        continue;
      }
      const Location escape = Here();
      ++pos_;
      if (pos_ >= text_.size()) SyntaxError("Unterminated string.", start);
      const char e = text_[pos_++];
      switch (e) {
        case '"':
          value += '"';
          break;
        case '\\':
          value += '\\';
          break;
        case '/':
          value += '/';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'n':
          value += '\n';
          break;
        case 'r':
          value += '\r';
          break;
        case 't':
          value += '\t';
          break;
        case 'u': {
          uint32_t code = ReadHex4(escape);
          if (code >= 0xD800 && code <= 0xDBFF && text_.substr(pos_, 2) == "\\u") {
            size_t saved = pos_;
            pos_ += 2;
            uint32_t low = ReadHex4(escape);
            if (low >= 0xDC00 && low <= 0xDFFF) {
              code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            } else {
              pos_ = saved;
            }
          }
          if (code >= 0xD800 && code <= 0xDFFF) {
            SyntaxError("Invalid Unicode escape sequence: unpaired surrogate.", escape);
          }
          AppendUtf8(value, code);
          break;
        }
        default:
          SyntaxError(std::string("Invalid character escape sequence: '\\") + e + "'.", escape);
      }
    }
    token.kind = Token::Kind::kString;
    token.text = std::move(value);
  }

  // """...""" with \""" as the only escape; the value is dedented as the
  // specification's BlockStringValue() says.
  void ReadBlockString(Token& token) {
    const Location start = Here();
    pos_ += 3;
    std::string raw;
    while (true) {
      if (pos_ >= text_.size()) SyntaxError("Unterminated string.", start);
      if (text_.substr(pos_, 3) == "\"\"\"") {
        pos_ += 3;
        break;
      }
      if (text_.substr(pos_, 4) == "\\\"\"\"") {
        raw += "\"\"\"";
        pos_ += 4;
        continue;
      }
      const char c = text_[pos_++];
      if (c == '\r') {
        if (pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
        raw += '\n';
        NewLine();
      } else {
        raw += c;
        if (c == '\n') NewLine();
      }
    }
    token.kind = Token::Kind::kBlockString;
    token.text = BlockStringValue(raw);
  }

  static std::string BlockStringValue(const std::string& raw) {
    std::vector<std::string> lines;
    size_t from = 0;
    while (true) {
      size_t end = raw.find('\n', from);
      lines.push_back(raw.substr(from, end == std::string::npos ? std::string::npos : end - from));
      if (end == std::string::npos) break;
      from = end + 1;
    }
    auto indent_of = [](const std::string& line) {
      size_t i = 0;
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      return i;
    };
    size_t common = std::string::npos;
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t indent = indent_of(lines[i]);
      if (indent < lines[i].size()) common = std::min(common, indent);
    }
    if (common != std::string::npos) {
      for (size_t i = 1; i < lines.size(); ++i)
        lines[i].erase(0, std::min(common, lines[i].size()));
    }
    auto blank = [&](const std::string& line) { return indent_of(line) == line.size(); };
    while (!lines.empty() && blank(lines.front())) lines.erase(lines.begin());
    while (!lines.empty() && blank(lines.back())) lines.pop_back();
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) out += '\n';
      out += lines[i];
    }
    return out;
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t line_start_ = 0;
  int line_ = 1;
};

// Recursive descent over the token stream, one token of look-ahead.
class Parser {
 public:
  Parser(std::string_view text, const ParseOptions& options) : lexer_(text), options_(options) {
    Advance();
  }

  Document ParseExecutable() {
    Document document;
    if (token_.kind == Token::Kind::kEnd) Unexpected();
    while (token_.kind != Token::Kind::kEnd) {
      if (document.operations.size() + document.fragments.size() >=
          static_cast<size_t>(options_.max_definitions)) {
        Fail("Document has more than " + std::to_string(options_.max_definitions) + " definitions.",
             token_.location);
      }
      if (PeekPunctuator("{")) {
        Operation operation;
        operation.location = token_.location;
        operation.selections = ParseSelectionSet();
        document.operations.push_back(std::move(operation));
      } else if (PeekName("query") || PeekName("mutation") || PeekName("subscription")) {
        document.operations.push_back(ParseOperation());
      } else if (PeekName("fragment")) {
        document.fragments.push_back(ParseFragment());
      } else {
        Unexpected();
      }
    }
    return document;
  }

  std::vector<TypeDefinition> ParseTypeSystem() {
    std::vector<TypeDefinition> types;
    while (token_.kind != Token::Kind::kEnd) {
      SkipDescription();
      if (PeekName("directive")) {
        SkipDirectiveDefinition();
        continue;
      }
      TypeDefinition type;
      if (PeekName("scalar")) {
        Advance();
        type.kind = TypeDefinition::Kind::kScalar;
        type.name = ExpectName();
        ParseDirectives(true);
      } else if (PeekName("type")) {
        Advance();
        type.kind = TypeDefinition::Kind::kObject;
        type.name = ExpectName();
        ParseDirectives(true);
        ExpectPunctuator("{");
        do {
          SkipDescription();
          FieldDefinition field;
          field.name = ExpectName();
          if (SkipPunctuator("(")) {
            do {
              field.arguments.push_back(ParseInputValueDefinition());
            } while (!SkipPunctuator(")"));
          }
          ExpectPunctuator(":");
          field.type = ParseType();
          ParseDirectives(true);
          type.fields.push_back(std::move(field));
        } while (!SkipPunctuator("}"));
      } else if (PeekName("input")) {
        Advance();
        type.kind = TypeDefinition::Kind::kInputObject;
        type.name = ExpectName();
        ParseDirectives(true);
        ExpectPunctuator("{");
        do {
          type.input_fields.push_back(ParseInputValueDefinition());
        } while (!SkipPunctuator("}"));
      } else if (PeekName("enum")) {
        Advance();
        type.kind = TypeDefinition::Kind::kEnum;
        type.name = ExpectName();
        ParseDirectives(true);
        ExpectPunctuator("{");
        do {
          SkipDescription();
          type.enum_values.push_back(ExpectName());
          ParseDirectives(true);
        } while (!SkipPunctuator("}"));
      } else {
        Unexpected();
      }
      types.push_back(std::move(type));
    }
    return types;
  }

 private:
  class Nested {
   public:
    explicit Nested(Parser& parser) : parser_(parser) {
      if (++parser_.depth_ > parser_.options_.max_nesting) {
        parser_.Fail("Document nests deeper than " + std::to_string(parser_.options_.max_nesting) +
                         " levels",
                     parser_.token_.location);
      }
    }
    ~Nested() { --parser_.depth_; }
    Nested(const Nested&) = delete;
    Nested& operator=(const Nested&) = delete;

   private:
    Parser& parser_;
  };

  void Advance() { token_ = lexer_.Next(); }

  [[noreturn]] void Fail(const std::string& message, Location at) const {
    SyntaxError(message, at);
  }
  [[noreturn]] void Unexpected() const {
    Fail("Unexpected " + Describe(token_) + ".", token_.location);
  }

  bool PeekPunctuator(std::string_view p) const {
    return token_.kind == Token::Kind::kPunctuator && token_.text == p;
  }
  bool PeekName(std::string_view name) const {
    return token_.kind == Token::Kind::kName && token_.text == name;
  }
  bool SkipPunctuator(std::string_view p) {
    if (!PeekPunctuator(p)) return false;
    Advance();
    return true;
  }
  void ExpectPunctuator(std::string_view p) {
    if (!SkipPunctuator(p)) {
      Fail("Expected '" + std::string(p) + "', found " + Describe(token_) + ".", token_.location);
    }
  }
  std::string ExpectName() {
    if (token_.kind != Token::Kind::kName) {
      Fail("Expected Name, found " + Describe(token_) + ".", token_.location);
    }
    std::string name = std::move(token_.text);
    Advance();
    return name;
  }
  void ExpectKeyword(std::string_view keyword) {
    if (!PeekName(keyword)) {
      Fail("Expected '" + std::string(keyword) + "', found " + Describe(token_) + ".",
           token_.location);
    }
    Advance();
  }

  Operation ParseOperation() {
    Operation operation;
    operation.location = token_.location;
    operation.type = ExpectName();
    if (token_.kind == Token::Kind::kName) operation.name = ExpectName();
    if (SkipPunctuator("(")) {
      do {
        VariableDefinition variable;
        variable.location = token_.location;
        ExpectPunctuator("$");
        variable.name = ExpectName();
        ExpectPunctuator(":");
        variable.type = ParseType();
        if (SkipPunctuator("=")) variable.default_value = ParseValue(true);
        ParseDirectives(true);
        operation.variables.push_back(std::move(variable));
      } while (!SkipPunctuator(")"));
    }
    operation.directives = ParseDirectives(false);
    operation.selections = ParseSelectionSet();
    return operation;
  }

  Fragment ParseFragment() {
    Fragment fragment;
    fragment.location = token_.location;
    ExpectKeyword("fragment");
    if (PeekName("on")) Unexpected();
    fragment.name = ExpectName();
    ExpectKeyword("on");
    fragment.type_condition = ExpectName();
    fragment.directives = ParseDirectives(false);
    fragment.selections = ParseSelectionSet();
    return fragment;
  }

  std::vector<Selection> ParseSelectionSet() {
    Nested nested(*this);
    ExpectPunctuator("{");
    std::vector<Selection> selections;
    do {
      selections.push_back(ParseSelection());
    } while (!SkipPunctuator("}"));
    return selections;
  }

  Selection ParseSelection() {
    Selection selection;
    selection.location = token_.location;
    if (SkipPunctuator("...")) {
      if (token_.kind == Token::Kind::kName && token_.text != "on") {
        selection.kind = Selection::Kind::kFragmentSpread;
        selection.name = ExpectName();
        selection.directives = ParseDirectives(false);
        return selection;
      }
      selection.kind = Selection::Kind::kInlineFragment;
      if (PeekName("on")) {
        Advance();
        selection.type_condition = ExpectName();
      }
      selection.directives = ParseDirectives(false);
      selection.has_selections = true;
      selection.selections = ParseSelectionSet();
      return selection;
    }
    selection.kind = Selection::Kind::kField;
    selection.name = ExpectName();
    if (SkipPunctuator(":")) {
      selection.alias = std::move(selection.name);
      selection.name = ExpectName();
    }
    selection.arguments = ParseArguments(false);
    selection.directives = ParseDirectives(false);
    if (PeekPunctuator("{")) {
      selection.has_selections = true;
      selection.selections = ParseSelectionSet();
    }
    return selection;
  }

  std::vector<Argument> ParseArguments(bool is_const) {
    std::vector<Argument> arguments;
    if (!SkipPunctuator("(")) return arguments;
    do {
      Argument argument;
      argument.location = token_.location;
      argument.name = ExpectName();
      ExpectPunctuator(":");
      argument.value = ParseValue(is_const);
      arguments.push_back(std::move(argument));
    } while (!SkipPunctuator(")"));
    return arguments;
  }

  std::vector<Directive> ParseDirectives(bool is_const) {
    std::vector<Directive> directives;
    while (PeekPunctuator("@")) {
      Directive directive;
      directive.location = token_.location;
      Advance();
      directive.name = ExpectName();
      directive.arguments = ParseArguments(is_const);
      directives.push_back(std::move(directive));
    }
    return directives;
  }

  Value ParseValue(bool is_const) {
    Value value;
    value.location = token_.location;
    switch (token_.kind) {
      case Token::Kind::kInt:
        value.kind = Value::Kind::kInt;
        value.text = std::move(token_.text);
        Advance();
        return value;
      case Token::Kind::kFloat:
        value.kind = Value::Kind::kFloat;
        value.text = std::move(token_.text);
        Advance();
        return value;
      case Token::Kind::kString:
      case Token::Kind::kBlockString:
        value.kind = Value::Kind::kString;
        value.text = std::move(token_.text);
        Advance();
        return value;
      case Token::Kind::kName:
        if (token_.text == "true" || token_.text == "false") {
          value.kind = Value::Kind::kBoolean;
        } else if (token_.text == "null") {
          value.kind = Value::Kind::kNull;
        } else {
          value.kind = Value::Kind::kEnum;
        }
        value.text = std::move(token_.text);
        Advance();
        return value;
      case Token::Kind::kPunctuator:
        break;
      case Token::Kind::kEnd:
        Unexpected();
    }
    if (PeekPunctuator("$") && !is_const) {
      Advance();
      value.kind = Value::Kind::kVariable;
      value.text = ExpectName();
      return value;
    }
    if (PeekPunctuator("[")) {
      Nested nested(*this);
      Advance();
      value.kind = Value::Kind::kList;
      while (!SkipPunctuator("]")) value.items.push_back(ParseValue(is_const));
      return value;
    }
    if (PeekPunctuator("{")) {
      Nested nested(*this);
      Advance();
      value.kind = Value::Kind::kObject;
      while (!SkipPunctuator("}")) {
        std::string name = ExpectName();
        ExpectPunctuator(":");
        value.fields.emplace_back(std::move(name), ParseValue(is_const));
      }
      return value;
    }
    Unexpected();
  }

  TypeRef ParseType() {
    TypeRef type;
    if (PeekPunctuator("[")) {
      Nested nested(*this);
      Advance();
      type.item.push_back(ParseType());
      ExpectPunctuator("]");
    } else {
      type.name = ExpectName();
    }
    if (SkipPunctuator("!")) type.non_null = true;
    return type;
  }

  InputValueDefinition ParseInputValueDefinition() {
    SkipDescription();
    InputValueDefinition definition;
    definition.name = ExpectName();
    ExpectPunctuator(":");
    definition.type = ParseType();
    if (SkipPunctuator("=")) definition.default_value = ParseValue(true);
    ParseDirectives(true);
    return definition;
  }

  void SkipDescription() {
    if (token_.kind == Token::Kind::kString || token_.kind == Token::Kind::kBlockString) Advance();
  }

  // directive @name(arguments) [repeatable] on LOCATION | LOCATION ...
  void SkipDirectiveDefinition() {
    ExpectKeyword("directive");
    ExpectPunctuator("@");
    ExpectName();
    if (SkipPunctuator("(")) {
      do {
        ParseInputValueDefinition();
      } while (!SkipPunctuator(")"));
    }
    if (PeekName("repeatable")) Advance();
    ExpectKeyword("on");
    SkipPunctuator("|");
    ExpectName();
    while (SkipPunctuator("|")) ExpectName();
  }

  Lexer lexer_;
  Token token_;
  ParseOptions options_;
  int depth_ = 0;
};

// The fields of one level, with the inline fragments and spreads at that
// level flattened in (each fragment once), and how many of them carry an
// alias (graphql_no_batching.py's _collect_fields_and_aliases).
std::vector<const Selection*> CollectLevel(const std::vector<Selection>& selections,
                                           const Document& document, int* aliases) {
  std::vector<const Selection*> fields;
  std::vector<const Selection*> queue;
  for (const Selection& selection : selections) queue.push_back(&selection);
  std::set<std::string_view> visited;
  for (size_t next = 0; next < queue.size(); ++next) {
    const Selection& selection = *queue[next];
    switch (selection.kind) {
      case Selection::Kind::kField:
        fields.push_back(&selection);
        if (!selection.alias.empty()) ++*aliases;
        break;
      case Selection::Kind::kInlineFragment:
        for (const Selection& inner : selection.selections) queue.push_back(&inner);
        break;
      case Selection::Kind::kFragmentSpread:
        if (visited.insert(selection.name).second) {
          if (const Fragment* fragment = document.FindFragment(selection.name)) {
            for (const Selection& inner : fragment->selections) queue.push_back(&inner);
          }
        }
        break;
    }
  }
  return fields;
}

int PositiveIntFromEnvironment(const char* name, int fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value <= 0 || value > 1000000) return fallback;
  return static_cast<int>(value);
}

}  // namespace

std::string TypeRef::ToString() const {
  std::string out = is_list() ? "[" + item.front().ToString() + "]" : name;
  if (non_null) out += "!";
  return out;
}

const Fragment* Document::FindFragment(std::string_view name) const {
  for (const Fragment& fragment : fragments) {
    if (fragment.name == name) return &fragment;
  }
  return nullptr;
}

Document ParseDocument(std::string_view text, const ParseOptions& options) {
  return Parser(text, options).ParseExecutable();
}

std::vector<TypeDefinition> ParseTypeSystem(std::string_view text) {
  return Parser(text, ParseOptions{}).ParseTypeSystem();
}

SafetyLimits SafetyLimits::FromEnvironment() {
  SafetyLimits limits;
  limits.max_root_fields =
      PositiveIntFromEnvironment("MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS", limits.max_root_fields);
  limits.max_aliases =
      PositiveIntFromEnvironment("MLFLOW_SERVER_GRAPHQL_MAX_ALIASES", limits.max_aliases);
  return limits;
}

std::optional<std::string> CheckQuerySafety(const Document& document, const SafetyLimits& limits) {
  int root_fields = 0;
  int max_aliases = 0;
  int total_selections = 0;
  for (const Operation& operation : document.operations) {
    std::vector<std::pair<const std::vector<Selection>*, int>> stack = {{&operation.selections, 1}};
    while (!stack.empty()) {
      auto [selections, depth] = stack.back();
      stack.pop_back();
      if (depth > SafetyLimits::kMaxDepth) {
        return "Query exceeds maximum depth of " + std::to_string(SafetyLimits::kMaxDepth);
      }
      int aliases = 0;
      for (const Selection* field : CollectLevel(*selections, document, &aliases)) {
        if (depth == 1) ++root_fields;
        if (field->has_selections) stack.emplace_back(&field->selections, depth + 1);
        if (++total_selections > SafetyLimits::kMaxSelections) {
          return "Query exceeds maximum total selections of " +
                 std::to_string(SafetyLimits::kMaxSelections);
        }
      }
      max_aliases = std::max(max_aliases, aliases);
    }
  }
  auto exceeded = [](int limit, const char* what, int value, const char* variable) {
    return "GraphQL queries should have at most " + std::to_string(limit) + " " + what + ", got " +
           std::to_string(value) + " " + what + ". To increase the limit, set the " + variable +
           " environment variable.";
  };
  if (root_fields > limits.max_root_fields) {
    return exceeded(limits.max_root_fields, "root fields", root_fields,
                    "MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS");
  }
  if (max_aliases > limits.max_aliases) {
    return exceeded(limits.max_aliases, "aliases", max_aliases,
                    "MLFLOW_SERVER_GRAPHQL_MAX_ALIASES");
  }
  return std::nullopt;
}

}  // namespace slipway::http::graphql
