#include "data/csv_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_map>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace slipway::data {

// ---------------------------------------------------------------------------
// Column types and field syntax.

std::string_view ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kEmpty:
      return "empty";
    case ColumnType::kBool:
      return "bool";
    case ColumnType::kInt64:
      return "int64";
    case ColumnType::kFloat64:
      return "float64";
    case ColumnType::kString:
      return "string";
  }
  return "string";
}

std::optional<ColumnType> ColumnTypeFromName(std::string_view name) {
  for (ColumnType t : {ColumnType::kEmpty, ColumnType::kBool, ColumnType::kInt64,
                       ColumnType::kFloat64, ColumnType::kString}) {
    if (ColumnTypeName(t) == name) return t;
  }
  return std::nullopt;
}

ColumnType PromoteTypes(ColumnType a, ColumnType b) {
  if (a == b) return a;
  if (a == ColumnType::kEmpty) return b;
  if (b == ColumnType::kEmpty) return a;
  if (IsNumeric(a) && IsNumeric(b)) return ColumnType::kFloat64;
  return ColumnType::kString;
}

bool ParseBool(std::string_view text, bool* value) {
  switch (text.size()) {
    case 4:
      if (text == "true" || text == "True" || text == "TRUE") {
        *value = true;
        return true;
      }
      return false;
    case 5:
      if (text == "false" || text == "False" || text == "FALSE") {
        *value = false;
        return true;
      }
      return false;
    default:
      return false;
  }
}

namespace {

// Exact powers of ten as doubles (10^22 is the largest exactly representable).
constexpr double kPowersOfTen[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#if defined(__SSE2__)
// Short numbers without a loop per character (whose exits are hard to
// predict, since lengths vary): a field of up to 16 bytes is loaded into a
// vector, classified into digits and a decimal point with a few compares,
// and its digits are converted 8 at a time (SWAR).

// The n bytes at p (1 <= n <= 16) as a little-endian 128-bit number, zeros
// above them. Reads only [p, p + n).
inline unsigned __int128 LoadShort(const char* p, size_t n) {
  uint64_t lo;
  uint64_t hi = 0;
  if (n >= 8) {
    std::memcpy(&lo, p, 8);
    if (n > 8) {
      std::memcpy(&hi, p + n - 8, 8);
      hi >>= 8 * (16 - n);
    }
  } else if (n >= 4) {
    uint32_t a;
    uint32_t b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    lo = a | (static_cast<uint64_t>(b) << (8 * (n - 4)));  // overlap: same bytes
  } else {
    lo = static_cast<uint64_t>(static_cast<unsigned char>(p[0])) |
         static_cast<uint64_t>(static_cast<unsigned char>(p[n >> 1])) << (8 * (n >> 1)) |
         static_cast<uint64_t>(static_cast<unsigned char>(p[n - 1])) << (8 * (n - 1));
  }
  return static_cast<unsigned __int128>(hi) << 64 | lo;
}

// Bit i set iff byte i of `bytes` is a decimal digit; the same for '.'.
inline void ClassifyBytes(unsigned __int128 bytes, unsigned* digits, unsigned* points) {
  const __m128i x = _mm_set_epi64x(static_cast<int64_t>(static_cast<uint64_t>(bytes >> 64)),
                                   static_cast<int64_t>(static_cast<uint64_t>(bytes)));
  const __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
                                      _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));
  *digits = static_cast<unsigned>(_mm_movemask_epi8(digit));
  *points = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('.'))));
}

