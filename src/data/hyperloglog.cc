#include "data/hyperloglog.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace slipway::data {

namespace {

constexpr uint8_t kMagic = 'H';
constexpr uint8_t kVersion = 1;
constexpr uint8_t kDense = 0;
constexpr uint8_t kSparse = 1;

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view& in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    *v |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

[[noreturn]] void Malformed(const char* what) {
  throw Error(ErrorCode::kInvalidParameterValue,
              std::string("Malformed HyperLogLog sketch: ") + what);
}

// Ertl (2017), Algorithm 6.
double Sigma(double x) {
  if (x == 1.0) return std::numeric_limits<double>::infinity();
  double y = 1.0;
  double z = x;
  double previous;
  do {
    x *= x;
    previous = z;
    z += x * y;
    y += y;
  } while (z != previous);
  return z;
}

double Tau(double x) {
  if (x == 0.0 || x == 1.0) return 0.0;
  double y = 1.0;
  double z = 1.0 - x;
  double previous;
  do {
    x = std::sqrt(x);
    previous = z;
    y *= 0.5;
    z -= (1.0 - x) * (1.0 - x) * y;
  } while (z != previous);
  return z / 3.0;
}

}  // namespace

namespace hash_internal {

uint64_t HashLong(const unsigned char* p, size_t len, uint64_t seed) {
  seed ^= Mix(seed ^ kSecret[0], kSecret[1]);
  size_t i = len;
  if (i > 48) {
    uint64_t see1 = seed;
    uint64_t see2 = seed;
    do {
      seed = Mix(Read8(p) ^ kSecret[1], Read8(p + 8) ^ seed);
      see1 = Mix(Read8(p + 16) ^ kSecret[2], Read8(p + 24) ^ see1);
      see2 = Mix(Read8(p + 32) ^ kSecret[3], Read8(p + 40) ^ see2);
      p += 48;
      i -= 48;
    } while (i > 48);
    seed ^= see1 ^ see2;
  }
  while (i > 16) {
    seed = Mix(Read8(p) ^ kSecret[1], Read8(p + 8) ^ seed);
    i -= 16;
    p += 16;
  }
  uint64_t a = Read8(p + i - 16);
  uint64_t b = Read8(p + i - 8);
  a ^= kSecret[1];
  b ^= seed;
  Mum(&a, &b);
  return Mix(a ^ kSecret[0] ^ len, b ^ kSecret[1]);
}

}  // namespace hash_internal

HyperLogLog::HyperLogLog(int precision) : precision_(precision) {
  if (precision < kMinPrecision || precision > kMaxPrecision) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "HyperLogLog precision must be in [" + std::to_string(kMinPrecision) + ", " +
                    std::to_string(kMaxPrecision) + "], got " + std::to_string(precision));
  }
  registers_.assign(size_t{1} << precision, 0);
}

double HyperLogLog::Estimate() const {
  const int q = 64 - precision_;
  const double m = static_cast<double>(registers_.size());
  std::vector<uint64_t> histogram(static_cast<size_t>(q) + 2, 0);
  for (uint8_t r : registers_) ++histogram[r];
  if (histogram[0] == registers_.size()) return 0.0;
  double z = m * Tau((m - static_cast<double>(histogram[q + 1])) / m);
  for (int k = q; k >= 1; --k) z = 0.5 * (z + static_cast<double>(histogram[k]));
  z += m * Sigma(static_cast<double>(histogram[0]) / m);
  constexpr double kAlphaInf = 0.721347520444481703680;  // 1 / (2 ln 2)
  return kAlphaInf * m * m / z;
}

double HyperLogLog::RelativeStandardError() const {
  return 1.04 / std::sqrt(static_cast<double>(registers_.size()));
}

void HyperLogLog::Merge(const HyperLogLog& other) {
  if (other.precision_ != precision_) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "Cannot merge HyperLogLog sketches of precision " + std::to_string(precision_) +
                    " and " + std::to_string(other.precision_));
  }
  for (size_t i = 0; i < registers_.size(); ++i) {
    if (other.registers_[i] > registers_[i]) registers_[i] = other.registers_[i];
  }
}

std::string HyperLogLog::Serialize() const {
  std::string out;
  out.push_back(static_cast<char>(kMagic));
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(precision_));
  size_t nonzero = 0;
  for (uint8_t r : registers_) nonzero += r != 0;
  const size_t dense_bytes = (registers_.size() * 6 + 7) / 8;
  // A sparse entry takes one value byte and a 1-3 byte index delta.
  if (nonzero * 3 < dense_bytes) {
    out.push_back(static_cast<char>(kSparse));
    PutVarint(out, nonzero);
    size_t previous = 0;
    for (size_t i = 0; i < registers_.size(); ++i) {
      if (registers_[i] == 0) continue;
      PutVarint(out, i - previous);
      out.push_back(static_cast<char>(registers_[i]));
      previous = i;
    }
    return out;
  }
  out.push_back(static_cast<char>(kDense));
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t r : registers_) {
    acc |= static_cast<uint32_t>(r) << bits;
    bits += 6;
    while (bits >= 8) {
      out.push_back(static_cast<char>(acc & 0xFF));
      acc >>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) out.push_back(static_cast<char>(acc & 0xFF));
  return out;
}

HyperLogLog HyperLogLog::Deserialize(std::string_view bytes) {
  if (bytes.size() < 4 || static_cast<uint8_t>(bytes[0]) != kMagic) Malformed("bad header");
  if (static_cast<uint8_t>(bytes[1]) != kVersion) Malformed("unknown version");
  const int precision = static_cast<uint8_t>(bytes[2]);
  if (precision < kMinPrecision || precision > kMaxPrecision) Malformed("bad precision");
  HyperLogLog sketch(precision);
  const uint8_t max_rank = static_cast<uint8_t>(65 - precision);
  const auto encoding = static_cast<uint8_t>(bytes[3]);
  std::string_view in = bytes.substr(4);
  if (encoding == kSparse) {
    uint64_t count;
    if (!GetVarint(in, &count) || count > sketch.registers_.size()) Malformed("bad count");
    uint64_t index = 0;
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t delta;
      if (!GetVarint(in, &delta) || in.empty()) Malformed("truncated");
      if ((i > 0 && delta == 0) || delta >= sketch.registers_.size() - index) {
        Malformed("bad register index");
      }
      index += delta;
      const auto value = static_cast<uint8_t>(in.front());
      in.remove_prefix(1);
      if (value == 0 || value > max_rank) Malformed("bad register value");
      sketch.registers_[index] = value;
    }
    if (!in.empty()) Malformed("trailing bytes");
    return sketch;
  }
  if (encoding != kDense) Malformed("unknown encoding");
  if (in.size() != (sketch.registers_.size() * 6 + 7) / 8) Malformed("wrong size");
  uint32_t acc = 0;
  int bits = 0;
  size_t pos = 0;
  for (uint8_t& r : sketch.registers_) {
    while (bits < 6) {
      acc |= static_cast<uint32_t>(static_cast<uint8_t>(in[pos++])) << bits;
      bits += 8;
    }
    r = static_cast<uint8_t>(acc & 0x3F);
    acc >>= 6;
    bits -= 6;
    if (r > max_rank) Malformed("bad register value");
  }
  return sketch;
}

}  // namespace slipway::data
