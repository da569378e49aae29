// Folding prediction records into tumbling windows of mergeable profiles.
//
// A WindowFold takes the records of one step of the fold (one published
// segment of the prediction log) and returns the windows they changed,
// each whole (what was stored merged with what arrived), and the
// predictions to keep for feedback. It only computes: the caller loads
// stored windows through the functions it is given and commits the result
// (MonitorStore::CommitFold) with the position, in one transaction.
//
// Records: shadow records are skipped (a shadow's answers are no
// prediction anyone received; its traffic is the primary's). Inputs: the
// monitored features, by name, one value per row; a feature a request
// lacks counts as missing; tensor columns (width > 1) and JSON values are
// not profiled. Outputs: a vector of predictions is the column
// "prediction", a matrix (class probabilities) "prediction_0".. per
// column, records their own column names; a single value is not profiled.
// Values enter the profile as a CSV would hold them (whole numbers of
// integer columns without a decimal point, booleans as true/false, missing
// as empty), so they profile like the reference's CSV; numbers go in as
// numbers with that text beside them for the text sketches
// (data::DatasetProfileBuilder::AddTypedValues), not as text to parse
// again, and in blocks of 256 rows per column.
//
// AddLine reads a log line with PredictionLine (typed, no JSON tree) and
// keeps the raw JSON of its inputs and output rows for feedback; a line of
// a shape PredictionLine does not read goes through
// serving::ParsePredictionLine and Add, with the same result.
//
// Not thread-safe; one per fold step.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/profile.h"
#include "monitoring/live/monitor_config.h"
#include "monitoring/live/monitor_store.h"
#include "monitoring/live/prediction_line.h"
#include "serving/deployment.h"
#include "serving/prediction_log.h"

namespace slipway::monitoring::live {

// The sketch sizes of window profiles: KLL and top items as the dataset
// profiles' (drift reads those), a smaller HyperLogLog (~3% error on
// distinct counts, which drift does not use) to keep stored windows small.
data::ProfileOptions WindowProfileOptions();

// Adds `other` into `into` matching columns by name: a column only one
// side has counts the other side's rows as missing.
void MergeByName(data::DatasetProfile& into, const data::DatasetProfile& other);

class WindowFold {
 public:
  using LoadWindow = std::function<std::optional<MonitorWindow>(int64_t seq)>;
  using LoadLast = std::function<std::optional<MonitorWindow>()>;

  WindowFold(const MonitorConfig& config, LoadWindow load, LoadLast last);

  void Add(const serving::PredictionRecord& record);
  // Adds one line of the prediction log; throws what
  // serving::ParsePredictionLine throws for a line that is not a record.
  void AddLine(std::string_view line);

  // The windows changed since construction, by seq, each whole.
  std::vector<MonitorWindow> Windows();
  std::vector<LoggedPrediction> TakePredictions() { return std::move(predictions_); }
  int64_t rows_added() const { return rows_added_; }
  int64_t shadow_skipped() const { return shadow_skipped_; }
  // Lines AddLine read with PredictionLine (the others took the general path).
  int64_t typed_lines() const { return typed_lines_; }

 private:
  // A profile builder and the rows waiting for it: each value's text in
  // `arena`, its type and number in `slots` (row after row), handed to the
  // builder column by column every kBlockRows rows and at the end.
  struct Columns {
    static constexpr size_t kBlockRows = 256;
    struct Slot {
      uint32_t offset = 0;
      uint32_t length = 0;
      data::ColumnType type = data::ColumnType::kEmpty;
      double number = 0;
    };
    Columns(std::vector<std::string> names);
    void Missing();
    void Bool(bool value);
    // `integer_column`: the column's values are all integers (printed
    // without a decimal point, as ml::DataType::kLong is).
    void Number(double value, bool integer_column);
    // Number() of a value read from JSON text `json` (PredictionLine):
    // takes that text when it is the one Number() would write, without
    // formatting the value again.
    void JsonNumber(double value, bool integer_column, std::string_view json);
    void String(std::string_view text);
    // After each row's values; hands a full block to the builder.
    void EndRow();
    void Flush();
    data::DatasetProfile Finish();

    std::unique_ptr<data::DatasetProfileBuilder> builder;
    size_t width = 0;
    size_t rows = 0;
    std::string arena;
    std::vector<Slot> slots;
    std::vector<data::TypedValue> scratch;
  };
  struct Pending {
    MonitorWindow window;  // as loaded (or new), plus rows and times
    std::unique_ptr<Columns> inputs;
    // Outputs by their columns' names joined with '\n'.
    std::map<std::string, std::unique_ptr<Columns>> outputs;
  };

  Pending& WindowFor(int64_t time_ms);
  Pending& Open(int64_t seq, int64_t start_ms, int64_t end_ms);
  Columns& OutputsFor(Pending& pending, const std::vector<std::string>& names,
                      const std::string& key);
  // Value `index` of an ml::Column of a PredictionRecord, as AddLine adds
  // the same value read from the log.
  static void AddCell(Columns& columns, const ml::Column& column, size_t index);
  // AddLine's typed path; false, having added nothing, for a line it does
  // not read.
  bool AddTypedLine(std::string_view line);

  const MonitorConfig config_;
  LoadWindow load_;
  LoadLast last_;
  std::map<int64_t, Pending> pending_;
  // Row windows: the window being filled (seq), once known.
  std::optional<int64_t> current_seq_;
  std::vector<LoggedPrediction> predictions_;
  // AddTypedLine's reader and, per feature, the index of the line's input
  // column that held it last time (lines of a deployment mostly share
  // their columns).
  PredictionLine line_;
  std::vector<size_t> feature_hints_;
  std::vector<const LineColumn*> feature_columns_;
  // Output column names and their key by matrix width (0: a vector).
  std::map<size_t, std::pair<std::vector<std::string>, std::string>> output_names_;
  int64_t rows_added_ = 0;
  int64_t shadow_skipped_ = 0;
  int64_t typed_lines_ = 0;
};

// One run of the fold for `deployment`: reads the published segments of
// `reader` after the monitor's position, oldest first, at most
// `max_segments`, and commits each one's windows, predictions and position
// in one transaction (MonitorStore::CommitFold). A segment is folded whole
// or not at all, so a crash at any point leaves the store at a segment
// boundary, and the next run starts after the last one committed: every
// published record is counted once. Stops early when the monitor changed
// (a commit refused). Returns the rows folded. The caller serializes runs
// of one deployment (two would race for the same segment; the loser's
// commit is refused, so it would not count twice, only work twice).
int64_t FoldLog(MonitorStore& store, const serving::PredictionLogReader& reader,
                const std::string& deployment, size_t max_segments);

}  // namespace slipway::monitoring::live