// The value of 8 bytes that are digits or leading zero bytes (the first,
// most significant, in the lowest byte).
inline uint64_t EightDigits(uint64_t w) {
  w &= 0x0F0F0F0F0F0F0F0FULL;
  w = w * 10 + (w >> 8);  // byte 2i: the two-digit number of digits 2i, 2i + 1
  return (((w & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
          (((w >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >>
         32;
}

// The value of the first `count` (<= 16) bytes of `bytes`, all digits.
inline uint64_t DigitsValue(unsigned __int128 bytes, unsigned count) {
  if (count == 0) return 0;
  const auto low = static_cast<uint64_t>(bytes);
  if (count <= 8) return EightDigits(low << (8 * (8 - count)));
  const uint64_t head = EightDigits(low << (8 * (16 - count)));
  return head * 100000000 + EightDigits(static_cast<uint64_t>(bytes >> (8 * (count - 8))));
}

#endif

// Decimal digits only, optionally after '-', at most 16 of them: *value and
// true; false (without a verdict) otherwise.
inline bool ParseShortInt(const char* p, const char* last, int64_t* value) {
#if defined(__SSE2__)
  const bool negative = p != last && *p == '-';
  p += negative;
  const auto n = static_cast<size_t>(last - p);
  if (n == 0 || n > 16) return false;
  const unsigned __int128 bytes = LoadShort(p, n);
  unsigned digits;
  unsigned points;
  ClassifyBytes(bytes, &digits, &points);
  if (digits != (1u << n) - 1) return false;
  const auto v = static_cast<int64_t>(DigitsValue(bytes, static_cast<unsigned>(n)));
  *value = negative ? -v : v;
  return true;
#else
  (void)p;
  (void)last;
  (void)value;
  return false;
#endif
}

[[gnu::noinline]] bool ParseInt64Slowly(const char* first, const char* last, int64_t* value) {
  auto [ptr, ec] = std::from_chars(first, last, *value, 10);
  return ec == std::errc() && ptr == last;
}

// Steps over a leading '+' (std::from_chars takes only '-'); false for a
// text that is only "+" or "+-...".
[[gnu::always_inline]] inline bool SkipPlusSign(const char*& first, const char* last) {
  if (first == last || *first != '+') return true;
  ++first;
  return first != last && *first != '-';
}

[[gnu::always_inline]] inline bool ParseInt64Inline(std::string_view text, int64_t* value) {
  const char* first = text.data();
  const char* last = first + text.size();
  if (!SkipPlusSign(first, last)) return false;
  return ParseShortInt(first, last, value) || ParseInt64Slowly(first, last, value);
}

}  // namespace

std::string PrintableExcerpt(std::string_view text, size_t limit) {
  std::string out;
  for (unsigned char c : text.substr(0, limit)) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

bool ParseInt64(std::string_view text, int64_t* value) { return ParseInt64Inline(text, value); }

namespace {

// Clinger's fast path for plain decimals ("-12.375"): if the digits form an
// integer m < 2^53 and there are at most 22 fraction digits, m / 10^f is one
// correctly rounded IEEE division. This part handles up to 16 bytes without
// a loop per byte (whose exits, at lengths that vary, are hard to predict):
// digits and at most one point, 1 to 15 digits. Returns false (without a
// verdict) for anything else.
inline bool ParseShortDecimal(const char* p, const char* last, double* value) {
#if defined(__SSE2__)
  const bool negative = p != last && *p == '-';
  p += negative;
  const auto n = static_cast<size_t>(last - p);
  if (n == 0 || n > 16) return false;
  unsigned __int128 bytes = LoadShort(p, n);
  unsigned digits;
  unsigned points;
  ClassifyBytes(bytes, &digits, &points);
  // (With no other bytes and at most one point, the digits are the rest.)
  const unsigned count = static_cast<unsigned>(n) - (points != 0 ? 1 : 0);
  if ((digits | points) != (1u << n) - 1 || (points & (points - 1)) != 0 || count == 0 ||
      count > 15) {
    return false;
  }
  unsigned fraction_digits = 0;
  if (points != 0) {
    // Close the gap: the bytes after the point move down by one.
    const auto point = static_cast<unsigned>(std::countr_zero(points));
    fraction_digits = count - point;
    if (n <= 8) {
      const uint64_t below = (uint64_t{1} << (8 * point)) - 1;
      const auto low = static_cast<uint64_t>(bytes);
      bytes = (low & below) | ((low >> 8) & ~below);
    } else {
      const unsigned __int128 below = (static_cast<unsigned __int128>(1) << (8 * point)) - 1;
      bytes = (bytes & below) | ((bytes >> 8) & ~below);
    }
  }
  const double v = static_cast<double>(DigitsValue(bytes, count)) / kPowersOfTen[fraction_digits];
  *value = negative ? -v : v;
  return true;
#else
  (void)p;
  (void)last;
  (void)value;
  return false;
#endif
}

// ParseFloat64 of [first, last) (after a '+'), for what ParseShortDecimal
// rejects.
[[gnu::noinline]] bool ParseFloat64Slowly(const char* first, const char* last, double* value) {
  // Clinger's fast path, a byte at a time.
  const char* p = first;
  const bool negative = p != last && *p == '-';
  p += negative;
  uint64_t mantissa = 0;
  const char* const integer = p;
  unsigned d;
  for (; p != last && (d = static_cast<unsigned char>(*p) - '0') < 10; ++p) {
    mantissa = mantissa * 10 + d;
  }
  int digits = static_cast<int>(p - integer);
  int fraction_digits = 0;
  if (p != last && *p == '.') {
    const char* const fraction = ++p;
    for (; p != last && (d = static_cast<unsigned char>(*p) - '0') < 10; ++p) {
      mantissa = mantissa * 10 + d;
    }
    fraction_digits = static_cast<int>(p - fraction);
    digits += fraction_digits;
  }
  // (Past 15 digits the mantissa may have wrapped: rejected here.)
  if (p == last && digits > 0 && digits <= 15) {
    const double v = static_cast<double>(mantissa) / kPowersOfTen[fraction_digits];
    *value = negative ? -v : v;
    return true;
  }
  if (first == last) return false;
  // from_chars also accepts "inf", "nan" and "infinity"; every such spelling
  // starts with a letter, and a decimal number never does.
  const char* const lead = first + (*first == '-' ? 1 : 0);
  if (lead == last || !(*lead == '.' || (*lead >= '0' && *lead <= '9'))) return false;
  auto [ptr, ec] = std::from_chars(first, last, *value, std::chars_format::general);
  return ec == std::errc() && ptr == last && std::isfinite(*value);
}

[[gnu::always_inline]] inline bool ParseFloat64Inline(std::string_view text, double* value) {
  const char* first = text.data();
  const char* last = first + text.size();
  if (!SkipPlusSign(first, last)) return false;
  return ParseShortDecimal(first, last, value) || ParseFloat64Slowly(first, last, value);
}

}  // namespace

bool ParseFloat64(std::string_view text, double* value) { return ParseFloat64Inline(text, value); }

size_t ParseFloat64s(std::span<const std::string_view> texts, double* values) {
  for (size_t i = 0; i < texts.size(); ++i) {
    if (!ParseFloat64Inline(texts[i], &values[i])) return i;
  }
  return texts.size();
}

size_t ParseInt64sAsDoubles(std::span<const std::string_view> texts, double* values) {
  for (size_t i = 0; i < texts.size(); ++i) {
    int64_t v;
    if (!ParseInt64Inline(texts[i], &v)) return i;
    values[i] = static_cast<double>(v);
  }
  return texts.size();
}

ColumnType ClassifyField(std::string_view text) {
  bool b;
  if (ParseBool(text, &b)) return ColumnType::kBool;
  int64_t i;
  if (ParseInt64(text, &i)) return ColumnType::kInt64;
  double d;
  if (ParseFloat64(text, &d)) return ColumnType::kFloat64;
  return ColumnType::kString;
}

// ---------------------------------------------------------------------------
// Scanning helpers.

namespace {

constexpr size_t kUtf8BlockBytes = 256 * 1024;

// First byte in [p, end) that is the delimiter, '"', CR or LF; `end` if none.
// Reads only inside [p, end).
inline const char* FindSpecial(const char* p, const char* end, char delimiter) {
#if defined(__SSE2__)
  const __m128i vd = _mm_set1_epi8(delimiter);
  const __m128i vn = _mm_set1_epi8('\n');
  const __m128i vr = _mm_set1_epi8('\r');
  const __m128i vq = _mm_set1_epi8('"');
  while (end - p >= 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, vd), _mm_cmpeq_epi8(x, vn)),
                                      _mm_or_si128(_mm_cmpeq_epi8(x, vr), _mm_cmpeq_epi8(x, vq)));
    const int mask = _mm_movemask_epi8(hits);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  while (p < end && *p != delimiter && *p != '\n' && *p != '\r' && *p != '"') ++p;
  return p;
}

// Validates the UTF-8 sequences that start in [p, stop), reading at most up
// to `end` (stop <= end). Returns where the next sequence starts (>= stop),
// or sets *bad to the first byte of an invalid sequence and returns it.
const unsigned char* ValidateUtf8(const unsigned char* p, const unsigned char* stop,
                                  const unsigned char* end, const unsigned char** bad) {
  while (p < stop) {
    if (stop - p >= 32) {
      uint64_t w[4];
      std::memcpy(w, p, 32);
      if (((w[0] | w[1] | w[2] | w[3]) & 0x8080808080808080ULL) == 0) {
        p += 32;
        continue;
      }
    }
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the first continuation byte
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // UTF-16 surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      *bad = p;
      return p;
    }
    if (end - p <= extra || p[1] < lo || p[1] > hi) {
      *bad = p;
      return p;
    }
    for (int i = 2; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) {
        *bad = p;
        return p;
      }
    }
    p += extra + 1;
  }
  return p;
}

}  // namespace

// ---------------------------------------------------------------------------
// Parsing of one range.

// Parses rows of one range; owns the per-row buffers, so each thread needs its
// own. Validates UTF-8 lazily, one block ahead of the rows it has parsed, so
// the bytes are still in cache.
class CsvReader::RangeParser {
 public:
  RangeParser(const CsvReader& reader, uint64_t begin, int expected_fields)
      : reader_(reader),
        base_(reader.data_),
        end_(reader.data_ + reader.size_),
        delimiter_(reader.options_.delimiter),
        max_field_(reader.options_.max_field_bytes),
        expected_fields_(expected_fields),
        validated_(reinterpret_cast<const unsigned char*>(reader.data_ + begin)) {
    if (expected_fields > 0) {
      fields_.reserve(expected_fields);
      offsets_.reserve(expected_fields);
    }
  }

  // Parses the row starting at `p` (< end of file); returns the start of the
  // next row. The row is in fields_/offsets_ afterwards.
  const char* ParseRow(const char* p) {
    const char* const row_start = p;
    fields_.clear();
    offsets_.clear();
    escaped_.clear();
    scratch_.clear();
    while (true) {
      const char* const field_start = p;
      offsets_.push_back(static_cast<uint64_t>(field_start - base_));
      if (p < end_ && *p == '"') {
        p = ParseQuoted(p);
      } else {
        const char* s = NextSpecial(p);
        if (static_cast<size_t>(s - p) > max_field_) FailTooLong(field_start, s - p);
        fields_.emplace_back(p, static_cast<size_t>(s - p));
        p = s;
        if (p < end_ && *p == '"') Fail(p, "quote character inside an unquoted field");
      }
      // p is at the end of the field: delimiter, CR, LF or the end of the file.
      if (p == end_) break;
      const char c = *p;
      if (c == delimiter_) {
        ++p;
        continue;
      }
      if (c == '\n') {
        ++p;
        break;
      }
      if (c == '\r') {
        if (p + 1 < end_ && p[1] == '\n') {
          p += 2;
          break;
        }
        Fail(p, "carriage return not followed by a line feed (outside quotes)");
      }
      // Only after a closing quote: anything but a delimiter or line end.
      Fail(p, "unexpected character '" + PrintableExcerpt(std::string_view(p, 1)) +
                  "' after the closing quote of a field (expected the delimiter or a line end)");
    }
    for (const Escaped& e : escaped_)
      fields_[e.field] = std::string_view(scratch_).substr(e.offset, e.size);
    // Every byte of the row must be valid UTF-8.
    while (validated_ < reinterpret_cast<const unsigned char*>(p)) ValidateNextBlock();
    if (bad_utf8_ != nullptr && bad_utf8_ < reinterpret_cast<const unsigned char*>(p)) FailUtf8();
    if (expected_fields_ > 0 && static_cast<int>(fields_.size()) != expected_fields_) {
      const uint64_t offset = static_cast<uint64_t>(row_start - base_);
      reader_.FailAtLine(offset, "expected " + std::to_string(expected_fields_) +
                                     " fields (as in the header), found " +
                                     std::to_string(fields_.size()));
    }
    return p;
  }

  const std::vector<std::string_view>& fields() const { return fields_; }
  const std::vector<uint64_t>& offsets() const { return offsets_; }

  // A field of a block that lives in the block's scratch buffer: `slot` of
  // the block's values, bytes [offset, offset + size) of the buffer.
  struct BlockCopy {
    size_t slot;
    size_t offset;
    size_t size;
  };

  // As ParseRow, but stores field c at out[c * stride] (an unescaped copy of
  // a field with "" escapes goes to `scratch`, and its slot, relative to
  // `out`, to `copies`); no field offsets. Rows of the usual kind (the right
  // number of fields, unquoted or quoted without escapes, valid) are parsed
  // here; anything else by ParseRow, which throws its error.
  const char* ParseRowInto(const char* p, std::string_view* out, size_t stride,
                           std::string& scratch, std::vector<BlockCopy>& copies) {
    const char* const row_start = p;
    const auto columns = static_cast<size_t>(expected_fields_);
    size_t c = 0;
    // `pending`: the special bytes (block_mask_ bits) of the current block
    // from p on. Fields end at its set bits, taken one by one; the last 64
    // bytes of the file (no whole block) are left to ParseRowSlowly.
    uint64_t pending;
    if (!PendingFrom(p, &pending)) return ParseRowSlowly(row_start, out, stride, scratch, copies);
    while (true) {
      // p is in a whole block, or just past one (after a delimiter).
      std::string_view field;
      if (p < end_ && *p == '"') {
        const char* const content = p + 1;
        const auto* close = static_cast<const char*>(
            std::memchr(content, '"', static_cast<size_t>(end_ - content)));
        if (close == nullptr || (close + 1 < end_ && close[1] == '"')) {
          return ParseRowSlowly(row_start, out, stride, scratch, copies);
        }
        field = std::string_view(content, static_cast<size_t>(close - content));
        p = close + 1;
        // The byte after the closing quote must be special (checked below),
        // so it is the first pending bit: consumed here. (p is now in a
        // whole block.)
        if (!PendingFrom(p, &pending))
          return ParseRowSlowly(row_start, out, stride, scratch, copies);
        pending &= pending - 1;
      } else {
        while (pending == 0) {
          const char* const next = reinterpret_cast<const char*>(block_) + 64;
          if (end_ - next < 64) return ParseRowSlowly(row_start, out, stride, scratch, copies);
          LoadBlock(next);
          pending = block_mask_;
        }
        const char* const s = reinterpret_cast<const char*>(block_) + std::countr_zero(pending);
        pending &= pending - 1;
        field = std::string_view(p, static_cast<size_t>(s - p));
        p = s;
        if (*p == '"') return ParseRowSlowly(row_start, out, stride, scratch, copies);
      }
      if (field.size() > max_field_ || c == columns) {
        return ParseRowSlowly(row_start, out, stride, scratch, copies);
      }
      out[c++ * stride] = field;
      const char ch = *p;
      if (ch == delimiter_) {
        ++p;
        continue;
      }
      if (ch == '\n') {
        ++p;
        break;
      }
      if (ch == '\r' && p + 1 < end_ && p[1] == '\n') {
        p += 2;
        break;
      }
      return ParseRowSlowly(row_start, out, stride, scratch, copies);
    }
    while (validated_ < reinterpret_cast<const unsigned char*>(p)) ValidateNextBlock();
    if (c != columns ||
        (bad_utf8_ != nullptr && bad_utf8_ < reinterpret_cast<const unsigned char*>(p))) {
      return ParseRowSlowly(row_start, out, stride, scratch, copies);
    }
    return p;
  }

  // Throws the error at `at`, unless invalid UTF-8 comes before it.
  [[noreturn]] void Fail(const char* at, std::string_view what) {
    while (validated_ < reinterpret_cast<const unsigned char*>(at)) ValidateNextBlock();
    if (bad_utf8_ != nullptr && bad_utf8_ < reinterpret_cast<const unsigned char*>(at)) FailUtf8();
    reader_.FailAt(static_cast<uint64_t>(at - base_), what);
  }

 private:
  struct Escaped {
    size_t field;
    size_t offset;
    size_t size;
  };

  // ParseRowInto by way of ParseRow: throws ParseRow's error for a malformed
  // row, else copies its fields.
  const char* ParseRowSlowly(const char* row_start, std::string_view* out, size_t stride,
                             std::string& scratch, std::vector<BlockCopy>& copies) {
    const char* const next = ParseRow(row_start);
    for (size_t c = 0; c < fields_.size(); ++c) {
      const std::string_view field = fields_[c];
      if (field.data() >= base_ && field.data() < end_) {
        out[c * stride] = field;
      } else {  // unescaped into scratch_, which the next row reuses
        copies.push_back({c * stride, scratch.size(), field.size()});
        scratch.append(field);
      }
    }
    return next;
  }

  // `p` is at the opening quote; returns the position after the closing one.
  const char* ParseQuoted(const char* p) {
    const char* const field_start = p;
    const char* const content = p + 1;
    const char* q = content;
    size_t pairs = 0;
    const char* close;
    while (true) {
      close = static_cast<const char*>(std::memchr(q, '"', static_cast<size_t>(end_ - q)));
      if (close == nullptr) {
        Fail(field_start,
             "quoted field is not terminated (no closing quote before the end of "
             "the file; it opens here)");
      }
      if (close + 1 < end_ && close[1] == '"') {
        ++pairs;
        q = close + 2;
        continue;
      }
      break;
    }
    const size_t raw = static_cast<size_t>(close - content);
    const size_t size = raw - pairs;
    if (size > max_field_) FailTooLong(field_start, size);
    if (pairs == 0) {
      fields_.emplace_back(content, raw);
    } else {
      const size_t offset = scratch_.size();
      for (const char* s = content; s < close;) {
        const char* quote = static_cast<const char*>(std::memchr(s, '"', close - s));
        if (quote == nullptr) {
          scratch_.append(s, close);
          break;
        }
        scratch_.append(s, quote + 1);  // keep one quote of the pair
        s = quote + 2;
      }
      escaped_.push_back({fields_.size(), offset, size});
      fields_.emplace_back();
    }
    return close + 1;
  }

  // FindSpecial(p, end of file), by way of the block bitmaps.
  const char* NextSpecial(const char* p) {
#if defined(__SSE2__)
    while (true) {
      const uintptr_t offset = reinterpret_cast<uintptr_t>(p) - block_;
      if (offset < 64) {
        const uint64_t hits = block_mask_ & (~uint64_t{0} << offset);
        if (hits != 0) return reinterpret_cast<const char*>(block_) + __builtin_ctzll(hits);
        p = reinterpret_cast<const char*>(block_) + 64;
      }
      if (end_ - p < 64) break;
      LoadBlock(p);
    }
    block_ = 0;
#endif
    return FindSpecial(p, end_, delimiter_);
  }

  // The special bytes at or after p in the block holding p (loaded if need
  // be) into *pending; false if p is in the last 64 bytes of the file and not
  // in the current block.
  bool PendingFrom(const char* p, uint64_t* pending) {
    uintptr_t offset = reinterpret_cast<uintptr_t>(p) - block_;
    if (offset >= 64) {
      if (end_ - p < 64) return false;
      LoadBlock(p);
      offset = 0;
    }
    *pending = block_mask_ & (~uint64_t{0} << offset);
    return true;
  }

  // Makes the 64 bytes from p the current block (p + 64 <= end_).
#if defined(__SSE2__)
  void LoadBlock(const char* p) {
    const __m128i vd = _mm_set1_epi8(delimiter_);
    const __m128i vn = _mm_set1_epi8('\n');
    const __m128i vr = _mm_set1_epi8('\r');
    const __m128i vq = _mm_set1_epi8('"');
    uint64_t mask = 0;
    for (int i = 0; i < 4; ++i) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i));
      const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, vd), _mm_cmpeq_epi8(x, vn)),
                                        _mm_or_si128(_mm_cmpeq_epi8(x, vr), _mm_cmpeq_epi8(x, vq)));
      mask |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(hits))) << (16 * i);
    }
    block_ = reinterpret_cast<uintptr_t>(p);
    block_mask_ = mask;
  }
