#include "serving/prediction_log.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.h"

namespace slipway::serving {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// Records of concurrent requests reach the log a little out of the order of
// their times (a thread preempted between taking the time and appending):
// readers look this much beyond a window's ends.
constexpr int64_t kSkewMs = 1000;
constexpr size_t kPendingBytes = size_t{1} << 20;  // lines handed to the writer at once
// Older than any live writer's last write: a writer publishes at most
// kMaxFlushInterval after it opens, so this sweep is safe in any process
// that opens the log (a CLI command beside a running server) while a server
// still shutting down finishes its last segments.
constexpr int64_t kSweepAtOpenMs = kMaxFlushInterval.count() + 60 * 1000;
constexpr int64_t kSweepAgeMs = 3600 * 1000;
constexpr auto kSweepPeriod = std::chrono::hours(1);
constexpr auto kRetentionPeriod = std::chrono::minutes(1);

int64_t Millis(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

int64_t NowMillis() { return Millis(std::chrono::system_clock::now()); }

// --- writing a record -------------------------------------------------------
//
// Written straight into the line, as nlohmann::json's dump() of the record as
// an object would write it (keys sorted, no spaces, its float format, UTF-8
// kept): the same bytes, without building the object first.

void AppendDouble(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char buffer[64];
  char* end = nlohmann::detail::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, static_cast<size_t>(end - buffer));
}

void AppendInt(std::string& out, int64_t value) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, static_cast<size_t>(end - buffer));
}

// A JSON string as dump() writes it with ensure_ascii off: '"', '\\' and
// control characters escaped. Text with non-ASCII bytes goes through dump()
// itself (it replaces invalid UTF-8).
void AppendString(std::string& out, std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      out += json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
      return;
    }
  }
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void AppendValue(std::string& out, const ml::Column& column, size_t index) {
  if (ml::IsNumeric(column.type)) {
    const double value = column.numbers[index];
    if (std::isnan(value)) {
      out += "null";
    } else if (column.type == ml::DataType::kBoolean) {
      out += value != 0 ? "true" : "false";
    } else if ((column.type == ml::DataType::kLong || column.type == ml::DataType::kInteger) &&
               std::abs(value) < 9.0e15) {
      AppendInt(out, static_cast<int64_t>(value));
    } else {
      AppendDouble(out, value);
    }
    return;
  }
  if (!column.missing.empty() && column.missing[index]) {
    out += "null";
    return;
  }
  if (column.type == ml::DataType::kJson) {
    try {
      out +=
          json::parse(column.strings[index]).dump(-1, ' ', false, json::error_handler_t::replace);
    } catch (const std::exception&) {
      AppendString(out, column.strings[index]);
    }
    return;
  }
  AppendString(out, column.strings[index]);
}

// Row `row` of a column: a value, or a list for a tensor column.
void AppendCell(std::string& out, const ml::Column& column, size_t row) {
  if (column.width == 1) return AppendValue(out, column, row);
  out += '[';
  for (size_t k = 0; k < column.width; ++k) {
    if (k > 0) out += ',';
    AppendValue(out, column, row * column.width + k);
  }
  out += ']';
}

