#include "http/scoring_codec.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <unordered_map>

#include "core/base64.h"
#include "core/error.h"
#include "http/wire_json.h"

namespace slipway::http {
namespace {

using ml::Column;
using ml::DataType;
using ml::Frame;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::string_view kInvalid = "Invalid input. ";
constexpr std::string_view kFormats =
    "{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}";

[[noreturn]] void BadRequest(const std::string& message) {
  throw Error(ErrorCode::kBadRequest, std::string(kInvalid) + message);
}

std::string Quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

std::string IndexPath(std::string_view base, size_t index) {
  return std::string(base) + "[" + std::to_string(index) + "]";
}

// ---------------------------------------------------------------------------
// Column building: values are appended in row order straight into the
// vectors the Frame keeps. A column's type is fixed by its first value that
// is not missing; missing values before it are counted and materialised
// then (NaN, or an empty string marked missing).

enum class Kind : uint8_t { kUnknown, kLong, kDouble, kBool, kString, kJson };

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kUnknown:
      return "missing";
    case Kind::kLong:
    case Kind::kDouble:
      return "a number";
    case Kind::kBool:
      return "a boolean";
    case Kind::kString:
      return "a string";
    case Kind::kJson:
      return "an object";
  }
  return "?";
}

struct ColumnBuilder {
  std::string name;
  Kind kind = Kind::kUnknown;
  size_t kind_row = 0;  // the row whose value fixed `kind`
  // Cells are lists (a tensor column): every cell has `cell_shape`.
  bool tensor = false;
  std::vector<size_t> cell_shape;
  size_t width = 1;
  size_t rows = 0;     // cells appended
  size_t pending = 0;  // missing values seen while kind is unknown
  std::vector<double> numbers;
  std::vector<std::string> strings;
  std::vector<uint8_t> missing;

  bool IsNumber() const {
    return kind == Kind::kLong || kind == Kind::kDouble || kind == Kind::kBool;
  }

  // Fixes the kind on the first real value; false when `want` conflicts.
  bool Settle(Kind want, size_t row) {
    if (kind == want) return true;
    if (kind == Kind::kUnknown) {
      kind = want;
      kind_row = row;
      if (want == Kind::kString || want == Kind::kJson) {
        strings.resize(pending);
        missing.assign(pending, 1);
      } else {
        numbers.assign(pending, kNaN);
      }
      pending = 0;
      return true;
    }
    if (kind == Kind::kLong && want == Kind::kDouble) {
      kind = Kind::kDouble;
      return true;
    }
    return kind == Kind::kDouble && want == Kind::kLong;
  }

  void AppendMissing() {
    switch (kind) {
      case Kind::kUnknown:
        ++pending;
        break;
      case Kind::kString:
      case Kind::kJson:
        strings.emplace_back();
        missing.resize(strings.size(), 0);
        missing.back() = 1;
        break;
      default:
        numbers.push_back(kNaN);
    }
  }

  size_t ValueCount() const {
    if (kind == Kind::kUnknown) return pending;
    return (kind == Kind::kString || kind == Kind::kJson) ? strings.size() : numbers.size();
  }

  void AppendString(std::string_view text) {
    strings.emplace_back(text);
    if (!missing.empty()) missing.push_back(0);
  }

  void DropLastCell() {
    const size_t keep = (rows - 1) * width;
    if (kind == Kind::kUnknown) {
      pending = keep;
    } else if (kind == Kind::kString || kind == Kind::kJson) {
      strings.resize(keep);
      if (!missing.empty()) missing.resize(keep);
    } else {
      numbers.resize(keep);
    }
    --rows;
  }
};

// Where a value sits, for error messages; formatted only when one is thrown.
struct Place {
  std::string_view base;  // "dataframe_split.data", "inputs['x']", ...
  size_t row = 0;
  size_t col = SIZE_MAX;  // SIZE_MAX: no column index in the path
  std::string_view key;   // a record's key, when the path has one

  std::string Path() const {
    std::string path = IndexPath(base, row);
    if (!key.empty()) path += "[" + Quoted(key) + "]";
    if (col != SIZE_MAX) path += "[" + std::to_string(col) + "]";
    return path;
  }
};

std::string ColumnLabel(const ColumnBuilder& b, size_t index) {
  return b.name.empty() ? "column " + std::to_string(index) : "column " + Quoted(b.name);
}

template <class Where>
[[noreturn]] void MixedTypes(const ColumnBuilder& b, size_t index, Kind now, const Where& where) {
  BadRequest(where() + ": " + ColumnLabel(b, index) +
             " mixes types: " + std::string(KindName(now)) + " here, but " +
             std::string(KindName(b.kind)) + " in row " + std::to_string(b.kind_row));
}

// Appends one scalar (or missing) value; an object is kept as JSON text.
// `where()` names the value's place in errors; `row` is its row.
template <class Where>
void AppendNumber(const JsonScanner::Number& n, ColumnBuilder& b, size_t index, size_t row,
                  const Where& where) {
  if (std::isnan(n.value)) return b.AppendMissing();
  Kind want = n.integer ? Kind::kLong : Kind::kDouble;
  if (!b.Settle(want, row)) MixedTypes(b, index, want, where);
  b.numbers.push_back(n.value);
}