#else
  void LoadBlock(const char* p) {
    uint64_t mask = 0;
    for (int i = 0; i < 64; ++i) {
      const char c = p[i];
      if (c == delimiter_ || c == '\n' || c == '\r' || c == '"') mask |= uint64_t{1} << i;
    }
    block_ = reinterpret_cast<uintptr_t>(p);
    block_mask_ = mask;
  }
#endif

  [[noreturn]] void FailTooLong(const char* field_start, size_t size) {
    const size_t index = fields_.size();
    std::string which = "field " + std::to_string(index + 1);
    if (expected_fields_ > 0 && index < reader_.header_.size()) {
      which += " ('" + PrintableExcerpt(reader_.header_[index]) + "')";
    }
    Fail(field_start, which + " is " + std::to_string(size) + " bytes long, over the limit of " +
                          std::to_string(max_field_) + " bytes (max_field_bytes)");
  }

  void ValidateNextBlock() {
    const auto* end = reinterpret_cast<const unsigned char*>(end_);
    if (bad_utf8_ != nullptr) {
      validated_ = end;
      return;
    }
    const unsigned char* stop = static_cast<size_t>(end - validated_) > kUtf8BlockBytes
                                    ? validated_ + kUtf8BlockBytes
                                    : end;
    const unsigned char* bad = nullptr;
    validated_ = ValidateUtf8(validated_, stop, end, &bad);
    if (bad != nullptr) {
      bad_utf8_ = bad;
      validated_ = end;
    }
  }

  [[noreturn]] void FailUtf8() {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned>(*bad_utf8_));
    reader_.FailAt(static_cast<uint64_t>(reinterpret_cast<const char*>(bad_utf8_) - base_),
                   std::string("invalid UTF-8 (byte ") + hex + ")");
  }

  const CsvReader& reader_;
  const char* const base_;
  const char* const end_;
  const char delimiter_;
  const size_t max_field_;
  const int expected_fields_;  // -1 for the header row
  const unsigned char* validated_;
  const unsigned char* bad_utf8_ = nullptr;
  // The 64 bytes from block_ (an address; 0 = none), and a bit per byte that
  // is special (delimiter, quote, CR, LF): fields are found by counting
  // trailing zeros instead of scanning each one.
  uintptr_t block_ = 0;
  uint64_t block_mask_ = 0;
  std::vector<std::string_view> fields_;
  std::vector<uint64_t> offsets_;
  std::vector<Escaped> escaped_;
  std::string scratch_;  // unescaped quoted fields of the current row
};

