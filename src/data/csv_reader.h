// A strict RFC 4180 CSV reader, and the value types that profiles infer.
//
// CsvReader maps one file into memory and parses it without copying: each
// row is handed to a callback as string_views into the mapping (a quoted field
// that contains "" escapes is the only thing copied, into a per-call scratch
// buffer). The grammar is RFC 4180 plus a few common extensions:
//
//   - the first row is the header: names must be non-empty and unique;
//   - fields are separated by `CsvOptions::delimiter` (',' by default);
//   - rows end with LF or CRLF; the final line ending is optional;
//   - a field may be quoted with '"'; inside quotes, "" is one quote, and the
//     delimiter, CR and LF are ordinary characters;
//   - a UTF-8 byte order mark at the very start is skipped.
//
// Anything else is an error that ends the read: a row with another number of
// fields than the header (a blank line is a row with one empty field), a quote
// inside an unquoted field, characters between a closing quote and the next
// delimiter, an unterminated quoted field, a bare CR, invalid UTF-8 anywhere
// in the file, a field longer than `max_field_bytes`, an empty file. Errors
// are `CsvError`s (INVALID_PARAMETER_VALUE) whose message names the file, the
// 1-based physical line (a quoted newline starts a new line) and, where the
// problem is a byte, the 1-based byte column within that line; ragged rows
// and unterminated quotes are reported at the row's / field's first byte.
// When a file has several errors, the one nearest the start is reported, also
// when ranges are parsed in parallel.
//
// Parallel parsing: Split(n) cuts the rows into n byte ranges at row
// boundaries. It is quote-aware: a first pass counts '"' bytes up to each cut
// point (a position is inside a quoted field iff an odd number of quotes
// precede it, since "" escapes come in pairs and unquoted fields may not
// contain quotes), then moves the cut to the next LF outside quotes. That pass
// reads the first (n-1)/n of the file at memchr speed. On a malformed file the
// cut may land inside a field; the range before it then contains the earlier
// error, which is the one reported.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace slipway::data {

// The value type of a column, ordered by promotion: a column's type is the
// narrowest one that every non-missing value fits. kEmpty means "no
// non-missing value seen yet" (the bottom of the order). Bool and the numeric
// types do not mix: a column holding both "true" and "3" is kString, since
// "true" is not a number.
enum class ColumnType : uint8_t { kEmpty, kBool, kInt64, kFloat64, kString };

// "empty", "bool", "int64", "float64", "string".
std::string_view ColumnTypeName(ColumnType type);
// The inverse of ColumnTypeName; nullopt for any other text.
std::optional<ColumnType> ColumnTypeFromName(std::string_view name);
// The narrowest type that holds values of both `a` and `b`.
ColumnType PromoteTypes(ColumnType a, ColumnType b);
inline bool IsNumeric(ColumnType type) {
  return type == ColumnType::kInt64 || type == ColumnType::kFloat64;
}

// A field's text as error messages quote it: at most `limit` bytes, line
// breaks escaped, "..." when cut.
std::string PrintableExcerpt(std::string_view text, size_t limit = 40);

// Field syntax of the inferred types. All are exact-match (no surrounding
// space). Bool: true/True/TRUE/false/False/FALSE. Int64: optional sign,
// decimal digits, within int64 range. Float64: optional sign, decimal
// number with optional fraction and exponent (".5", "1.", "1e-3"); finite
// only: "nan" and "inf" are strings (list them in missing_values to treat
// them as missing). A '+' sign is accepted for both numeric types.
bool ParseBool(std::string_view text, bool* value);
bool ParseInt64(std::string_view text, int64_t* value);
bool ParseFloat64(std::string_view text, double* value);
// ParseFloat64 of texts[0], texts[1], ... into values[0], values[1], ... up
// to the first text that is not a float64; returns how many parsed (all of
// them: texts.size()). Faster than one call per value.
size_t ParseFloat64s(std::span<const std::string_view> texts, double* values);
// The same with ParseInt64, the values converted to double.
size_t ParseInt64sAsDoubles(std::span<const std::string_view> texts, double* values);
// The narrowest of kBool, kInt64, kFloat64, kString that `text` parses as.
ColumnType ClassifyField(std::string_view text);

struct CsvOptions {
  char delimiter = ',';
  // A longer field (after unescaping) is an error naming its line and column.
  size_t max_field_bytes = size_t{1} << 20;
  // Field texts that mean "missing value" (compared exactly, case-sensitive,
  // after unquoting). Strict default: only the empty field.
  std::vector<std::string> missing_values = {""};
  // Column name -> type, instead of inferring it. A value that does not fit
  // is an error naming its line, column and column name. Naming a column that
  // is not in the header is an error.
  std::map<std::string, ColumnType, std::less<>> type_overrides;
};