// The columns of `frame` in the order a JSON object keeps its keys (sorted;
// of two with one name, the later, as assigning it twice leaves), with the
// names they are written under.
std::vector<std::pair<std::string, const ml::Column*>> KeyOrder(const ml::Frame& frame,
                                                                bool name_unnamed) {
  std::vector<std::pair<std::string, const ml::Column*>> keys;
  keys.reserve(frame.columns.size());
  for (size_t c = 0; c < frame.columns.size(); ++c) {
    const ml::Column& column = frame.columns[c];
    std::string name =
        column.name.empty() && name_unnamed ? "column_" + std::to_string(c) : column.name;
    keys.emplace_back(std::move(name), &column);
  }
  std::stable_sort(keys.begin(), keys.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<std::string, const ml::Column*>> unique;
  for (auto& key : keys) {
    if (!unique.empty() && unique.back().first == key.first) {
      unique.back() = std::move(key);
    } else {
      unique.push_back(std::move(key));
    }
  }
  return unique;
}

void AppendColumn(std::string& out, const std::string& name, const ml::Column& column,
                  size_t rows) {
  AppendString(out, name);
  out += ":[";
  for (size_t row = 0; row < rows; ++row) {
    if (row > 0) out += ',';
    AppendCell(out, column, row);
  }
  out += ']';
}

void AppendInputs(std::string& out, const ml::Frame& frame) {
  out += '{';
  // Columns named in increasing order already (a model's features often
  // are): written as they come, without sorting copies of their names.
  bool sorted = true;
  for (size_t c = 0; c < frame.columns.size() && sorted; ++c) {
    sorted = !frame.columns[c].name.empty() &&
             (c == 0 || frame.columns[c - 1].name < frame.columns[c].name);
  }
  if (sorted) {
    for (size_t c = 0; c < frame.columns.size(); ++c) {
      if (c > 0) out += ',';
      AppendColumn(out, frame.columns[c].name, frame.columns[c], frame.rows);
    }
    out += '}';
    return;
  }
  bool first = true;
  for (const auto& [name, column] : KeyOrder(frame, true)) {
    if (!first) out += ',';
    first = false;
    AppendColumn(out, name, *column, frame.rows);
  }
  out += '}';
}

void AppendOutputs(std::string& out, const ml::Predictions& predictions) {
  const ml::Frame& frame = predictions.frame;
  out += '[';
  if (predictions.layout == ml::OutputLayout::kRecords) {
    const auto keys = KeyOrder(frame, false);
    for (size_t row = 0; row < frame.rows; ++row) {
      if (row > 0) out += ',';
      out += '{';
      for (size_t k = 0; k < keys.size(); ++k) {
        if (k > 0) out += ',';
        AppendString(out, keys[k].first);
        out += ':';
        AppendCell(out, *keys[k].second, row);
      }
      out += '}';
    }
  } else if (!frame.columns.empty()) {
    for (size_t row = 0; row < frame.rows; ++row) {
      if (row > 0) out += ',';
      AppendCell(out, frame.columns.front(), row);
    }
  }
  out += ']';
}

// --- reading a record back --------------------------------------------------

bool IsScalar(const json& value) { return !value.is_array() && !value.is_object(); }

// A column from one JSON value per row (null where a row has none): a list
// per row makes a tensor column of that width, when every list has it.
ml::Column ColumnOf(std::string name, const std::vector<const json*>& cells) {
  ml::Column column;
  column.name = std::move(name);
  size_t width = 0;
  bool tensor = true;
  bool any_list = false;
  for (const json* cell : cells) {
    if (cell->is_array()) {
      any_list = true;
      if (width == 0) width = cell->size();
      tensor = tensor && cell->size() == width &&
               std::all_of(cell->begin(), cell->end(), [](const json& v) { return IsScalar(v); });
    } else if (!cell->is_null()) {
      tensor = false;
    }
  }
  std::vector<const json*> values;
  static const json kNull;
  if (any_list && tensor && width > 0) {
    column.width = width;
    for (const json* cell : cells) {
      for (size_t k = 0; k < width; ++k) values.push_back(cell->is_null() ? &kNull : &(*cell)[k]);
    }
  } else {
    values = cells;
  }
  bool all_bool = true, all_int = true, all_number = true, all_string = true;
  for (const json* v : values) {
    if (v->is_null()) continue;
    all_bool = all_bool && v->is_boolean();
    all_int = all_int && v->is_number_integer();
    all_number = all_number && v->is_number();
    all_string = all_string && v->is_string();
  }
  if (any_list && !(tensor && width > 0)) {
    all_bool = all_int = all_number = all_string = false;  // ragged lists: kept as JSON
  }
  if (all_bool && all_number) all_bool = false;  // only nulls: numbers (NaN)
  if (all_number) {
    column.type = all_int ? ml::DataType::kLong : ml::DataType::kDouble;
  } else if (all_bool) {
    column.type = ml::DataType::kBoolean;
  } else if (all_string) {
    column.type = ml::DataType::kString;
  } else {
    column.type = ml::DataType::kJson;
  }
  bool any_missing = false;
  for (const json* v : values) {
    if (ml::IsNumeric(column.type)) {
      column.numbers.push_back(v->is_null()      ? std::numeric_limits<double>::quiet_NaN()
                               : v->is_boolean() ? (v->get<bool>() ? 1.0 : 0.0)
                                                 : v->get<double>());
      continue;
    }
    any_missing = any_missing || v->is_null();
    column.missing.push_back(v->is_null() ? 1 : 0);
    if (v->is_null()) {
      column.strings.emplace_back();
    } else if (column.type == ml::DataType::kString) {
      column.strings.push_back(v->get<std::string>());
    } else {
      column.strings.push_back(v->dump(-1, ' ', false, json::error_handler_t::replace));
    }
  }
  if (!any_missing) column.missing.clear();
  return column;
}

ml::Frame InputsOf(const json& inputs) {
  ml::Frame frame;
  if (!inputs.is_object()) return frame;
  for (const auto& [name, values] : inputs.items()) {
    if (values.is_array()) frame.rows = std::max(frame.rows, values.size());
  }
  static const json kNull;
  for (const auto& [name, values] : inputs.items()) {
    std::vector<const json*> cells;
    for (size_t row = 0; row < frame.rows; ++row) {
      cells.push_back(values.is_array() && row < values.size() ? &values[row] : &kNull);
    }
    frame.columns.push_back(ColumnOf(name, cells));
  }
  return frame;
}

ml::Predictions OutputsOf(const json& outputs) {
  ml::Predictions predictions;
  if (!outputs.is_array() || outputs.empty()) return predictions;
  predictions.frame.rows = outputs.size();
  static const json kNull;
  const bool records =
      std::all_of(outputs.begin(), outputs.end(), [](const json& row) { return row.is_object(); });
  if (records) {
    predictions.layout = ml::OutputLayout::kRecords;
    std::vector<std::string> names;
    for (const json& row : outputs) {
      for (const auto& [name, value] : row.items()) {
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
      }
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      std::vector<const json*> cells;
      for (const json& row : outputs) {
        auto found = row.find(name);
        cells.push_back(found == row.end() ? &kNull : &*found);
      }
      predictions.frame.columns.push_back(ColumnOf(name, cells));
    }
    return predictions;
  }
  std::vector<const json*> cells;
  for (const json& row : outputs) cells.push_back(&row);
  predictions.frame.columns.push_back(ColumnOf("", cells));
  predictions.layout = predictions.frame.columns.front().width > 1 ? ml::OutputLayout::kMatrix
                                                                   : ml::OutputLayout::kVector;
  return predictions;
}

// --- segment keys -----------------------------------------------------------

// "20261206T173514.123Z": fixed width, so keys sort by time.
std::string Stamp(int64_t ms) {
  const int64_t seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[40];
  size_t n = std::strftime(text, sizeof text, "%Y%m%dT%H%M%S", &utc);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(ms - seconds * 1000));
  return text;
}

