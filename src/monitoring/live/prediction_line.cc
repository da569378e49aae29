#include "monitoring/live/prediction_line.h"

#include <charconv>
#include <cstring>

namespace slipway::monitoring::live {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool AddKind(LineColumn& column, const LineCell& cell) {
  LineColumnKind kind;
  switch (cell.kind) {
    case LineCell::Kind::kNull:
      return true;
    case LineCell::Kind::kBool:
      kind = LineColumnKind::kBool;
      break;
    case LineCell::Kind::kNumber:
      kind = LineColumnKind::kNumber;
      column.all_integers = column.all_integers && cell.integer;
      break;
    case LineCell::Kind::kString:
      kind = LineColumnKind::kString;
      break;
    default:
      return false;
  }
  if (column.kind == LineColumnKind::kNull) column.kind = kind;
  return column.kind == kind;
}

void PredictionLine::Space() {
  while (pos_ < text_.size() &&
         (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
    ++pos_;
}

bool PredictionLine::Consume(char c) {
  Space();
  if (pos_ < text_.size() && text_[pos_] == c) {
    ++pos_;
    return true;
  }
  return false;
}

bool PredictionLine::Literal(std::string_view word) {
  if (text_.substr(pos_, word.size()) != word) return false;
  pos_ += word.size();
  return true;
}

// A string of printable ASCII without escapes; anything else is left to
// the general path.
bool PredictionLine::ReadString(std::string_view& out) {
  Space();
  if (pos_ >= text_.size() || text_[pos_] != '"') return false;
  const size_t start = ++pos_;
  const char* p = text_.data() + start;
  const char* end = text_.data() + text_.size();
  while (p < end) {
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c == '"') break;
    if (c == '\\' || c < 0x20 || c >= 0x80) return false;
    ++p;
  }
  if (p == end) return false;
  out = text_.substr(start, static_cast<size_t>(p - (text_.data() + start)));
  pos_ = static_cast<size_t>(p - text_.data()) + 1;
  return true;
}

// RFC 8259's number grammar; the value as strtod would give it.
bool PredictionLine::ReadNumber(LineCell& cell) {
  const size_t start = pos_;
  size_t p = pos_;
  const size_t n = text_.size();
  if (p < n && text_[p] == '-') ++p;
  if (p >= n || !IsDigit(text_[p])) return false;
  if (text_[p] == '0') {
    ++p;
  } else {
    while (p < n && IsDigit(text_[p])) ++p;
  }
  bool integer = true;
  if (p < n && text_[p] == '.') {
    integer = false;
    ++p;
    if (p >= n || !IsDigit(text_[p])) return false;
    while (p < n && IsDigit(text_[p])) ++p;
  }
  if (p < n && (text_[p] == 'e' || text_[p] == 'E')) {
    integer = false;
    ++p;
    if (p < n && (text_[p] == '+' || text_[p] == '-')) ++p;
    if (p >= n || !IsDigit(text_[p])) return false;
    while (p < n && IsDigit(text_[p])) ++p;
  }
  const char* first = text_.data() + start;
  const char* last = text_.data() + p;
  cell.kind = LineCell::Kind::kNumber;
  cell.text = text_.substr(start, p - start);
  cell.integer = false;
  if (integer) {
    // As nlohmann::json reads it: an integer within int64 (negative) or
    // uint64 range, else a float.
    if (*first == '-') {
      int64_t value;
      auto [end, ec] = std::from_chars(first, last, value);
      if (ec == std::errc() && end == last) {
        cell.integer = true;
        cell.number = static_cast<double>(value);
      }
    } else {
      uint64_t value;
      auto [end, ec] = std::from_chars(first, last, value);
      if (ec == std::errc() && end == last) {
        cell.integer = true;
        cell.number = static_cast<double>(value);
      }
    }
  }
  if (!cell.integer) {
    auto [end, ec] = std::from_chars(first, last, cell.number);
    if (ec != std::errc() || end != last) return false;  // out of range: the general path
  }
  pos_ = p;
  return true;
}

bool PredictionLine::ReadScalar(LineCell& cell) {
  Space();
  if (pos_ >= text_.size()) return false;
  cell.integer = false;
  cell.number = 0;
  switch (text_[pos_]) {
    case 'n':
      cell.kind = LineCell::Kind::kNull;
      cell.text = {};
      return Literal("null");
    case 't':
      cell.kind = LineCell::Kind::kBool;
      cell.number = 1;
      cell.text = "true";
      return Literal("true");
    case 'f':
      cell.kind = LineCell::Kind::kBool;
      cell.text = "false";
      return Literal("false");
    case '"':
      cell.kind = LineCell::Kind::kString;
      return ReadString(cell.text);
    default:
      return ReadNumber(cell);
  }
}

bool PredictionLine::ReadInputs() {
  Space();
  const size_t start = pos_;
  if (!Consume('{')) return false;
  has_inputs = true;
  bool first_column = true;
  if (Consume('}')) {
    inputs_json = text_.substr(start, pos_ - start);
    return true;
  }
  do {
    LineColumn column;
    if (!ReadString(column.name) || column.name.empty() || !Consume(':') || !Consume('['))
      return false;
    if (!inputs.empty() && !(inputs.back().name < column.name)) return false;
    column.first = cells.size();
    size_t count = 0;
    if (!Consume(']')) {
      do {
        LineCell& cell = cells.emplace_back();
        if (!ReadScalar(cell) || !AddKind(column, cell)) return false;
        ++count;
      } while (Consume(','));
      if (!Consume(']')) return false;
    }
    if (first_column) {
      rows = count;
      first_column = false;
    } else if (count != rows) {
      return false;
    }
    inputs.push_back(column);
  } while (Consume(','));
  if (!Consume('}')) return false;
  inputs_json = text_.substr(start, pos_ - start);
  return true;
}

bool PredictionLine::ReadOutputs() {
  if (!Consume('[')) return false;
  has_outputs = true;
  if (Consume(']')) return true;
  Space();
  const bool matrix = pos_ < text_.size() && text_[pos_] == '[';
  do {
    Space();
    const size_t start = pos_;
    if (matrix) {
      if (!Consume('[')) return false;
      size_t width = 0;
      if (!Consume(']')) {
        do {
          if (output_rows == 0) output_columns.emplace_back();
          if (width >= output_columns.size()) return false;
          LineCell& cell = output_cells.emplace_back();
          if (!ReadScalar(cell) || !AddKind(output_columns[width], cell)) return false;
          ++width;
        } while (Consume(','));
        if (!Consume(']')) return false;
      }
      if (width != output_columns.size() || width < 2) return false;
    } else {
      if (output_rows == 0) output_columns.emplace_back();
      LineCell& cell = output_cells.emplace_back();
      if (!ReadScalar(cell) || !AddKind(output_columns[0], cell)) return false;
    }
    output_json.push_back(text_.substr(start, pos_ - start));
    ++output_rows;
  } while (Consume(','));
  output_width = matrix ? output_columns.size() : 0;
  if (matrix) {
    // A matrix is one column of lists: its kind is over all its values.
    LineColumn joint;
    for (const LineCell& cell : output_cells) {
      if (!AddKind(joint, cell)) return false;
    }
    for (LineColumn& column : output_columns) {
      column.kind = joint.kind;
      column.all_integers = joint.all_integers;
    }
  }
  return Consume(']');
}

bool PredictionLine::Read(std::string_view line) {
  text_ = line;
  pos_ = 0;
  time_ms = 0;
  request_id = {};
  shadow = false;
  has_inputs = has_outputs = false;
  rows = output_rows = output_width = 0;
  inputs.clear();
  inputs_json = {};
  output_columns.clear();
  output_cells.clear();
  output_json.clear();
  cells.clear();
  if (!Consume('{')) return false;
  if (Consume('}')) {
    Space();
    return pos_ == text_.size();
  }
  std::string_view previous;
  bool first_key = true;
  do {
    std::string_view key;
    if (!ReadString(key) || !Consume(':')) return false;
    // The writer's keys come sorted; one out of order (or twice) is a line
    // written otherwise, for the general path.
    if (!first_key && !(previous < key)) return false;
    previous = key;
    first_key = false;
    if (key == "inputs") {
      if (!ReadInputs()) return false;
    } else if (key == "outputs") {
      if (!ReadOutputs()) return false;
    } else {
      LineCell cell;
      if (!ReadScalar(cell)) return false;
      if (key == "time") {
        if (cell.kind != LineCell::Kind::kNumber || !cell.integer) return false;
        int64_t value;
        auto [end, ec] =
            std::from_chars(cell.text.data(), cell.text.data() + cell.text.size(), value);
        if (ec != std::errc() || end != cell.text.data() + cell.text.size()) return false;
        time_ms = value;
      } else if (key == "request_id") {
        if (cell.kind != LineCell::Kind::kString) return false;
        request_id = cell.text;
      } else if (key == "shadow") {
        if (cell.kind != LineCell::Kind::kBool) return false;
        shadow = cell.number != 0;
      } else if (key == "deployment" || key == "model" || key == "version") {
        if (cell.kind != LineCell::Kind::kString) return false;
      } else if (key == "latency_ms") {
        if (cell.kind != LineCell::Kind::kNumber) return false;
      }
    }
  } while (Consume(','));
  if (!Consume('}')) return false;
  Space();
  return pos_ == text_.size();
}

}  // namespace slipway::monitoring::live
