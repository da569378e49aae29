// JSON reading and writing for the serving codecs (scoring_codec.h,
// oip_codec.h).
//
// JsonScanner is a pull scanner over one request body: the codecs ask for the
// next value with the type they expect and write it straight into the Frame's
// column vectors, so no tree of JSON values is built on the prediction path.
// It is hand-written rather than nlohmann's SAX interface because serving
// needs three things that interface does not give:
//   - Python's literals `NaN`, `Infinity` and `-Infinity`, which MLflow's
//     server (Python's json) accepts and MLflow's own client sends for
//     missing and infinite values;
//   - the byte offset of every value, so each error names the line, column
//     and byte where the body went wrong;
//   - the raw text of a value (`params`, an object in a cell), passed on
//     verbatim without re-serialising it.
// The grammar is RFC 8259 plus those three literals and a leading UTF-8 byte
// order mark (Python's json.loads on bytes skips one); strings must be valid
// UTF-8 without raw control characters, as Python's strict decoder requires.
// Errors are slipway::Error(BAD_REQUEST) whose message starts with the
// scanner's `prefix`.
//
// The Append* writers produce JSON exactly as Python's json.dumps does with
// its defaults (what MLflow's scoring server answers with): floats in
// Python's repr (shortest round trip, `1.0`, `1e-05`, `1e+16`), NaN and the
// infinities as literals, strings with every non-ASCII character escaped.
//
// Not thread-safe; one scanner per body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::http {

class JsonScanner {
 public:
  enum class Kind : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };

  struct Number {
    double value = 0;
    // Written without fraction or exponent and within int64's range: a
    // JSON integer as Python reads it.
    bool integer = false;
    int64_t int_value = 0;
  };

  // Scans `text` from byte `start`. Error messages begin with `prefix`.
  JsonScanner(std::string_view text, std::string prefix, size_t start = 0);

  // The kind of the next value (after whitespace), without consuming it.
  Kind Peek();
  // The byte offset of the next non-space byte.
  size_t Offset();

  void ReadNull();
  bool ReadBool();
  Number ReadNumber();
  // Reads a number into `out` and returns true when the next value starts
  // like one (a digit or '-'); otherwise reads nothing and returns false.
  bool TryReadNumber(Number* out);
  // Reads a list of exactly `n` numbers (or nulls, read as NaN, when
  // `nulls` is true), such as a row of a numeric table, into `out` and
  // returns true; a number must be in the plain form most clients write (at
  // most 19 significant digits, exactly representable by one multiplication
  // or division). Anything else, including every error, reads nothing and
  // returns false, so the caller reads the list value by value (and reports
  // the error there).
  bool TryReadNumberList(double* out, size_t n, bool nulls = true);
  // The string's text: a view into the body when it has no escapes,
  // otherwise into `scratch`.
  std::string_view ReadString(std::string& scratch);
  // Skips one value of any kind (checking it) and returns its raw text.
  std::string_view SkipValue();

  // Arrays: BeginArray(), then `while (NextItem()) { read one value }`.
  void BeginArray();
  bool NextItem();
  // Objects: BeginObject(), then `while (NextKey(key, scratch)) { value }`.
  void BeginObject();
  bool NextKey(std::string_view& key, std::string& scratch);

  // Only whitespace may follow the value just read.
  void ExpectEnd();

  // Throws BAD_REQUEST: "<prefix>malformed JSON at line L, column C (byte B):
  // <what>", located at the next value (Fail) or at `offset` (FailAt).
  [[noreturn]] void Fail(std::string_view what);
  [[noreturn]] void FailAt(size_t offset, std::string_view what) const;

  std::string_view text() const { return text_; }

 private:
  void SkipSpace();
  char Expect(char c, std::string_view what);
  void Enter();
  void ScanString(std::string* out);
  void ScanNumber(Number* out);
  void ScanLiteral(std::string_view word);

  std::string_view text_;
  std::string prefix_;
  size_t pos_;
  // One entry per open array/object: 1 until its first item was read.
  std::vector<uint8_t> first_;
  // Where the values of a list read by TryReadNumberList end.
  std::vector<const char*> separators_;
};

// Deeper nesting is refused (a body of 100k '[' must not exhaust the stack).
inline constexpr size_t kMaxJsonDepth = 256;

// Python's repr of a float, as json.dumps writes it: `0.1`, `1.0`, `1e-05`,
// `1e+16`, `NaN`, `Infinity`, `-Infinity`.
void AppendPythonFloat(std::string& out, double value);
// A JSON string as json.dumps writes it (ensure_ascii): `"`, `\` and control
// characters escaped, every character outside printable ASCII as \uXXXX
// (UTF-16 surrogate pairs above U+FFFF); bytes that are not UTF-8 become
// U+FFFD.
void AppendPythonString(std::string& out, std::string_view text);
void AppendInt(std::string& out, int64_t value);

// The offset of the first byte of `text` that is not valid UTF-8, or npos.
size_t FirstInvalidUtf8(std::string_view text);

}  // namespace slipway::http