// The start time of a segment's name: "<stamp>-<seq>.jsonl", where the
// stamp is Stamp's, or "yyyymmddThhmmss" as logs written before segments
// were blobs named them.
std::optional<int64_t> StartOf(std::string_view name) {
  if (name.size() < 16 || !name.ends_with(".jsonl") || name[8] != 'T') return std::nullopt;
  auto digits = [&](size_t from, size_t count) -> std::optional<int> {
    int value = 0;
    for (size_t i = from; i < from + count; ++i) {
      if (i >= name.size() || name[i] < '0' || name[i] > '9') return std::nullopt;
      value = value * 10 + (name[i] - '0');
    }
    return value;
  };
  auto year = digits(0, 4), month = digits(4, 2), day = digits(6, 2);
  auto hour = digits(9, 2), minute = digits(11, 2), second = digits(13, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  int millis = 0;
  size_t rest = 15;
  if (name[rest] == '.') {
    auto ms = digits(rest + 1, 3);
    if (!ms || name.size() < rest + 5 || name[rest + 4] != 'Z') return std::nullopt;
    millis = *ms;
    rest += 5;
  }
  if (rest >= name.size() || name[rest] != '-') return std::nullopt;
  std::tm utc{};
  utc.tm_year = *year - 1900;
  utc.tm_mon = *month - 1;
  utc.tm_mday = *day;
  utc.tm_hour = *hour;
  utc.tm_min = *minute;
  utc.tm_sec = *second;
  return static_cast<int64_t>(timegm(&utc)) * 1000 + millis;
}

// A segment from its key, or nothing for a key that is not one of the log's.
std::optional<PredictionSegment> SegmentOf(const std::string& prefix, const std::string& key,
                                           uint64_t size) {
  if (!key.starts_with(prefix)) return std::nullopt;
  std::string_view rest = std::string_view(key).substr(prefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 ||
      rest.find('/', slash + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  std::optional<int64_t> start = StartOf(rest.substr(slash + 1));
  if (!start) return std::nullopt;
  return PredictionSegment{key, std::string(rest.substr(0, slash)), *start, size};
}

std::string CheckedPrefix(std::string prefix) {
  if (!prefix.empty() && prefix.back() != '/') {
    ThrowInvalid("the prediction log's prefix must be empty or end in '/', not '" + prefix + "'");
  }
  return prefix;
}

blob::BlobStore& StoreOf(const PredictionLog::Options& options) {
  if (options.store == nullptr) {
    throw Error(ErrorCode::kInternalError, "the prediction log needs a blob store");
  }
  return *options.store;
}

PredictionLog::Options Normalized(PredictionLog::Options options) {
  options.prefix = CheckedPrefix(std::move(options.prefix));
  options.flush_interval =
      std::clamp(options.flush_interval, std::chrono::milliseconds(0), kMaxFlushInterval);
  options.segment_bytes = std::max<uint64_t>(options.segment_bytes, 1);
  return options;
}

}  // namespace

std::string FormatPredictionLine(const PredictionRecord& record) {
  // The keys in sorted order, as dump() writes an object.
  std::string line;
  line.reserve(256);
  line += "{\"deployment\":";
  AppendString(line, record.deployment);
  if (record.inputs) {
    line += ",\"inputs\":";
    AppendInputs(line, *record.inputs);
  }
  line += ",\"latency_ms\":";
  AppendDouble(line, record.latency_seconds * 1000);
  line += ",\"model\":";
  AppendString(line, record.model_name);
  if (record.outputs) {
    line += ",\"outputs\":";
    AppendOutputs(line, *record.outputs);
  }
  line += ",\"request_id\":";
  AppendString(line, record.request_id);
  line += ",\"shadow\":";
  line += record.shadow ? "true" : "false";
  line += ",\"time\":";
  AppendInt(line, Millis(record.time));
  line += ",\"version\":";
  AppendString(line, record.version);
  line += '}';
  return line;
}

PredictionRecord ParsePredictionLine(std::string_view line) {
  json entry = json::parse(line);
  if (!entry.is_object()) ThrowInvalid("a prediction log line must be a JSON object");
  PredictionRecord record;
  record.time = std::chrono::system_clock::time_point(
      std::chrono::milliseconds(entry.value("time", int64_t{0})));
  record.deployment = entry.value("deployment", "");
  record.request_id = entry.value("request_id", "");
  record.model_name = entry.value("model", "");
  record.version = entry.value("version", "");
  record.shadow = entry.value("shadow", false);
  record.latency_seconds = entry.value("latency_ms", 0.0) / 1000;
  if (auto inputs = entry.find("inputs"); inputs != entry.end()) {
    record.inputs = std::make_shared<const ml::Frame>(InputsOf(*inputs));
  }
  if (auto outputs = entry.find("outputs"); outputs != entry.end()) {
    record.outputs = std::make_shared<const ml::Predictions>(OutputsOf(*outputs));
  }
  return record;
}

// --- PredictionLogReader ----------------------------------------------------

PredictionLogReader::PredictionLogReader(blob::BlobStore& store, std::string prefix)
    : store_(store), prefix_(CheckedPrefix(std::move(prefix))) {}

std::vector<std::string> PredictionLogReader::Deployments() const {
  blob::ListOptions options;
  options.prefix = prefix_;
  std::vector<std::string> out;
  for (const blob::ListEntry& entry : store_.ListAll(options)) {
    if (entry.is_prefix)
      out.push_back(entry.key.substr(prefix_.size(), entry.key.size() - prefix_.size() - 1));
  }
  return out;
}

std::vector<PredictionSegment> PredictionLogReader::Segments(
    const std::string& deployment, std::chrono::system_clock::time_point from,
    std::chrono::system_clock::time_point to) const {
  const int64_t from_ms = Millis(from);
  const int64_t to_ms = Millis(to);
  const int64_t earliest = from_ms - kMaxFlushInterval.count() - kSkewMs;
  const int64_t latest = to_ms + kSkewMs;
  blob::ListOptions options;
  options.prefix = prefix_ + deployment + "/";
  // Every key of a second at or after `earliest`'s sorts after its stamp's
  // seconds (whatever follows them), so the listing starts there.
  options.start_after = options.prefix + Stamp(earliest - 1000).substr(0, 15);
  options.max_entries = 1000;
  std::vector<PredictionSegment> found;
  bool done = false;
  while (!done) {
    blob::ListPage page = store_.List(options);
    for (const blob::ListEntry& entry : page.entries) {
      if (entry.is_prefix) continue;
      std::optional<PredictionSegment> segment = SegmentOf(prefix_, entry.key, entry.size);
      if (!segment || segment->start_ms < earliest) continue;
      if (segment->start_ms >= latest) {
        done = true;
        break;
      }
      found.push_back(std::move(*segment));
    }
    if (page.next_start_after.empty()) break;
    options.start_after = page.next_start_after;
  }
  // A segment's records all come before its successor's first one (one
  // segment of a deployment is written at a time, in the queue's order), so
  // segments whose successor began before `from` hold none of the window.
  size_t first = 0;
  while (first + 1 < found.size() && found[first + 1].start_ms < from_ms - kSkewMs) ++first;
  found.erase(found.begin(), found.begin() + static_cast<ptrdiff_t>(first));
  return found;
}

std::vector<PredictionRecord> PredictionLogReader::ReadSegment(const std::string& key) const {
  std::vector<PredictionRecord> records;
  ReadSegmentLines(key, [&](std::string_view line) {
    try {
      records.push_back(ParsePredictionLine(line));
    } catch (const std::exception& e) {
      spdlog::warn("prediction log: a line of {} skipped: {}", key, e.what());
    }
  });
  return records;
}

void PredictionLogReader::ReadSegmentLines(
    const std::string& key, const std::function<void(std::string_view)>& line) const {
  std::unique_ptr<blob::BlobReader> reader = store_.Open(key);
  if (!reader) return;
  auto parse = [&](std::string_view text) {
    if (!text.empty()) line(text);
  };
  std::string buffer;
  uint64_t offset = 0;
  while (true) {
    size_t got = reader->ReadAt(offset, kPendingBytes, buffer);
    offset += got;
    size_t start = 0;
    for (size_t newline; (newline = buffer.find('\n', start)) != std::string::npos;
         start = newline + 1) {
      parse(std::string_view(buffer).substr(start, newline - start));
    }
    buffer.erase(0, start);
    if (got == 0) break;
  }
  parse(buffer);  // a last line without its newline
}

std::vector<PredictionRecord> PredictionLogReader::Read(
    const std::string& deployment, std::chrono::system_clock::time_point from,
    std::chrono::system_clock::time_point to) const {
  std::vector<PredictionRecord> out;
  for (const PredictionSegment& segment : Segments(deployment, from, to)) {
    for (PredictionRecord& record : ReadSegment(segment.key)) {
      if (record.time >= from && record.time < to) out.push_back(std::move(record));
    }
  }
  return out;
}

// --- PredictionLog ----------------------------------------------------------

PredictionLog::PredictionLog(Options options)
    : options_(Normalized(std::move(options))), store_(StoreOf(options_)) {
  if (options_.metrics != nullptr) {
    dropped_total_ = &options_.metrics->GetCounter(
        "slipway_serving_log_dropped_total",
        "Prediction records dropped because the prediction log's queue was full.", {});
    written_total_ = &options_.metrics->GetCounter(
        "slipway_serving_log_written_total",
        "Prediction records written to the prediction log (in published segments).", {});
    failed_total_ = &options_.metrics->GetCounter(
        "slipway_serving_log_failed_total",
        "Prediction records lost because their segment could not be written.", {});
  }
  store_.SweepAbandoned(options_.prefix, NowMillis() - kSweepAtOpenMs);
  blob::ListOptions list;
  list.prefix = options_.prefix;
  list.recursive = true;
  list.max_entries = 100000;
  for (const blob::ListEntry& entry : store_.ListAll(list)) {
    if (std::optional<PredictionSegment> segment =
            SegmentOf(options_.prefix, entry.key, entry.size)) {
      published_[{segment->start_ms, segment->key}] = segment->size;
      published_bytes_ += segment->size;
    }
  }
  const auto now = Clock::now();
  next_retention_ = now + kRetentionPeriod;
  next_sweep_ = now + kSweepPeriod;
  writer_ = std::make_unique<core::Executor>(
      core::Executor::Options{.name = "predlog", .threads = 1, .max_queued = 1});
  // The writer's one thread runs Run() until the log is destroyed: it waits
  // for records and for segments' deadlines, which a task per batch could
  // not do without a timer of its own.
  if (!writer_->TrySubmit([this] { Run(); })) {
    throw Error(ErrorCode::kInternalError, "the prediction log's writer did not start");
  }
}

PredictionLog::~PredictionLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  writer_->Stop();  // Run() publishes what is left, then returns
}

PredictionSink PredictionLog::Sink() {
  return [this](PredictionRecord record) { Append(std::move(record)); };
}

void PredictionLog::Append(PredictionRecord record) {
  bool was_empty;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= options_.max_queued || finished_) {
      dropped_.fetch_add(1);
      if (dropped_total_) dropped_total_->Increment();
      return;
    }
    was_empty = queue_.empty();
    queue_.push_back(std::move(record));
  }
  // The writer waits only when it found the queue empty.
  if (was_empty) wake_.notify_one();
}