template <class Where>
void AppendScalar(JsonScanner& s, ColumnBuilder& b, size_t index, size_t row, const Where& where) {
  std::string scratch;
  switch (s.Peek()) {
    case JsonScanner::Kind::kNull:
      s.ReadNull();
      b.AppendMissing();
      return;
    case JsonScanner::Kind::kNumber:
      return AppendNumber(s.ReadNumber(), b, index, row, where);
    case JsonScanner::Kind::kBool: {
      bool value = s.ReadBool();
      if (!b.Settle(Kind::kBool, row)) MixedTypes(b, index, Kind::kBool, where);
      b.numbers.push_back(value ? 1.0 : 0.0);
      return;
    }
    case JsonScanner::Kind::kString: {
      std::string_view text = s.ReadString(scratch);
      if (!b.Settle(Kind::kString, row)) MixedTypes(b, index, Kind::kString, where);
      b.AppendString(text);
      return;
    }
    case JsonScanner::Kind::kObject: {
      std::string_view raw = s.SkipValue();
      if (!b.Settle(Kind::kJson, row)) MixedTypes(b, index, Kind::kJson, where);
      b.AppendString(raw);
      return;
    }
    case JsonScanner::Kind::kArray:
      break;
  }
  BadRequest(where() + ": a list where a single value was expected");
}

// Reads nested lists of scalars (row-major) into `b` and returns their
// shape; a scalar has shape []. Every list at one depth must have the same
// length and scalars may only sit at the innermost depth.
// `row` is the row of a cell; for a whole input (`top_level`) the row is
// the index in the outermost list.
std::vector<size_t> ReadNested(JsonScanner& s, ColumnBuilder& b, size_t index,
                               std::string_view base, size_t row, bool top_level) {
  std::vector<size_t> shape;
  std::optional<size_t> rank;
  std::vector<size_t> path;  // indices of the lists we are in
  std::vector<double> values;
  auto where = [&]() {
    std::string text(base);
    for (size_t i : path) text += "[" + std::to_string(i) + "]";
    return text;
  };
  auto ragged = [&](const std::string& what) { BadRequest(where() + ": " + what); };
  // Recursive descent, as deep as the scanner allows (kMaxJsonDepth);
  // `path` holds the index within each open list.
  auto read_value = [&](auto& self) -> void {
    const size_t depth = path.size();
    if (s.Peek() != JsonScanner::Kind::kArray) {
      if (!rank) rank = depth;
      if (*rank != depth) {
        ragged("a value nested " + std::to_string(depth) + " lists deep, where the others are " +
               std::to_string(*rank) + " deep (ragged nested lists)");
      }
      if (s.Peek() == JsonScanner::Kind::kObject) {
        ragged("an object where numbers, booleans or strings are expected");
      }
      const size_t at_row = top_level ? (path.empty() ? 0 : path[0]) : row;
      AppendScalar(s, b, index, at_row, where);
      return;
    }
    if (rank && depth >= *rank) {
      ragged("a list nested " + std::to_string(depth + 1) + " deep, where the values are " +
             std::to_string(*rank) + " deep (ragged nested lists)");
    }
    // An innermost list of a float tensor after the first: as long as the
    // first, so it is read in one call when it holds plain numbers (and
    // value by value, with the same result or the error, when not).
    if (b.kind == Kind::kDouble && rank && depth + 1 == *rank && depth < shape.size() &&
        shape[depth] != SIZE_MAX && shape[depth] > 0) {
      values.resize(shape[depth]);
      if (s.TryReadNumberList(values.data(), values.size())) {
        b.numbers.insert(b.numbers.end(), values.begin(), values.end());
        return;
      }
    }
    s.BeginArray();
    size_t count = 0;
    path.push_back(0);
    while (s.NextItem()) {
      path.back() = count;
      self(self);
      ++count;
    }
    path.pop_back();
    // Inner lists close first: dimensions are filled in as lists close.
    if (shape.size() <= depth) shape.resize(depth + 1, SIZE_MAX);
    if (count == 0 && !rank) rank = depth + 1;
    if (shape[depth] == SIZE_MAX) {
      shape[depth] = count;
    } else if (shape[depth] != count) {
      ragged("a list of " + std::to_string(count) +
             " values where the other lists at this depth have " + std::to_string(shape[depth]) +
             " (ragged nested lists)");
    }
  };
  read_value(read_value);
  if (rank) shape.resize(*rank, 0);
  return shape;
}

size_t Product(const std::vector<size_t>& dims, size_t from) {
  size_t product = 1;
  for (size_t i = from; i < dims.size(); ++i) product *= dims[i];
  return product;
}

