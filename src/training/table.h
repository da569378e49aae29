// A dataset version's rows in memory, column by column, as training reads
// them: numbers as doubles (NaN where a value is missing), text as codes into
// the column's own list of categories. Every fit, split and metric indexes
// rows of one Table by position, so a fold is a list of row numbers, not a
// copy of the data.
//
// Why not ml::Frame: a Frame keeps text as one std::string per row (what the
// scoring codecs parse into); training compares, counts and one-hot encodes
// categories many times per fold, which codes make cheap. The CSV is read by
// data::CsvReader, with the column types of the version's profile, so a
// column reads exactly as it was profiled (a `--type` given at `data add`
// holds here too).
//
// A Table is a plain value: safe to read from many threads, not to mutate.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "data/profile.h"

namespace slipway::training {

struct TableColumn {
  std::string name;
  bool categorical = false;  // a text column: `values` are codes into `categories`
  bool boolean = false;      // a bool column: `values` are 0 (false) and 1 (true)
  // One value per row: the number, or (categorical) the code; NaN: missing.
  std::vector<double> values;
  // Categorical: the texts, in order of first appearance; code i is categories[i].
  std::vector<std::string> categories;
};

struct Table {
  size_t rows = 0;
  std::vector<TableColumn> columns;

  // The column called `name`, or nullptr.
  const TableColumn* Find(std::string_view name) const;
  // The column called `name`; INVALID_PARAMETER_VALUE when there is none.
  const TableColumn& Get(std::string_view name) const;
};

// A dense row-major matrix of doubles: what preprocessing makes of a Table's
// rows and what trainers fit on (NaN: missing, which XGBoost handles itself).
struct Matrix {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<double> values;  // rows * cols, row after row

  double operator()(size_t row, size_t col) const { return values[row * cols + col]; }
  double& operator()(size_t row, size_t col) { return values[row * cols + col]; }
};

// The columns named in `columns` of the CSV file at `csv`, typed as
// `profile` says (string columns become categorical, bool, int64 and float64
// numeric, empty ones all-missing numbers). Errors are the CSV reader's
// (INVALID_PARAMETER_VALUE naming the line), or INVALID_PARAMETER_VALUE for a
// column that the file or the profile does not have.
Table ReadTable(const std::filesystem::path& csv, const data::DatasetProfile& profile,
                const std::vector<std::string>& columns);

}  // namespace slipway::training
