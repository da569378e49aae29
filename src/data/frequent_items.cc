#include "data/frequent_items.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "core/error.h"

namespace slipway::data {

namespace {

constexpr uint8_t kMagic = 'F';
constexpr uint8_t kVersion = 1;

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

[[noreturn]] void Malformed(const char* what) {
  throw Error(ErrorCode::kInvalidParameterValue,
              std::string("Malformed frequent items sketch: ") + what);
}

uint64_t GetVarint(std::string_view& in) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return v;
  }
  Malformed("truncated");
}

}  // namespace

FrequentItems::FrequentItems(int capacity) : capacity_(capacity) {
  if (capacity < 2 || capacity > kMaxCapacity) {
    throw Error(ErrorCode::kInvalidParameterValue, "Frequent items capacity must be in [2, " +
                                                       std::to_string(kMaxCapacity) + "], got " +
                                                       std::to_string(capacity));
  }
  entries_.reserve(static_cast<size_t>(capacity) + 1);
  // Load factor at most 1/2 with capacity + 1 entries.
  slots_.assign(std::bit_ceil(static_cast<size_t>(capacity + 1) * 2), 0);
}

int FrequentItems::FindSlot(std::string_view value, uint64_t hash) const {
  const size_t mask = slots_.size() - 1;
  size_t i = static_cast<size_t>(hash) & mask;
  while (true) {
    const uint32_t slot = slots_[i];
    if ((slot >> 16) != generation_) return static_cast<int>(i);
    const Entry& e = entries_[slot & 0xFFFF];
    if (e.hash == hash && SameBytes(KeyOf(e), value)) return static_cast<int>(i);
    i = (i + 1) & mask;
  }
}

void FrequentItems::Insert(std::string_view value, uint64_t hash, int64_t count) {
  const auto slot = static_cast<size_t>(FindSlot(value, hash));
  if ((slots_[slot] >> 16) == generation_) {
    entries_[slots_[slot] & 0xFFFF].count += count;
    return;
  }
  slots_[slot] = (generation_ << 16) | static_cast<uint32_t>(entries_.size());
  entries_.push_back({hash, keys_.size(), static_cast<uint32_t>(value.size()), count});
  keys_.append(value);
  PurgeIfFull();
}

void FrequentItems::PurgeIfFull() {
  if (entries_.size() <= static_cast<size_t>(capacity_)) return;
  // Subtract the lower median: at least half of the counters drop out, so the
  // O(capacity) purge happens at most once per capacity/2 new values.
  const size_t median_index = (entries_.size() - 1) / 2;
  size_t ones = 0;
  for (const Entry& e : entries_) ones += e.count == 1;
  int64_t m = 1;  // the median when most counters are 1 (high-cardinality streams)
  if (ones <= median_index) {
    std::vector<int64_t>& counts = purge_counts_;
    counts.clear();
    for (const Entry& e : entries_) counts.push_back(e.count);
    const auto median = counts.begin() + static_cast<std::ptrdiff_t>(median_index);
    std::nth_element(counts.begin(), median, counts.end());
    m = *median;
  }
  offset_ += m;
  size_t kept = 0;
  size_t live_bytes = 0;
  for (const Entry& e : entries_) {
    if (e.count <= m) continue;
    entries_[kept] = e;
    entries_[kept++].count -= m;
    live_bytes += e.key_size;
  }
  entries_.resize(kept);
  // The bytes of dropped values stay in keys_ until they are most of it.
  if (keys_.size() > 2 * live_bytes + 4096) {
    std::string& keys = purge_keys_;
    keys.clear();
    for (Entry& e : entries_) {
      const std::string_view key = KeyOf(e);
      e.key_offset = keys.size();
      keys.append(key);
    }
    keys_.swap(keys);
  }
  RebuildIndex();
}

void FrequentItems::RebuildIndex() {
  // A new generation empties every slot at once.
  generation_ = (generation_ + 1) & 0xFFFF;
  if (generation_ == 0) {
    std::fill(slots_.begin(), slots_.end(), 0);
    generation_ = 1;
  }
  const size_t mask = slots_.size() - 1;
  for (size_t index = 0; index < entries_.size(); ++index) {
    size_t i = static_cast<size_t>(entries_[index].hash) & mask;
    while ((slots_[i] >> 16) == generation_) i = (i + 1) & mask;
    slots_[i] = (generation_ << 16) | static_cast<uint32_t>(index);
  }
}