std::string ShapeText(const std::vector<size_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

// One cell of a table: a scalar, an object (kept as JSON text), or a list (a
// tensor cell; all of a column's list cells must have the same shape).
void ReadCell(JsonScanner& s, ColumnBuilder& b, size_t index, const Place& place) {
  // Most cells of a numeric table are plain numbers: read them in one step.
  JsonScanner::Number number;
  if (!b.tensor && s.TryReadNumber(&number)) {
    AppendNumber(number, b, index, place.row, [&] { return place.Path(); });
    ++b.rows;
    return;
  }
  if (s.Peek() != JsonScanner::Kind::kArray) {
    if (b.tensor) {
      BadRequest(place.Path() + ": " + ColumnLabel(b, index) +
                 " holds lists, but this value is not one");
    }
    AppendScalar(s, b, index, place.row, [&] { return place.Path(); });
    ++b.rows;
    return;
  }
  if (!b.tensor && b.rows > 0) {
    BadRequest(place.Path() + ": " + ColumnLabel(b, index) + " holds single values in row " +
               std::to_string(b.rows - 1) + ", but a list here");
  }
  const std::string path = place.Path();
  std::vector<size_t> shape = ReadNested(s, b, index, path, place.row, false);
  if (!b.tensor) {
    b.tensor = true;
    b.cell_shape = shape;
    b.width = Product(shape, 0);
  } else if (shape != b.cell_shape) {
    BadRequest(path + ": " + ColumnLabel(b, index) + " has a list of shape " + ShapeText(shape) +
               " here, but " + ShapeText(b.cell_shape) + " in row 0");
  }
  ++b.rows;
}

// ---------------------------------------------------------------------------
// Turning builders into the Frame.

const ml::ColumnSpec* SpecFor(const ml::Schema* schema, const std::string& name, size_t index) {
  if (schema == nullptr || schema->columns.empty()) return nullptr;
  if (!schema->columns.front().name.empty()) {
    for (const auto& spec : schema->columns) {
      if (spec.name == name) return &spec;
    }
    return nullptr;
  }
  return index < schema->columns.size() ? &schema->columns[index] : nullptr;
}

bool IsTextType(DataType type) {
  return type == DataType::kString || type == DataType::kBinary || type == DataType::kDatetime;
}

Column Finish(ColumnBuilder&& b, size_t index, const ml::Schema* schema) {
  Column column;
  column.name = std::move(b.name);
  column.width = b.width;
  if (b.kind == Kind::kUnknown) {
    // Only missing values: the signature says what they are, else NaN.
    const ml::ColumnSpec* spec = SpecFor(schema, column.name, index);
    if (spec != nullptr && IsTextType(spec->type)) {
      column.type = DataType::kString;
      column.strings.resize(b.pending);
      column.missing.assign(b.pending, 1);
    } else {
      column.type = DataType::kDouble;
      column.numbers.assign(b.pending, kNaN);
    }
    return column;
  }
  switch (b.kind) {
    case Kind::kLong:
      column.type = DataType::kLong;
      break;
    case Kind::kDouble:
      column.type = DataType::kDouble;
      break;
    case Kind::kBool:
      column.type = DataType::kBoolean;
      break;
    case Kind::kString:
      column.type = DataType::kString;
      break;
    default:
      column.type = DataType::kJson;
  }
  column.numbers = std::move(b.numbers);
  column.strings = std::move(b.strings);
  column.missing = std::move(b.missing);
  return column;
}

// MLflow's rule for `inputs`/`instances` lists: a schema with one named
// input names the single unnamed column.
std::string SingleInputName(const ml::Schema* schema) {
  if (schema == nullptr) return "";
  if (schema->columns.size() == 1) return schema->columns.front().name;
  if (schema->tensors.size() == 1) return schema->tensors.front().name;
  return "";
}

Frame FinishFrame(std::vector<ColumnBuilder>& builders, size_t rows, const ml::Schema* schema) {
  Frame frame;
  frame.rows = rows;
  frame.columns.reserve(builders.size());
  for (size_t i = 0; i < builders.size(); ++i) {
    frame.columns.push_back(Finish(std::move(builders[i]), i, schema));
  }
  return frame;
}

// ---------------------------------------------------------------------------
// The four JSON formats.

// Rows of a table given as lists (dataframe_split's `data`, or a
// dataframe_records list of lists). The scanner is inside the outer list,
// at its first row.
size_t ReadRowLists(JsonScanner& s, std::vector<ColumnBuilder>& cols, std::string_view base,
                    std::optional<size_t> expected_columns) {
  size_t row = 0;
  std::optional<size_t> width = expected_columns;
  const size_t first_row_at = s.Offset();
  // Rows of plain numbers after the first, when the first fixed every
  // column as a number: read a whole row in one call (most large bodies are
  // such tables; a row the fast path does not take is read value by value).
  std::vector<double> values;
  bool numeric = false;
  do {
    if (row == 1 && width && *width == cols.size()) {
      numeric = std::all_of(cols.begin(), cols.end(), [](const ColumnBuilder& b) {
        return !b.tensor && b.kind == Kind::kDouble;
      });
      if (numeric) {
        values.resize(*width);
        // Room for as many rows as the rest of the body holds if they are
        // as long as the first, but never more bytes than the body has.
        const size_t at = s.Offset();
        const size_t left = s.text().size() - at;
        const size_t guess = std::min(left / std::max<size_t>(at - first_row_at, 1),
                                      left / (sizeof(double) * *width));
        for (ColumnBuilder& b : cols) b.numbers.reserve(b.numbers.size() + guess + 1);
      }
    }
    if (numeric && s.TryReadNumberList(values.data(), values.size())) {
      for (size_t j = 0; j < values.size(); ++j) {
        cols[j].numbers.push_back(values[j]);
        ++cols[j].rows;
      }
      ++row;
      continue;
    }
    if (s.Peek() != JsonScanner::Kind::kArray) {
      // A bare value is a one-value row (pandas reads [1, 2] as one column).
      if (!width) width = 1;
      if (*width != 1) {
        BadRequest(IndexPath(base, row) + " is a single value, but the rows have " +
                   std::to_string(*width) + " values");
      }
      if (cols.empty()) cols.emplace_back();
      ReadCell(s, cols[0], 0, Place{base, row, SIZE_MAX, {}});
      ++row;
      continue;
    }
    s.BeginArray();
    size_t j = 0;
    while (s.NextItem()) {
      if (width && j >= *width) {
        BadRequest(IndexPath(base, row) + " has more than " + std::to_string(*width) + " values" +
                   (expected_columns ? " (one per column)" : " (the length of row 0)"));
      }
      if (j >= cols.size()) cols.emplace_back();
      ReadCell(s, cols[j], j, Place{base, row, j, {}});
      ++j;
    }
    if (!width) width = j;
    if (j != *width) {
      BadRequest(IndexPath(base, row) + " has " + std::to_string(j) + " values, but " +
                 (expected_columns ? "there are " + std::to_string(*width) + " columns"
                                   : "row 0 has " + std::to_string(*width)));
    }
    ++row;
  } while (s.NextItem());
  return row;
}

// A list of records (objects). The scanner is inside the list, at its first
// record. Keys become columns in order of first appearance; a key a record
// lacks is a missing value there.
size_t ReadRecords(JsonScanner& s, std::vector<ColumnBuilder>& cols, std::string_view base) {
  std::unordered_map<std::string, size_t> index;
  size_t row = 0;
  std::string scratch;
  do {
    if (s.Peek() != JsonScanner::Kind::kObject) {
      BadRequest(IndexPath(base, row) + " is not a record (an object), but " + IndexPath(base, 0) +
                 " is");
    }
    s.BeginObject();
    std::string_view key;
    size_t position = 0;
    while (s.NextKey(key, scratch)) {
      size_t c;
      // Records usually repeat their keys in one order: try the next one.
      if (position < cols.size() && cols[position].name == key) {
        c = position;
      } else {
        auto found = index.find(std::string(key));
        if (found == index.end()) {
          c = cols.size();
          cols.emplace_back();
          cols.back().name = std::string(key);
          index.emplace(cols.back().name, c);
          for (size_t r = 0; r < row; ++r) {
            cols[c].AppendMissing();
            ++cols[c].rows;
          }
        } else {
          c = found->second;
        }
      }
      ColumnBuilder& b = cols[c];
      if (b.rows == row + 1) b.DropLastCell();  // a repeated key: the last wins, as in Python
      ReadCell(s, b, c, Place{base, row, SIZE_MAX, b.name});
      position = c + 1;
    }
    for (size_t c = 0; c < cols.size(); ++c) {
      ColumnBuilder& b = cols[c];
      if (b.rows == row + 1) continue;
      if (b.tensor) {
        BadRequest(IndexPath(base, row) + " lacks " + Quoted(b.name) +
                   ", a column of lists, which cannot hold a missing value");
      }
      b.AppendMissing();
      ++b.rows;
    }
    ++row;
  } while (s.NextItem());
  return row;
}

Frame ReadDataframeSplit(JsonScanner& s, const ml::Schema* schema) {
  const auto kind = s.Peek();
  if (kind != JsonScanner::Kind::kObject) {
    BadRequest(std::string("Dataframe split format must be a dictionary. Got ") +
               (kind == JsonScanner::Kind::kArray ? "list." : "a scalar."));
  }
  std::vector<std::string> keys;
  std::optional<std::vector<std::string>> names;
  bool names_taken = false;  // moved into `cols` when the data came after them
  std::vector<ColumnBuilder> cols;
  std::optional<size_t> rows;
  std::optional<size_t> index_length;
  size_t data_width = 0;
  s.BeginObject();
  std::string_view key;
  std::string scratch;
  auto bad_keys = [&]() {
    std::string got = "{";
    for (size_t i = 0; i < keys.size(); ++i) got += (i ? ", " : "") + Quoted(keys[i]);
    BadRequest(
        "Dataframe split format must have 'data' field and optionally 'columns' and 'index' "
        "fields. Got " +
        got + "}.");
  };
  while (s.NextKey(key, scratch)) {
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) {
      BadRequest("dataframe_split has " + Quoted(key) + " twice");
    }
    keys.emplace_back(key);
    if (key == "columns") {
      if (s.Peek() == JsonScanner::Kind::kNull) {
        s.ReadNull();
        continue;
      }
      if (s.Peek() != JsonScanner::Kind::kArray) {
        BadRequest("dataframe_split.columns must be a list of column names");
      }
      names.emplace();
      s.BeginArray();
      while (s.NextItem()) {
        if (s.Peek() == JsonScanner::Kind::kString) {
          names->emplace_back(s.ReadString(scratch));
        } else if (s.Peek() == JsonScanner::Kind::kNumber) {
          // pandas allows any label; a number names the column by its text.
          names->emplace_back(s.SkipValue());
        } else {
          BadRequest(IndexPath("dataframe_split.columns", names->size()) +
                     " must be a string (a column name)");
        }
      }
    } else if (key == "data") {
      if (s.Peek() != JsonScanner::Kind::kArray) {
        BadRequest("dataframe_split.data must be a list of rows");
      }
      s.BeginArray();
      if (s.NextItem()) {
        std::optional<size_t> expected;
        if (names) {
          // Named now, so an error in the data names the column.
          expected = names->size();
          cols.resize(names->size());
          for (size_t i = 0; i < names->size(); ++i) cols[i].name = std::move((*names)[i]);
          names_taken = true;
        }
        rows = ReadRowLists(s, cols, "dataframe_split.data", expected);
      } else {
        rows = 0;
      }
      data_width = cols.size();
    } else if (key == "index") {
      if (s.Peek() == JsonScanner::Kind::kNull) {
        s.ReadNull();
        continue;
      }
      if (s.Peek() != JsonScanner::Kind::kArray) {
        BadRequest("dataframe_split.index must be a list");
      }
      size_t count = 0;
      s.BeginArray();
      while (s.NextItem()) {
        s.SkipValue();
        ++count;
      }
      index_length = count;
    } else {
      s.SkipValue();
      bad_keys();
    }
  }
  if (!rows) bad_keys();
  if (names && !names_taken) {
    if (*rows > 0 && data_width != names->size()) {
      BadRequest("dataframe_split.columns names " + std::to_string(names->size()) +
                 " columns, but the rows of dataframe_split.data have " +
                 std::to_string(data_width) + " values");
    }
    cols.resize(names->size());
    for (size_t i = 0; i < names->size(); ++i) cols[i].name = std::move((*names)[i]);
  }
  if (index_length && *index_length != *rows) {
    BadRequest("dataframe_split.index has " + std::to_string(*index_length) +
               " entries, but dataframe_split.data has " + std::to_string(*rows) + " rows");
  }
  return FinishFrame(cols, *rows, schema);
}