// An error at a place in a CSV file. `offset()` is the byte offset it refers
// to, so that the earliest of several errors can be chosen.
class CsvError : public Error {
 public:
  CsvError(uint64_t offset, std::string message)
      : Error(ErrorCode::kInvalidParameterValue, std::move(message)), offset_(offset) {}
  uint64_t offset() const { return offset_; }

 private:
  uint64_t offset_;
};

// 1-based physical line, and 1-based byte column within that line.
struct CsvLocation {
  int64_t line = 0;
  int64_t column = 0;
};

// Half-open byte range [begin, end) of the file, holding whole rows.
struct CsvByteRange {
  uint64_t begin = 0;
  uint64_t end = 0;
};

// One parsed row; valid only during the callback that receives it. A field
// without "" escapes is a view into the reader's contents() and stays valid
// as long as the reader; an unescaped copy of an escaped field lives in a
// per-call buffer, valid only during the callback.
struct CsvRow {
  std::span<const std::string_view> fields;  // as many as header columns
  // File offset of each field's first byte (its opening quote if quoted).
  std::span<const uint64_t> field_offsets;
  uint64_t offset = 0;  // file offset of the row's first byte
};

// Consecutive rows in column-major order (for consumers that work column by
// column), valid only during the callback that receives it. Field views are
// as in CsvRow: into the reader's contents(), or, for fields with "" escapes,
// into a per-block buffer.
struct CsvBlock {
  size_t rows = 0;
  size_t stride = 0;  // distance between two columns in `values`
  // values[c * stride + r]: field c of row r, for r < rows.
  std::span<const std::string_view> values;
  std::span<const uint64_t> row_offsets;  // file offset of each row's first byte

  // The `rows` fields of column c.
  std::span<const std::string_view> Column(size_t c) const {
    return values.subspan(c * stride, rows);
  }
};

// Owns a read-only mapping of one CSV file and its parsed header. Immutable
// after Open(): all const methods are thread-safe, and ForEachRow may run on
// several ranges concurrently.
class CsvReader {
 public:
  // Maps `path` and parses its header row. Throws RESOURCE_DOES_NOT_EXIST if
  // the file cannot be opened, CsvError for an empty file, a malformed header,
  // or a type override naming no header column.
  static std::unique_ptr<CsvReader> Open(const std::filesystem::path& path,
                                         CsvOptions options = {});
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const CsvOptions& options() const { return options_; }
  const std::vector<std::string>& header() const { return header_; }
  uint64_t file_size() const { return size_; }
  // The mapped bytes of the whole file.
  std::string_view contents() const { return {data_, size_}; }

  // The bytes after the header row: every data row.
  CsvByteRange DataRange() const { return {data_begin_, size_}; }
  // DataRange() cut into at most `parts` non-empty ranges at row boundaries,
  // in file order (see the file comment). Fewer ranges if the file is small.
  std::vector<CsvByteRange> Split(int parts) const;

  // Parses the rows of `range` (which must start and end at row boundaries:
  // DataRange() or an element of Split()) in order, calling `on_row` for each.
  // Stops early, without error, before the first row starting past
  // `*stop_after` if `stop_after` is given and becomes smaller (used to
  // abandon work after an earlier error elsewhere). Returns the number of
  // rows parsed. Throws CsvError on malformed input.
  int64_t ForEachRow(CsvByteRange range, const std::function<void(const CsvRow&)>& on_row,
                     const std::atomic<uint64_t>* stop_after = nullptr) const;

  // As ForEachRow, but hands the rows over in blocks of up to `max_rows`
  // (at least 1), column-major; faster than ForEachRow, with no per-row call.
  // On malformed input, the rows before the bad one are handed over (as a
  // last, shorter block) before the CsvError is thrown.
  int64_t ForEachBlock(CsvByteRange range, size_t max_rows,
                       const std::function<void(const CsvBlock&)>& on_block,
                       const std::atomic<uint64_t>* stop_after = nullptr) const;

  // All data rows, copied (for small files and tests).
  std::vector<std::vector<std::string>> ReadAll() const;
  // The number of data rows (parses the whole file).
  int64_t CountRows() const;

  // Line and column of a byte offset (counts LFs from the start: O(offset)).
  CsvLocation Locate(uint64_t offset) const;
  // Throws CsvError "<path>: line L, column C: <what>" for `offset`.
  [[noreturn]] void FailAt(uint64_t offset, std::string_view what) const;
  // Throws CsvError "<path>: line L: <what>" for `offset`.
  [[noreturn]] void FailAtLine(uint64_t offset, std::string_view what) const;

 private:
  CsvReader() = default;
  class RangeParser;

  std::filesystem::path path_;
  CsvOptions options_;
  const char* data_ = nullptr;  // the mapping, `size_` bytes; null if empty
  uint64_t size_ = 0;
  uint64_t data_begin_ = 0;
  std::vector<std::string> header_;
};

}  // namespace slipway::data