// ---------------------------------------------------------------------------
// CsvReader.

std::unique_ptr<CsvReader> CsvReader::Open(const std::filesystem::path& path, CsvOptions options) {
  const char d = options.delimiter;
  if (d == '"' || d == '\n' || d == '\r' || static_cast<unsigned char>(d) >= 0x80) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "CSV delimiter must be an ASCII character other than '\"', CR and LF");
  }
  if (options.max_field_bytes == 0) {
    throw Error(ErrorCode::kInvalidParameterValue, "max_field_bytes must be positive");
  }
  std::unique_ptr<CsvReader> reader(new CsvReader());
  reader->path_ = path;
  reader->options_ = std::move(options);

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw Error(ErrorCode::kResourceDoesNotExist,
                "Cannot open CSV file " + path.string() + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::kInvalidParameterValue, path.string() + " is not a regular file");
  }
  reader->size_ = static_cast<uint64_t>(st.st_size);
  if (reader->size_ > 0) {
    void* map = ::mmap(nullptr, reader->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw Error(ErrorCode::kInternalError,
                  "Cannot map CSV file " + path.string() + ": " + std::strerror(err));
    }
    ::madvise(map, reader->size_, MADV_SEQUENTIAL);
    reader->data_ = static_cast<const char*>(map);
  }
  ::close(fd);

  uint64_t start = 0;
  if (reader->size_ >= 3 && std::memcmp(reader->data_, "\xEF\xBB\xBF", 3) == 0) start = 3;
  if (start == reader->size_) {
    throw CsvError(0, path.string() + " is empty: expected a header row");
  }

  RangeParser parser(*reader, start, -1);
  const char* next = parser.ParseRow(reader->data_ + start);
  reader->data_begin_ = static_cast<uint64_t>(next - reader->data_);
  const auto& names = parser.fields();
  std::unordered_map<std::string_view, size_t> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    const char* at = reader->data_ + parser.offsets()[i];
    if (names[i].empty()) {
      parser.Fail(at,
                  "header field " + std::to_string(i + 1) + " is empty: every column needs a name");
    }
    auto [it, inserted] = seen.emplace(names[i], i);
    if (!inserted) {
      parser.Fail(at, "header name '" + PrintableExcerpt(names[i]) + "' (field " +
                          std::to_string(i + 1) + ") repeats field " +
                          std::to_string(it->second + 1) + ": column names must be unique");
    }
    reader->header_.emplace_back(names[i]);
  }
  for (const auto& [name, type] : reader->options_.type_overrides) {
    if (!seen.contains(name)) {
      throw CsvError(0, path.string() + ": the type override for column '" +
                            PrintableExcerpt(name) + "' names no column of the header");
    }
  }
  return reader;
}