// A list that is either records or rows (pandas.DataFrame(list) accepts
// both), for dataframe_records, instances and inputs. The scanner is at '['.
Frame ReadTableList(JsonScanner& s, const ml::Schema* schema, std::string_view base,
                    bool rows_allowed) {
  std::vector<ColumnBuilder> cols;
  s.BeginArray();
  if (!s.NextItem()) return FinishFrame(cols, 0, schema);
  size_t rows;
  if (s.Peek() == JsonScanner::Kind::kObject) {
    rows = ReadRecords(s, cols, base);
  } else if (rows_allowed) {
    rows = ReadRowLists(s, cols, base, std::nullopt);
  } else {
    BadRequest(IndexPath(base, 0) + " must be a record (an object)");
  }
  return FinishFrame(cols, rows, schema);
}

Frame ReadDataframeRecords(JsonScanner& s, const ml::Schema* schema) {
  const auto kind = s.Peek();
  if (kind != JsonScanner::Kind::kArray) {
    BadRequest(std::string("Dataframe records format must be a list of records. Got ") +
               (kind == JsonScanner::Kind::kObject ? "dictionary." : "a scalar."));
  }
  return ReadTableList(s, schema, "dataframe_records", true);
}

// `inputs` and `instances` (tensor input, TF Serving's row and column forms).
Frame ReadTensorInput(JsonScanner& s, const ml::Schema* schema, std::string_view field) {
  std::string scratch;
  switch (s.Peek()) {
    case JsonScanner::Kind::kNull:
      BadRequest(std::string(field) + " must not be null");
    case JsonScanner::Kind::kObject: {
      // Named columns or tensors: {"a": [..], "b": [[..], ..]}.
      std::vector<ColumnBuilder> cols;
      std::vector<std::string> paths;
      s.BeginObject();
      std::string_view key;
      while (s.NextKey(key, scratch)) {
        for (size_t c = 0; c < cols.size(); ++c) {
          if (cols[c].name == key) {  // a repeated key: the last wins
            cols.erase(cols.begin() + static_cast<long>(c));
            break;
          }
        }
        cols.emplace_back();
        ColumnBuilder& b = cols.back();
        b.name = std::string(key);
        std::string path = std::string(field) + "[" + Quoted(key) + "]";
        std::vector<size_t> shape = ReadNested(s, b, cols.size() - 1, path, 0, true);
        b.rows = shape.empty() ? 1 : shape[0];
        b.width = Product(shape, 1);
        b.tensor = shape.size() > 1;
      }
      for (size_t c = 1; c < cols.size(); ++c) {
        if (cols[c].rows != cols[0].rows) {
          BadRequest("The length of values for each input/column name are not the same: " +
                     std::string(field) + "[" + Quoted(cols[c].name) + "] has " +
                     std::to_string(cols[c].rows) + ", but " + std::string(field) + "[" +
                     Quoted(cols[0].name) + "] has " + std::to_string(cols[0].rows));
        }
      }
      size_t rows = cols.empty() ? 0 : cols[0].rows;
      return FinishFrame(cols, rows, schema);
    }
    case JsonScanner::Kind::kArray: {
      // A list of records, or one (possibly nested) list: a single column.
      const size_t start = s.Offset();
      JsonScanner look(s.text(), std::string(kInvalid), start);
      look.BeginArray();
      if (look.NextItem() && look.Peek() == JsonScanner::Kind::kObject) {
        return ReadTableList(s, schema, field, false);
      }
      break;
    }
    default:
      break;
  }
  std::vector<ColumnBuilder> cols(1);
  ColumnBuilder& b = cols[0];
  b.name = SingleInputName(schema);
  std::vector<size_t> shape = ReadNested(s, b, 0, field, 0, true);
  b.rows = shape.empty() ? 1 : shape[0];
  b.width = Product(shape, 1);
  const size_t rows = b.rows;
  return FinishFrame(cols, rows, schema);
}

