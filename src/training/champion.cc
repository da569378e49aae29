#include "training/champion.h"

#include <fmt/format.h>

#include <cmath>

#include "core/error.h"

namespace slipway::training {

ml::Frame FrameOf(const Table& table, const std::vector<std::string>& columns,
                  const std::vector<size_t>& rows) {
  ml::Frame frame;
  frame.rows = rows.size();
  for (const std::string& name : columns) {
    const TableColumn& source = table.Get(name);
    ml::Column column;
    column.name = name;
    if (source.categorical) {
      column.type = ml::DataType::kString;
      column.strings.reserve(rows.size());
      column.missing.reserve(rows.size());
      for (size_t row : rows) {
        const double code = source.values[row];
        const bool missing = std::isnan(code);
        column.strings.push_back(missing ? "" : source.categories[static_cast<size_t>(code)]);
        column.missing.push_back(missing ? 1 : 0);
      }
    } else {
      column.type = source.boolean ? ml::DataType::kBoolean : ml::DataType::kDouble;
      column.numbers.reserve(rows.size());
      for (size_t row : rows) column.numbers.push_back(source.values[row]);
    }
    frame.columns.push_back(std::move(column));
  }
  return frame;
}

Matrix MatrixOf(const ml::Predictions& predictions, Task task, size_t classes) {
  const ml::Frame& frame = predictions.frame;
  if (frame.columns.size() != 1 || !ml::IsNumeric(frame.columns.front().type)) {
    ThrowInvalid("the model's predictions are not one column of numbers");
  }
  const ml::Column& column = frame.columns.front();
  const size_t width = column.width;
  // A binary model may answer with P(class 1) alone (a bare xgboost flavor).
  const size_t expected = task == Task::kRegression             ? 1
                          : task == Task::kBinary && width == 1 ? 1
                                                                : classes;
  if (width != expected || column.numbers.size() != frame.rows * width) {
    ThrowInvalid(
        fmt::format("the model predicts {} values per row, the task has {}", width, expected));
  }
  Matrix m;
  m.rows = frame.rows;
  m.cols = task == Task::kMulticlass ? classes : 1;
  m.values.reserve(m.rows * m.cols);
  for (size_t r = 0; r < m.rows; ++r) {
    if (task == Task::kBinary) {
      m.values.push_back(column.numbers[r * width + width - 1]);
    } else {
      for (size_t c = 0; c < m.cols; ++c) m.values.push_back(column.numbers[r * width + c]);
    }
  }
  return m;
}

}  // namespace slipway::training