void PredictionLog::StartRetention() {
  retention_started_ = true;
  {
    std::lock_guard lock(mu_);
    ++flush_requested_;  // a flush nobody waits for: the writer runs retention now
  }
  wake_.notify_one();
}

void PredictionLog::Flush() {
  std::unique_lock lock(mu_);
  if (finished_) return;
  const uint64_t ticket = ++flush_requested_;
  wake_.notify_one();
  flushed_.wait(lock, [&] { return flush_done_ >= ticket || finished_; });
}

void PredictionLog::Run() {
  std::deque<PredictionRecord> batch;
  uint64_t flushed = 0;  // flush_done_ as this thread last set it
  while (true) {
    Clock::time_point deadline = std::min(next_retention_, next_sweep_);
    for (const auto& [deployment, segment] : open_) {
      deadline = std::min(deadline, segment.opened + options_.flush_interval);
    }
    uint64_t flush_target = 0;
    bool stopping = false;
    {
      std::unique_lock lock(mu_);
      wake_.wait_until(lock, deadline, [&] {
        return !queue_.empty() || stopping_ || flush_requested_ > flush_done_;
      });
      batch.swap(queue_);
      flush_target = flush_requested_;
      stopping = stopping_;
    }
    for (const PredictionRecord& record : batch) WriteRecord(record);
    batch.clear();
    const Clock::time_point now = Clock::now();
    PublishDue(now, stopping || flush_target > flushed);
    const bool periodic = now >= next_retention_;
    if (periodic) next_retention_ = now + kRetentionPeriod;
    if (retention_due_ || ((periodic || flush_target > flushed) && retention_started_.load())) {
      EnforceRetention();
      retention_due_ = false;
    }
    if (now >= next_sweep_) {
      try {
        store_.SweepAbandoned(options_.prefix, NowMillis() - kSweepAgeMs);
      } catch (const std::exception& e) {
        spdlog::warn("prediction log: sweep failed: {}", e.what());
      }
      next_sweep_ = now + kSweepPeriod;
    }
    std::lock_guard lock(mu_);
    if (flush_target > flush_done_) {
      flush_done_ = flushed = flush_target;
      flushed_.notify_all();
    }
    if (stopping && queue_.empty()) {
      finished_ = true;
      flushed_.notify_all();
      return;
    }
  }
}