ScoringRequest ParseJson(std::string_view body, const ml::Schema* schema) {
  JsonScanner s(body, std::string(kInvalid));
  ScoringRequest request;
  const auto top = s.Peek();
  if (top != JsonScanner::Kind::kObject) {
    // Parse it all first: malformed JSON is reported as such.
    s.SkipValue();
    s.ExpectEnd();
    BadRequest("The input must be a JSON dictionary with exactly one of the input fields " +
               std::string(kFormats) +
               (top == JsonScanner::Kind::kArray ? ". Received a list." : ". Received a scalar."));
  }
  std::vector<std::string> keys;
  std::vector<std::string> formats;
  bool llm = false;
  s.BeginObject();
  std::string_view key;
  std::string scratch;
  while (s.NextKey(key, scratch)) {
    keys.emplace_back(key);
    const bool format = key == "dataframe_split" || key == "dataframe_records" ||
                        key == "instances" || key == "inputs";
    if (format) {
      formats.emplace_back(key);
      if (formats.size() > 1) {
        s.SkipValue();  // an error once the whole body is known to be JSON
      } else if (key == "dataframe_split") {
        request.frame = ReadDataframeSplit(s, schema);
      } else if (key == "dataframe_records") {
        request.frame = ReadDataframeRecords(s, schema);
      } else {
        request.frame = ReadTensorInput(s, schema, keys.back());
      }
    } else if (key == "params") {
      if (s.Peek() == JsonScanner::Kind::kNull) {
        s.ReadNull();
        request.params_json.clear();
      } else if (s.Peek() == JsonScanner::Kind::kObject) {
        request.params_json = std::string(s.SkipValue());
      } else {
        throw Error(ErrorCode::kInvalidParameterValue,
                    "'params' must be a JSON object of parameter names and values");
      }
    } else {
      if (key == "messages" || key == "prompt" || key == "input") llm = true;
      s.SkipValue();
    }
  }
  s.ExpectEnd();
  if (formats.size() != 1) {
    if (llm && formats.empty()) {
      BadRequest(
          "Slipway does not serve MLflow's unwrapped LLM input ('messages', 'prompt', 'input'); "
          "send it under 'inputs'");
    }
    std::string got = "[";
    for (size_t i = 0; i < keys.size(); ++i) got += (i ? ", " : "") + Quoted(keys[i]);
    throw Error(ErrorCode::kBadRequest,
                "The input must be a JSON dictionary with exactly one of the input fields " +
                    std::string(kFormats) + ". Received dictionary with input fields: " + got +
                    "].");
  }
  return request;
}

