#include "monitoring/live/window_fold.h"

#include <fmt/format.h>

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

// The value as a CSV would hold it; "" for a missing one.
std::string Text(const ml::Column& column, size_t index) {
  if (ml::IsNumeric(column.type)) {
    double v = column.numbers[index];
    if (std::isnan(v)) return "";
    if (column.type == ml::DataType::kBoolean) return v != 0 ? "true" : "false";
    if (IsInteger(column.type) && std::abs(v) < 9.2e18) return std::to_string(int64_t(v));
    return fmt::format("{}", v);
  }
  if (!column.missing.empty() && column.missing[index]) return "";
  if (column.type == ml::DataType::kJson) return "";
  return column.strings[index];
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
  pending.inputs = std::make_unique<data::DatasetProfileBuilder>(
      config_.features, data::CsvOptions{}, WindowProfileOptions());
  return pending_.emplace(seq, std::move(pending)).first->second;
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
  std::vector<std::string> fields(features.size());
  std::vector<std::string_view> views(features.size());
  std::vector<std::string> output_fields(outputs.names.size());
  std::vector<std::string_view> output_views(outputs.names.size());
  for (size_t row = 0; row < inputs.rows; ++row) {
    Pending& pending = WindowFor(time_ms);
    for (size_t i = 0; i < features.size(); ++i) {
      fields[i] = features[i] ? Text(*features[i], row) : std::string();
      views[i] = fields[i];
    }
    pending.inputs->AddRow(views);
    if (!outputs.names.empty() && row < record.outputs->frame.rows) {
      std::unique_ptr<data::DatasetProfileBuilder>& builder = pending.outputs[output_key];
      if (!builder) {
        builder = std::make_unique<data::DatasetProfileBuilder>(outputs.names, data::CsvOptions{},
                                                                WindowProfileOptions());
      }
      for (size_t k = 0; k < outputs.names.size(); ++k) {
        const auto& [column, offset] = outputs.cells[k];
        output_fields[k] = Text(*column, row * column->width + offset);
        output_views[k] = output_fields[k];
      }
      builder->AddRow(output_views);
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

std::vector<MonitorWindow> WindowFold::Windows() {
  std::vector<MonitorWindow> windows;
  for (auto& [seq, pending] : pending_) {
    MergeByName(pending.window.inputs, std::move(*pending.inputs).Finish());
    for (auto& [key, builder] : pending.outputs) {
      MergeByName(pending.window.outputs, std::move(*builder).Finish());
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
    for (const serving::PredictionRecord& record : reader.ReadSegment(segment.key)) {
      fold.Add(record);
    }
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