void FrequentItems::Merge(const FrequentItems& other) {
  if (other.capacity_ != capacity_) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "Cannot merge frequent items sketches of capacity " + std::to_string(capacity_) +
                    " and " + std::to_string(other.capacity_));
  }
  for (const Entry& e : other.entries_) Insert(other.KeyOf(e), e.hash, e.count);
  total_ += other.total_;
  offset_ += other.offset_;
}

std::vector<FrequentItems::Item> FrequentItems::Top(size_t limit) const {
  std::vector<const Entry*> order;
  order.reserve(entries_.size());
  for (const Entry& e : entries_) order.push_back(&e);
  std::sort(order.begin(), order.end(), [this](const Entry* a, const Entry* b) {
    if (a->count != b->count) return a->count > b->count;
    return KeyOf(*a) < KeyOf(*b);
  });
  if (order.size() > limit) order.resize(limit);
  std::vector<Item> items;
  items.reserve(order.size());
  for (const Entry* e : order)
    items.push_back({std::string(KeyOf(*e)), e->count, e->count + offset_});
  return items;
}

FrequentItems::Item FrequentItems::Lookup(std::string_view value) const {
  const uint32_t slot = slots_[static_cast<size_t>(FindSlot(value, HashBytes(value)))];
  const int64_t count = (slot >> 16) == generation_ ? entries_[slot & 0xFFFF].count : 0;
  return {std::string(value), count, count + offset_};
}

std::string FrequentItems::Serialize() const {
  std::string out;
  out.push_back(static_cast<char>(kMagic));
  out.push_back(static_cast<char>(kVersion));
  PutVarint(out, static_cast<uint64_t>(capacity_));
  PutVarint(out, static_cast<uint64_t>(total_));
  PutVarint(out, static_cast<uint64_t>(offset_));
  PutVarint(out, entries_.size());
  for (const Entry& e : entries_) {
    PutVarint(out, e.key_size);
    out.append(KeyOf(e));
    PutVarint(out, static_cast<uint64_t>(e.count));
  }
  return out;
}

FrequentItems FrequentItems::Deserialize(std::string_view bytes) {
  if (bytes.size() < 2 || static_cast<uint8_t>(bytes[0]) != kMagic) Malformed("bad header");
  if (static_cast<uint8_t>(bytes[1]) != kVersion) Malformed("unknown version");
  std::string_view in = bytes.substr(2);
  const uint64_t capacity = GetVarint(in);
  if (capacity < 2 || capacity > kMaxCapacity) Malformed("bad capacity");
  FrequentItems sketch(static_cast<int>(capacity));
  const uint64_t total = GetVarint(in);
  const uint64_t offset = GetVarint(in);
  const uint64_t size = GetVarint(in);
  if (size > capacity || total > static_cast<uint64_t>(INT64_MAX) || offset > total) {
    Malformed("bad counts");
  }
  uint64_t sum = 0;
  for (uint64_t i = 0; i < size; ++i) {
    const uint64_t length = GetVarint(in);
    if (length > in.size()) Malformed("truncated");
    const std::string_view value = in.substr(0, length);
    in.remove_prefix(length);
    const uint64_t count = GetVarint(in);
    if (count == 0 || count > total - sum) Malformed("bad count");
    sum += count;
    const uint64_t hash = HashBytes(value);
    if ((sketch.slots_[static_cast<size_t>(sketch.FindSlot(value, hash))] >> 16) ==
        sketch.generation_) {
      Malformed("repeated value");
    }
    sketch.Insert(value, hash, static_cast<int64_t>(count));
  }
  if (!in.empty()) Malformed("trailing bytes");
  sketch.total_ = static_cast<int64_t>(total);
  sketch.offset_ = static_cast<int64_t>(offset);
  return sketch;
}

}  // namespace slipway::data