CsvReader::~CsvReader() {
  if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
}

std::vector<CsvByteRange> CsvReader::Split(int parts) const {
  std::vector<CsvByteRange> ranges;
  const uint64_t begin = data_begin_;
  const uint64_t end = size_;
  if (begin >= end) return ranges;
  uint64_t pos = begin;  // start of the next range; outside quotes
  int parity = 0;        // quotes in [begin, scanned) mod 2
  uint64_t scanned = begin;
  for (int i = 1; i < parts; ++i) {
    const uint64_t target = begin + (end - begin) * static_cast<uint64_t>(i) / parts;
    if (target <= pos) continue;
    // Quote parity up to the target, at memchr speed.
    const char* p = data_ + scanned;
    const char* const stop = data_ + target;
    while (const char* q = static_cast<const char*>(std::memchr(p, '"', stop - p))) {
      parity ^= 1;
      p = q + 1;
    }
    // The next LF outside quotes ends the range.
    p = stop;
    const char* const file_end = data_ + end;
    while (p < file_end && !(*p == '\n' && parity == 0)) {
      if (*p == '"') parity ^= 1;
      ++p;
    }
    if (p >= file_end - 1) break;  // no boundary left before the end
    const uint64_t cut = static_cast<uint64_t>(p + 1 - data_);
    ranges.push_back({pos, cut});
    pos = cut;
    scanned = cut;
  }
  ranges.push_back({pos, end});
  return ranges;
}

