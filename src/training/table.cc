#include "training/table.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <unordered_map>

#include "core/error.h"
#include "data/csv_reader.h"

namespace slipway::training {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr size_t kBlockRows = 4096;

// How one column of the file becomes a TableColumn.
struct ColumnReader {
  size_t field = 0;  // index in the header
  data::ColumnType type = data::ColumnType::kEmpty;
  TableColumn* out = nullptr;
  std::unordered_map<std::string, double> codes;  // categorical: text -> code

  double Value(const data::CsvReader& reader, std::string_view text, uint64_t row_offset) {
    double value = kNaN;
    bool ok = true;
    switch (type) {
      case data::ColumnType::kEmpty:
        ok = false;
        break;
      case data::ColumnType::kBool: {
        bool b = false;
        ok = data::ParseBool(text, &b);
        value = b ? 1 : 0;
        break;
      }
      case data::ColumnType::kInt64: {
        int64_t i = 0;
        ok = data::ParseInt64(text, &i);
        value = static_cast<double>(i);
        break;
      }
      case data::ColumnType::kFloat64:
        ok = data::ParseFloat64(text, &value);
        break;
      case data::ColumnType::kString: {
        auto [it, added] = codes.try_emplace(std::string(text), out->categories.size());
        if (added) out->categories.emplace_back(text);
        return it->second;
      }
    }
    if (!ok) {
      reader.FailAtLine(
          row_offset,
          fmt::format("column '{}': '{}' does not read as {}, the column's type in the profile",
                      out->name, data::PrintableExcerpt(text), data::ColumnTypeName(type)));
    }
    return value;
  }
};

}  // namespace

const TableColumn* Table::Find(std::string_view name) const {
  for (const TableColumn& c : columns)
    if (c.name == name) return &c;
  return nullptr;
}

const TableColumn& Table::Get(std::string_view name) const {
  const TableColumn* column = Find(name);
  if (column == nullptr) ThrowInvalid("no column '" + std::string(name) + "' in the table");
  return *column;
}

Table ReadTable(const std::filesystem::path& csv, const data::DatasetProfile& profile,
                const std::vector<std::string>& columns) {
  std::unique_ptr<data::CsvReader> reader = data::CsvReader::Open(csv);
  const std::vector<std::string>& header = reader->header();
  Table table;
  table.columns.resize(columns.size());
  std::vector<ColumnReader> readers(columns.size());
  for (size_t i = 0; i < columns.size(); ++i) {
    const data::ColumnProfile* column = profile.Find(columns[i]);
    size_t field = 0;
    while (field < header.size() && header[field] != columns[i]) ++field;
    if (column == nullptr || field == header.size()) {
      ThrowInvalid("no column '" + columns[i] + "' in " + csv.filename().string());
    }
    table.columns[i].name = columns[i];
    table.columns[i].categorical = column->type == data::ColumnType::kString;
    table.columns[i].boolean = column->type == data::ColumnType::kBool;
    readers[i] = {field, column->type, &table.columns[i], {}};
  }
  const std::vector<std::string>& missing = reader->options().missing_values;
  auto is_missing = [&](std::string_view text) {
    for (const std::string& m : missing)
      if (text == m) return true;
    return false;
  };
  reader->ForEachBlock(reader->DataRange(), kBlockRows, [&](const data::CsvBlock& block) {
    for (ColumnReader& r : readers) {
      std::span<const std::string_view> texts = block.Column(r.field);
      std::vector<double>& values = r.out->values;
      for (size_t row = 0; row < block.rows; ++row) {
        values.push_back(
            is_missing(texts[row]) ? kNaN : r.Value(*reader, texts[row], block.row_offsets[row]));
      }
    }
    table.rows += block.rows;
  });
  return table;
}

}  // namespace slipway::training