PredictionLog::OpenSegment& PredictionLog::SegmentFor(const std::string& deployment,
                                                      int64_t time_ms) {
  auto found = open_.find(deployment);
  if (found != open_.end()) return found->second;
  KeyState& state = key_state_[deployment];
  const std::string stamp = Stamp(time_ms);
  state.seq = stamp == state.last_stamp ? state.seq + 1 : 0;
  state.last_stamp = stamp;
  auto key_of = [&] {
    char seq[16];
    std::snprintf(seq, sizeof seq, "-%06d", state.seq);
    return options_.prefix + deployment + "/" + stamp + seq + ".jsonl";
  };
  std::string key = key_of();
  // A segment of an earlier run can have the key (the clock went back).
  while (published_.count({time_ms, key}) > 0) {
    ++state.seq;
    key = key_of();
  }
  OpenSegment segment;
  blob::WriterOptions writer_options;
  writer_options.write_back_bytes = 4 << 20;
  segment.writer = store_.OpenWriter(key, writer_options);
  segment.key = std::move(key);
  segment.start_ms = time_ms;
  segment.opened = Clock::now();
  return open_.emplace(deployment, std::move(segment)).first->second;
}

void PredictionLog::WriteRecord(const PredictionRecord& record) {
  std::string line;
  try {
    line = FormatPredictionLine(record);
  } catch (const std::exception& e) {
    Lose(1, "a record of " + record.deployment, e);
    return;
  }
  line += '\n';
  const int64_t time_ms = Millis(record.time);
  if (auto found = open_.find(record.deployment); found != open_.end()) {
    const OpenSegment& current = found->second;
    // Full, or the record is later than the segment may span: a new one.
    if ((current.bytes > 0 && current.bytes + line.size() > options_.segment_bytes) ||
        time_ms - current.start_ms > options_.flush_interval.count()) {
      PublishSegment(record.deployment);
    }
  }
  OpenSegment* segment = nullptr;
  try {
    segment = &SegmentFor(record.deployment, time_ms);
  } catch (const std::exception& e) {
    Lose(1, "a record of " + record.deployment, e);
    return;
  }
  segment->pending += line;
  segment->bytes += line.size();
  ++segment->records;
  if (segment->bytes >= options_.segment_bytes) {
    PublishSegment(record.deployment);
  } else if (segment->pending.size() >= kPendingBytes) {
    Drain(record.deployment, *segment);
  }
}