int64_t CsvReader::ForEachRow(CsvByteRange range, const std::function<void(const CsvRow&)>& on_row,
                              const std::atomic<uint64_t>* stop_after) const {
  if (range.begin < data_begin_ || range.end > size_ || range.begin > range.end) {
    throw Error(ErrorCode::kInvalidParameterValue, "CSV byte range outside the data rows");
  }
  RangeParser parser(*this, range.begin, static_cast<int>(header_.size()));
  const char* p = data_ + range.begin;
  const char* const end = data_ + range.end;
  int64_t rows = 0;
  while (p < end) {
    const uint64_t offset = static_cast<uint64_t>(p - data_);
    if (stop_after != nullptr && offset > stop_after->load(std::memory_order_relaxed)) break;
    p = parser.ParseRow(p);
    CsvRow row;
    row.fields = parser.fields();
    row.field_offsets = parser.offsets();
    row.offset = offset;
    on_row(row);
    ++rows;
  }
  return rows;
}

int64_t CsvReader::ForEachBlock(CsvByteRange range, size_t max_rows,
                                const std::function<void(const CsvBlock&)>& on_block,
                                const std::atomic<uint64_t>* stop_after) const {
  if (range.begin < data_begin_ || range.end > size_ || range.begin > range.end) {
    throw Error(ErrorCode::kInvalidParameterValue, "CSV byte range outside the data rows");
  }
  max_rows = std::max<size_t>(max_rows, 1);
  const size_t columns = header_.size();
  RangeParser parser(*this, range.begin, static_cast<int>(columns));
  // A row's fields are stored `stride` views apart. Not a multiple of 4 KiB:
  // with max_rows = 256 they would all map to the same cache set (the row's
  // stores would evict each other); one more cache line per column spreads
  // them.
  const size_t stride = (max_rows + 3) / 4 * 4 + 4;
  std::vector<std::string_view> values(columns * stride);
  std::vector<uint64_t> row_offsets;
  row_offsets.reserve(max_rows);
  std::string scratch;  // unescaped fields of the block
  std::vector<RangeParser::BlockCopy> copies;
  CsvBlock block;
  block.stride = stride;
  block.values = values;
  auto deliver = [&] {
    if (row_offsets.empty()) return;
    for (const RangeParser::BlockCopy& copy : copies) {
      values[copy.slot] = std::string_view(scratch).substr(copy.offset, copy.size);
    }
    block.rows = row_offsets.size();
    block.row_offsets = row_offsets;
    on_block(block);
    row_offsets.clear();
    scratch.clear();
    copies.clear();
  };
  const char* p = data_ + range.begin;
  const char* const end = data_ + range.end;
  int64_t rows = 0;
  while (p < end) {
    const uint64_t offset = static_cast<uint64_t>(p - data_);
    if (stop_after != nullptr && offset > stop_after->load(std::memory_order_relaxed)) break;
    const size_t r = row_offsets.size();
    const size_t first_copy = copies.size();
    try {
      p = parser.ParseRowInto(p, values.data() + r, stride, scratch, copies);
    } catch (const CsvError&) {
      deliver();  // the rows before this one
      throw;
    }
    for (size_t i = first_copy; i < copies.size(); ++i) copies[i].slot += r;
    row_offsets.push_back(offset);
    ++rows;
    if (row_offsets.size() == max_rows) deliver();
  }
  deliver();
  return rows;
}

