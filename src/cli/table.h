// A plain-text table for terminal output.
//
// Rows of text cells are printed under column headers, two spaces between columns, each column
// aligned left or right. Given a width limit, the widest columns are narrowed until a line fits
// and cells that no longer fit end in an ellipsis; with no limit nothing is cut, so piped output
// keeps every character. Widths count UTF-8 code points, and control characters in cells
// (newlines, tabs) are shown as spaces so each row stays on one line. A Table is a value with
// no shared state.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

namespace slipway::cli {

class Table {
 public:
  enum class Align { kLeft, kRight };

  struct Column {
    std::string header;
    Align align = Align::kLeft;
    // False for cells a user copies, such as ids: they are never cut.
    bool truncatable = true;
  };

  // A table whose headers are all empty prints no header line.
  explicit Table(std::vector<Column> columns);

  // Missing trailing cells print empty; extra cells are an error (assert).
  void AddRow(std::vector<std::string> cells);

  size_t row_count() const { return rows_.size(); }

  // `max_width` of 0 means unlimited.
  void Print(std::ostream& out, size_t max_width = 0) const;

 private:
  std::vector<size_t> FitWidths(size_t max_width) const;

  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// The number of columns of the terminal on stdout, or 0 when stdout is not a terminal.
size_t StdoutTerminalWidth();

// The number of terminal columns `text` takes: its UTF-8 code points.
size_t DisplayWidth(const std::string& text);

// `text` cut to at most `width` columns, ending in "…" when something was cut.
std::string Truncate(const std::string& text, size_t width);

}  // namespace slipway::cli