// ---------------------------------------------------------------------------
// CSV, typed as pandas.read_csv types it.

bool IsNaToken(std::string_view v) {
  // pandas' default na_values (pandas/_libs/parsers.pyx, STR_NA_VALUES).
  static constexpr std::string_view kNa[] = {"",         "#N/A", "#N/A N/A", "#NA",    "-1.#IND",
                                             "-1.#QNAN", "-NaN", "-nan",     "1.#IND", "1.#QNAN",
                                             "<NA>",     "N/A",  "NA",       "NULL",   "NaN",
                                             "None",     "n/a",  "nan",      "null"};
  for (std::string_view na : kNa) {
    if (v == na) return true;
  }
  return false;
}

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

bool ParseCsvInt(std::string_view v, double* out) {
  v = Trim(v);
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  if (v.empty() || v.front() == '+') return false;
  int64_t value;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
  if (ec != std::errc() || ptr != v.data() + v.size()) return false;
  *out = static_cast<double>(value);
  return true;
}

bool ParseCsvDouble(std::string_view v, double* out) {
  v = Trim(v);
  bool negative = false;
  if (!v.empty() && (v.front() == '+' || v.front() == '-')) {
    negative = v.front() == '-';
    v.remove_prefix(1);
  }
  if (v.empty() || v.front() == '+' || v.front() == '-') return false;
  // from_chars would also take "nan"; those are NA tokens, handled before.
  if (v.front() == 'n' || v.front() == 'N') return false;
  double value;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
  if (ec == std::errc::result_out_of_range) {
    value = std::numeric_limits<double>::infinity();
    for (char c : v) {
      if (c == '-') value = 0;  // a negative exponent: underflow
    }
  } else if (ec != std::errc() || ptr != v.data() + v.size()) {
    return false;
  }
  *out = negative ? -value : value;
  return true;
}

bool ParseCsvBool(std::string_view v, double* out) {
  if (v == "True" || v == "TRUE" || v == "true") {
    *out = 1;
    return true;
  }
  if (v == "False" || v == "FALSE" || v == "false") {
    *out = 0;
    return true;
  }
  return false;
}

[[noreturn]] void CsvError(const std::string& what) {
  BadRequest(
      "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid "
      "CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` method. "
      "Error: '" +
      what + "'");
}