std::vector<std::vector<std::string>> CsvReader::ReadAll() const {
  std::vector<std::vector<std::string>> rows;
  ForEachRow(DataRange(),
             [&](const CsvRow& row) { rows.emplace_back(row.fields.begin(), row.fields.end()); });
  return rows;
}

int64_t CsvReader::CountRows() const {
  return ForEachRow(DataRange(), [](const CsvRow&) {});
}

CsvLocation CsvReader::Locate(uint64_t offset) const {
  offset = std::min(offset, size_);
  CsvLocation loc{1, 1};
  uint64_t line_start = 0;
  const char* p = data_;
  const char* const stop = data_ + offset;
  while (p < stop) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', stop - p));
    if (nl == nullptr) break;
    ++loc.line;
    line_start = static_cast<uint64_t>(nl + 1 - data_);
    p = nl + 1;
  }
  // The byte order mark is not part of the first line's text.
  if (loc.line == 1 && size_ >= 3 && std::memcmp(data_, "\xEF\xBB\xBF", 3) == 0) {
    line_start = std::min<uint64_t>(3, offset);
  }
  loc.column = static_cast<int64_t>(offset - line_start) + 1;
  return loc;
}

void CsvReader::FailAt(uint64_t offset, std::string_view what) const {
  const CsvLocation loc = Locate(offset);
  throw CsvError(offset, path_.string() + ": line " + std::to_string(loc.line) + ", column " +
                             std::to_string(loc.column) + ": " + std::string(what));
}

void CsvReader::FailAtLine(uint64_t offset, std::string_view what) const {
  const CsvLocation loc = Locate(offset);
  throw CsvError(offset,
                 path_.string() + ": line " + std::to_string(loc.line) + ": " + std::string(what));
}

}  // namespace slipway::data
