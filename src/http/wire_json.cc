#include "http/wire_json.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace slipway::http {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Exact powers of ten (10^22 is the last one a double holds exactly).
constexpr double kPowersOfTen[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// The digits in the eight bytes at `p` (all eight must be readable), read
// at once: how many of them begin the run (0 to 8), and their value in
// `*value`. A byte loop costs a multiply-add chained on the previous digit
// and a branch that mispredicts wherever a number's length changes; features
// are printed with six to nine digits, so this is most of a body's parse.
// This is the word-at-a-time technique simdjson and fast_float use for runs
// of exactly eight digits, extended to shorter runs by shifting the digits
// found to the top of the word (zeros above them change no value).
[[gnu::always_inline]] inline int DigitRun8(const char* p, uint64_t* value) {
  uint64_t word;
  std::memcpy(&word, p, 8);  // little-endian: p[0] is the lowest byte
  // Digits become 0..9. A byte below '0' borrows from the bytes after it,
  // which are past the run and never read.
  const uint64_t x = word - 0x3030303030303030ULL;
  // The high bit of every byte that is not 0..9: adding 0x76 takes 10 and
  // above past 0x7F, and bytes already above it keep their own high bit.
  const uint64_t high = ((x + 0x7676767676767676ULL) | x) & 0x8080808080808080ULL;
  const int n = high == 0 ? 8 : std::countr_zero(high) / 8;
  if (n == 0) {
    *value = 0;
    return 0;
  }
  uint64_t v = x << (8 * (8 - n));  // the n digits in the top bytes, zeros below
  // Pairs, then the four pairs: byte 2i becomes ten times digit 2i plus digit
  // 2i+1 (at most 99, so no byte carries into the next).
  v = v * 10 + (v >> 8);
  const uint64_t pairs = 0x000000FF000000FFULL;
  // Pairs 0 and 2 (bytes 0 and 4) times 10^6 and 10^2, pairs 1 and 3 (bytes
  // 2 and 6) times 10^4 and 1, each sum landing in the word's upper half.
  v = ((v & pairs) * (100 + (1000000ULL << 32)) + ((v >> 16) & pairs) * (1 + (10000ULL << 32))) >>
      32;
  *value = v;
  return n;
}

constexpr uint64_t kIntegerPowersOfTen[] = {1,      10,      100,      1000,     10000,
                                            100000, 1000000, 10000000, 100000000};

// The run of digits at `p` appended to `*mantissa` (which may wrap when the
// run is long: callers count digits); returns the end of the run.
[[gnu::always_inline]] inline const char* ReadDigits(const char* p, const char* end,
                                                     uint64_t* mantissa) {
  while (end - p >= 8) {
    uint64_t value;
    const int n = DigitRun8(p, &value);
    *mantissa = *mantissa * kIntegerPowersOfTen[n] + value;
    p += n;
    if (n < 8) return p;
  }
  while (p < end && IsDigit(*p)) *mantissa = *mantissa * 10 + static_cast<unsigned>(*p++ - '0');
  return p;
}

// A JSON number at `p` in the form clients print features (`-0.2419739`,
// `1.5e-3`): the end of its text, with the value in `out`, or nullptr when
// it is not one the fast path takes (more than 19 significant digits, a
// value Clinger's fast path does not give exactly, a literal, or no JSON
// number at all). Callers then take the general path, which reads the same
// numbers to the same values and reports errors; this one is only faster.
const char* PlainNumber(const char* p, const char* end, double* out) {
  // No branch on the sign or on a leading `0` (most features are -1..1):
  // either would mispredict on every other number.
  const bool negative = *p == '-';
  p += negative;
  if (p == end) return nullptr;
  const char* digits = p;
  uint64_t mantissa = 0;
  p = ReadDigits(p, end, &mantissa);
  size_t count = static_cast<size_t>(p - digits);
  if (count == 0 || (count > 1 && *digits == '0')) return nullptr;  // none, or a leading zero
  int64_t exp10 = 0;
  bool integer = true;  // `-0` is an integer, and Python reads it as 0
  if (p < end && *p == '.') {
    integer = false;
    const char* fraction = ++p;
    p = ReadDigits(p, end, &mantissa);
    const size_t taken = static_cast<size_t>(p - fraction);
    if (taken == 0) return nullptr;
    count += taken;
    exp10 = -static_cast<int64_t>(taken);
  }
  if (count > 19) return nullptr;  // `mantissa` may have wrapped
  if (p < end && (*p == 'e' || *p == 'E')) {
    integer = false;
    ++p;
    bool minus = false;
    if (p < end && (*p == '+' || *p == '-')) minus = *p++ == '-';
    const char* first = p;
    int64_t e = 0;
    while (p < end && IsDigit(*p) && p - first < 4) e = e * 10 + (*p++ - '0');
    if (p == first || (p < end && IsDigit(*p))) return nullptr;
    exp10 += minus ? -e : e;
  }
  if (mantissa > (uint64_t{1} << 53) || exp10 < -22 || exp10 > 22) return nullptr;
  double value = static_cast<double>(mantissa);
  value = exp10 < 0 ? value / kPowersOfTen[-exp10] : value * kPowersOfTen[exp10];
  // The sign as a bit, not a branch: signs of features are a coin toss, and
  // a mispredicted branch costs more than the rest of the number.
  const uint64_t sign =
      (static_cast<uint64_t>(negative) & ~(static_cast<uint64_t>(integer) & (mantissa == 0))) << 63;
  *out = std::bit_cast<double>(std::bit_cast<uint64_t>(value) | sign);
  return p;
}

// Length of the UTF-8 sequence at `p` (1..4), or 0 when it is not valid
// UTF-8 (overlong forms, surrogates and code points above U+10FFFF included).
size_t Utf8Length(const unsigned char* p, const unsigned char* end, uint32_t* code) {
  unsigned char c = p[0];
  if (c < 0x80) {
    *code = c;
    return 1;
  }
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (static_cast<size_t>(end - p) < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  *code = cp;
  return n;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

JsonScanner::JsonScanner(std::string_view text, std::string prefix, size_t start)
    : text_(text), prefix_(std::move(prefix)), pos_(start) {
  if (start == 0 && text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
}

void JsonScanner::FailAt(size_t offset, std::string_view what) const {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text_.size(); ++i) {
    if (text_[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  throw Error(ErrorCode::kBadRequest, prefix_ + "malformed JSON at line " + std::to_string(line) +
                                          ", column " + std::to_string(column) + " (byte " +
                                          std::to_string(offset) + "): " + std::string(what));
}

void JsonScanner::Fail(std::string_view what) {
  SkipSpace();
  FailAt(pos_, what);
}

void JsonScanner::SkipSpace() {
  while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
}

size_t JsonScanner::Offset() {
  SkipSpace();
  return pos_;
}

JsonScanner::Kind JsonScanner::Peek() {
  SkipSpace();
  if (pos_ >= text_.size()) FailAt(pos_, "unexpected end of input, expected a value");
  switch (text_[pos_]) {
    case 'n':
      return Kind::kNull;
    case 't':
    case 'f':
      return Kind::kBool;
    case '"':
      return Kind::kString;
    case '[':
      return Kind::kArray;
    case '{':
      return Kind::kObject;
    case '-':
    case 'N':
    case 'I':
      return Kind::kNumber;
    default:
      if (IsDigit(text_[pos_])) return Kind::kNumber;
      FailAt(pos_, "expected a value");
  }
}

char JsonScanner::Expect(char c, std::string_view what) {
  SkipSpace();
  if (pos_ >= text_.size())
    FailAt(pos_, std::string("unexpected end of input, expected ") + std::string(what));
  if (text_[pos_] != c) FailAt(pos_, std::string("expected ") + std::string(what));
  return text_[pos_++];
}

void JsonScanner::ScanLiteral(std::string_view word) {
  if (text_.substr(pos_, word.size()) != word) FailAt(pos_, "expected a value");
  pos_ += word.size();
}

void JsonScanner::ReadNull() {
  if (Peek() != Kind::kNull) Fail("expected null");
  ScanLiteral("null");
}

bool JsonScanner::ReadBool() {
  if (Peek() != Kind::kBool) Fail("expected true or false");
  if (text_[pos_] == 't') {
    ScanLiteral("true");
    return true;
  }
  ScanLiteral("false");
  return false;
}

void JsonScanner::ScanNumber(Number* out) {
  const size_t start = pos_;
  const char* p = text_.data();
  const size_t n = text_.size();
  bool negative = false;
  if (pos_ < n && p[pos_] == '-') {
    negative = true;
    ++pos_;
  }
  if (pos_ < n && (p[pos_] == 'I' || p[pos_] == 'N')) {
    if (p[pos_] == 'N' && !negative) {
      ScanLiteral("NaN");
      if (out) *out = Number{std::numeric_limits<double>::quiet_NaN(), false, 0};
      return;
    }
    if (p[pos_] == 'I') {
      ScanLiteral("Infinity");
      double inf = std::numeric_limits<double>::infinity();
      if (out) *out = Number{negative ? -inf : inf, false, 0};
      return;
    }
    FailAt(start, "expected a number");
  }
  if (pos_ >= n || !IsDigit(p[pos_])) FailAt(start, "expected a number");
  // The digits are checked and taken in one pass: up to 19 digits in
  // `mantissa` (leading zeros count: a number with many of them and many
  // digits goes to from_chars below), the power of ten they are scaled by
  // in `exp10`.
  uint64_t mantissa = 0;
  size_t taken = 0;
  int64_t exp10 = 0;
  bool exact = true;  // no digit but zeros was left out of `mantissa`
  auto take_run = [&](bool fraction) {
    const size_t begin = pos_;
    while (pos_ < n && IsDigit(p[pos_])) ++pos_;
    const size_t count = pos_ - begin;
    const size_t use = std::min(count, size_t{19} - taken);
    for (size_t i = 0; i < use; ++i)
      mantissa = mantissa * 10 + static_cast<unsigned>(p[begin + i] - '0');
    for (size_t i = use; i < count; ++i) exact &= p[begin + i] == '0';
    taken += use;
    exp10 += fraction ? -static_cast<int64_t>(use) : static_cast<int64_t>(count - use);
  };
  if (p[pos_] == '0') {
    ++pos_;
    if (pos_ < n && IsDigit(p[pos_])) FailAt(start, "a number may not have leading zeros");
  } else {
    take_run(false);
  }
  bool integer = true;
  if (pos_ < n && p[pos_] == '.') {
    integer = false;
    ++pos_;
    if (pos_ >= n || !IsDigit(p[pos_])) FailAt(pos_, "expected a digit after the decimal point");
    take_run(true);
  }
  if (pos_ < n && (p[pos_] == 'e' || p[pos_] == 'E')) {
    integer = false;
    ++pos_;
    bool minus = false;
    if (pos_ < n && (p[pos_] == '+' || p[pos_] == '-')) minus = p[pos_++] == '-';
    if (pos_ >= n || !IsDigit(p[pos_])) FailAt(pos_, "expected a digit in the exponent");
    int64_t e = 0;
    while (pos_ < n && IsDigit(p[pos_])) {
      if (e < 100000) e = e * 10 + (p[pos_] - '0');
      ++pos_;
    }
    exp10 += minus ? -e : e;
  }
  if (!out) return;
  const char* first = p + start;
  const char* last = p + pos_;
  if (integer && exact && taken <= 18 && exp10 == 0) {
    const int64_t value =
        negative ? -static_cast<int64_t>(mantissa) : static_cast<int64_t>(mantissa);
    *out = Number{static_cast<double>(value), true, value};
    return;
  }
  // Clinger's fast path (as in fast_float and every strtod): a mantissa
  // below 2^53 and a power of ten up to 10^22 are both exact doubles, so one
  // multiplication or division is the correctly rounded value. Numbers
  // written with few digits, as clients print features, all take it; the
  // rest go to from_chars.
  if (!integer && exact && mantissa <= (uint64_t{1} << 53) && exp10 >= -22 && exp10 <= 22) {
    double value = static_cast<double>(mantissa);
    value = exp10 < 0 ? value / kPowersOfTen[-exp10] : value * kPowersOfTen[exp10];
    *out = Number{negative ? -value : value, false, 0};
    return;
  }
  if (integer) {
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec == std::errc() && ptr == last) {
      *out = Number{static_cast<double>(value), true, value};
      return;
    }
    // Beyond int64: Python keeps an exact int, pandas an object column;
    // Slipway holds numbers as doubles, so it is a (rounded) float.
  }
  double value = 0;
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec == std::errc::result_out_of_range) {
    // Python's float(): overflow is infinite, underflow is zero; only a
    // negative exponent makes a literal small enough to underflow.
    bool huge = true;
    for (const char* q = first; q < last; ++q) {
      if ((*q == 'e' || *q == 'E') && q + 1 < last && q[1] == '-') huge = false;
    }
    double inf = std::numeric_limits<double>::infinity();
    value = huge ? (negative ? -inf : inf) : (negative ? -0.0 : 0.0);
  } else if (ec != std::errc() || ptr != last) {
    FailAt(start, "expected a number");
  }
  *out = Number{value, false, 0};
}

bool JsonScanner::TryReadNumber(Number* out) {
  SkipSpace();
  if (pos_ >= text_.size() || !(IsDigit(text_[pos_]) || text_[pos_] == '-')) return false;
  ScanNumber(out);
  return true;
}

namespace {

// The first `n` bytes at or after `p` that are ',' or ']' (before `end`),
// into `found[0..n)`; false when the body has fewer. On x86-64 sixteen
// bytes are compared at once (SSE2, which every x86-64 has), so finding a
// row's separators costs a fraction of a cycle per byte; a block's
// separators are written without checking for the n-th (`found` has room
// for one block past it).
bool FindSeparators(const char* p, const char* end, size_t n, std::vector<const char*>& found) {
  if (found.size() < n + 16) found.resize(n + 16);
  const char** out = found.data();
  size_t k = 0;
#if defined(__x86_64__)
  const __m128i comma = _mm_set1_epi8(',');
  const __m128i close = _mm_set1_epi8(']');
  while (end - p >= 16 && k < n) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    auto mask = static_cast<uint32_t>(_mm_movemask_epi8(
        _mm_or_si128(_mm_cmpeq_epi8(bytes, comma), _mm_cmpeq_epi8(bytes, close))));
    while (mask != 0) {
      out[k++] = p + std::countr_zero(mask);
      mask &= mask - 1;
    }
    p += 16;
  }
#endif
  for (; p < end && k < n; ++p) {
    if (*p == ',' || *p == ']') out[k++] = p;
  }
  return k >= n;
}

#if defined(__x86_64__)
#define SLIPWAY_SSSE3 __attribute__((target("ssse3")))

// pshufb masks that gather a number's digits (up to 16 characters, at most
// one of them a '.') into the low end of a 16-byte register, most
// significant first, with zero bytes in front: kGather.mask[length][dot],
// `dot` the '.''s index or 16 when there is none.
struct GatherMasks {
  uint8_t mask[17][17][16];
};

constexpr GatherMasks MakeGatherMasks() {
  GatherMasks t{};
  for (int length = 0; length <= 16; ++length) {
    for (int dot = 0; dot <= 16; ++dot) {
      const bool has_dot = dot < length;
      const int digits = has_dot ? length - 1 : length;
      for (int j = 0; j < 16; ++j) {
        const int k = j - (16 - digits);  // which digit lands in byte j
        t.mask[length][dot][j] =
            k < 0 ? 0x80 : static_cast<uint8_t>(has_dot && k >= dot ? k + 1 : k);
      }
    }
  }
  return t;
}

constexpr GatherMasks kGather = MakeGatherMasks();

// A number of the plain form `123`, `-0.25` or `12.5` in [p, stop), at most
// 16 characters after the sign, read with SSSE3 into `out`; false (nothing
// read) for any other text, which the scalar PlainNumber then takes or
// refuses. Needs 16 readable bytes at `p` (after the sign). The digits are
// checked, gathered past the '.', and combined in pairs, fours and eights
// by multiply-adds: the technique simdjson and fast_float use for eight
// digits at once, here for sixteen with the '.' removed by the gather.
SLIPWAY_SSSE3 inline bool SimdPlainNumber(const char* p, const char* stop, double* out) {
  const bool negative = *p == '-';
  p += negative;
  const auto length = static_cast<size_t>(stop - p);
  if (length == 0 || length > 16) return false;
  const __m128i text = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i digits = _mm_sub_epi8(text, _mm_set1_epi8('0'));
  const uint32_t in_number = (uint32_t{1} << length) - 1;
  const auto is_digit = static_cast<uint32_t>(_mm_movemask_epi8(
                            _mm_cmpeq_epi8(_mm_min_epu8(digits, _mm_set1_epi8(9)), digits))) &
                        in_number;
  const auto is_dot =
      static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(text, _mm_set1_epi8('.')))) &
      in_number;
  const size_t dot = is_dot == 0 ? 16 : static_cast<size_t>(std::countr_zero(is_dot));
  // Digits with at most one '.' between two of them, and no leading zero
  // before another digit (JSON's grammar; `0.5` is fine, `05` is not). One
  // test, computed without branches: whether a number starts with `0` or
  // `-` is a coin toss from one number to the next, and a mispredicted
  // branch costs more than the rest of the number.
  const uint32_t leading_zero = static_cast<uint32_t>(p[0] == '0') &
                                static_cast<uint32_t>(length > 1) & static_cast<uint32_t>(dot != 1);
  const uint32_t bad = ((is_digit | is_dot) ^ in_number) | (is_dot & (is_dot - 1)) |
                       static_cast<uint32_t>(dot == 0) | static_cast<uint32_t>(dot + 1 == length) |
                       leading_zero;
  if (bad != 0) return false;
  const __m128i gathered = _mm_shuffle_epi8(
      digits, _mm_loadu_si128(reinterpret_cast<const __m128i*>(kGather.mask[length][dot])));
  // Pairs (10a + b), fours (100 pair + pair), then two eights.
  const __m128i pairs = _mm_maddubs_epi16(gathered, _mm_set1_epi16(0x010A));
  const __m128i fours = _mm_madd_epi16(pairs, _mm_set1_epi32(0x00010064));
  const __m128i eights = _mm_madd_epi16(_mm_packs_epi32(fours, fours), _mm_set1_epi32(0x00012710));
  const auto high = static_cast<uint64_t>(_mm_cvtsi128_si32(eights));
  const auto low = static_cast<uint64_t>(_mm_cvtsi128_si32(_mm_srli_si128(eights, 4)));
  const uint64_t mantissa = high * 100000000 + low;
  if (mantissa > (uint64_t{1} << 53)) return false;
  const bool integer = dot == 16;
  double value = static_cast<double>(mantissa);
  if (!integer) value /= kPowersOfTen[length - 1 - dot];
  // As PlainNumber: the sign as a bit; `-0` is the integer 0.
  const uint64_t sign =
      (static_cast<uint64_t>(negative) & ~(static_cast<uint64_t>(integer) & (mantissa == 0))) << 63;
  *out = std::bit_cast<double>(std::bit_cast<uint64_t>(value) | sign);
  return true;
}

bool HasSsse3() {
  static const bool has = __builtin_cpu_supports("ssse3");
  return has;
}
#else
#define SLIPWAY_SSSE3
#endif

// The `n` values of a list whose ends `stops` holds, from `p` (after the '['):
// numbers, and nulls when `nulls`; returns the end of the list or nullptr.
SLIPWAY_SSSE3 const char* ReadListValues(const char* p, const char* end, const char* const* stops,
                                         size_t n, bool nulls, double* out) {
  for (size_t i = 0; i < n; ++i) {
    const char* const stop = stops[i];
    if (*stop != (i + 1 < n ? ',' : ']')) return nullptr;
    while (p < stop && IsSpace(*p)) ++p;
    const char* last = stop;  // the value's text is [p, last)
    while (last > p && IsSpace(last[-1])) --last;
    if (p == last) return nullptr;
#if defined(__x86_64__)
    if (end - p >= 17 && SimdPlainNumber(p, last, &out[i])) {
      p = stop + 1;
      continue;
    }
#endif
    if (*p == 'n') {
      if (!nulls || last - p != 4 || std::memcmp(p, "null", 4) != 0) return nullptr;
      out[i] = std::numeric_limits<double>::quiet_NaN();
    } else if (PlainNumber(p, end, &out[i]) != last) {
      // PlainNumber reads digits, '.', 'e' and signs only, so it stops at
      // `last` at the latest (it may look past it, never past the body).
      return nullptr;
    }
    p = stop + 1;
  }
  return p;
}

}  // namespace

bool JsonScanner::TryReadNumberList(double* out, size_t n, bool nulls) {
  SkipSpace();
  const char* const begin = text_.data();
  const char* const end = begin + text_.size();
  const char* p = begin + pos_;
  if (n == 0 || p == end || *p != '[') return false;
  // A list of lists (or of anything but numbers and nulls) is not looked
  // through for its separators.
  const char* first = p + 1;
  while (first < end && IsSpace(*first)) ++first;
  if (first == end || !(*first == '-' || (nulls && *first == 'n') || IsDigit(*first))) return false;
#if defined(__x86_64__)
  if (!HasSsse3()) return false;  // every x86-64 since 2006 has it
#endif
  // Two passes: first where every value ends (its ',' or the closing ']'),
  // then each value read from its own start. Read in one pass, where a
  // number starts depends on the length of the one before, a chain of
  // dependent loads through every byte; with the ends known first, the
  // processor reads several numbers at once. A ',' or ']' inside a string
  // or a nested list only makes a value that is not a plain number, and
  // then this returns false like any other value it does not take.
  if (!FindSeparators(p + 1, end, n, separators_)) return false;
  p = ReadListValues(p + 1, end, separators_.data(), n, nulls, out);
  if (p == nullptr) return false;
  pos_ = static_cast<size_t>(p - begin);
  return true;
}

JsonScanner::Number JsonScanner::ReadNumber() {
  if (Peek() != Kind::kNumber) Fail("expected a number");
  Number number;
  ScanNumber(&number);
  return number;
}

void JsonScanner::ScanString(std::string* out) {
  const size_t open = pos_;
  ++pos_;  // the opening quote
  const char* p = text_.data();
  const size_t n = text_.size();
  size_t run = pos_;  // start of the bytes not yet copied to `out`
  while (true) {
    if (pos_ >= n) FailAt(open, "unterminated string");
    unsigned char c = static_cast<unsigned char>(p[pos_]);
    if (c == '"') {
      if (out) out->append(p + run, pos_ - run);
      ++pos_;
      return;
    }
    if (c < 0x20) FailAt(pos_, "invalid control character in a string");
    if (c >= 0x80) {
      uint32_t cp;
      size_t len = Utf8Length(reinterpret_cast<const unsigned char*>(p + pos_),
                              reinterpret_cast<const unsigned char*>(p + n), &cp);
      if (len == 0) FailAt(pos_, "invalid UTF-8 in a string");
      pos_ += len;
      continue;
    }
    if (c != '\\') {
      ++pos_;
      continue;
    }
    if (out) out->append(p + run, pos_ - run);
    const size_t escape = pos_;
    ++pos_;
    if (pos_ >= n) FailAt(open, "unterminated string");
    char e = p[pos_++];
    char plain = 0;
    switch (e) {
      case '"':
        plain = '"';
        break;
      case '\\':
        plain = '\\';
        break;
      case '/':
        plain = '/';
        break;
      case 'b':
        plain = '\b';
        break;
      case 'f':
        plain = '\f';
        break;
      case 'n':
        plain = '\n';
        break;
      case 'r':
        plain = '\r';
        break;
      case 't':
        plain = '\t';
        break;
      case 'u': {
        auto hex4 = [&](size_t at) -> int32_t {
          if (at + 4 > n) FailAt(escape, "invalid \\u escape");
          int32_t v = 0;
          for (size_t i = 0; i < 4; ++i) {
            int h = HexValue(p[at + i]);
            if (h < 0) FailAt(escape, "invalid \\u escape");
            v = v * 16 + h;
          }
          return v;
        };
        uint32_t cp = static_cast<uint32_t>(hex4(pos_));
        pos_ += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (pos_ + 1 < n && p[pos_] == '\\' && p[pos_ + 1] == 'u') {
            uint32_t low = static_cast<uint32_t>(hex4(pos_ + 2));
            if (low >= 0xDC00 && low <= 0xDFFF) {
              pos_ += 6;
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else {
              FailAt(escape, "unpaired UTF-16 surrogate in a \\u escape");
            }
          } else {
            FailAt(escape, "unpaired UTF-16 surrogate in a \\u escape");
          }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          FailAt(escape, "unpaired UTF-16 surrogate in a \\u escape");
        }
        if (out) AppendUtf8(*out, cp);
        break;
      }
      default:
        FailAt(escape, "invalid escape in a string");
    }
    if (plain && out) out->push_back(plain);
    run = pos_;
  }
}

std::string_view JsonScanner::ReadString(std::string& scratch) {
  if (Peek() != Kind::kString) Fail("expected a string");
  // Fast path: no escapes, so the text is a view into the body.
  const size_t begin = pos_ + 1;
  const void* quote = std::memchr(text_.data() + begin, '"', text_.size() - begin);
  if (quote != nullptr) {
    const size_t end = static_cast<const char*>(quote) - text_.data();
    bool plain = true;
    for (size_t i = begin; i < end; ++i) {
      unsigned char c = static_cast<unsigned char>(text_[i]);
      if (c == '\\' || c < 0x20 || c >= 0x80) {
        plain = false;
        break;
      }
    }
    if (plain) {
      pos_ = end + 1;
      return text_.substr(begin, end - begin);
    }
  }
  scratch.clear();
  ScanString(&scratch);
  return scratch;
}

void JsonScanner::Enter() {
  if (first_.size() >= kMaxJsonDepth) {
    FailAt(pos_, "nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  first_.push_back(1);
}

void JsonScanner::BeginArray() {
  if (Peek() != Kind::kArray) Fail("expected an array");
  Enter();
  ++pos_;
}

bool JsonScanner::NextItem() {
  SkipSpace();
  if (pos_ >= text_.size()) FailAt(pos_, "unexpected end of input, expected ',' or ']'");
  if (first_.back()) {
    first_.back() = 0;
    if (text_[pos_] == ']') {
      ++pos_;
      first_.pop_back();
      return false;
    }
    return true;
  }
  if (text_[pos_] == ']') {
    ++pos_;
    first_.pop_back();
    return false;
  }
  if (text_[pos_] != ',') FailAt(pos_, "expected ',' or ']'");
  ++pos_;
  SkipSpace();
  if (pos_ < text_.size() && text_[pos_] == ']') FailAt(pos_, "expected a value after ','");
  return true;
}

void JsonScanner::BeginObject() {
  if (Peek() != Kind::kObject) Fail("expected an object");
  Enter();
  ++pos_;
}

bool JsonScanner::NextKey(std::string_view& key, std::string& scratch) {
  SkipSpace();
  if (pos_ >= text_.size()) FailAt(pos_, "unexpected end of input, expected ',' or '}'");
  if (first_.back()) {
    first_.back() = 0;
    if (text_[pos_] == '}') {
      ++pos_;
      first_.pop_back();
      return false;
    }
  } else {
    if (text_[pos_] == '}') {
      ++pos_;
      first_.pop_back();
      return false;
    }
    if (text_[pos_] != ',') FailAt(pos_, "expected ',' or '}'");
    ++pos_;
    SkipSpace();
  }
  if (pos_ >= text_.size() || text_[pos_] != '"') {
    FailAt(pos_, "expected a property name in double quotes");
  }
  key = ReadString(scratch);
  Expect(':', "':' after a property name");
  return true;
}

std::string_view JsonScanner::SkipValue() {
  const size_t start = Offset();
  switch (Peek()) {
    case Kind::kNull:
      ScanLiteral("null");
      break;
    case Kind::kBool:
      ReadBool();
      break;
    case Kind::kNumber:
      ScanNumber(nullptr);
      break;
    case Kind::kString:
      ScanString(nullptr);
      break;
    case Kind::kArray:
      BeginArray();
      while (NextItem()) SkipValue();
      break;
    case Kind::kObject: {
      BeginObject();
      std::string_view key;
      std::string scratch;
      while (NextKey(key, scratch)) SkipValue();
      break;
    }
  }
  return text_.substr(start, pos_ - start);
}

void JsonScanner::ExpectEnd() {
  SkipSpace();
  if (pos_ != text_.size()) FailAt(pos_, "extra data after the JSON value");
}

void AppendPythonFloat(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "Infinity" : "-Infinity";
    return;
  }
  // The shortest digits that round-trip, then laid out as Python's repr
  // does (Python/pystrtod.c, format_float_short with 'r'): positional when
  // the decimal exponent is in [-4, 16), scientific otherwise.
  char buffer[64];
  auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  (void)ec;
  std::string_view sci(buffer, end - buffer);
  bool negative = false;
  if (!sci.empty() && sci[0] == '-') {
    negative = true;
    sci.remove_prefix(1);
  }
  const size_t e_pos = sci.find('e');
  // The significant digits without the point (at most 17), on the stack: no
  // allocation per value.
  char digit_buffer[24];
  size_t ndigits = 0;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digit_buffer[ndigits++] = c;
  }
  const std::string_view digits(digit_buffer, ndigits);
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+' ? 1 : 0), sci.data() + sci.size(),
                  exponent);
  if (negative) out.push_back('-');
  if (exponent < -4 || exponent >= 16) {
    out.push_back(digits[0]);
    if (ndigits > 1) {
      out.push_back('.');
      out.append(digits.substr(1));
    }
    out.push_back('e');
    out.push_back(exponent < 0 ? '-' : '+');
    int magnitude = exponent < 0 ? -exponent : exponent;
    if (magnitude < 10) out.push_back('0');
    AppendInt(out, magnitude);
    return;
  }
  const int point = exponent + 1;  // digits before the decimal point
  if (point <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-point), '0');
    out.append(digits);
  } else if (static_cast<size_t>(point) >= ndigits) {
    out.append(digits);
    out.append(static_cast<size_t>(point) - ndigits, '0');
    out += ".0";
  } else {
    out.append(digits.substr(0, static_cast<size_t>(point)));
    out.push_back('.');
    out.append(digits.substr(static_cast<size_t>(point)));
  }
}

void AppendPythonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto escape_unit = [&](uint32_t unit) {
    out += "\\u";
    out.push_back(kHex[(unit >> 12) & 0xF]);
    out.push_back(kHex[(unit >> 8) & 0xF]);
    out.push_back(kHex[(unit >> 4) & 0xF]);
    out.push_back(kHex[unit & 0xF]);
  };
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    unsigned char c = *p;
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      const unsigned char* run = p;
      while (p < end && *p >= 0x20 && *p < 0x7F && *p != '"' && *p != '\\') ++p;
      out.append(reinterpret_cast<const char*>(run), p - run);
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        ++p;
        continue;
      case '\\':
        out += "\\\\";
        ++p;
        continue;
      case '\n':
        out += "\\n";
        ++p;
        continue;
      case '\r':
        out += "\\r";
        ++p;
        continue;
      case '\t':
        out += "\\t";
        ++p;
        continue;
      case '\b':
        out += "\\b";
        ++p;
        continue;
      case '\f':
        out += "\\f";
        ++p;
        continue;
      default:
        break;
    }
    uint32_t cp;
    size_t len = Utf8Length(p, end, &cp);
    if (len == 0) {
      cp = 0xFFFD;
      len = 1;
    }
    p += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      escape_unit(0xD800 + (cp >> 10));
      escape_unit(0xDC00 + (cp & 0x3FF));
    } else {
      escape_unit(cp);
    }
  }
  out.push_back('"');
}

size_t FirstInvalidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  for (const auto* q = p; q < end;) {
    if (*q < 0x80) {
      ++q;
      continue;
    }
    uint32_t cp;
    size_t len = Utf8Length(q, end, &cp);
    if (len == 0) return static_cast<size_t>(q - p);
    q += len;
  }
  return std::string_view::npos;
}

void AppendInt(std::string& out, int64_t value) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  (void)ec;
  out.append(buffer, end - buffer);
}

}  // namespace slipway::http
