#include "monitoring/live/window_fold.h"

#include <fmt/compile.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace slipway::monitoring::live {
namespace {

using nlohmann::json;

int64_t Millis(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool IsInteger(ml::DataType type) {
  return type == ml::DataType::kLong || type == ml::DataType::kInteger;
}

json Value(const ml::Column& column, size_t index) {
  if (ml::IsNumeric(column.type)) {
    double v = column.numbers[index];
    if (std::isnan(v)) return nullptr;
    if (column.type == ml::DataType::kBoolean) return v != 0;
    if (IsInteger(column.type)) return int64_t(v);
    return v;
  }
  if (!column.missing.empty() && column.missing[index]) return nullptr;
  return column.strings[index];
}

// The names the outputs are profiled under (see the header), and how to
// read the text of output column i at a row.
struct OutputColumns {
  std::vector<std::string> names;
  std::vector<std::pair<const ml::Column*, size_t>> cells;  // column and offset within a row
};

OutputColumns OutputsOf(const ml::Predictions& predictions) {
  OutputColumns out;
  const ml::Frame& frame = predictions.frame;
  if (predictions.layout == ml::OutputLayout::kValue || frame.columns.empty()) return out;
  if (predictions.layout == ml::OutputLayout::kRecords) {
    for (const ml::Column& column : frame.columns) {
      if (column.width != 1) continue;
      out.names.push_back(column.name.empty() ? "prediction" : column.name);
      out.cells.emplace_back(&column, 0);
    }
    return out;
  }
  const ml::Column& column = frame.columns[0];
  if (predictions.layout == ml::OutputLayout::kVector && column.width == 1) {
    out.names.push_back("prediction");
    out.cells.emplace_back(&column, 0);
    return out;
  }
  for (size_t k = 0; k < column.width; ++k) {
    out.names.push_back("prediction_" + std::to_string(k));
    out.cells.emplace_back(&column, k);
  }
  return out;
}

// One row's prediction as feedback is joined with: a value, a list (a
// matrix row) or an object (a record).
json RowPrediction(const ml::Predictions& predictions, size_t row) {
  const ml::Frame& frame = predictions.frame;
  if (frame.columns.empty()) return nullptr;
  if (predictions.layout == ml::OutputLayout::kRecords) {
    json record = json::object();
    for (const ml::Column& column : frame.columns) {
      if (column.width == 1) record[column.name] = Value(column, row);
    }
    return record;
  }
  const ml::Column& column = frame.columns[0];
  if (column.width == 1) return Value(column, row);
  json list = json::array();
  for (size_t k = 0; k < column.width; ++k) list.push_back(Value(column, row * column.width + k));
  return list;
}

// The request's inputs as the kept prediction holds them: each named
// column of one value per row (not tensors) as an array of its values.
// In the request's column order (ordered_json keeps it).
nlohmann::ordered_json InputColumns(const ml::Frame& inputs) {
  nlohmann::ordered_json columns = nlohmann::ordered_json::object();
  for (const ml::Column& column : inputs.columns) {
    if (column.name.empty() || column.width != 1 || column.type == ml::DataType::kJson) continue;
    nlohmann::ordered_json values = nlohmann::ordered_json::array();
    for (size_t row = 0; row < inputs.rows; ++row)
      values.push_back(nlohmann::ordered_json(Value(column, row)));
    columns[column.name] = std::move(values);
  }
  return columns;
}

}  // namespace

data::ProfileOptions WindowProfileOptions() {
  data::ProfileOptions options;
  options.threads = 1;
  options.hll_precision = 10;
  return options;
}

void MergeByName(data::DatasetProfile& into, const data::DatasetProfile& other) {
  for (data::ColumnProfile& column : into.columns) {
    if (!other.Find(column.name)) column.missing += other.row_count;
  }
  for (const data::ColumnProfile& column : other.columns) {
    auto it = std::find_if(into.columns.begin(), into.columns.end(),
                           [&](const data::ColumnProfile& c) { return c.name == column.name; });
    if (it == into.columns.end()) {
      data::ColumnProfile added = column;
      added.missing += into.row_count;
      into.columns.push_back(std::move(added));
    } else {
      data::MergeInto(*it, column);
    }
  }
  into.row_count += other.row_count;
}

WindowFold::Columns::Columns(std::vector<std::string> names)
    : builder(std::make_unique<data::DatasetProfileBuilder>(std::move(names), data::CsvOptions{},
                                                            WindowProfileOptions())),
      width(builder->profile().columns.size()) {
  slots.reserve(width * kBlockRows);
}

void WindowFold::Columns::Missing() { slots.push_back({}); }

void WindowFold::Columns::Bool(bool value) {
  const std::string_view text = value ? "true" : "false";
  slots.push_back({static_cast<uint32_t>(arena.size()), static_cast<uint32_t>(text.size()),
                   data::ColumnType::kBool, 0});
  arena += text;
}

void WindowFold::Columns::Number(double value, bool integer_column) {
  if (std::isnan(value)) return Missing();
  const size_t offset = arena.size();
  // The text ml::DataType::kLong and kDouble values had in a CSV: what the
  // reference's profile saw.
  if (integer_column && std::abs(value) < 9.2e18) {
    const int64_t whole = static_cast<int64_t>(value);
    char digits[24];
    arena.append(digits, fmt::format_to(digits, FMT_COMPILE("{}"), whole));
    slots.push_back({static_cast<uint32_t>(offset), static_cast<uint32_t>(arena.size() - offset),
                     data::ColumnType::kInt64, static_cast<double>(whole)});
    return;
  }
  char digits[32];  // fmt's shortest round trip: at most 24 characters
  arena.append(digits, fmt::format_to(digits, FMT_COMPILE("{}"), value));
  const std::string_view text = std::string_view(arena).substr(offset);
  Slot slot{static_cast<uint32_t>(offset), static_cast<uint32_t>(text.size()),
            data::ColumnType::kInt64, value};
  for (char c : text) {
    if (c == '.' || c == 'e') {
      slot.type = data::ColumnType::kFloat64;  // the shortest text that reads back as `value`
      slot.number = value;
      break;
    }
    if (c == 'n' || c == 'i') {  // nan, inf: not numbers to a CSV reader
      slot.type = data::ClassifyField(text);
      break;
    }
  }
  slots.push_back(slot);
}

void WindowFold::Columns::JsonNumber(double value, bool integer_column, std::string_view json) {
  // The JSON text is the one fmt writes when both write the same digits the
  // same way. A decimal of at most 15 significant digits is the shortest
  // text of its double (two such decimals never round to one double); fmt
  // writes it without an exponent from 1e-4 up to 1e16, with no leading or
  // trailing zeros. So: at most 15 significant digits, no exponent, no
  // trailing zero after a point (nlohmann writes "3.0" where fmt writes
  // "3"), fewer than four zeros after "0." (fmt: 1e-05), no "-0". Anything
  // else is formatted.
  const std::string_view unsigned_text = json.substr(json.starts_with('-') ? 1 : 0);
  size_t digits = 0;
  bool point = false;
  bool significant = false;
  for (char c : unsigned_text) {
    if (c >= '0' && c <= '9') {
      significant = significant || c != '0';
      digits += significant ? 1 : 0;
    } else if (c == '.') {
      point = true;
    } else {
      return Number(value, integer_column);  // an exponent
    }
  }
  if (digits > 15 || unsigned_text.empty() || (point && json.back() == '0') ||
      (point && integer_column) || unsigned_text.starts_with("0.0000") || json == "-0") {
    return Number(value, integer_column);
  }
  slots.push_back({static_cast<uint32_t>(arena.size()), static_cast<uint32_t>(json.size()),
                   point ? data::ColumnType::kFloat64 : data::ColumnType::kInt64, value});
  arena += json;
}

void WindowFold::Columns::String(std::string_view text) {
  if (text.empty()) return Missing();
  Slot slot{static_cast<uint32_t>(arena.size()), static_cast<uint32_t>(text.size()),
            data::ClassifyField(text), 0};
  if (slot.type == data::ColumnType::kInt64 || slot.type == data::ColumnType::kFloat64) {
    data::ParseFloat64(text, &slot.number);  // TypedValue's number
  }
  arena += text;
  slots.push_back(slot);
}

void WindowFold::Columns::EndRow() {
  if (++rows >= kBlockRows) Flush();
}

void WindowFold::Columns::Flush() {
  if (rows == 0) return;
  scratch.resize(rows);
  for (size_t column = 0; column < width; ++column) {
    for (size_t row = 0; row < rows; ++row) {
      const Slot& slot = slots[row * width + column];
      scratch[row] = {std::string_view(arena).substr(slot.offset, slot.length), slot.type,
                      slot.number};
    }
    builder->AddTypedValues(column, scratch);
  }
  builder->AddRowCount(static_cast<int64_t>(rows));
  rows = 0;
  slots.clear();
  arena.clear();
}

data::DatasetProfile WindowFold::Columns::Finish() {
  Flush();
  return std::move(*builder).Finish();
}

WindowFold::WindowFold(const MonitorConfig& config, LoadWindow load, LoadLast last)
    : config_(config), load_(std::move(load)), last_(std::move(last)) {}

WindowFold::Pending& WindowFold::Open(int64_t seq, int64_t start_ms, int64_t end_ms) {
  auto it = pending_.find(seq);
  if (it != pending_.end()) return it->second;
  Pending pending;
  std::optional<MonitorWindow> stored = load_(seq);
  if (stored) {
    pending.window = std::move(*stored);
  } else {
    pending.window.seq = seq;
    pending.window.start_ms = start_ms;
    pending.window.end_ms = end_ms;
  }
  pending.inputs = std::make_unique<Columns>(config_.features);
  return pending_.emplace(seq, std::move(pending)).first->second;
}

WindowFold::Columns& WindowFold::OutputsFor(Pending& pending, const std::vector<std::string>& names,
                                            const std::string& key) {
  std::unique_ptr<Columns>& columns = pending.outputs[key];
  if (!columns) columns = std::make_unique<Columns>(names);
  return *columns;
}

WindowFold::Pending& WindowFold::WindowFor(int64_t time_ms) {
  if (config_.window.kind == WindowSpec::Kind::kTime) {
    const int64_t length = config_.window.millis;
    const int64_t seq = FloorDiv(time_ms, length);
    return Open(seq, seq * length, seq * length + length);
  }
  if (!current_seq_) {
    std::optional<MonitorWindow> last = last_();
    if (last && last->rows < config_.window.rows) {
      current_seq_ = last->seq;
    } else {
      current_seq_ = last ? last->seq + 1 : 0;
    }
  }
  Pending* pending = &Open(*current_seq_, time_ms, time_ms);
  if (pending->window.rows >= config_.window.rows) {
    current_seq_ = *current_seq_ + 1;
    pending = &Open(*current_seq_, time_ms, time_ms);
  }
  pending->window.start_ms = std::min(pending->window.start_ms, time_ms);
  pending->window.end_ms = std::max(pending->window.end_ms, time_ms);
  return *pending;
}

void WindowFold::Add(const serving::PredictionRecord& record) {
  if (record.shadow) {
    ++shadow_skipped_;
    return;
  }
  if (!record.inputs) return;
  const ml::Frame& inputs = *record.inputs;
  const int64_t time_ms = Millis(record.time);
  std::vector<const ml::Column*> features;
  for (size_t i = 0; i < config_.features.size(); ++i) {
    const ml::Column* column = inputs.Find(config_.features[i], i);
    features.push_back(column && column->width == 1 ? column : nullptr);
  }
  OutputColumns outputs;
  std::string output_key;
  if (record.outputs) {
    outputs = OutputsOf(*record.outputs);
    for (const std::string& name : outputs.names) output_key += name + "\n";
  }
  json predictions = json::array();
  for (size_t row = 0; row < inputs.rows; ++row) {
    Pending& pending = WindowFor(time_ms);
    for (const ml::Column* feature : features) {
      if (feature) {
        AddCell(*pending.inputs, *feature, row);
      } else {
        pending.inputs->Missing();
      }
    }
    pending.inputs->EndRow();
    if (!outputs.names.empty() && row < record.outputs->frame.rows) {
      Columns& columns = OutputsFor(pending, outputs.names, output_key);
      for (const auto& [column, offset] : outputs.cells) {
        AddCell(columns, *column, row * column->width + offset);
      }
      columns.EndRow();
    }
    if (record.outputs && record.outputs->layout != ml::OutputLayout::kValue &&
        row < record.outputs->frame.rows) {
      predictions.push_back(RowPrediction(*record.outputs, row));
    } else {
      predictions.push_back(nullptr);
    }
    ++pending.window.rows;
    ++rows_added_;
  }
  if (!record.request_id.empty()) {
    predictions_.push_back(
        {record.request_id, time_ms, predictions.dump(), InputColumns(inputs).dump()});
  }
}

void WindowFold::AddCell(Columns& columns, const ml::Column& column, size_t index) {
  if (ml::IsNumeric(column.type)) {
    const double value = column.numbers[index];
    if (std::isnan(value)) return columns.Missing();
    if (column.type == ml::DataType::kBoolean) return columns.Bool(value != 0);
    return columns.Number(value, IsInteger(column.type));
  }
  if ((!column.missing.empty() && column.missing[index]) || column.type == ml::DataType::kJson) {
    return columns.Missing();
  }
  columns.String(column.strings[index]);
}

void WindowFold::AddLine(std::string_view line) {
  if (AddTypedLine(line)) return;
  Add(serving::ParsePredictionLine(line));
}

bool WindowFold::AddTypedLine(std::string_view text) {
  PredictionLine& line = line_;
  if (!line.Read(text)) return false;
  ++typed_lines_;
  if (line.shadow) {
    ++shadow_skipped_;
    return true;
  }
  if (!line.has_inputs) return true;
  // Each feature's column in the line: where it was last time, else by
  // name (the line's columns are sorted by name).
  const size_t features = config_.features.size();
  feature_hints_.resize(features, 0);
  feature_columns_.assign(features, nullptr);
  for (size_t i = 0; i < features; ++i) {
    const std::string& name = config_.features[i];
    size_t hint = feature_hints_[i];
    if (hint >= line.inputs.size() || line.inputs[hint].name != name) {
      auto found = std::lower_bound(
          line.inputs.begin(), line.inputs.end(), name,
          [](const LineColumn& column, const std::string& n) { return column.name < n; });
      if (found == line.inputs.end() || found->name != name) continue;
      hint = feature_hints_[i] = static_cast<size_t>(found - line.inputs.begin());
    }
    feature_columns_[i] = &line.inputs[hint];
  }
  const std::pair<std::vector<std::string>, std::string>* outputs = nullptr;
  if (!line.output_columns.empty()) {
    auto [it, added] = output_names_.try_emplace(line.output_width);
    if (added) {
      if (line.output_width == 0) {
        it->second.first.push_back("prediction");
      } else {
        for (size_t k = 0; k < line.output_width; ++k)
          it->second.first.push_back("prediction_" + std::to_string(k));
      }
      for (const std::string& name : it->second.first) it->second.second += name + "\n";
    }
    outputs = &it->second;
  }
  auto add = [](Columns& columns, const LineColumn& column, const LineCell& cell) {
    switch (cell.kind) {
      case LineCell::Kind::kNull:
        return columns.Missing();
      case LineCell::Kind::kBool:
        return columns.Bool(cell.number != 0);
      case LineCell::Kind::kNumber:
        return columns.JsonNumber(cell.number, column.all_integers, cell.text);
      case LineCell::Kind::kString:
        return columns.String(cell.text);
    }
  };
  for (size_t row = 0; row < line.rows; ++row) {
    Pending& pending = WindowFor(line.time_ms);
    for (const LineColumn* column : feature_columns_) {
      if (column) {
        add(*pending.inputs, *column, line.cells[column->first + row]);
      } else {
        pending.inputs->Missing();
      }
    }
    pending.inputs->EndRow();
    if (outputs && row < line.output_rows) {
      Columns& columns = OutputsFor(pending, outputs->first, outputs->second);
      const size_t width = line.output_columns.size();
      for (size_t k = 0; k < width; ++k) {
        add(columns, line.output_columns[k], line.output_cells[row * width + k]);
      }
      columns.EndRow();
    }
    ++pending.window.rows;
    ++rows_added_;
  }
  if (!line.request_id.empty()) {
    // The raw JSON of the output rows and of the inputs: what RowPrediction
    // and InputColumns would write for lines of these shapes.
    std::string predictions = "[";
    for (size_t row = 0; row < line.rows; ++row) {
      if (row > 0) predictions += ',';
      if (row < line.output_rows) {
        predictions += line.output_json[row];
      } else {
        predictions += "null";
      }
    }
    predictions += ']';
    predictions_.push_back({std::string(line.request_id), line.time_ms, std::move(predictions),
                            std::string(line.inputs_json)});
  }
  return true;
}

std::vector<MonitorWindow> WindowFold::Windows() {
  std::vector<MonitorWindow> windows;
  for (auto& [seq, pending] : pending_) {
    MergeByName(pending.window.inputs, pending.inputs->Finish());
    for (auto& [key, columns] : pending.outputs) {
      MergeByName(pending.window.outputs, columns->Finish());
    }
    windows.push_back(std::move(pending.window));
  }
  pending_.clear();
  return windows;
}

int64_t FoldLog(MonitorStore& store, const serving::PredictionLogReader& reader,
                const std::string& deployment, size_t max_segments) {
  std::optional<StoredMonitor> monitor = store.Get(deployment);
  if (!monitor) return 0;
  std::vector<serving::PredictionSegment> segments = reader.Segments(
      deployment,
      std::chrono::system_clock::time_point(std::chrono::milliseconds(monitor->folded_start_ms)),
      std::chrono::system_clock::now() + std::chrono::hours(24));
  std::sort(segments.begin(), segments.end(),
            [](const auto& a, const auto& b) { return a.key < b.key; });
  int64_t rows = 0;
  size_t folded = 0;
  for (const serving::PredictionSegment& segment : segments) {
    if (segment.key <= monitor->folded_key) continue;
    if (folded++ >= max_segments) break;
    WindowFold fold(
        monitor->config, [&](int64_t seq) { return store.GetWindow(deployment, seq); },
        [&]() -> std::optional<MonitorWindow> {
          std::vector<MonitorWindow> last = store.LastWindows(deployment, 1);
          if (last.empty()) return std::nullopt;
          return std::move(last[0]);
        });
    reader.ReadSegmentLines(segment.key, [&](std::string_view line) {
      try {
        fold.AddLine(line);
      } catch (const std::exception& e) {
        spdlog::warn("monitoring: a line of {} skipped: {}", segment.key, e.what());
      }
    });
    FoldCommit commit;
    commit.deployment = deployment;
    commit.generation = monitor->config.generation;
    commit.previous_key = monitor->folded_key;
    commit.folded_key = segment.key;
    commit.folded_start_ms = segment.start_ms;
    commit.windows = fold.Windows();
    commit.predictions = fold.TakePredictions();
    if (!store.CommitFold(commit)) return rows;
    monitor->folded_key = segment.key;
    monitor->folded_start_ms = segment.start_ms;
    rows += fold.rows_added();
  }
  return rows;
}

}  // namespace slipway::monitoring::live
