#include "data/frequent_items.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>

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
  batch_limit_ = capacity <= kMaxBatchCapacity ? kMaxBatch : 0;
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
  Subtract(m);
  CompactKeys();
  RebuildIndex();
}

void FrequentItems::Subtract(int64_t m) {
  offset_ += m;
  size_t kept = 0;
  for (const Entry& e : entries_) {
    if (e.count <= m) continue;
    entries_[kept] = e;
    entries_[kept++].count -= m;
  }
  entries_.resize(kept);
}

void FrequentItems::CompactKeys() {
  size_t live_bytes = 0;
  for (const Entry& e : entries_) live_bytes += e.key_size;
  // The bytes of dropped values stay in keys_ until they are most of it.
  if (keys_.size() <= 2 * live_bytes + 4096) return;
  std::string& keys = purge_keys_;
  keys.clear();
  for (Entry& e : entries_) {
    const std::string_view key = KeyOf(e);
    e.key_offset = keys.size();
    keys.append(key);
  }
  keys_.swap(keys);
}

void FrequentItems::AddBatch(std::span<const std::string_view> values,
                             std::span<const uint64_t> hashes) {
  if (values.size() != hashes.size()) {
    throw Error(ErrorCode::kInternalError, "FrequentItems::AddBatch: values and hashes differ");
  }
  // A chunk costs O(capacity) besides its values: few values go one by one.
  if (batch_limit_ == 0 || values.size() * 4 < static_cast<size_t>(capacity_)) {
    for (size_t i = 0; i < values.size(); ++i) AddHashed(values[i], hashes[i]);
    return;
  }
  for (size_t start = 0; start < values.size(); start += batch_limit_) {
    const size_t n = std::min(batch_limit_, values.size() - start);
    AddChunk(values.subspan(start, n), hashes.subspan(start, n));
  }
}

void FrequentItems::AddChunk(std::span<const std::string_view> values,
                             std::span<const uint64_t> hashes) {
  // A chunk is counted with a table of its own, one per thread (so in L1, and
  // shared by all the sketches a thread fills), all empty between calls: slot
  // = the top 16 bits of the hash << 16 | 1 + index, 0 for an empty slot.
  // Indices below `before` are entries: values already tracked, counted in
  // their entries. A value new in this chunk gets no entry yet: its index is
  // before + j, j its first position in the chunk, and it is counted in
  // counts[j]. Only the values that survive the purge at the end become
  // entries.
  static_assert((kMaxBatchCapacity + kMaxBatch) * 2 <= kChunkTableSize);  // load <= 1/2
  thread_local uint32_t table[kChunkTableSize] = {};
  constexpr size_t kMask = kChunkTableSize - 1;
  uint16_t used[kMaxBatchCapacity + kMaxBatch];  // the slots filled, to empty at the end
  size_t filled = 0;
  const size_t n = values.size();
  const size_t before = entries_.size();
  auto tag = [](uint64_t hash) { return static_cast<uint32_t>(hash >> 48) << 16; };
  for (size_t e = 0; e < before; ++e) {
    const uint64_t hash = entries_[e].hash;
    size_t i = static_cast<size_t>(hash) & kMask;
    while (table[i] != 0) i = (i + 1) & kMask;
    table[i] = tag(hash) | static_cast<uint32_t>(e + 1);
    used[filled++] = static_cast<uint16_t>(i);
  }
  uint32_t counts[kMaxBatch];
  uint16_t firsts[kMaxBatch];  // first positions of the new values, in order
  size_t fresh = 0;
  size_t fresh_repeated = 0;  // new values seen more than once
  total_ += static_cast<int64_t>(n);
  for (size_t v = 0; v < n; ++v) {
    const uint64_t hash = hashes[v];
    const std::string_view value = values[v];
    const uint32_t hash_tag = tag(hash);
    size_t i = static_cast<size_t>(hash) & kMask;
    while (true) {
      const uint32_t slot = table[i];
      if (slot == 0) {
        table[i] = hash_tag | static_cast<uint32_t>(before + v + 1);
        used[filled++] = static_cast<uint16_t>(i);
        counts[v] = 1;
        firsts[fresh++] = static_cast<uint16_t>(v);
        break;
      }
      if ((slot & 0xFFFF0000u) == hash_tag) {
        const size_t index = (slot & 0xFFFF) - 1;
        if (index < before) {
          Entry& e = entries_[index];
          if (e.hash == hash && SameBytes(KeyOf(e), value)) {
            ++e.count;
            break;
          }
        } else if (const size_t j = index - before;
                   hashes[j] == hash && SameBytes(values[j], value)) {
          fresh_repeated += ++counts[j] == 2 ? 1 : 0;
          break;
        }
      }
      i = (i + 1) & kMask;
    }
  }
  for (size_t u = 0; u < filled; ++u) table[used[u]] = 0;
  if (fresh == 0) return;  // same entries: the index is still right
  int64_t t = 0;           // subtracted from every counter
  const auto k = static_cast<size_t>(capacity_);
  if (before + fresh > k) {
    // t = the (capacity + 1)-th largest counter: 1 unless more than
    // `capacity` counters exceed 1 (the usual case: many new values, each
    // seen once).
    size_t above_one = fresh_repeated;
    for (const Entry& e : entries_) above_one += e.count > 1;
    t = 1;
    if (above_one > k) {
      std::vector<int64_t>& all = purge_counts_;
      all.clear();
      for (const Entry& e : entries_) all.push_back(e.count);
      for (size_t f = 0; f < fresh; ++f) all.push_back(counts[firsts[f]]);
      const auto nth = all.begin() + static_cast<std::ptrdiff_t>(k);
      std::nth_element(all.begin(), nth, all.end(), std::greater<>());
      t = *nth;
    }
    Subtract(t);
  }
  // (With t >= 1, only repeated new values can stay.)
  for (size_t f = 0; f < fresh && (t == 0 || fresh_repeated > 0); ++f) {
    const size_t j = firsts[f];
    if (counts[j] <= t) continue;
    entries_.push_back({hashes[j], keys_.size(), static_cast<uint32_t>(values[j].size()),
                        static_cast<int64_t>(counts[j]) - t});
    keys_.append(values[j]);
  }
  if (t > 0) CompactKeys();
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