// Splits the body into records of fields (RFC 4180 quoting; LF, CRLF or CR
// line ends; blank lines skipped, as pandas skips them).
std::vector<std::pair<size_t, std::vector<std::string>>> CsvRecords(std::string_view text) {
  std::vector<std::pair<size_t, std::vector<std::string>>> records;
  size_t pos = 0, line = 1;
  const size_t n = text.size();
  while (pos < n) {
    if (text[pos] == '\n' || text[pos] == '\r') {  // a blank line
      if (text[pos] == '\r' && pos + 1 < n && text[pos + 1] == '\n') ++pos;
      ++pos;
      ++line;
      continue;
    }
    const size_t record_line = line;
    std::vector<std::string> fields;
    std::string field;
    while (true) {
      if (pos < n && text[pos] == '"') {
        const size_t open_line = line;
        ++pos;
        while (true) {
          if (pos >= n) CsvError("EOF inside string starting at line " + std::to_string(open_line));
          if (text[pos] == '"') {
            if (pos + 1 < n && text[pos + 1] == '"') {
              field.push_back('"');
              pos += 2;
              continue;
            }
            ++pos;
            break;
          }
          if (text[pos] == '\n') ++line;
          field.push_back(text[pos++]);
        }
      }
      while (pos < n && text[pos] != ',' && text[pos] != '\n' && text[pos] != '\r') {
        field.push_back(text[pos++]);
      }
      fields.push_back(std::move(field));
      field.clear();
      if (pos < n && text[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < n && text[pos] == '\r') ++pos;
      if (pos < n && text[pos] == '\n') ++pos;
      ++line;
      break;
    }
    records.emplace_back(record_line, std::move(fields));
  }
  return records;
}

Frame ParseCsv(std::string_view body, const ml::Schema* schema) {
  if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);
  // The body must be UTF-8 text, as MLflow decodes it.
  if (size_t bad = FirstInvalidUtf8(body); bad != std::string_view::npos) {
    BadRequest("Ensure that input is a valid UTF-8 encoded string: invalid byte at offset " +
               std::to_string(bad));
  }
  auto records = CsvRecords(body);
  if (records.empty()) CsvError("No columns to parse from file");
  std::vector<std::string> header = std::move(records.front().second);
  // pandas names: "Unnamed: i" for an empty name, "a.1" for a repeated one.
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i].empty()) header[i] = "Unnamed: " + std::to_string(i);
    std::string base = header[i];
    size_t& count = seen[base];
    if (count > 0) {
      std::string renamed;
      do {
        renamed = base + "." + std::to_string(count++);
      } while (seen.count(renamed));
      header[i] = renamed;
      seen[renamed] = 1;
    } else {
      count = 1;
    }
  }
  const size_t ncols = header.size();
  // A first data row with one field more than the header: pandas takes the
  // first field of every row as the index.
  const bool index_column = records.size() > 1 && records[1].second.size() == ncols + 1;
  const size_t expected = ncols + (index_column ? 1 : 0);
  const size_t rows = records.size() - 1;
  Frame frame;
  frame.rows = rows;
  frame.columns.resize(ncols);
  for (size_t r = 1; r < records.size(); ++r) {
    if (records[r].second.size() > expected) {
      CsvError("Error tokenizing data. C error: Expected " + std::to_string(expected) +
               " fields in line " + std::to_string(records[r].first) + ", saw " +
               std::to_string(records[r].second.size()));
    }
  }
  for (size_t c = 0; c < ncols; ++c) {
    Column& column = frame.columns[c];
    column.name = header[c];
    const size_t field = c + (index_column ? 1 : 0);
    auto value_of = [&](size_t r) -> const std::string* {
      const auto& fields = records[r + 1].second;
      return field < fields.size() ? &fields[field] : nullptr;
    };
    const ml::ColumnSpec* spec = SpecFor(schema, column.name, c);
    bool text = spec != nullptr && IsTextType(spec->type);
    bool all_int = true, all_number = true, all_bool = true;
    double scratch;
    for (size_t r = 0; r < rows && !text; ++r) {
      const std::string* v = value_of(r);
      if (v == nullptr || IsNaToken(*v)) continue;
      if (all_int && !ParseCsvInt(*v, &scratch)) all_int = false;
      if (all_number && !all_int && !ParseCsvDouble(*v, &scratch)) all_number = false;
      if (all_bool && !ParseCsvBool(*v, &scratch)) all_bool = false;
      if (!all_number && !all_bool) text = true;
    }
    if (text) {
      column.type = DataType::kString;
      column.strings.resize(rows);
      column.missing.assign(rows, 0);
      for (size_t r = 0; r < rows; ++r) {
        const std::string* v = value_of(r);
        if (v == nullptr || IsNaToken(*v)) {
          column.missing[r] = 1;
        } else {
          column.strings[r] = *v;
        }
      }
      continue;
    }
    // An all-missing column is all_int too: pandas makes it float64 NaN.
    bool any_value = false;
    column.numbers.assign(rows, kNaN);
    for (size_t r = 0; r < rows; ++r) {
      const std::string* v = value_of(r);
      if (v == nullptr || IsNaToken(*v)) continue;
      any_value = true;
      if (all_number || all_int) {
        if (!ParseCsvInt(*v, &column.numbers[r])) ParseCsvDouble(*v, &column.numbers[r]);
      } else {
        ParseCsvBool(*v, &column.numbers[r]);
      }
    }
    if (!any_value) {
      column.type = DataType::kDouble;
    } else if (all_int) {
      column.type = DataType::kLong;
    } else if (all_number) {
      column.type = DataType::kDouble;
    } else {
      column.type = DataType::kBoolean;
    }
  }
  return frame;
}

// ---------------------------------------------------------------------------
// Content type.

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

enum class Media { kJson, kCsv };

Media CheckContentType(std::string_view content_type) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t semi = content_type.find(';', start);
    parts.push_back(Trim(content_type.substr(start, semi - start)));
    if (semi == std::string_view::npos) break;
    start = semi + 1;
  }
  const std::string mime = Lower(parts[0]);
  std::vector<std::string> unknown;
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string_view part = parts[i];
    size_t eq = part.find('=');
    std::string name = Lower(Trim(part.substr(0, eq)));
    std::string_view value = eq == std::string_view::npos ? "" : Trim(part.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (name == "charset") {
      if (Lower(value) != "utf-8") {
        throw Error(
            ErrorCode::kUnsupportedMediaType,
            "The scoring server only supports UTF-8 (got charset=" + std::string(value) + ")");
      }
    } else if (!name.empty()) {
      unknown.push_back(name);
    }
  }
  if (!unknown.empty()) {
    std::string list;
    for (size_t i = 0; i < unknown.size(); ++i) list += (i ? ", " : "") + unknown[i];
    throw Error(ErrorCode::kUnsupportedMediaType,
                "Unrecognized content type parameters: " + list + ". Accepted: " +
                    std::string(kScoringContentTypes) + ", with an optional charset=utf-8");
  }
  if (mime == "application/json") return Media::kJson;
  if (mime == "text/csv") return Media::kCsv;
  throw Error(ErrorCode::kUnsupportedMediaType,
              "This predictor only supports the following content types: " +
                  std::string(kScoringContentTypes) + ". Got '" + std::string(content_type) + "'.");
}