bool PredictionLog::Drain(const std::string& deployment, OpenSegment& segment) {
  if (segment.pending.empty()) return true;
  try {
    segment.writer->Append(segment.pending.data(), segment.pending.size());
    segment.pending.clear();
    return true;
  } catch (const std::exception& e) {
    Lose(segment.records, segment.key, e);
    open_.erase(deployment);  // the writer deletes what it wrote
    return false;
  }
}

void PredictionLog::PublishSegment(const std::string& deployment) {
  auto found = open_.find(deployment);
  if (found == open_.end()) return;
  OpenSegment& segment = found->second;
  if (!Drain(deployment, segment)) return;
  try {
    segment.writer->Publish();
    published_[{segment.start_ms, segment.key}] = segment.bytes;
    published_bytes_ += segment.bytes;
    retention_due_ = true;
    retention_started_ = true;  // this process writes the log: it keeps it too
    written_.fetch_add(segment.records);
    if (written_total_) written_total_->Increment(static_cast<double>(segment.records));
  } catch (const std::exception& e) {
    Lose(segment.records, segment.key, e);
  }
  open_.erase(found);
}

void PredictionLog::PublishDue(Clock::time_point now, bool all) {
  std::vector<std::string> due;
  for (const auto& [deployment, segment] : open_) {
    if (all || now - segment.opened >= options_.flush_interval) due.push_back(deployment);
  }
  for (const std::string& deployment : due) PublishSegment(deployment);
}

void PredictionLog::EnforceRetention() {
  uint64_t open_bytes = 0;
  for (const auto& [deployment, segment] : open_) open_bytes += segment.bytes;
  const int64_t oldest_kept =
      NowMillis() - std::chrono::duration_cast<std::chrono::milliseconds>(options_.max_age).count();
  while (!published_.empty()) {
    auto oldest = published_.begin();
    const bool too_big = published_bytes_ + open_bytes > options_.max_bytes;
    const bool too_old = oldest->first.first < oldest_kept;
    if (!too_big && !too_old) break;
    try {
      store_.Delete(oldest->first.second);
    } catch (const std::exception& e) {
      spdlog::warn("prediction log: could not delete {}: {}", oldest->first.second, e.what());
      return;  // tried again at the next publication
    }
    published_bytes_ -= oldest->second;
    published_.erase(oldest);
  }
}

void PredictionLog::Lose(uint64_t records, const std::string& what, const std::exception& e) {
  failed_.fetch_add(records);
  if (failed_total_) failed_total_->Increment(static_cast<double>(records));
  spdlog::warn("prediction log: {} record(s) lost ({}): {}", records, what, e.what());
}

}  // namespace slipway::serving
