#include "serving/prediction_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>
#include <vector>

namespace slipway::serving {
namespace {

namespace fs = std::filesystem;

int64_t Millis(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

nlohmann::json Value(const ml::Column& column, size_t index) {
  if (ml::IsNumeric(column.type)) {
    double value = column.numbers[index];
    if (std::isnan(value)) return nullptr;
    if (column.type == ml::DataType::kBoolean) return value != 0;
    if ((column.type == ml::DataType::kLong || column.type == ml::DataType::kInteger) &&
        std::abs(value) < 9.0e15) {
      return static_cast<int64_t>(value);
    }
    return value;
  }
  if (!column.missing.empty() && column.missing[index]) return nullptr;
  if (column.type == ml::DataType::kJson) {
    try {
      return nlohmann::json::parse(column.strings[index]);
    } catch (const std::exception&) {
      return column.strings[index];
    }
  }
  return column.strings[index];
}

// Row `row` of a column: a value, or a list for a tensor column.
nlohmann::json Cell(const ml::Column& column, size_t row) {
  if (column.width == 1) return Value(column, row);
  nlohmann::json list = nlohmann::json::array();
  for (size_t k = 0; k < column.width; ++k) list.push_back(Value(column, row * column.width + k));
  return list;
}

nlohmann::json Columns(const ml::Frame& frame) {
  nlohmann::json out = nlohmann::json::object();
  for (size_t c = 0; c < frame.columns.size(); ++c) {
    const ml::Column& column = frame.columns[c];
    nlohmann::json values = nlohmann::json::array();
    for (size_t row = 0; row < frame.rows; ++row) values.push_back(Cell(column, row));
    out[column.name.empty() ? "column_" + std::to_string(c) : column.name] = std::move(values);
  }
  return out;
}

nlohmann::json Outputs(const ml::Predictions& predictions) {
  const ml::Frame& frame = predictions.frame;
  if (predictions.layout == ml::OutputLayout::kRecords) {
    nlohmann::json rows = nlohmann::json::array();
    for (size_t row = 0; row < frame.rows; ++row) {
      nlohmann::json record = nlohmann::json::object();
      for (const ml::Column& column : frame.columns) record[column.name] = Cell(column, row);
      rows.push_back(std::move(record));
    }
    return rows;
  }
  nlohmann::json rows = nlohmann::json::array();
  if (frame.columns.empty()) return rows;
  for (size_t row = 0; row < frame.rows; ++row) rows.push_back(Cell(frame.columns.front(), row));
  return rows;
}

std::string Stamp(std::chrono::system_clock::time_point time) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%S", &utc);
  return text;
}

}  // namespace

PredictionLog::PredictionLog(Options options)
    : options_(std::move(options)),
      writer_(std::make_unique<core::Executor>(
          core::Executor::Options{.name = "predlog", .threads = 1, .max_queued = 16})) {
  if (options_.metrics != nullptr) {
    dropped_total_ = &options_.metrics->GetCounter(
        "slipway_serving_log_dropped_total",
        "Prediction records dropped because the prediction log's queue was full.", {});
    written_total_ =
        &options_.metrics->GetCounter("slipway_serving_log_written_total",
                                      "Prediction records written to the prediction log.", {});
  }
}

PredictionLog::~PredictionLog() {
  Flush();
  writer_->Stop();
  for (auto& [name, segment] : segments_) {
    if (segment.fd >= 0) ::close(segment.fd);
  }
}

PredictionSink PredictionLog::Sink() {
  return [this](PredictionRecord record) { Append(std::move(record)); };
}

void PredictionLog::Append(PredictionRecord record) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= options_.max_queued) {
      dropped_.fetch_add(1);
      if (dropped_total_) dropped_total_->Increment();
      return;
    }
    queue_.push_back(std::move(record));
    if (draining_) return;
    draining_ = true;
  }
  if (!writer_->TrySubmit([this] { Drain(); })) {
    std::lock_guard lock(mu_);
    draining_ = false;
  }
}

void PredictionLog::Flush() {
  {
    std::lock_guard lock(mu_);
    if (queue_.empty() && !draining_) return;
    if (!draining_) {
      draining_ = true;
      if (!writer_->TrySubmit([this] { Drain(); })) draining_ = false;
    }
  }
  std::unique_lock lock(mu_);
  drained_.wait(lock, [&] { return queue_.empty() && !draining_; });
}

void PredictionLog::Drain() {
  std::string line;
  while (true) {
    std::deque<PredictionRecord> batch;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) {
        draining_ = false;
        drained_.notify_all();
        return;
      }
      batch.swap(queue_);
    }
    for (const PredictionRecord& record : batch) {
      try {
        Write(record, line);
      } catch (const std::exception& e) {
        spdlog::warn("prediction log: {}", e.what());
      }
    }
    EnforceRetention();
  }
}

void PredictionLog::Write(const PredictionRecord& record, std::string& line) {
  nlohmann::json entry = {{"time", Millis(record.time)},
                          {"deployment", record.deployment},
                          {"request_id", record.request_id},
                          {"model", record.model_name},
                          {"version", record.version},
                          {"shadow", record.shadow},
                          {"latency_ms", record.latency_seconds * 1000}};
  if (record.inputs) entry["inputs"] = Columns(*record.inputs);
  if (record.outputs) entry["outputs"] = Outputs(*record.outputs);
  line = entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  Segment& segment = segments_[record.deployment];
  if (segment.fd >= 0 && segment.bytes + line.size() > options_.segment_bytes) {
    ::close(segment.fd);
    segment.fd = -1;
  }
  if (segment.fd < 0) {
    fs::path folder = options_.dir / record.deployment;
    fs::create_directories(folder);
    segment.path = folder / (Stamp(record.time) + "-" + std::to_string(++sequence_) + ".jsonl");
    segment.fd = ::open(segment.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (segment.fd < 0) throw std::runtime_error("cannot open " + segment.path.string());
    segment.bytes = 0;
  }
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(segment.fd, line.data() + done, line.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("cannot write " + segment.path.string());
    }
    done += static_cast<size_t>(n);
  }
  segment.bytes += line.size();
  written_.fetch_add(1);
  if (written_total_) written_total_->Increment();
}

void PredictionLog::EnforceRetention() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_retention_ < std::chrono::seconds(1)) return;
  last_retention_ = now;
  struct File {
    fs::path path;
    fs::file_time_type time;
    uint64_t size;
  };
  std::vector<File> files;
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(options_.dir, ec)) {
    if (!entry.is_regular_file(ec) || entry.path().extension() != ".jsonl") continue;
    File file{entry.path(), entry.last_write_time(ec), entry.file_size(ec)};
    total += file.size;
    files.push_back(std::move(file));
  }
  std::sort(files.begin(), files.end(),
            [](const File& a, const File& b) { return a.time < b.time; });
  const auto oldest_kept = fs::file_time_type::clock::now() - options_.max_age;
  for (const File& file : files) {
    if (total <= options_.max_bytes && file.time >= oldest_kept) break;
    bool open = false;
    for (auto& [name, segment] : segments_) open = open || segment.path == file.path;
    if (open) continue;  // the file being written stays
    fs::remove(file.path, ec);
    total -= file.size;
  }
}

}  // namespace slipway::serving