// ---------------------------------------------------------------------------
// Writing.

// ISO 8601 as Python's datetime.isoformat() writes it (no zone; seconds,
// then microseconds when there are any).
void AppendIsoTime(std::string& out, double seconds) {
  if (!std::isfinite(seconds)) {
    out += "null";
    return;
  }
  double whole = std::floor(seconds);
  int64_t micros = static_cast<int64_t>(std::llround((seconds - whole) * 1e6));
  int64_t secs = static_cast<int64_t>(whole);
  if (micros == 1000000) {
    ++secs;
    micros = 0;
  }
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  // Howard Hinnant's civil_from_days.
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  char buffer[64];
  int len =
      std::snprintf(buffer, sizeof buffer, "\"%04lld-%02lld-%02lldT%02lld:%02lld:%02lld",
                    static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                    static_cast<long long>(rem / 3600), static_cast<long long>((rem / 60) % 60),
                    static_cast<long long>(rem % 60));
  out.append(buffer, len);
  if (micros != 0) {
    len = std::snprintf(buffer, sizeof buffer, ".%06lld", static_cast<long long>(micros));
    out.append(buffer, len);
  }
  out.push_back('"');
}

// base64.encodebytes: a newline after every 76 characters and at the end.
std::string EncodeBytes(std::string_view bytes) {
  std::string flat = Base64Encode(bytes);
  std::string out;
  out.reserve(flat.size() + flat.size() / 76 + 1);
  for (size_t i = 0; i < flat.size(); i += 76) {
    out.append(flat, i, 76);
    out.push_back('\n');
  }
  return out;
}

void AppendCell(std::string& out, const Column& column, size_t row, bool force_list) {
  if (column.width == 1 && !force_list) {
    AppendScoringValue(out, column, row);
    return;
  }
  out.push_back('[');
  for (size_t k = 0; k < column.width; ++k) {
    if (k) out += ", ";
    AppendScoringValue(out, column, row * column.width + k);
  }
  out.push_back(']');
}

}  // namespace

void AppendScoringValue(std::string& out, const Column& column, size_t index) {
  switch (column.type) {
    case DataType::kLong:
    case DataType::kInteger: {
      double value = column.numbers[index];
      // A missing value made pandas' column float: NaN as MLflow writes it.
      if (std::isfinite(value) && std::fabs(value) < 9.2e18) {
        AppendInt(out, static_cast<int64_t>(value));
      } else {
        AppendPythonFloat(out, value);
      }
      return;
    }
    case DataType::kBoolean: {
      double value = column.numbers[index];
      if (std::isnan(value)) {
        AppendPythonFloat(out, value);
      } else {
        out += value != 0 ? "true" : "false";
      }
      return;
    }
    case DataType::kDouble:
    case DataType::kFloat:
      AppendPythonFloat(out, column.numbers[index]);
      return;
    case DataType::kDatetime:
      AppendIsoTime(out, column.numbers[index]);
      return;
    default:
      break;
  }
  if (!column.missing.empty() && column.missing[index]) {
    out += "null";
    return;
  }
  const std::string& text = column.strings[index];
  if (column.type == DataType::kJson) {
    out += text;
  } else if (column.type == DataType::kBinary) {
    AppendPythonString(out, EncodeBytes(text));
  } else {
    AppendPythonString(out, text);
  }
}

ScoringRequest ParseScoringRequest(std::string_view content_type, std::string_view body,
                                   const ml::Schema* inputs) {
  if (CheckContentType(content_type) == Media::kCsv) {
    return ScoringRequest{ParseCsv(body, inputs), ""};
  }
  return ParseJson(body, inputs);
}

std::string WriteScoringResponse(const ml::Predictions& predictions) {
  const Frame& frame = predictions.frame;
  std::string out;
  size_t values = 0;
  for (const Column& column : frame.columns)
    values += column.numbers.size() + column.strings.size();
  out.reserve(32 + values * 20);
  if (predictions.layout == ml::OutputLayout::kValue) {
    out += "{\"predictions\": ";
    if (frame.rows > 0 && !frame.columns.empty()) {
      AppendCell(out, frame.columns.front(), 0, false);
    } else {
      out += "null";
    }
    out += "}";
    return out;
  }
  out += "{\"predictions\": [";
  for (size_t row = 0; row < frame.rows; ++row) {
    if (row) out += ", ";
    switch (predictions.layout) {
      case ml::OutputLayout::kVector:
      case ml::OutputLayout::kValue:  // (written above)
        if (!frame.columns.empty()) AppendCell(out, frame.columns.front(), row, false);
        break;
      case ml::OutputLayout::kMatrix: {
        out.push_back('[');
        bool first = true;
        for (const Column& column : frame.columns) {
          for (size_t k = 0; k < column.width; ++k) {
            if (!first) out += ", ";
            first = false;
            AppendScoringValue(out, column, row * column.width + k);
          }
        }
        out.push_back(']');
        break;
      }
      case ml::OutputLayout::kRecords: {
        out.push_back('{');
        for (size_t c = 0; c < frame.columns.size(); ++c) {
          const Column& column = frame.columns[c];
          if (c) out += ", ";
          // pandas names an unnamed column by its position.
          AppendPythonString(out, column.name.empty() ? std::to_string(c) : column.name);
          out += ": ";
          AppendCell(out, column, row, false);
        }
        out.push_back('}');
        break;
      }
    }
  }
  out += "]}";
  return out;
}

}  // namespace slipway::http
